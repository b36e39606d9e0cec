"""Which insights metrics we ask for, as data (retiring a metric is a one-line change).

From Meta's documentation as of late 2026 (see shared/GRAPH_API.md). The API refuses
deprecated metrics and metrics unsupported for a media type with error 100; the sync
skips a refused metric instead of failing the run, so a table that is slightly out of
date costs a log line, not a broken pipeline.
"""

from __future__ import annotations

# Account insights, period=day. time_series gives one value per day in one call;
# total_value gives one number for since..until, so it is asked one day at a time.
ACCOUNT_TIME_SERIES: tuple[str, ...] = ("reach", "follower_count")
ACCOUNT_TOTAL_VALUE: tuple[str, ...] = (
    "views",
    "accounts_engaged",
    "total_interactions",
    "likes",
    "comments",
    "shares",
    "saves",
    "replies",
    "reposts",
    "profile_links_taps",
    "follows_and_unfollows",
    # Retired as time series (Jan 2025) but still answered as total_value.
    "profile_views",
    "website_clicks",
)
# follower_count answers only for the last 30 days, today excluded; an older day fails
# the WHOLE call, so it is asked only for days within this many days of today.
FOLLOWER_COUNT = "follower_count"
FOLLOWER_COUNT_MAX_AGE_DAYS = 30

# Media insights by media_product_type (carousel children have none). Meta may still
# refuse one for some media: the sync remembers that (instagram.metric_refusals).
MEDIA_METRICS: dict[str, tuple[str, ...]] = {
    "FEED": (
        "reach", "views", "likes", "comments", "saved", "shares",
        "total_interactions", "profile_visits", "follows", "profile_activity",
    ),
    "REELS": (
        "reach", "views", "likes", "comments", "saved", "shares",
        "total_interactions", "ig_reels_avg_watch_time", "ig_reels_video_view_total_time",
        "reels_skip_rate", "reposts",
    ),
    "STORY": (
        "reach", "views", "shares", "replies", "navigation", "follows",
        "profile_visits", "total_interactions",
    ),
}

# What one field-expanded read of the /media edge asks of every feed and reels media
# (``insights.metric(...)``, a page of up to 50 media per call): the metrics a live probe
# found accepted on every kind. Meta fails the whole call when one media of the page
# refuses one of them, so a walk leaves out of a page what a kind in it refuses (the
# exceptions below, and refusals it remembers). The rest of a media's set - and what a
# page had to leave out - is type-specific: one call per media, read while the media is
# young and once when it has settled (sync/media_insights.py).
EXPANDED_MEDIA_METRICS: frozenset[str] = frozenset(
    {"reach", "views", "likes", "comments", "saved", "shares", "total_interactions"}
)

# Exceptions by (media_product_type, media_type): legacy feed videos (before reels took
# over single videos in 2023) refuse total_interactions.
MEDIA_METRIC_EXCEPTIONS: dict[tuple[str, str], frozenset[str]] = {
    ("FEED", "VIDEO"): frozenset({"total_interactions"}),
}

# Never requested: retired by Meta (kept here so a reviewer sees why they are absent).
# profile_views and website_clicks are retired as time series only (see above).
DEPRECATED: frozenset[str] = frozenset(
    {
        "impressions", "plays", "clips_replays_count", "ig_reels_aggregated_all_plays_count",
        "video_views", "email_contacts", "phone_call_clicks",
        "text_message_clicks", "get_directions_clicks",
    }
)

MAX_SPAN_DAYS = 30  # since..until per account-insights call (unconfirmed: a setting)
LAG_DAYS = 2  # Meta's data may lag 48 h: every run re-reads this many days before its interval


def media_metrics(media_product_type: str | None, media_type: str | None = None) -> tuple[str, ...]:
    """The metric set for one media, () when it has no insights."""
    if media_product_type in MEDIA_METRICS:
        product_type = media_product_type
    elif media_product_type in (None, "AD") and media_type in ("IMAGE", "CAROUSEL_ALBUM", "VIDEO"):
        product_type = "FEED"
    else:
        return ()
    left_out = MEDIA_METRIC_EXCEPTIONS.get((product_type, media_type or ""), frozenset())
    return tuple(metric for metric in MEDIA_METRICS[product_type] if metric not in left_out)


def metric_groups(
    media_product_type: str | None, media_type: str | None, expanded: frozenset[str] = EXPANDED_MEDIA_METRICS
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One media's metric set split into (read by expansion, type-specific), table order kept.

    Stories are all one kind and read only while live: their whole set is expanded.
    """
    metrics = media_metrics(media_product_type, media_type)
    if media_product_type == "STORY":
        return metrics, ()
    return (
        tuple(m for m in metrics if m in expanded),
        tuple(m for m in metrics if m not in expanded),
    )

