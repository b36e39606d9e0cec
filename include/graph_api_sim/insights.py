"""Account and media insights values: day buckets, deterministic values, metric support.

Every value is a pure function of (seed, object, metric, day), so the API, the truth
endpoint and a second run with the same seed agree. Days end at 08:00 UTC (midnight
Pacific, as Meta reports them); only complete days have values. The requests that ask
for them are checked in ``handlers/insights.py``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from . import catalog
from .catalog import DAY, AccountMetric
from .clock import iso
from .errors import GraphError
from .ids import stable_unit
from .world import Account, Media

DAY_END_OFFSET = catalog.INSIGHTS_DAY_END_UTC_HOUR * catalog.HOUR


# --- day buckets ----------------------------------------------------------------------------


def bucket_end(day: int) -> int:
    return day * DAY + DAY_END_OFFSET


def first_day(since: float) -> int:
    """The first day whose end lies after ``since``."""
    return math.floor((since - DAY_END_OFFSET) / DAY) + 1


def last_complete_day(now: float) -> int:
    return math.floor((now - DAY_END_OFFSET) / DAY)


def days_between(since: float, until: float, now: float) -> list[int]:
    """Complete days whose end lies in (since, until]."""
    return list(range(first_day(since), last_complete_day(min(until, now)) + 1))


def parse_time(raw: str, name: str) -> float:
    """Unix seconds or an ISO date, as Meta accepts for since/until."""
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = date.fromisoformat(raw[:10])
    except ValueError:
        raise GraphError("invalid_parameter", detail=f"{name} must be a unix timestamp or a date") from None
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC).timestamp()


# --- values -------------------------------------------------------------------------------


def daily_value(seed: int, account: Account, name: str, metric: AccountMetric, day: int) -> int:
    weekend = 1.2 if (day + 3) % 7 >= 5 else 1.0  # 1970-01-01 was a Thursday
    return int(account.followers_count * metric.rate * (0.5 + stable_unit(seed, account.id, name, day)) * weekend)


def period_value(seed: int, account: Account, name: str, metric: AccountMetric, period: str, day: int) -> Any:
    if metric.kind == "online":
        return {str(hour): int(account.followers_count * metric.rate
                               * (0.3 + 0.7 * math.sin(math.pi * hour / 24) ** 2)
                               * (0.8 + 0.4 * stable_unit(seed, account.id, name, day, hour)))
                for hour in range(24)}
    span = catalog.PERIOD_DAYS.get(period, 1)
    total = sum(daily_value(seed, account, name, metric, d) for d in range(day - span + 1, day + 1))
    return _dedupe(total, span) if metric.unique else total


def _dedupe(total: int, days: int) -> int:
    """Unique-account metrics grow less than linearly over several days."""
    return round(total / (1 + 0.15 * (days - 1))) if days > 1 else total


def split(total: int, dimensions: list[str], salt: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Share ``total`` among every combination of dimension values (largest remainder)."""
    combos = list(itertools.product(*(catalog.BREAKDOWN_VALUES[d] for d in dimensions)))
    weights = [0.2 + stable_unit(*salt, *combo) for combo in combos]
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    values = [int(x) for x in exact]
    by_remainder = sorted(range(len(combos)), key=lambda i: exact[i] - values[i], reverse=True)
    for i in by_remainder[: total - sum(values)]:
        values[i] += 1
    return [{"dimension_values": list(combo), "value": value}
            for combo, value in zip(combos, values, strict=True) if value]


def account_series(seed: int, account: Account, name: str, period: str, since: float, until: float,
                   now: float) -> list[dict[str, Any]]:
    """The time-series values of one metric: what the truth endpoint and the API both serve."""
    metric = catalog.ACCOUNT_METRICS[name]
    days = days_between(since, until, now)
    if metric.recent_days is not None:
        oldest = last_complete_day(now) - metric.recent_days
        days = [d for d in days if d > oldest]
    return [{"value": period_value(seed, account, name, metric, period, d), "end_time": iso(bucket_end(d))}
            for d in days]


def account_total(seed: int, account: Account, name: str, since: float, until: float, now: float) -> int:
    metric = catalog.ACCOUNT_METRICS[name]
    days = days_between(since, until, now)
    total = sum(daily_value(seed, account, name, metric, d) for d in days)
    return _dedupe(total, len(days)) if metric.unique else total


def demographic_total(account: Account, name: str, timeframe: str | None) -> int:
    metric = catalog.ACCOUNT_METRICS[name]
    share = 0.3 if timeframe == "this_week" else 1.0
    return int(account.followers_count * metric.rate * (share if metric.needs_timeframe else 1.0))


# --- media metrics ---------------------------------------------------------------------------


def product_type(media: Media) -> str:
    return catalog.CAROUSEL_ITEM if media.is_carousel_item else media.media_product_type


def supported_metrics(media: Media, refused: Mapping[str, list[str]]) -> frozenset[str]:
    """The metrics Meta answers for this media: its product type's set, less the media type's
    exclusions and what the ``refused_media_metrics`` setting refuses."""
    product = product_type(media)
    excluded = catalog.MEDIA_TYPE_EXCLUSIONS.get((media.media_type, product), frozenset())
    return catalog.MEDIA_METRIC_SETS[product] - excluded - frozenset(refused.get(product, ()))


def media_values(seed: int, media: Media, followers: int, supported: frozenset[str]) -> dict[str, float]:
    """Every metric in ``supported`` with its lifetime value."""
    def u(name: str) -> float:
        return stable_unit(seed, media.id, name)

    if media.media_product_type == catalog.PRODUCT_STORY:
        reach = media.viewers
    else:
        reach = int(media.like_count * (4 + 6 * u("reach")) + followers * 0.03 * u("reach2"))
    views = int(reach * (1.2 + u("views")))
    saved = int(media.like_count * 0.06 * (0.5 + u("saved")))
    shares = int(media.like_count * 0.04 * (0.5 + u("shares")))
    replies = int(reach * 0.03 * u("replies"))
    profile_visits = int(reach * 0.04 * u("visits"))
    avg_watch = 2500 + int(12000 * u("watch"))
    values = {
        "reach": reach, "views": views, "likes": media.like_count, "comments": media.comments_count,
        "saved": saved, "shares": shares, "replies": replies,
        "total_interactions": media.like_count + media.comments_count + saved + shares
        + (replies if media.media_product_type == catalog.PRODUCT_STORY else 0),
        "profile_visits": profile_visits, "follows": int(profile_visits * 0.2 * u("follows")),
        "profile_activity": int(profile_visits * 0.6 * u("activity")),
        "navigation": int(views * (0.6 + 0.3 * u("navigation"))),
        "ig_reels_avg_watch_time": avg_watch, "ig_reels_video_view_total_time": avg_watch * views,
        "reels_skip_rate": round(15 + 50 * u("skip"), 2), "reposts": int(shares * 0.3 * u("reposts")),
    }
    return {name: value for name, value in values.items() if name in supported}


def media_refusal(media: Media, account: Account) -> GraphError | None:
    """Why Meta refuses every insights metric of this media, if it does."""
    if media.is_carousel_item:
        return GraphError("carousel_child_insights")
    if media.timestamp < account.business_since:
        return GraphError("media_before_business")
    if media.media_product_type == catalog.PRODUCT_STORY and media.viewers < catalog.STORY_MIN_VIEWERS:
        return GraphError("not_enough_viewers")
    return None
