"""Account and media insights, long-format, for the run's data interval.

Account insights follow the Airflow data interval, so backfills fill past days; each
run also re-reads the ``LAG_DAYS`` before its interval because Meta's numbers settle
for up to 48 hours. A metric Meta refuses (retired, unsupported for a media type,
media from before the business conversion) is logged and skipped, never a failed run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

from instagram_graph.errors import InvalidRequestError, PermissionDeniedError
from instagram_graph.metrics import (
    ACCOUNT_TIME_SERIES,
    ACCOUNT_TOTAL_VALUE,
    LAG_DAYS,
    MAX_SPAN_DAYS,
    media_metrics,
)
from instagram_graph.models import Insight
from instagram_graph.records import ACCOUNT_INSIGHTS, MEDIA_INSIGHTS, account_insight_rows, media_insight_rows
from instagram_graph.sync.base import BudgetSpent, SyncResult, SyncRun
from instagram_graph.warehouse import load, media_for_insights, read_state, write_state

log = logging.getLogger(__name__)

NOT_BUSINESS_YET_SUBCODE = 2108006  # media posted before the account became a business account
DEFAULT_RECENT_DAYS = 30
DEFAULT_MAX_AGE_DAYS = 90
DEFAULT_STALE_DAYS = 7


def _spans(start: datetime, end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    spans = []
    while start < end:
        stop = min(start + timedelta(days=days), end)
        spans.append((start, stop))
        start = stop
    return spans


def days_of(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The interval to read. A manual run has an empty interval (start == end): it reads
    the last whole day before its logical date, which is what a person triggering it expects."""
    if start < end:
        return start, end
    day_end = end.replace(hour=0, minute=0, second=0, microsecond=0)
    return day_end - timedelta(days=1), day_end


def reread_start(interval_start: datetime, lag_days: int, now: datetime | None = None) -> datetime:
    """Where a run starts reading: earlier than its interval only for days that may still
    change (those within ``lag_days`` of now), so backfills of settled days stay exact."""
    today = (now or datetime.now(timezone.utc)).replace(hour=0, minute=0, second=0, microsecond=0)
    unsettled_from = today - timedelta(days=lag_days)
    return min(interval_start, max(interval_start - timedelta(days=lag_days), unsettled_from))


def _refused_metric(error: InvalidRequestError, metrics: Sequence[str]) -> str | None:
    """The metric an error-100 message names, if it names one of ours."""
    text = error.api_message
    for metric in sorted(metrics, key=len, reverse=True):
        if re.search(rf"\b{re.escape(metric)}\b", text):
            return metric
    return None


def fetch_skipping_refused(
    fetch: Callable[[Sequence[str]], list[Insight]],
    metrics: Sequence[str],
    run: SyncRun,
    result: SyncResult,
    what: str,
) -> list[Insight]:
    """Call ``fetch(metrics)``; on a refusal naming a metric, drop it and ask again."""
    remaining = list(metrics)
    while remaining:
        run.spend()
        try:
            return fetch(remaining)
        except InvalidRequestError as exc:
            metric = _refused_metric(exc, remaining)
            if metric is None:
                raise
            log.warning("%s: Meta refused metric %s (%s); skipping it", what, metric, exc.api_message)
            result.skipped.append(f"{what}: {metric}")
            remaining.remove(metric)
    return []


def sync_account_insights(run: SyncRun) -> SyncResult:
    """Time-series metrics in spans of up to 30 days; total-value metrics one day per call."""
    result = SyncResult("account_insights", run.account_id)
    interval_start, end = days_of(run.interval_start, run.interval_end)
    start = reread_start(interval_start, run.option("lag_days", LAG_DAYS))
    hook, account = run.hook, run.account_id
    try:
        for since, until in _spans(start, end, MAX_SPAN_DAYS):
            insights = fetch_skipping_refused(
                lambda ms, s=since, u=until: hook.get_account_insights(account, ms, period="day", since=s, until=u),
                run.option("time_series_metrics", ACCOUNT_TIME_SERIES),
                run,
                result,
                f"account {account}",
            )
            rows = [row for insight in insights for row in account_insight_rows(account, insight, until)]
            result.add(load(run.conn, [(ACCOUNT_INSIGHTS, rows)]))
        for since, until in _spans(start, end, 1):
            insights = fetch_skipping_refused(
                lambda ms, s=since, u=until: hook.get_account_insights(
                    account, ms, period="day", metric_type="total_value", since=s, until=u
                ),
                run.option("total_value_metrics", ACCOUNT_TOTAL_VALUE),
                run,
                result,
                f"account {account}",
            )
            rows = [row for insight in insights for row in account_insight_rows(account, insight, until)]
            result.add(load(run.conn, [(ACCOUNT_INSIGHTS, rows)]))
    except BudgetSpent:
        result.complete = False
    result.calls = run.calls_spent
    return result


def sync_media_insights(run: SyncRun) -> SyncResult:
    """Insights of media younger than ``recent_days`` every run, older ones (up to
    ``max_age_days``) once they are ``stale_days`` old, least recently loaded first."""
    result = SyncResult("media_insights", run.account_id)
    now = run.interval_end
    due = media_for_insights(
        run.conn,
        run.account_id,
        oldest=now - timedelta(days=run.option("max_age_days", DEFAULT_MAX_AGE_DAYS)),
        recent=now - timedelta(days=run.option("recent_days", DEFAULT_RECENT_DAYS)),
        stale_before=now - timedelta(days=run.option("stale_days", DEFAULT_STALE_DAYS)),
    )
    hook, account = run.hook, run.account_id
    # Media Meta will never give insights for (2108006): remembered, so no call is wasted on them again.
    state = read_state(run.conn, account, "media_insights")
    unavailable = set(state.get("unavailable", []))
    try:
        for media_id, media_type, product_type in due:
            metrics = media_metrics(product_type, media_type)
            if not metrics or media_id in unavailable:
                continue
            try:
                insights = fetch_skipping_refused(
                    lambda ms, m=media_id: hook.get_media_insights(account, m, ms),
                    metrics,
                    run,
                    result,
                    f"media {media_id}",
                )
            except InvalidRequestError as exc:
                if exc.subcode != NOT_BUSINESS_YET_SUBCODE:
                    raise
                result.skipped.append(f"media {media_id}: posted before the business conversion")
                unavailable.add(media_id)
                continue
            except PermissionDeniedError as exc:  # e.g. a story with fewer than 5 viewers
                result.skipped.append(f"media {media_id}: {exc.api_message}")
                continue
            rows = [row for insight in insights for row in media_insight_rows(account, media_id, insight)]
            result.add(load(run.conn, [(MEDIA_INSIGHTS, rows)]))
    except BudgetSpent:
        result.complete = False
    finally:
        if unavailable != set(state.get("unavailable", [])):
            write_state(run.conn, account, "media_insights", {**state, "unavailable": sorted(unavailable)})
    result.calls = run.calls_spent
    return result
