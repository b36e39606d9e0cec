"""Content publishing: containers, their lifecycle, ``media_publish`` and the quotas.

A container is IN_PROGRESS until its processing time has passed on the simulator clock
(video and reels take longer), then FINISHED, or ERROR when its media URL asks for it;
unpublished for 24 h it is EXPIRED, once used PUBLISHED. ``media_publish`` is not
idempotent, like Meta's: publishing a PUBLISHED container is refused, so a client that
lost an answer must look at the container before trying again. Publishing too early
answers 9007/2207027 ("not ready"), an unknown container 24/2207008 ("media builder
does not exist or has expired"); tests can queue either answer (``PublishRefusal``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlparse

from . import catalog
from .clock import SimClock, iso
from .config import Settings
from .container_params import Draft
from .deletions import Deletions
from .errors import GraphError
from .ids import IdFactory
from .paging import HeadedListing
from .runtime_nodes import RuntimeNodes
from .world import MEDIA_HOST, Account, Media, World


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
    options: dict[str, Any] = field(default_factory=dict)  # checked extras: share_to_feed, user_tags, ...
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
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"media_id": self.media_id, "container_id": self.container_id,
                "media_type": self.media.media_type, "media_product_type": self.media.media_product_type,
                "caption": self.media.caption, "alt_text": self.media.alt_text, "options": self.options,
                "timestamp": iso(self.published_at), "published_at": int(self.published_at)}


# The answers a test can make ``media_publish`` give (POST /__sim__/publish_refusals).
PUBLISH_REFUSALS = {"not_ready": "media_not_ready", "builder_expired": "media_builder_expired"}


@dataclass
class PublishRefusal:
    """The next ``times`` media_publish calls (of one account, or any) answer ``error`` and publish nothing."""

    error: str  # a key of PUBLISH_REFUSALS
    times: int
    account_id: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"error": self.error, "times": self.times, "account_id": self.account_id}


class PublishingDesk:
    """Containers and posts made during this run (cleared by a reset)."""

    def __init__(self, world: World, clock: SimClock, ids: IdFactory, settings: Settings, deletions: Deletions,
                 nodes: RuntimeNodes) -> None:
        self._world = world
        self._clock = clock
        self._ids = ids
        self._settings = settings
        self._deletions = deletions
        self._nodes = nodes
        self.containers: dict[str, Container] = {}
        self.published: list[PublishedPost] = []
        self.refusals: list[PublishRefusal] = []
        self._feed_head: dict[str, list[Media]] = {account.id: [] for account in world.accounts}
        self._story_head: dict[str, list[Media]] = {account.id: [] for account in world.accounts}
        # The seeded feed less deleted media, per account that has deletions (else account.feed itself).
        self._feed_tail: dict[str, tuple[list[Media], dict[str, int]]] = {}

    # --- reads ------------------------------------------------------------------------

    def timeline(self, account: Account) -> HeadedListing:
        """The /media edge: posts published in this run, newest first, then the seeded feed."""
        tail, index = self._seeded_feed(account)
        return HeadedListing("IGMedia", self.new_posts(account), tail, index, cap=catalog.MEDIA_EDGE_MAX_ITEMS)

    def new_posts(self, account: Account, include_deleted: bool = False) -> list[Media]:
        """Feed posts published in this run (and not deleted), newest first."""
        return [media for media in self._feed_head[account.id] if include_deleted or media.id not in self._deletions]

    def _seeded_feed(self, account: Account) -> tuple[list[Media], dict[str, int]]:
        return self._feed_tail.get(account.id) or (account.feed, account.feed_index)

    def feed(self, account: Account) -> list[Media]:
        """Every feed media of the account that exists, newest first."""
        return [*self.new_posts(account), *self._seeded_feed(account)[0]]

    def media_count(self, account: Account) -> int:
        return len(self.new_posts(account)) + len(self._seeded_feed(account)[0])

    def live_stories(self, account: Account, include_deleted: bool = False) -> list[Media]:
        horizon = self._clock.now() - catalog.STORY_LIFETIME_SECONDS
        return [story for story in (*self._story_head[account.id], *account.stories)
                if story.timestamp > horizon and (include_deleted or story.id not in self._deletions)]

    def forget(self, media: Media) -> None:
        """A deleted seeded media leaves the list /media pages through (rebuilt once per deletion)."""
        account = self._world.account(media.owner_id)
        if account is None or media.id not in account.feed_index:
            return  # a story, or a post of this run (filtered on the fly)
        kept = [item for item in self._seeded_feed(account)[0] if item.id != media.id]
        self._feed_tail[account.id] = (kept, {item.id: i for i, item in enumerate(kept)})

    def is_live(self, story: Media) -> bool:
        return story.timestamp > self._clock.now() - catalog.STORY_LIFETIME_SECONDS

    def status_code(self, container: Container) -> str:
        if container.published_media_id:
            return "PUBLISHED"
        if container.forced_status:
            return container.forced_status
        now = self._clock.now()
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
        horizon = self._clock.now() - catalog.PUBLISH_QUOTA_DURATION
        if since is not None:
            horizon = max(horizon, since)
        return sum(1 for post in self.published if post.account_id == account_id and post.published_at > horizon)

    # --- writes -----------------------------------------------------------------------

    def create_container(self, account: Account, draft: Draft, *, media_url: str | None, children: tuple[str, ...],
                         caption: str | None, alt_text: str | None, options: dict[str, Any]) -> Container:
        """A container of checked parameters (``handlers/publishing.py``), within the daily container quota."""
        now = self._clock.now()
        recent = sum(1 for c in self.containers.values()
                     if c.owner_id == account.id and now - c.created_at < catalog.DAY)
        if recent >= catalog.CONTAINERS_PER_DAY:
            raise GraphError("container_quota", limit=catalog.CONTAINERS_PER_DAY)
        processing = self._settings.container_finish_seconds
        if draft.video:
            processing *= catalog.VIDEO_PROCESSING_FACTOR
        container = Container(
            id=self._ids.numeric("182"), owner_id=account.id, media_type_param=draft.media_type, kind=draft.kind,
            is_carousel_item=draft.is_item, media_url=media_url, video=draft.video, caption=caption,
            alt_text=alt_text, children=children, created_at=now, finish_at=now + processing,
            error=_error_trigger(media_url), options=options,
        )
        self.containers[container.id] = container
        self._nodes.add(container)
        return container

    def check_children(self, account: Account, ids: list[str]) -> tuple[str, ...]:
        """The children of a carousel: finished carousel item containers of the account."""
        for child_id in ids:
            child = self.containers.get(child_id)
            if child is None or child.owner_id != account.id or not child.is_carousel_item:
                raise GraphError("carousel_invalid",
                                 detail=f"{child_id} is not a carousel item container of this account")
            status = self.status_code(child)
            if status == "IN_PROGRESS":
                raise GraphError("media_not_ready")
            if status != "FINISHED":
                raise GraphError("media_builder_expired")
        return tuple(ids)

    def refuse_next_publishes(self, error: str, times: int, account_id: str | None) -> PublishRefusal:
        """Control endpoint: queue a refusal; the oldest matching one answers first."""
        if error not in PUBLISH_REFUSALS:
            raise ValueError(f"error must be one of {', '.join(PUBLISH_REFUSALS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        refusal = PublishRefusal(error, times, account_id)
        self.refusals.append(refusal)
        return refusal

    def _take_refusal(self, account_id: str) -> str | None:
        for refusal in self.refusals:
            if refusal.account_id in (None, account_id):
                refusal.times -= 1
                if refusal.times == 0:
                    self.refusals.remove(refusal)
                return PUBLISH_REFUSALS[refusal.error]
        return None

    def publish(self, account: Account, creation_id: str) -> Media:
        refused = self._take_refusal(account.id)
        if refused:
            raise GraphError(refused)
        container = self.containers.get(creation_id)
        if container is None or container.owner_id != account.id:
            raise GraphError("media_builder_expired")
        if container.is_carousel_item:
            raise GraphError("carousel_item_publish")
        if not container.kind.standalone:
            raise GraphError("standalone_video")
        status = self.status_code(container)
        if status == "PUBLISHED":
            raise GraphError("container_published", container_id=creation_id)
        if status == "EXPIRED":
            raise GraphError("container_expired", container_id=creation_id)
        if status == "ERROR":
            raise GraphError("container_failed", reason=self.status_text(container))
        if status != "FINISHED":
            raise GraphError("media_not_ready")
        if self.quota_usage(account.id) >= self._settings.publish_quota:
            raise GraphError("publish_quota")
        now = self._clock.now()
        media = self._make_media(account, container, now)
        if container.kind.product_type == catalog.PRODUCT_STORY:
            self._story_head[account.id].insert(0, media)
        else:
            self._feed_head[account.id].insert(0, media)
        container.published_media_id = media.id
        container.published_at = now
        self.published.append(PublishedPost(account.id, media.id, container.id, now, media, dict(container.options)))
        return media

    def _make_media(self, account: Account, container: Container, now: float) -> Media:
        ids = self._ids
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
        children: list[Media] = []
        for child_id in container.children:
            child_container = self.containers[child_id]
            child = Media(
                id=ids.numeric("180"), owner_id=account.id, username=account.username,
                media_type="VIDEO" if child_container.video else "IMAGE", media_product_type=catalog.PRODUCT_FEED,
                timestamp=int(now), media_url=f"{MEDIA_HOST}/{media_id}_{len(children)}.jpg", parent_id=media_id,
                shortcode=ids.shortcode(), alt_text=child_container.alt_text,
            )
            child_container.published_media_id = child.id
            child_container.published_at = now
            children.append(child)
            self._nodes.add(child)
        media.children = tuple(children)
        self._nodes.add(media)
        return media

    def force_status(self, container_id: str, status_code: str | None, reason: str | None) -> Container:
        """Control endpoint: put a container into a state on demand (ERROR with a reason, ...)."""
        container = self.containers[container_id]
        if status_code == "ERROR":
            container.error = (2207001, reason or "Instagram server error")
            container.finish_at = min(container.finish_at, self._clock.now())
            container.forced_status = None
        else:
            container.forced_status = status_code
        return container

    def describe_container(self, container: Container) -> dict[str, Any]:
        return {"id": container.id, "status_code": self.status_code(container),
                "status": self.status_text(container), "media_type": container.media_type_param,
                "is_carousel_item": container.is_carousel_item, "media_url": container.media_url,
                "caption": container.caption, "alt_text": container.alt_text, "options": container.options,
                "children": list(container.children),
                "created_at": int(container.created_at), "published_media_id": container.published_media_id}


def _error_trigger(media_url: str | None) -> tuple[int, str] | None:
    if not media_url:
        return None
    path = urlparse(media_url).path.lower()
    for word, subcode, reason in catalog.CONTAINER_ERROR_TRIGGERS:
        if word in path:
            return subcode, reason
    return None
