"""``GET /{ig-user-id}/insights`` and ``GET /{ig-media-id}/insights``: the request checked
against the metric tables in the order Meta checks it, answered with ``insights`` values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import catalog
from ..call import Call
from ..catalog import DAY, TIME_SERIES, TOTAL_VALUE, AccountMetric
from ..errors import GraphError
from ..insights import (
    account_series,
    account_total,
    demographic_total,
    first_day,
    last_complete_day,
    media_refusal,
    media_values,
    parse_time,
    product_type,
    split,
    supported_metrics,
)
from ..params import split_list
from ..simulator import Simulator
from ..world import Account, Media


def _deprecation(name: str) -> GraphError | None:
    retired = catalog.DEPRECATED_METRICS.get(name)
    if retired is None:
        return None
    advice = f"Please use {retired.replacement} instead." if retired.replacement else ""
    return GraphError("metric_deprecated", since=retired.since, metric=name, advice=advice)


# --- account insights -----------------------------------------------------------------------


@dataclass(frozen=True)
class AccountQuery:
    """An account insights request once checked: what ``account_insights`` answers."""

    names: list[str]
    period: str
    metric_type: str
    since: float
    until: float
    breakdowns: list[str]
    timeframe: str | None


def _parse_account_query(call: Call) -> tuple[AccountQuery, list[AccountMetric]]:
    names = call.list_param("metric")
    if not names:
        raise GraphError("missing_parameter", name="metric")
    metrics = []
    for index, name in enumerate(names):
        metric = catalog.ACCOUNT_METRICS.get(name)  # first: some retired metrics live on as total_value
        error = None if metric else _deprecation(name)
        if error:
            raise error
        if metric is None:
            raise GraphError("metric_unknown", index=index, allowed=", ".join(catalog.ACCOUNT_METRICS))
        metrics.append(metric)
    period = call.param("period")
    if not period:
        raise GraphError("missing_parameter", name="period")
    metric_type = call.param("metric_type") or TIME_SERIES
    if metric_type not in (TIME_SERIES, TOTAL_VALUE):
        raise GraphError("invalid_parameter", detail="metric_type must be one of the following values: "
                                                     "time_series, total_value")
    breakdowns = call.list_param("breakdown")
    timeframe = call.param("timeframe")
    for name, metric in zip(names, metrics, strict=True):
        if period not in metric.periods:
            raise GraphError("period_unsupported", metric=name, periods=", ".join(metric.periods), period=period)
    wrong_type = [n for n, m in zip(names, metrics, strict=True) if metric_type not in m.metric_types]
    if wrong_type:
        if metric_type == TIME_SERIES:
            raise GraphError("metric_type_required", metrics=", ".join(wrong_type))
        raise GraphError("metric_type_unsupported", metric_type=metric_type, metrics=", ".join(wrong_type))
    for name, metric in zip(names, metrics, strict=True):
        for breakdown in breakdowns:
            if breakdown not in metric.breakdowns:
                raise GraphError("breakdown_unsupported", metric=name, allowed=", ".join(metric.breakdowns),
                                 breakdown=breakdown)
        if metric.kind == "demographic":
            if not breakdowns:
                raise GraphError("breakdown_required", metric=name, allowed="|".join(metric.breakdowns))
            if metric.needs_timeframe and timeframe not in catalog.DEMOGRAPHIC_TIMEFRAMES:
                raise GraphError("timeframe_required", metric=name,
                                 allowed="|".join(catalog.DEMOGRAPHIC_TIMEFRAMES))
    now = call.sim.clock.now()
    since_raw, until_raw = call.param("since"), call.param("until")
    until = parse_time(until_raw, "until") if until_raw else now
    since = parse_time(since_raw, "since") if since_raw else until - 2 * DAY
    if since >= until:
        raise GraphError("invalid_parameter", detail="since must be earlier than until")
    if until - since > catalog.INSIGHTS_MAX_SPAN_SECONDS:
        raise GraphError("insights_span")
    if since < now - catalog.INSIGHTS_HISTORY_DAYS * DAY:
        raise GraphError("insights_history", days=catalog.INSIGHTS_HISTORY_DAYS)
    for name, metric in zip(names, metrics, strict=True):
        if metric.refuses_older and first_day(since) <= last_complete_day(now) - (metric.recent_days or 0):
            raise GraphError("recent_days_only", metric=name, days=metric.recent_days)
    return AccountQuery(names, period, metric_type, since, until, breakdowns, timeframe), metrics


def account_insights(call: Call) -> dict[str, Any]:
    """``GET /{ig-user-id}/insights?metric=..&period=..[&metric_type=..&since=..&until=..&breakdown=..]``."""
    query, metrics = _parse_account_query(call)
    account: Account = call.node
    seed, now = call.sim.world.seed, call.sim.clock.now()
    data = []
    for name, metric in zip(query.names, metrics, strict=True):
        if account.followers_count < metric.min_followers:
            continue  # Meta answers no data, not zeros
        item: dict[str, Any] = {"name": name, "period": query.period}
        if query.metric_type == TIME_SERIES:
            item["values"] = account_series(seed, account, name, query.period, query.since, query.until, now)
        elif metric.kind == "demographic":
            total = demographic_total(account, name, query.timeframe)
            item["total_value"] = {"breakdowns": [{
                "dimension_keys": query.breakdowns,
                "results": split(total, query.breakdowns, (seed, account.id, name, query.timeframe)),
            }]}
        else:
            total = account_total(seed, account, name, query.since, query.until, now)
            total_value: dict[str, Any] = {"value": total}
            if query.breakdowns:
                total_value["breakdowns"] = [{
                    "dimension_keys": query.breakdowns,
                    "results": split(total, query.breakdowns, (seed, account.id, name, int(query.since))),
                }]
            item["total_value"] = total_value
        item.update(title=metric.title, description=metric.description,
                    id=f"{account.id}/insights/{name}/{query.period}")
        data.append(item)
    result: dict[str, Any] = {"data": data}
    if query.metric_type == TIME_SERIES and data:
        span = query.until - query.since
        params = {key: value for key, value in call.request.query if key not in ("access_token", "since", "until")}
        result["paging"] = {
            "previous": call.url(call.request.path, {**params, "since": int(query.since - span),
                                                     "until": int(query.since)}),
            "next": call.url(call.request.path, {**params, "since": int(query.until),
                                                 "until": int(query.until + span)}),
        }
    return result


# --- media insights -------------------------------------------------------------------------


def media_insights(call: Call) -> dict[str, Any]:
    """``GET /{ig-media-id}/insights?metric=..[&breakdown=..]``."""
    names = call.list_param("metric")
    if not names:
        raise GraphError("missing_parameter", name="metric")
    return {"data": media_insight_items(call.sim, call.owner, call.node, names, call.params.get("breakdown"))}


def media_insight_items(sim: Simulator, account: Account, media: Media, names: list[str],
                        raw_breakdown: Any = None) -> list[dict[str, Any]]:
    """The insights items of one media for ``names``, or the error Meta answers for that media.

    One function for ``GET /{media-id}/insights`` and the ``insights.metric(..)`` field of media
    (``handlers/reads.py``), so both check in the same order and answer the same values.
    ``raw_breakdown`` is the ``breakdown`` parameter as sent (the field takes none), read only
    once the metrics passed, where Meta reads it.
    """
    product = product_type(media)
    if product == catalog.CAROUSEL_ITEM:
        raise GraphError("carousel_child_insights")
    supported = supported_metrics(media, sim.settings.refused_media_metrics)
    for index, name in enumerate(names):
        error = _deprecation(name)
        if error:
            raise error
        if name not in catalog.MEDIA_METRICS:
            raise GraphError("metric_unknown", index=index, allowed=", ".join(sorted(supported)))
        if name in catalog.MEDIA_TYPE_EXCLUSIONS.get((media.media_type, product), ()):
            raise GraphError("media_type_metric_unsupported", metric=name, media_type=media.media_type,
                             product_type=product)
        if name not in supported:
            raise GraphError("media_metric_unsupported", metric=name, product_type=product)
    breakdowns = split_list(raw_breakdown, "breakdown")
    for name in names:
        for breakdown in breakdowns:
            if breakdown not in catalog.MEDIA_METRICS[name].breakdowns:
                raise GraphError("breakdown_unsupported", metric=name,
                                 allowed=", ".join(catalog.MEDIA_METRICS[name].breakdowns), breakdown=breakdown)
    refusal = media_refusal(media, account)
    if refusal:
        raise refusal
    seed = sim.world.seed
    values = media_values(seed, media, account.followers_count, supported)
    data = []
    for name in names:
        metric = catalog.MEDIA_METRICS[name]
        item: dict[str, Any] = {"name": name, "period": "lifetime"}
        if breakdowns:
            item["total_value"] = {"value": values[name], "breakdowns": [{
                "dimension_keys": breakdowns, "results": split(int(values[name]), breakdowns, (seed, media.id, name)),
            }]}
        else:
            item["values"] = [{"value": values[name]}]
        item.update(title=metric.title, description=metric.description, id=f"{media.id}/insights/{name}/lifetime")
        data.append(item)
    return data
