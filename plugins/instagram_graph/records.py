"""What each Graph API object becomes in the warehouse: table specs and row mappers.

The mappers are pure functions (API object in, rows out) so they are tested without
a database, and every row keeps the object it came from in ``raw``. Timestamps stay
Meta's ISO strings: Postgres parses ``2026-01-11T08:00:00+0000`` itself during COPY.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from instagram_graph.models import (
    Children,
    Comment,
    Conversation,
    Insight,
    Media,
    Message,
    Participant,
    Profile,
    Recipients,
    Replies,
)
from instagram_graph.warehouse import TableSpec

LIFETIME_END_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # see sql/003_insights.sql

PROFILES = TableSpec(
    name="profiles",
    key=("account_id",),
    columns=(
        "account_id", "username", "name", "biography", "website", "profile_picture_url",
        "followers_count", "follows_count", "media_count", "raw", "fetched_at",
    ),
    touch=("updated_at",),
    compare=(
        "username", "name", "biography", "website", "profile_picture_url",
        "followers_count", "follows_count", "media_count", "raw",
    ),
)
PROFILE_SNAPSHOTS = TableSpec(
    name="profile_snapshots",
    key=("account_id", "captured_at"),
    columns=("account_id", "captured_at", "followers_count", "follows_count", "media_count", "raw"),
)
MEDIA = TableSpec(
    name="media",
    key=("media_id",),
    columns=(
        "media_id", "account_id", "username", "caption", "media_type", "media_product_type",
        "media_url", "permalink", "thumbnail_url", "shortcode", "timestamp", "like_count",
        "comments_count", "is_comment_enabled", "raw", "deleted_at",
    ),
    touch=("updated_at",),
)
MEDIA_CHILDREN = TableSpec(
    name="media_children",
    key=("child_id",),
    columns=("child_id", "parent_id", "position", "media_type", "media_url", "thumbnail_url", "timestamp", "raw"),
    touch=("updated_at",),
)
COMMENTS = TableSpec(
    name="comments",
    key=("comment_id",),
    columns=(
        "comment_id", "media_id", "account_id", "parent_comment_id", "username", "text",
        "like_count", "timestamp", "raw", "deleted_at",
    ),
    touch=("updated_at",),
)
ACCOUNT_INSIGHTS = TableSpec(
    name="account_insights",
    key=("account_id", "metric", "period", "end_time", "breakdown"),
    columns=("account_id", "metric", "period", "end_time", "breakdown", "value", "metric_type", "raw"),
    touch=("loaded_at",),
)
MEDIA_INSIGHTS = TableSpec(
    name="media_insights",
    key=("media_id", "metric", "period", "end_time", "breakdown"),
    columns=("media_id", "account_id", "metric", "period", "end_time", "breakdown", "value", "raw"),
    touch=("loaded_at",),
)
CONVERSATIONS = TableSpec(
    name="conversations",
    key=("conversation_id",),
    columns=("conversation_id", "account_id", "updated_time", "participant_ids", "raw"),
    touch=("updated_at",),
    arrays=("participant_ids",),
)
MESSAGES = TableSpec(
    name="messages",
    key=("message_id",),
    columns=("message_id", "conversation_id", "account_id", "from_id", "to_id", "text", "created_time", "raw"),
    touch=("updated_at",),
)


# --- profiles ---------------------------------------------------------------------------


def profile_row(account_id: str, profile: Profile, fetched_at: datetime) -> dict[str, Any]:
    return {
        "account_id": account_id,
        **{k: profile.get(k) for k in PROFILES.columns if k in profile and k != "account_id"},
        "raw": dict(profile),
        "fetched_at": fetched_at,
    }


def snapshot_row(account_id: str, profile: Profile, captured_at: datetime) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "captured_at": captured_at,
        "followers_count": profile.get("followers_count"),
        "follows_count": profile.get("follows_count"),
        "media_count": profile.get("media_count"),
        "raw": dict(profile),
    }


# --- media ------------------------------------------------------------------------------

# Columns read from the API object; deleted_at is ours (sql/008): a media Meta lists exists.
_MEDIA_FIELDS = tuple(c for c in MEDIA.columns if c not in ("media_id", "account_id", "raw", "deleted_at"))


def media_row(account_id: str, media: Media) -> dict[str, Any]:
    """A media Meta just listed; loading it clears a ``deleted_at`` mark (Meta restored it)."""
    row: dict[str, Any] = {"media_id": media["id"], "account_id": account_id, "raw": media, "deleted_at": None}
    for field in _MEDIA_FIELDS:
        row[field] = media.get(field)
    return row


def child_rows(media: Media) -> Iterator[dict[str, Any]]:
    children = (media.get("children") or Children(data=[])).get("data") or []
    for position, child in enumerate(children):
        yield {
            "child_id": child["id"],
            "parent_id": media["id"],
            "position": position,
            "media_type": child.get("media_type"),
            "media_url": child.get("media_url"),
            "thumbnail_url": child.get("thumbnail_url"),
            "timestamp": child.get("timestamp"),
            "raw": child,
        }


def comment_rows(account_id: str, media_id: str, comment: Comment) -> Iterator[dict[str, Any]]:
    """A top-level comment and its expanded replies."""
    yield _comment_row(account_id, media_id, comment, parent=None)
    for reply in (comment.get("replies") or Replies(data=[])).get("data") or []:
        yield _comment_row(account_id, media_id, reply, parent=comment["id"])


def _comment_row(account_id: str, media_id: str, comment: Mapping[str, Any], parent: str | None) -> dict[str, Any]:
    raw = {k: v for k, v in comment.items() if k != "replies"}
    return {
        "comment_id": comment["id"],
        "media_id": media_id,
        "account_id": account_id,
        "parent_comment_id": parent,
        "username": comment.get("username"),
        "text": comment.get("text"),
        "like_count": comment.get("like_count"),
        "timestamp": comment.get("timestamp"),
        "raw": raw,
        "deleted_at": None,
    }


# --- insights ---------------------------------------------------------------------------


def breakdown_key(keys: list[str], values: list[str]) -> str:
    """``age=25-34&gender=F``: key=value per dimension, sorted by key (sql/003_insights.sql)."""
    return "&".join(f"{k}={v}" for k, v in sorted(zip(keys, values, strict=False)))


def _numeric(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def account_insight_rows(account_id: str, insight: Insight, until: datetime | None) -> Iterator[dict[str, Any]]:
    """Long-format rows of one metric. No data is no rows (never a made-up 0)."""
    base = {"account_id": account_id, "metric": insight["name"], "period": insight.get("period", "day")}
    for value in insight.get("values") or []:
        raw_value = value.get("value")
        if isinstance(raw_value, Mapping):  # e.g. online_followers: {hour: count}
            for key, item in raw_value.items():
                yield {**base, "end_time": value["end_time"], "breakdown": f"key={key}", "value": _numeric(item),
                       "metric_type": "time_series", "raw": value}
        else:
            yield {**base, "end_time": value["end_time"], "breakdown": "", "value": _numeric(raw_value),
                   "metric_type": "time_series", "raw": value}
    total = insight.get("total_value")
    if total is not None:
        end_time = until or LIFETIME_END_TIME
        yield {**base, "end_time": end_time, "breakdown": "", "value": _numeric(total.get("value")),
               "metric_type": "total_value", "raw": {k: v for k, v in total.items() if k != "breakdowns"}}
        for breakdown in total.get("breakdowns") or []:
            keys = breakdown.get("dimension_keys") or []
            for result in breakdown.get("results") or []:
                yield {**base, "end_time": end_time,
                       "breakdown": breakdown_key(keys, result.get("dimension_values") or []),
                       "value": _numeric(result.get("value")), "metric_type": "total_value", "raw": result}


def media_insight_rows(account_id: str, media_id: str, insight: Insight) -> Iterator[dict[str, Any]]:
    period = insight.get("period", "lifetime")
    base = {"media_id": media_id, "account_id": account_id, "metric": insight["name"], "period": period}
    values: Sequence[Mapping[str, Any]] = insight.get("values") or []
    if insight.get("total_value") is not None:
        values = [{"value": insight["total_value"].get("value")}]
    for value in values:
        end_time = LIFETIME_END_TIME if period == "lifetime" else value.get("end_time", LIFETIME_END_TIME)
        yield {**base, "end_time": end_time, "breakdown": "", "value": _numeric(value.get("value")), "raw": value}


# --- messaging --------------------------------------------------------------------------


def conversation_row(account_id: str, conversation: Conversation, participant_ids: list[str]) -> dict[str, Any]:
    return {
        "conversation_id": conversation["id"],
        "account_id": account_id,
        "updated_time": conversation.get("updated_time"),
        "participant_ids": sorted(set(participant_ids)),
        "raw": conversation,
    }


def message_row(account_id: str, conversation_id: str, message: Message) -> dict[str, Any]:
    sender = message.get("from") or Participant()
    recipients = (message.get("to") or Recipients(data=[])).get("data") or []
    return {
        "message_id": message["id"],
        "conversation_id": conversation_id,
        "account_id": account_id,
        "from_id": sender.get("id"),
        "to_id": recipients[0].get("id") if recipients else None,
        "text": message.get("message"),
        "created_time": message.get("created_time"),
        "raw": message,
    }
