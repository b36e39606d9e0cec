"""Finding the post a job published, when its container says PUBLISHED but the answer to
media_publish (with the media id) was lost.

Meta does not link a container to its media, so the match is on what we asked for: the
edge and product type (:data:`PUBLISHED_AS`), the media type, the caption, and the time
of the publish attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from instagram_graph.graph_time import parse_graph_time
from instagram_graph.jobs import pick_after
from instagram_graph.publishing.rules import CAROUSEL, HAS_CAPTION
from instagram_graph.publishing.store import PublishJob

LOOKUP_FIELDS = "id,caption,media_type,media_product_type,permalink,timestamp"


@dataclass(frozen=True)
class PublishedShape:
    """How a published post of one requested type appears on the account's edges."""

    edge: str
    product_types: frozenset[str]
    media_types: frozenset[str]


PUBLISHED_AS = {
    "IMAGE": PublishedShape("media", frozenset({"FEED"}), frozenset({"IMAGE"})),
    "VIDEO": PublishedShape("media", frozenset({"FEED", "REELS"}), frozenset({"VIDEO"})),
    "REELS": PublishedShape("media", frozenset({"REELS"}), frozenset({"VIDEO"})),
    "STORIES": PublishedShape("stories", frozenset({"STORY"}), frozenset({"IMAGE", "VIDEO"})),
    CAROUSEL: PublishedShape("media", frozenset({"FEED"}), frozenset({"CAROUSEL_ALBUM"})),
}


class PublishedMediaNotFound(Exception):
    """The container is PUBLISHED, so the post exists, but it is not on the account's edge yet.

    Nothing will publish it again; looking again later records its media id.
    """


def find_published_media(
    hook: Any, job: PublishJob, *, claimed: set[str], lookup_slack: timedelta
) -> dict[str, Any] | None:
    """The account's post that matches ``job`` and is not in ``claimed`` (recorded by other jobs).

    Posts older than the publish attempt less ``lookup_slack`` are never taken; among the
    rest :func:`~instagram_graph.jobs.pick_after` chooses by time.
    """
    shape = PUBLISHED_AS[job.media_type]
    started = job.publish_started_at or job.created_at
    assert started is not None, "a stored job has its creation time"
    since = started - lookup_slack
    page = hook.get_page(job.account_id, f"{job.account_id}/{shape.edge}", params={"fields": LOOKUP_FIELDS}, limit=25)
    caption = (job.request.caption or "").strip()
    candidates = []
    for media in page.data:
        when = parse_graph_time(media.get("timestamp"))
        if str(media.get("id")) in claimed or when is None or when < since:
            continue
        if media.get("media_product_type") and media["media_product_type"] not in shape.product_types:
            continue
        if media.get("media_type") and media["media_type"] not in shape.media_types:
            continue
        if HAS_CAPTION[job.media_type] and (media.get("caption") or "").strip() != caption:
            continue
        candidates.append((when, media))
    return pick_after(candidates, started)


def not_found(job: PublishJob) -> PublishedMediaNotFound:
    """The error for a PUBLISHED container whose post is not listed yet."""
    return PublishedMediaNotFound(
        f"Container {job.parent_container_id} of {job.describe()} is PUBLISHED, so the post exists, but it "
        f"is not on the account's {PUBLISHED_AS[job.media_type].edge} edge yet. It will not be published "
        "again; a retry records its media id."
    )
