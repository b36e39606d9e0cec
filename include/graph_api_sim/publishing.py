"""Content publishing: containers, their lifecycle, ``media_publish`` and the quotas.

A container is IN_PROGRESS until its processing time has passed on the simulator clock
(video and reels take longer), then FINISHED, or ERROR when its media URL asks for it;
unpublished for 24 h it is EXPIRED, once used PUBLISHED. ``media_publish`` is not
idempotent, like Meta's: publishing a PUBLISHED container is refused, so a client that
lost an answer must look at the container before trying again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

from . import catalog
from .call import Call
from .clock import iso
from .errors import GraphError
from .paging import HeadedListing
from .world import MEDIA_HOST, Account, Media

if TYPE_CHECKING:
    from .simulator import Simulator

HASHTAG = re.compile(r"#\w+")
TRUE_VALUES = ("true", "1", "yes")


@dataclass(eq=False)
class Container:
    node_type: ClassVar[str] = "IGContainer"
    id: str
    owner_id: str
    media_type_param: str | None
    kind: catalog.ContainerKind
    is_carousel_item: bool
    media_url: str | None
    video: bool
    caption: str | None
    alt_text: str | None
    children: tuple[str, ...]
    created_at: float
    finish_at: float
    error: tuple[int, str] | None = None  # (subcode, reason), shown once processing ends
    forced_status: str | None = None
    published_media_id: str | None = None
    published_at: float | None = None

    @property
    def copyright_check_status(self) -> dict[str, Any] | None:
        return {"status": "completed", "matches_found": False} if self.video else None


@dataclass
class PublishedPost:
    account_id: str
    media_id: str
    container_id: str
    published_at: float
    media: Media = field(repr=False)

    def describe(self) -> dict[str, Any]:
        return {"media_id": self.media_id, "container_id": self.container_id,
                "media_type": self.media.media_type, "media_product_type": self.media.media_product_type,
                "caption": self.media.caption, "timestamp": iso(self.published_at),
                "published_at": int(self.published_at)}


class PublishingDesk:
    """Containers and posts made during this run (cleared by a reset)."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.containers: dict[str, Container] = {}
        self.published: list[PublishedPost] = []
        self._feed_head: dict[str, list[Media]] = {account.id: [] for account in sim.world.accounts}
        self._story_head: dict[str, list[Media]] = {account.id: [] for account in sim.world.accounts}

    # --- reads ------------------------------------------------------------------------

    def timeline(self, account: Account) -> HeadedListing:
        """The /media edge: posts published in this run, newest first, then the seeded feed."""
        return HeadedListing("IGMedia", self._feed_head[account.id], account.feed, account.feed_index,
                             cap=catalog.MEDIA_EDGE_MAX_ITEMS)

    def new_posts(self, account: Account) -> list[Media]:
        """Feed posts published in this run, newest first."""
        return list(self._feed_head[account.id])

    def media_count(self, account: Account) -> int:
        return len(self._feed_head[account.id]) + len(account.feed)

    def live_stories(self, account: Account) -> list[Media]:
        horizon = self._sim.clock.now() - catalog.STORY_LIFETIME_SECONDS
        return [story for story in (*self._story_head[account.id], *account.stories) if story.timestamp > horizon]

    def is_live(self, story: Media) -> bool:
        return story.timestamp > self._sim.clock.now() - catalog.STORY_LIFETIME_SECONDS

    def status_code(self, container: Container) -> str:
        if container.published_media_id:
            return "PUBLISHED"
        if container.forced_status:
            return container.forced_status
        now = self._sim.clock.now()
        if now - container.created_at >= catalog.CONTAINER_LIFETIME_SECONDS:
            return "EXPIRED"
        if now < container.finish_at:
            return "IN_PROGRESS"
        return "ERROR" if container.error else "FINISHED"

    def status_text(self, container: Container) -> str:
        code = self.status_code(container)
        if code == "ERROR":
            subcode, reason = container.error or (2207001, "Instagram server error")
            return f"Error: {reason}. ({subcode})"
        return catalog.CONTAINER_STATUS_TEXT[code]

    def quota_usage(self, account_id: str, since: float | None = None) -> int:
        horizon = self._sim.clock.now() - catalog.PUBLISH_QUOTA_DURATION
        if since is not None:
            horizon = max(horizon, since)
        return sum(1 for post in self.published if post.account_id == account_id and post.published_at > horizon)

    # --- writes -----------------------------------------------------------------------

    def create_container(self, account: Account, params: dict[str, Any]) -> Container:
        media_type = _text(params.get("media_type"))
        media_type = media_type.upper() if media_type else None
        kind = catalog.CONTAINER_KINDS.get(media_type)
        if kind is None:
            allowed = ", ".join(k for k in catalog.CONTAINER_KINDS if k)
            raise GraphError("media_type_invalid", media_type=media_type, allowed=allowed)
        is_item = (_text(params.get("is_carousel_item")) or "").lower() in TRUE_VALUES
        if is_item and not kind.carousel_item_allowed:
            raise GraphError("carousel_invalid", detail=f"{media_type} media cannot be a carousel item")
        now = self._sim.clock.now()
        children: tuple[str, ...] = ()
        media_url = None
        video = kind.video
        if media_type == "CAROUSEL":
            children = self._check_children(account, params.get("children"))
        else:
            url_param = next((name for name in kind.url_params if params.get(name)), None)
            if url_param is None:
                raise GraphError("missing_parameter", name=" or ".join(kind.url_params))
            media_url = _text(params[url_param])
            parsed = urlparse(media_url)
            if parsed.scheme != "https" or not parsed.netloc:
                raise GraphError("media_url_invalid", url=media_url)
            video = url_param == "video_url"
        caption = _text(params.get("caption"))
        if caption is not None:
            if len(caption) > catalog.CAPTION_MAX_CHARS:
                raise GraphError("caption_too_long", length=len(caption), limit=catalog.CAPTION_MAX_CHARS)
            hashtags = len(HASHTAG.findall(caption))
            if hashtags > catalog.CAPTION_MAX_HASHTAGS:
                raise GraphError("too_many_hashtags", count=hashtags, limit=catalog.CAPTION_MAX_HASHTAGS)
        recent = sum(1 for c in self.containers.values()
                     if c.owner_id == account.id and now - c.created_at < catalog.DAY)
        if recent >= catalog.CONTAINERS_PER_DAY:
            raise GraphError("container_quota", limit=catalog.CONTAINERS_PER_DAY)
        processing = self._sim.settings.container_finish_seconds
        if video:
            processing *= catalog.VIDEO_PROCESSING_FACTOR
        container = Container(
            id=self._sim.ids.numeric("182"), owner_id=account.id, media_type_param=media_type, kind=kind,
            is_carousel_item=is_item, media_url=media_url, video=video, caption=caption,
            alt_text=_text(params.get("alt_text")), children=children, created_at=now, finish_at=now + processing,
            error=_error_trigger(media_url),
        )
        self.containers[container.id] = container
        self._sim.register(container)
        return container

    def _check_children(self, account: Account, raw: Any) -> tuple[str, ...]:
        if isinstance(raw, list):
            ids = [str(item).strip() for item in raw]
        else:
            ids = [part.strip() for part in (_text(raw) or "").strip("[]").replace('"', "").split(",")]
        ids = [child for child in ids if child]
        if not catalog.CAROUSEL_MIN_CHILDREN <= len(ids) <= catalog.CAROUSEL_MAX_CHILDREN:
            raise GraphError("carousel_invalid", detail=f"a carousel needs {catalog.CAROUSEL_MIN_CHILDREN} to "
                                                        f"{catalog.CAROUSEL_MAX_CHILDREN} children, got {len(ids)}")
        for child_id in ids:
            child = self.containers.get(child_id)
            if child is None or child.owner_id != account.id or not child.is_carousel_item:
                raise GraphError("carousel_invalid",
                                 detail=f"{child_id} is not a carousel item container of this account")
            if self.status_code(child) != "FINISHED":
                raise GraphError("container_not_ready", container_id=child_id)
        return tuple(ids)

    def publish(self, account: Account, creation_id: str | None) -> Media:
        if not creation_id:
            raise GraphError("missing_parameter", name="creation_id")
        container = self.containers.get(creation_id)
        if container is None or container.owner_id != account.id:
            raise GraphError("container_not_ready", container_id=creation_id)
        if container.is_carousel_item:
            raise GraphError("carousel_item_publish")
        status = self.status_code(container)
        if status == "PUBLISHED":
            raise GraphError("container_published", container_id=creation_id)
        if status == "EXPIRED":
            raise GraphError("container_expired", container_id=creation_id)
        if status == "ERROR":
            raise GraphError("container_failed", reason=self.status_text(container))
        if status != "FINISHED":
            raise GraphError("container_not_ready", container_id=creation_id)
        if self.quota_usage(account.id) >= self._sim.settings.publish_quota:
            raise GraphError("publish_quota")
        now = self._sim.clock.now()
        media = self._make_media(account, container, now)
        if container.kind.product_type == catalog.PRODUCT_STORY:
            self._story_head[account.id].insert(0, media)
        else:
            self._feed_head[account.id].insert(0, media)
        container.published_media_id = media.id
        container.published_at = now
        self.published.append(PublishedPost(account.id, media.id, container.id, now, media))
        return media

    def _make_media(self, account: Account, container: Container, now: float) -> Media:
        ids = self._sim.ids
        kind = container.kind
        media_type = "VIDEO" if container.video else kind.media_type
        media_id = ids.numeric("179")
        slug = ids.shortcode()
        if kind.product_type == catalog.PRODUCT_STORY:
            permalink = f"https://www.instagram.com/stories/{account.username}/{media_id}/"
        else:
            section = "reel" if kind.product_type == catalog.PRODUCT_REELS else "p"
            permalink = f"https://www.instagram.com/{section}/{slug}/"
        media = Media(
            id=media_id, owner_id=account.id, username=account.username, media_type=media_type,
            media_product_type=kind.product_type, timestamp=int(now),
            caption=None if kind.product_type == catalog.PRODUCT_STORY else container.caption,
            media_url=f"{MEDIA_HOST}/{media_id}.{'mp4' if container.video else 'jpg'}",
            thumbnail_url=f"{MEDIA_HOST}/{media_id}_thumb.jpg" if container.video else None,
            permalink=permalink, shortcode=slug, alt_text=container.alt_text,
        )
        children = []
        for child_id in container.children:
            child_container = self.containers[child_id]
            child = Media(
                id=ids.numeric("180"), owner_id=account.id, username=account.username,
                media_type="VIDEO" if child_container.video else "IMAGE", media_product_type=catalog.PRODUCT_FEED,
                timestamp=int(now), media_url=f"{MEDIA_HOST}/{media_id}_{len(children)}.jpg", parent_id=media_id,
                shortcode=ids.shortcode(),
            )
            child_container.published_media_id = child.id
            child_container.published_at = now
            children.append(child)
            self._sim.register(child)
        media.children = tuple(children)
        self._sim.register(media)
        return media

    def force_status(self, container_id: str, status_code: str | None, reason: str | None) -> Container:
        """Control endpoint: put a container into a state on demand (ERROR with a reason, ...)."""
        container = self.containers[container_id]
        if status_code == "ERROR":
            container.error = (2207001, reason or "Instagram server error")
            container.finish_at = min(container.finish_at, self._sim.clock.now())
            container.forced_status = None
        else:
            container.forced_status = status_code
        return container

    def describe_container(self, container: Container) -> dict[str, Any]:
        return {"id": container.id, "status_code": self.status_code(container),
                "status": self.status_text(container), "media_type": container.media_type_param,
                "is_carousel_item": container.is_carousel_item, "media_url": container.media_url,
                "caption": container.caption, "children": list(container.children),
                "created_at": int(container.created_at), "published_media_id": container.published_media_id}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _error_trigger(media_url: str | None) -> tuple[int, str] | None:
    if not media_url:
        return None
    path = urlparse(media_url).path.lower()
    for word, subcode, reason in catalog.CONTAINER_ERROR_TRIGGERS:
        if word in path:
            return subcode, reason
    return None


# --- route handlers -----------------------------------------------------------------------


def create_container(call: Call) -> dict[str, Any]:
    """``POST /{ig-user-id}/media``."""
    return {"id": call.sim.publishing.create_container(call.account, call.params).id}


def publish(call: Call) -> dict[str, Any]:
    """``POST /{ig-user-id}/media_publish?creation_id=``."""
    return {"id": call.sim.publishing.publish(call.account, call.param("creation_id")).id}


LIMIT_FIELDS = ("quota_usage", "config")


def publishing_limit(call: Call) -> dict[str, Any]:
    """``GET /{ig-user-id}/content_publishing_limit?fields=quota_usage,config``."""
    requested = [name.strip() for name in (call.param("fields") or "quota_usage").split(",") if name.strip()]
    for name in requested:
        if name not in LIMIT_FIELDS:
            raise GraphError("nonexisting_field", field=name, node_type="ContentPublishingLimit")
    since = call.param("since")
    try:
        since_ts = float(since) if since else None
    except ValueError:
        raise GraphError("invalid_parameter", detail="since must be a unix timestamp") from None
    entry: dict[str, Any] = {}
    if "quota_usage" in requested:
        entry["quota_usage"] = call.sim.publishing.quota_usage(call.account.id, since_ts)
    if "config" in requested:
        entry["config"] = {"quota_total": call.sim.settings.publish_quota,
                           "quota_duration": catalog.PUBLISH_QUOTA_DURATION}
    return {"data": [entry]}
