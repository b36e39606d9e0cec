"""Typed shapes of the Graph API responses the hook returns.

TypedDicts rather than dataclasses on purpose: the records stay plain JSON (they go into
XCom and into the warehouse's ``raw`` column unchanged), a field Meta adds tomorrow is
kept rather than dropped, and type checkers still know every documented field.
``total=False`` because the API only returns the fields that were asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypedDict, TypeVar

MediaType = Literal["IMAGE", "VIDEO", "CAROUSEL_ALBUM"]
MediaProductType = Literal["AD", "FEED", "STORY", "REELS"]
ContainerStatusCode = Literal["IN_PROGRESS", "FINISHED", "ERROR", "EXPIRED", "PUBLISHED"]


class Profile(TypedDict, total=False):
    id: str
    username: str
    name: str
    biography: str
    website: str
    profile_picture_url: str
    followers_count: int
    follows_count: int
    media_count: int


class MediaChild(TypedDict, total=False):
    id: str
    media_type: MediaType
    media_url: str
    thumbnail_url: str
    timestamp: str


class Children(TypedDict):
    data: list[MediaChild]


class Media(TypedDict, total=False):
    id: str
    caption: str
    media_type: MediaType
    media_product_type: MediaProductType
    media_url: str
    permalink: str
    thumbnail_url: str
    shortcode: str
    timestamp: str
    like_count: int
    comments_count: int
    is_comment_enabled: bool
    username: str
    children: Children
    insights: Insights  # when asked for by field expansion: insights.metric(...)


class Reply(TypedDict, total=False):
    id: str
    text: str
    username: str
    timestamp: str
    like_count: int


class Replies(TypedDict):
    data: list[Reply]


class Comment(TypedDict, total=False):
    id: str
    text: str
    username: str
    timestamp: str
    like_count: int
    replies: Replies


class InsightValue(TypedDict, total=False):
    value: int | float | dict[str, int | float]
    end_time: str


class BreakdownResult(TypedDict):
    dimension_values: list[str]
    value: int | float


class Breakdown(TypedDict, total=False):
    dimension_keys: list[str]
    results: list[BreakdownResult]


class TotalValue(TypedDict, total=False):
    value: int | float
    breakdowns: list[Breakdown]


class Insight(TypedDict, total=False):
    """One metric: ``values`` for time_series, ``total_value`` for total_value requests."""

    id: str
    name: str
    period: str
    title: str
    description: str
    values: list[InsightValue]
    total_value: TotalValue


class Insights(TypedDict):
    data: list[Insight]


class ContainerStatus(TypedDict, total=False):
    id: str
    status_code: ContainerStatusCode
    status: str


class PublishingLimitConfig(TypedDict, total=False):
    quota_total: int
    quota_duration: int


class PublishingLimit(TypedDict, total=False):
    quota_usage: int
    config: PublishingLimitConfig


class Participant(TypedDict, total=False):
    """A message's sender, or one of its recipients."""

    id: str
    username: str


class Recipients(TypedDict):
    data: list[Participant]


# The functional form because "from" is a Python keyword: read as msg["from"], msg["to"].
Message = TypedDict(
    "Message",
    {"id": str, "created_time": str, "message": str, "from": Participant, "to": Recipients},
    total=False,
)


class Conversation(TypedDict, total=False):
    id: str
    updated_time: str


class SentMessage(TypedDict, total=False):
    recipient_id: str
    message_id: str


class RefreshedToken(TypedDict, total=False):
    access_token: str
    token_type: str
    expires_in: int


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of an edge. ``after`` is the cursor for the next page, None at the end.

    We keep the cursor, never ``paging.next``: that URL carries the access token.
    """

    data: list[T]
    after: str | None = None

    @property
    def has_next(self) -> bool:
        return self.after is not None
