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
    "profile_links_taps",
)

# Media insights by media_product_type (carousel children have none).
MEDIA_METRICS: dict[str, tuple[str, ...]] = {
    "FEED": (
        "reach", "views", "likes", "comments", "saved", "shares",
        "total_interactions", "profile_visits", "follows",
    ),
    "REELS": (
        "reach", "views", "likes", "comments", "saved", "shares",
        "total_interactions", "ig_reels_avg_watch_time", "ig_reels_video_view_total_time",
    ),
    "STORY": (
        "reach", "views", "shares", "replies", "navigation", "follows",
        "profile_visits", "total_interactions",
    ),
}

# Never requested: retired by Meta (kept here so a reviewer sees why they are absent).
DEPRECATED: frozenset[str] = frozenset(
    {
        "impressions", "plays", "clips_replays_count", "ig_reels_aggregated_all_plays_count",
        "video_views", "profile_views", "website_clicks", "email_contacts", "phone_call_clicks",
        "text_message_clicks", "get_directions_clicks",
    }
)

MAX_SPAN_DAYS = 30  # since..until per account-insights call (unconfirmed: a setting)
LAG_DAYS = 2  # Meta's data may lag 48 h: every run re-reads this many days before its interval


def media_metrics(media_product_type: str | None, media_type: str | None = None) -> tuple[str, ...]:
    """The metric set for one media, () when it has no insights."""
    if media_product_type in MEDIA_METRICS:
        return MEDIA_METRICS[media_product_type]
    if media_product_type in (None, "AD") and media_type in ("IMAGE", "CAROUSEL_ALBUM", "VIDEO"):
        return MEDIA_METRICS["FEED"]
    return ()

