"""Publishing one post exactly once: the request's rules, and the state machine over
``instagram.publish_jobs``.

A job is one idempotency key. Its states (the user-facing meaning is in
docs/publishing-and-messaging.md):

``pending``            validated and recorded; item containers are being created
                       (``container_ids`` fills as each exists; a carousel's items then process)
``containers_created`` the container to publish (``parent_container_id``) exists and processes,
                       or Meta answered "not ready" to media_publish (its answer is kept in
                       the error columns meanwhile)
``ready``              it is FINISHED; publishing is next
``publishing``         media_publish is being (or was) sent; the outcome is not recorded yet.
                       With ``answer_lost_at`` set the outcome is unknown: the answer was
                       lost or the worker that sent it is gone
``published``          ``media_id``, ``permalink``, ``published_at`` recorded. Final.
``failed``             Meta refused, or processing ended in ERROR/EXPIRED; the error is
                       recorded and nothing was published. Triggering the same key again
                       starts over.

Exactly once. Meta's own idempotency key is the container: one container is published
at most once (a second ``media_publish`` is refused). So the job records its container
before publishing, writes ``publishing`` (and the time) before the request leaves, and
never makes a new container once it is there. When the answer to media_publish is lost,
the publish may still be under way at Meta (a late answer is a late write), so the time
is recorded (``answer_lost_at``) and the container is asked only ``settle_seconds``
after it (:class:`~instagram_graph.jobs.OutcomeUnsettled` says how long; the operator
defers): a FINISHED container seen sooner could be published a moment later by the
request still in flight. Whoever finds ``publishing`` - the same attempt after the wait,
a task retry, a re-trigger of the key, a rerun after a killed worker - waits out the same
time, then asks the container: PUBLISHED means the post exists (the media is found on the
account's edge and recorded), FINISHED means the request never took effect (publish
again), ERROR/EXPIRED mean nothing was published. ``failed`` is only written when nothing
was published, so starting a failed key over cannot post twice.

Container creation (``POST /{ig-user-id}/media``) is idempotent by design and retried
like a read: a second container for the same item is never published (the job records
one id and publishes only that) and expires unused after 24 hours; it only counts
towards Meta's 400 containers a day.

Meta's answers to media_publish and container creation, as the error catalogue classes
them: :class:`~instagram_graph.errors.NotReadyError` (24/2207008, 9007/2207027) means Meta
did nothing; the job waits again (at least :data:`NOT_READY_WAIT`) and tries again until
the wait timeout. Any other refusal - a policy one (spam, restricted account) included -
fails the job at once with the catalogue's advice; nothing is retried and no account is
paused (only throttles pause, in the hook).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

from instagram_graph.errors import (
    GraphApiError,
    NotReadyError,
    RateLimiterUnavailableError,
    RateLimitError,
    TokenError,
    TransientError,
    advice_for,
    classify,
)
from instagram_graph.graph_time import parse_graph_time
from instagram_graph.jobs import (
    JobTable,
    OutcomeUnsettled,
    RequestRefused,
    content_hash,
    pick_after,
    settle_sql,
)
from instagram_graph.triggers.events import ContainerStatusEvent
from instagram_graph.validation import instagram_id, plain_text

log = logging.getLogger(__name__)

DUPLICATE_POST_CODE = 506  # Meta refuses a second media_publish of a container
# After "not ready" (NotReadyError) the job waits at least this long before it tries again:
# Meta asks for 30 s to 2 minutes.
NOT_READY_WAIT = timedelta(seconds=30)

# --- Instagram's rules, as data ------------------------------------------------------------

CAROUSEL = "CAROUSEL"
# What a request may ask for. A single feed video is a reel since July 2023: Meta refuses a
# standalone VIDEO container when it is published (100/2207089), so VIDEO is refused up front.
MEDIA_TYPES = ("IMAGE", "REELS", "STORIES", CAROUSEL)
# Recorded by earlier versions of this package. Such jobs still resume from their recorded
# containers (PublishRequest.from_record does not re-validate); no new request may ask for it.
LEGACY_MEDIA_TYPES = ("VIDEO",)
CAPTION_MAX_CHARS = 2200
CAPTION_MAX_HASHTAGS = 30
CAPTION_MAX_MENTIONS = 20  # @mentions of other accounts in one caption
THUMB_OFFSET_MAX_MS = 15 * 60 * 1000  # a reel is at most 15 minutes long
CAROUSEL_MIN_ITEMS, CAROUSEL_MAX_ITEMS = 2, 10
USER_TAGS_MAX = 20  # people tagged in one image or reel
ALT_TEXT_MAX_CHARS = 1000  # characters of alt_text
AUDIO_NAME_MAX_CHARS = 200  # characters of a reel's audio_name
HASHTAG = re.compile(r"#\w+")
MENTION = re.compile(r"(?<![A-Za-z0-9._])@[A-Za-z0-9._]+")  # not the @ of an e-mail address
USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
LOCATION_ID_MAX_DIGITS = 32  # a location is a Facebook Page, named by its numeric id
LOCATION_ID = re.compile(rf"^[0-9]{{1,{LOCATION_ID_MAX_DIGITS}}}$")
# Carousel items and stories are images unless their file says video.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v")
# The media_type sent when creating the container (None: omitted, which means image).
CONTAINER_MEDIA_TYPE = {"IMAGE": None, "VIDEO": "VIDEO", "REELS": "REELS", "STORIES": "STORIES", CAROUSEL: "CAROUSEL"}
HAS_CAPTION = {"IMAGE": True, "VIDEO": True, "REELS": True, "STORIES": False, CAROUSEL: True}
# The media types that take each option. A CAROUSEL's alt_text and user_tags go on its image
# items, its location_id on the carousel itself.
OPTION_TYPES: dict[str, tuple[str, ...]] = {
    "alt_text": ("IMAGE", CAROUSEL),
    "share_to_feed": ("REELS",),
    "cover_url": ("REELS",),
    "thumb_offset": ("REELS",),
    "audio_name": ("REELS",),
    "user_tags": ("IMAGE", "REELS", "STORIES", CAROUSEL),
    "location_id": ("IMAGE", "REELS", CAROUSEL),
}
# Where a user tag sits: at x/y on an image (required there), by name only on a reel; a
# story takes either.
TAG_POSITION = {"IMAGE": "required", CAROUSEL: "required", "REELS": "refused", "STORIES": "optional"}


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
LOOKUP_FIELDS = "id,caption,media_type,media_product_type,permalink,timestamp"


# --- the request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UserTag:
    """A person tagged in the post: ``x``/``y`` are fractions of the image's width and height.

    ``item`` is the position (from 1) of the carousel image the tag is on; None elsewhere.
    """

    username: str
    x: float | None = None
    y: float | None = None
    item: int | None = None

    def param(self) -> dict[str, Any]:
        """The entry Meta takes in ``user_tags``."""
        if self.x is None:
            return {"username": self.username}
        return {"username": self.username, "x": self.x, "y": self.y}

    def record(self) -> dict[str, Any]:
        return {**self.param(), **({"item": self.item} if self.item is not None else {})}


@dataclass(frozen=True)
class MediaOptions:
    """The optional container parameters besides alt_text; which media types take each is
    :data:`OPTION_TYPES`. None (no tags): not given, not sent, not recorded."""

    share_to_feed: bool | None = None
    cover_url: str | None = None
    thumb_offset: int | None = None
    audio_name: str | None = None
    user_tags: tuple[UserTag, ...] = ()
    location_id: str | None = None

    def params(self) -> dict[str, Any]:
        """As :meth:`InstagramGraphHook.create_container` takes them."""
        return {
            "share_to_feed": self.share_to_feed,
            "cover_url": self.cover_url,
            "thumb_offset": self.thumb_offset,
            "audio_name": self.audio_name,
            "user_tags": [tag.param() for tag in self.user_tags] or None,
            "location_id": self.location_id,
        }

    def record(self) -> dict[str, Any]:
        """The options given, as stored in the request (a carousel tag keeps its item)."""
        values = {**self.params(), "user_tags": [tag.record() for tag in self.user_tags] or None}
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MediaOptions:
        return cls(
            share_to_feed=record.get("share_to_feed"),
            cover_url=record.get("cover_url"),
            thumb_offset=record.get("thumb_offset"),
            audio_name=record.get("audio_name"),
            user_tags=tuple(UserTag(**tag) for tag in record.get("user_tags") or ()),
            location_id=record.get("location_id"),
        )


@dataclass(frozen=True)
class ContainerSpec:
    """The parameters of one ``POST /{ig-user-id}/media``."""

    image_url: str | None = None
    video_url: str | None = None
    media_type: str | None = None
    caption: str | None = None
    alt_text: str | None = None
    is_carousel_item: bool = False
    children: tuple[str, ...] = ()
    options: MediaOptions = MediaOptions()

    def params(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`InstagramGraphHook.create_container`."""
        return {
            "image_url": self.image_url,
            "video_url": self.video_url,
            "media_type": self.media_type,
            "caption": self.caption,
            "alt_text": self.alt_text,
            "is_carousel_item": self.is_carousel_item,
            "children": list(self.children) or None,
            **self.options.params(),
        }


@dataclass(frozen=True)
class PublishRequest:
    """A validated publishing request. Build it with :meth:`build`, which refuses bad input."""

    account_id: str
    media_type: str
    media_url: str | None
    children: tuple[str, ...]
    caption: str | None
    alt_text: str | None
    options: MediaOptions = MediaOptions()

    @classmethod
    def build(
        cls,
        *,
        account_id: str,
        media_type: str,
        media_url: str | None = None,
        children: Sequence[str] | str | None = (),
        caption: str | None = None,
        alt_text: str | None = None,
        share_to_feed: bool | str | None = None,
        cover_url: str | None = None,
        thumb_offset: int | str | None = None,
        audio_name: str | None = None,
        user_tags: Sequence[Mapping[str, Any]] | str | None = None,
        location_id: str | int | None = None,
    ) -> PublishRequest:
        """Check every rule Instagram would check, so a bad request fails before any call.

        Options may come as values or as the text a template renders (``true``, ``1500``,
        a JSON array, ``null``); empty text means not given.

        :raises RequestRefused: naming the field, the problem and the fix.
        :raises InvalidInput: a value unusable as such (control characters, an account id
            that is not digits), naming the field and the fix.
        """
        for name, value in (
            ("media_type", media_type), ("media_url", media_url), ("children", children), ("caption", caption),
            ("alt_text", alt_text), ("share_to_feed", share_to_feed), ("cover_url", cover_url),
            ("thumb_offset", thumb_offset), ("audio_name", audio_name), ("user_tags", user_tags),
            ("location_id", location_id),
        ):
            if isinstance(value, str):  # a caption keeps its line breaks; children may come one per line
                plain_text(name, value, allow_newlines=name in ("caption", "children"))
        account_id = (account_id or "").strip()
        if not account_id:
            raise RequestRefused("account_id is empty: give the Instagram user id of the account to publish as.")
        account_id = instagram_id("account_id", account_id)
        media_type = (media_type or "").strip().upper()
        if media_type in LEGACY_MEDIA_TYPES:
            raise RequestRefused(
                "media_type VIDEO is not offered: since July 2023 Instagram publishes a single video as a reel and "
                "refuses a standalone VIDEO post (error 100/2207089). Set media_type to REELS (share_to_feed: true "
                "also shows it in the profile grid), or put the video in a CAROUSEL."
            )
        if media_type not in MEDIA_TYPES:
            raise RequestRefused(f"media_type {media_type!r} is not one of {', '.join(MEDIA_TYPES)}.")
        media_url = _text(media_url)
        items = _as_list(children)
        caption = caption if caption and caption.strip() else None
        options = {
            "alt_text": _text(alt_text),
            "share_to_feed": _as_bool(share_to_feed, "share_to_feed"),
            "cover_url": _text(cover_url),
            "thumb_offset": _as_milliseconds(thumb_offset, "thumb_offset"),
            "audio_name": _text(audio_name),
            "user_tags": _as_objects(user_tags, "user_tags"),
            "location_id": _text(location_id),
        }
        for name, value in options.items():
            if value is not None and media_type not in OPTION_TYPES[name]:
                raise RequestRefused(_not_for(name, media_type))

        if media_type == CAROUSEL:
            if media_url:
                raise RequestRefused(
                    "media_url is set for a CAROUSEL: list every item's URL in children instead, and leave media_url empty."
                )
            if not CAROUSEL_MIN_ITEMS <= len(items) <= CAROUSEL_MAX_ITEMS:
                raise RequestRefused(
                    f"A carousel needs {CAROUSEL_MIN_ITEMS} to {CAROUSEL_MAX_ITEMS} items in children; got {len(items)}. "
                    + ("Add items, or publish a single IMAGE or REELS instead." if len(items) < CAROUSEL_MIN_ITEMS
                       else "Remove items, or split them into two posts.")
                )
            for position, url in enumerate(items, start=1):
                _check_https(url, f"children item {position}")
            if options["alt_text"] is not None and all(_is_video(url) for url in items):
                raise RequestRefused(
                    "alt_text describes a carousel's images, and every item of this one is a video: leave alt_text empty."
                )
        else:
            if items:
                raise RequestRefused(
                    f"children are only for CAROUSEL posts; this is {media_type}. "
                    "Remove children, or set media_type to CAROUSEL."
                )
            if not media_url:
                raise RequestRefused(f"media_url is empty: a {media_type} post needs the public HTTPS URL of its file.")
            _check_https(media_url, "media_url")
            if media_type == "IMAGE" and _is_video(media_url):
                raise RequestRefused(
                    f"media_url {media_url} is a video file, but media_type is IMAGE. Choose REELS for a video "
                    "(or STORIES for a video story)."
                )

        if caption is not None:
            if not HAS_CAPTION[media_type]:
                raise RequestRefused("Stories have no caption on Instagram: leave caption empty for STORIES.")
            if len(caption) > CAPTION_MAX_CHARS:
                raise RequestRefused(
                    f"The caption is {len(caption)} characters long; Instagram allows at most {CAPTION_MAX_CHARS}. "
                    f"Shorten it by {len(caption) - CAPTION_MAX_CHARS} characters."
                )
            hashtags = len(HASHTAG.findall(caption))
            if hashtags > CAPTION_MAX_HASHTAGS:
                raise RequestRefused(
                    f"The caption has {hashtags} hashtags; Instagram allows at most {CAPTION_MAX_HASHTAGS}. "
                    f"Remove {hashtags - CAPTION_MAX_HASHTAGS} of them."
                )
            mentions = len(MENTION.findall(caption))
            if mentions > CAPTION_MAX_MENTIONS:
                raise RequestRefused(
                    f"The caption mentions {mentions} accounts (@name); Instagram allows at most {CAPTION_MAX_MENTIONS}. "
                    f"Remove {mentions - CAPTION_MAX_MENTIONS} of them, or tag people with user_tags instead."
                )
        if options["cover_url"] is not None:
            _check_https(options["cover_url"], "cover_url")
            if options["thumb_offset"] is not None:
                raise RequestRefused(
                    "cover_url and thumb_offset both choose the reel's cover, and Instagram ignores thumb_offset when "
                    "cover_url is given: keep one of them."
                )
        if options["location_id"] is not None and not LOCATION_ID.match(options["location_id"]):
            raise RequestRefused(
                f"location_id {options['location_id']!r} is not a location id: give the numeric id of the Facebook "
                "Page of the place (Meta's Pages Search finds it), or leave location_id empty."
            )
        for name, limit in (("alt_text", ALT_TEXT_MAX_CHARS), ("audio_name", AUDIO_NAME_MAX_CHARS)):
            if options[name] is not None and len(options[name]) > limit:
                raise RequestRefused(f"{name} is {len(options[name])} characters long; at most {limit} are allowed. "
                                     f"Shorten it by {len(options[name]) - limit} characters.")
        chosen = MediaOptions(
            share_to_feed=options["share_to_feed"],
            cover_url=options["cover_url"],
            thumb_offset=options["thumb_offset"],
            audio_name=options["audio_name"],
            user_tags=_user_tags(options["user_tags"] or [], media_type, items),
            location_id=options["location_id"],
        )
        return cls(account_id, media_type, media_url, tuple(items), caption, options["alt_text"], chosen)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PublishRequest:
        """The request as stored in ``publish_jobs.request``: validated when it was made, so
        not again (a job recorded as VIDEO goes on with its recorded containers)."""
        return cls(
            account_id=record["account_id"],
            media_type=record["media_type"],
            media_url=record.get("media_url"),
            children=tuple(record.get("children") or ()),
            caption=record.get("caption"),
            alt_text=record.get("alt_text"),
            options=MediaOptions.from_record(record),
        )

    def record(self) -> dict[str, Any]:
        """The canonical form: stored as ``request`` and hashed into ``request_hash``.

        Options are left out when not given, so a request recorded before they existed
        keeps its hash.
        """
        return {
            "account_id": self.account_id,
            "media_type": self.media_type,
            "media_url": self.media_url,
            "children": list(self.children),
            "caption": self.caption,
            "alt_text": self.alt_text,
            **self.options.record(),
        }

    @property
    def request_hash(self) -> str:
        return content_hash(self.record())

    def item_specs(self) -> list[ContainerSpec]:
        """The containers made first: a carousel's items, or the post's one container."""
        if self.media_type == CAROUSEL:
            return [self._carousel_item(position, url) for position, url in enumerate(self.children, start=1)]
        url = self.media_url or ""
        video = self.media_type in ("VIDEO", "REELS") or (self.media_type == "STORIES" and _is_video(url))
        return [
            ContainerSpec(
                image_url=None if video else url,
                video_url=url if video else None,
                media_type=CONTAINER_MEDIA_TYPE[self.media_type],
                caption=self.caption,
                alt_text=None if video else self.alt_text,
                options=self.options,
            )
        ]

    def parent_spec(self, item_ids: Sequence[str]) -> ContainerSpec:
        """The carousel container, made once its items are FINISHED."""
        return ContainerSpec(
            media_type=CONTAINER_MEDIA_TYPE[CAROUSEL], caption=self.caption, children=tuple(item_ids),
            options=MediaOptions(location_id=self.options.location_id),
        )

    def _carousel_item(self, position: int, url: str) -> ContainerSpec:
        if _is_video(url):
            return ContainerSpec(video_url=url, media_type="VIDEO", is_carousel_item=True)
        tags = tuple(tag for tag in self.options.user_tags if (tag.item or 1) == position)
        return ContainerSpec(image_url=url, alt_text=self.alt_text, is_carousel_item=True,
                             options=MediaOptions(user_tags=tags))


def _not_for(name: str, media_type: str) -> str:
    """The refusal of an option the media type does not take."""
    if name == "alt_text":
        return (
            f"alt_text applies to images only (IMAGE posts and a CAROUSEL's image items); Instagram refuses it for "
            f"REELS and STORIES, image stories too. Leave alt_text empty for {media_type}."
        )
    takers = " and ".join(OPTION_TYPES[name])
    return f"{name} applies to {takers} posts only, not to {media_type}: leave {name} empty, or change media_type."


def _user_tags(entries: list[Any], media_type: str, items: Sequence[str]) -> tuple[UserTag, ...]:
    """Validated user tags: a username, and x/y where the media type places tags."""
    tags = []
    for number, entry in enumerate(entries, start=1):
        name = f"user_tags entry {number}"
        if not isinstance(entry, Mapping):
            raise RequestRefused(f"{name} is {entry!r}: each tag is an object such as "
                                 '{"username": "jane.doe", "x": 0.5, "y": 0.5}.')
        unknown = sorted(set(entry) - {"username", "x", "y", "item"})
        if unknown:
            raise RequestRefused(f"{name} has unknown key(s) {', '.join(unknown)}: a tag takes username, x and y"
                                 + (" (and item, the position of the carousel image)." if media_type == CAROUSEL
                                    else "."))
        username = str(entry.get("username") or "").strip().lstrip("@")
        if not USERNAME.match(username):
            raise RequestRefused(f"{name}: username {entry.get('username')!r} is not an Instagram username "
                                 "(1 to 30 letters, digits, periods or underscores).")
        item = _tag_item(entry.get("item"), name, media_type, items)
        where = media_type if item is None else CAROUSEL
        x, y = _tag_position(entry, name, TAG_POSITION[where], media_type)
        tags.append(UserTag(username, x, y, item))
    per_container: dict[int | None, int] = {}
    for tag in tags:
        per_container[tag.item] = per_container.get(tag.item, 0) + 1
    for item, count in per_container.items():
        if count > USER_TAGS_MAX:
            where = f"carousel item {item}" if item is not None else f"one {media_type} post"
            raise RequestRefused(f"user_tags has {count} tags for {where}; Instagram allows at most "
                                 f"{USER_TAGS_MAX}. Remove {count - USER_TAGS_MAX}.")
    return tuple(tags)


def _tag_item(value: Any, name: str, media_type: str, items: Sequence[str]) -> int | None:
    """The carousel position a tag is on (1 when not given); None for other media types."""
    if media_type != CAROUSEL:
        if value is not None:
            raise RequestRefused(f"{name} has item, which only places a tag on a CAROUSEL's image: remove item.")
        return None
    position = 1 if value is None else value
    if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= len(items):
        raise RequestRefused(f"{name}: item {value!r} is not a position in children (1 to {len(items)}).")
    if _is_video(items[position - 1]):
        raise RequestRefused(f"{name} is on carousel item {position}, a video: tags go on the carousel's images. "
                             "Set item to the position of an image.")
    return position


def _tag_position(entry: Mapping[str, Any], name: str, rule: str, media_type: str) -> tuple[float | None, float | None]:
    x, y = entry.get("x"), entry.get("y")
    if x is None and y is None:
        if rule == "required":
            raise RequestRefused(f"{name} has no x and y: a tag on an image needs both, as fractions of its width "
                                 "and height from 0.0 to 1.0 (0.5, 0.5 is the centre).")
        return None, None
    if rule == "refused":
        raise RequestRefused(f"{name} has x and y, but a tag on a {media_type} post is the username only: "
                             "remove x and y.")
    for axis, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise RequestRefused(f"{name}: {axis} is {value!r}; give both x and y as numbers from 0.0 to 1.0 "
                                 "(fractions of the image's width and height).")
    return float(x), float(y)


def _text(value: Any) -> str | None:
    """Text with surrounding space removed; empty means not given."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "null", "none"):
        return None
    if text in ("true", "false"):
        return text == "true"
    raise RequestRefused(f"{name} is {value!r}: give true or false, or leave it empty.")


def _as_milliseconds(value: Any, name: str) -> int | None:
    """Whole milliseconds from 0 to :data:`THUMB_OFFSET_MAX_MS`, from a number or its text."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "null", "none"):
            return None
        # More digits than any position in a reel has: too large (and never parsed whole).
        value = int(text[:13]) if re.fullmatch(r"-?[0-9]+", text) else text
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestRefused(f"{name} is {str(value)[:40]!r}: give the frame's position in the video in whole "
                             "milliseconds, e.g. 1500 for 1.5 s.")
    if value < 0:
        shown = value if value > -THUMB_OFFSET_MAX_MS else "a large negative number"
        raise RequestRefused(f"{name} is {shown}: it counts milliseconds from the start of the video, so it "
                             "cannot be negative.")
    if value > THUMB_OFFSET_MAX_MS:
        raise RequestRefused(f"{name} is more than {THUMB_OFFSET_MAX_MS} ms: a reel is at most 15 minutes long, so "
                             "the frame lies within that. Give its position in milliseconds, e.g. 1500 for 1.5 s.")
    return value


def _as_objects(value: Any, name: str) -> list[Any] | None:
    """A list from a list or from the JSON a template renders; None when not given."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "null", "none", "[]"):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise RequestRefused(f"{name} is not valid JSON: give a list such as "
                                 '[{"username": "jane.doe", "x": 0.5, "y": 0.5}].') from None
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise RequestRefused(f"{name} must be a list of tags, got {type(value).__name__}.")
    return list(value) or None


def _as_list(value: Sequence[str] | str | None) -> list[str]:
    """Children from a list, a JSON array string (a templated field) or lines/commas."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text or text == "null":
            return []
        if text.startswith("["):
            try:
                decoded = json.loads(text)
            except ValueError:
                raise RequestRefused("children is not a valid JSON array of URLs.") from None
            value = decoded if isinstance(decoded, list) else [text]
        else:
            value = re.split(r"[\s,]+", text)
    return [str(item).strip() for item in value if str(item).strip()]


def _check_https(url: str, name: str) -> None:
    plain_text(name, url)
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or any(char.isspace() for char in url):
        raise RequestRefused(
            f"{name} {url!r} is not an HTTPS URL. Instagram downloads media itself, only from public "
            "https:// URLs: host the file on HTTPS and give that URL."
        )


def _is_video(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(VIDEO_EXTENSIONS)


# --- the job --------------------------------------------------------------------------------


@dataclass
class PublishJob:
    """One row of ``instagram.publish_jobs``."""

    job_id: int
    idempotency_key: str
    account_id: str
    state: str
    request: PublishRequest
    request_hash: str
    container_ids: list[str] = field(default_factory=list)
    parent_container_id: str | None = None
    media_id: str | None = None
    permalink: str | None = None
    error_message: str | None = None
    attempts: int = 0
    publish_started_at: datetime | None = None
    created_at: datetime | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    answer_lost_at: datetime | None = None

    @property
    def media_type(self) -> str:
        return self.request.media_type

    def describe(self) -> str:
        return f"publish job {self.job_id} (key {self.idempotency_key!r}, account {self.account_id}, {self.media_type})"

    def summary(self) -> dict[str, Any]:
        """What the task returns (XCom): ids and state, never a token."""
        return {
            "job_id": self.job_id,
            "idempotency_key": self.idempotency_key,
            "account_id": self.account_id,
            "state": self.state,
            "media_id": self.media_id,
            "permalink": self.permalink,
            "container_id": self.parent_container_id,
        }


@dataclass(frozen=True)
class WaitFor:
    """The job cannot go on until these containers finish processing.

    ``not_before`` (unix time): Meta said it is not ready; do not go on before then, even
    when the containers are FINISHED (with no containers, the wait is only that).
    """

    container_ids: tuple[str, ...]
    what: str
    not_before: float | None = None


class PublishFailed(Exception):
    """The job ended in ``failed``: nothing was published. The message says why and what to do."""

    def __init__(self, job: PublishJob, message: str) -> None:
        self.job = job
        super().__init__(f"{message} [{job.describe()}]")


class PublishOutcomeUnknown(OutcomeUnsettled):
    """media_publish got no answer: the post may or may not exist, and may still appear.
    Advance the job again after ``wait_seconds``: it asks the container (once the outcome
    has settled) before doing anything else."""


class PublishedMediaNotFound(Exception):
    """The container is PUBLISHED, so the post exists, but it is not on the account's edge yet.

    Nothing will publish it again; looking again later records its media id.
    """


_COLUMNS = (
    "job_id, idempotency_key, account_id, state, request, request_hash, container_ids, parent_container_id, "
    "media_id, permalink, error_message, attempts, publish_started_at, created_at, error_code, error_subcode, "
    "answer_lost_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM instagram.publish_jobs WHERE idempotency_key = %s"
_INSERT = f"""
INSERT INTO instagram.publish_jobs (idempotency_key, account_id, dag_run_id, state, media_type, request, request_hash)
VALUES (%s, %s, %s, 'pending', %s, %s::jsonb, %s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
"""
_RESTART = f"""
UPDATE instagram.publish_jobs
   SET state = 'pending', container_ids = '{{}}', parent_container_id = NULL, error_code = NULL,
       error_subcode = NULL, error_message = NULL, fbtrace_id = NULL, publish_started_at = NULL,
       answer_lost_at = NULL, dag_run_id = %s
 WHERE idempotency_key = %s AND state = 'failed'
RETURNING {_COLUMNS}
"""
# A job that waits after "not ready" keeps Meta's answer in error_code/error_subcode/
# error_message until it gets further (a container made, processing FINISHED, published).
_CLEAR_ERROR = "error_code = NULL, error_subcode = NULL, error_message = NULL, fbtrace_id = NULL"
_SET_CONTAINERS = f"""
UPDATE instagram.publish_jobs SET container_ids = %s, {_CLEAR_ERROR} WHERE job_id = %s AND state = 'pending'
"""
_CONTAINERS_CREATED = f"""
UPDATE instagram.publish_jobs SET state = 'containers_created', parent_container_id = %s, {_CLEAR_ERROR}
 WHERE job_id = %s AND state = 'pending'
RETURNING {_COLUMNS}
"""
_FINISHED = f"""
UPDATE instagram.publish_jobs SET state = 'ready', {_CLEAR_ERROR} WHERE job_id = %s AND state = 'containers_created'
RETURNING {_COLUMNS}
"""
_NOT_READY = f"""
UPDATE instagram.publish_jobs
   SET state = %s, error_code = %s, error_subcode = %s, error_message = %s, fbtrace_id = %s
 WHERE job_id = %s AND state = %s
RETURNING {_COLUMNS}
"""
_MOVE = f"UPDATE instagram.publish_jobs SET state = %s WHERE job_id = %s AND state = %s RETURNING {_COLUMNS}"
_START_PUBLISHING = f"""
UPDATE instagram.publish_jobs
   SET state = 'publishing', publish_started_at = now(), answer_lost_at = NULL, attempts = attempts + 1
 WHERE job_id = %s AND state = 'ready'
RETURNING {_COLUMNS}
"""
_PUBLISHED = f"""
UPDATE instagram.publish_jobs
   SET state = 'published', media_id = %s, permalink = %s, published_at = now(),
       error_code = NULL, error_subcode = NULL, error_message = NULL, fbtrace_id = NULL
 WHERE job_id = %s AND state <> 'published'
RETURNING {_COLUMNS}
"""
_SET_PERMALINK = "UPDATE instagram.publish_jobs SET permalink = %s WHERE job_id = %s"
_FAIL = f"""
UPDATE instagram.publish_jobs
   SET state = 'failed', error_code = %s, error_subcode = %s, error_message = %s, fbtrace_id = %s
 WHERE job_id = %s AND state NOT IN ('published', 'publishing')
RETURNING {_COLUMNS}
"""
_FAIL_AFTER_CHECK = f"""
UPDATE instagram.publish_jobs
   SET state = 'failed', error_code = %s, error_subcode = %s, error_message = %s, fbtrace_id = %s
 WHERE job_id = %s AND state <> 'published'
RETURNING {_COLUMNS}
"""
_CLAIMED_MEDIA = "SELECT media_id FROM instagram.publish_jobs WHERE account_id = %s AND media_id IS NOT NULL"
_STATUS_SUBCODE = re.compile(r"\((\d{4,})\)\s*\.?\s*$")


class Publisher(JobTable):
    """Moves publish jobs through their states with one hook and one warehouse connection.

    :param hook: an :class:`~instagram_graph.hooks.graph_api.InstagramGraphHook`.
    :param conn: an autocommit psycopg2 connection (see :func:`instagram_graph.jobs.open_warehouse`).
    :param lookup_slack: how far before the publish attempt a found post may be dated
        (clock skew between us and Meta, whose timestamps have whole seconds).
    :param not_ready_wait: the least wait after Meta answered "not ready" (NotReadyError)
        before the next try; :data:`NOT_READY_WAIT` unless given (tests make it short).
    """

    done_state = "published"
    select_sql, insert_sql, restart_sql = _SELECT, _INSERT, _RESTART
    settle_sql = settle_sql("publish_jobs", "publishing")
    looked_up_in = "the container's status"
    unsettled_error = PublishOutcomeUnknown
    default_lookup_slack = timedelta(minutes=10)

    def __init__(
        self, hook: Any, conn: Any, *, lookup_slack: timedelta | None = None, not_ready_wait: timedelta | None = None
    ) -> None:
        super().__init__(hook, conn, lookup_slack=lookup_slack)
        self.not_ready_wait = not_ready_wait if not_ready_wait is not None else NOT_READY_WAIT

    # --- registering ------------------------------------------------------------------

    def _from_row(self, row: tuple) -> PublishJob:
        return _job(row)

    def _insert_params(self, request: PublishRequest, key: str, dag_run_id: str | None) -> tuple:
        return (key, request.account_id, dag_run_id, request.media_type, _json(request.record()), request.request_hash)

    def _check_same(self, job: PublishJob, request: PublishRequest) -> None:
        if job.request_hash != request.request_hash:
            raise RequestRefused(
                f"The idempotency key {job.idempotency_key!r} was already used for a different publish request "
                f"(job {job.job_id}, {job.media_type} for account {job.account_id}, state {job.state}). "
                "A key stands for one post: use a new key for new content, or leave it empty to derive one from the run."
            )

    # --- advancing ---------------------------------------------------------------------

    def advance(self, job: PublishJob, statuses: Mapping[str, str] | None = None) -> PublishJob | WaitFor:
        """Go as far as possible: return the published job, or what to wait for.

        :param statuses: container id -> status_code, as a wait just reported them.
        :raises PublishFailed: the job failed (recorded); nothing was published.
        :raises PublishOutcomeUnknown: media_publish got no answer (now or earlier) and its
            outcome may still change: call again after its ``wait_seconds``.
        :raises PublishedMediaNotFound: published, but not listed yet; call again later.
        :raises GraphApiError: transient or throttled calls; the job stays resumable.
        """
        known = dict(statuses or {})
        while True:
            if job.state == "published":
                return job
            if job.state == "failed":
                raise PublishFailed(job, job.error_message or "The job failed")
            step = getattr(self, f"_{job.state}")
            result = step(job, known)
            if isinstance(result, WaitFor):
                return result
            job = result

    def accept_wait_result(self, job: PublishJob, event: ContainerStatusEvent) -> dict[str, str]:
        """Apply the container trigger's event; returns the statuses it reported.

        :raises PublishFailed: ERROR, EXPIRED, a timeout, or a failure while polling.
        """
        if event.status == "FINISHED":
            return dict(event.statuses)
        which = self._which_container(job, event.container_id)
        if event.status == "ERROR":
            reason = event.reason or "no reason given"
            self._fail(
                job,
                f"Instagram could not process {which}: {reason} Nothing was published. Check that the media URL is "
                "public, reachable over HTTPS and a supported file (JPEG image; MP4/MOV video), then trigger again.",
                subcode=_status_subcode(reason),
            )
        if event.status == "EXPIRED":
            self._fail(
                job,
                f"{which} expired before it was published (containers live 24 hours). Nothing was published. "
                "Trigger again to make a new container.",
                code=-2,
                subcode=2207020,
            )
        if event.status == "TIMEOUT":
            waited = int(event.waited_seconds)
            not_ready = self._not_ready_error(job)
            if not_ready is not None:
                self._fail(
                    job,
                    f"Instagram still answered that the media is not ready (code {not_ready.code}, subcode "
                    f"{not_ready.subcode}) when the wait timeout (wait_timeout_minutes) ran out. Nothing was "
                    f"published. {_advice(not_ready, job.account_id)} Here the timeout ran out "
                    "first: trigger again, with a longer wait_timeout_minutes if it happens again.",
                    error=not_ready,
                )
            pending = ", ".join(event.pending) or "?"
            self._fail(
                job,
                f"Container(s) {pending} were still processing after {waited} s (the wait timeout). Nothing was "
                "published. Trigger again with a longer wait_timeout_minutes (long videos take minutes).",
            )
        message = event.message or "the status check failed"
        self._fail(
            job,
            f"Checking {which} failed: {event.error or 'error'}: {message}. Nothing was published. "
            "Fix the cause (see the message), then trigger again.",
            code=event.code,
            subcode=event.subcode,
        )

    # --- the steps, one per state ---------------------------------------------------------

    def _pending(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        if not job.container_ids:
            self._check_quota(job)
        specs = job.request.item_specs()
        ids = list(job.container_ids)
        try:
            for spec in specs[len(ids):]:
                ids.append(self._create(job, spec))
                self._execute(_SET_CONTAINERS, (ids, job.job_id))
                job.container_ids = list(ids)
            if job.media_type != CAROUSEL:
                return self._containers_created_as(job, ids[0])
            waiting = tuple(cid for cid in ids if known.get(cid) != "FINISHED")
            if waiting:
                return WaitFor(waiting, "carousel items")
            parent = self._create(job, job.request.parent_spec(ids))
        except NotReadyError as exc:  # Meta made no container: wait, then create it again
            return self._not_ready(job, exc, "pending", "pending", tuple(ids), "Instagram's media builder")
        return self._containers_created_as(job, parent)

    def _containers_created(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        code = known.get(job.parent_container_id or "")
        if code == "FINISHED":
            row = self._fetch(_FINISHED, (job.job_id,))
            return _job(row) if row is not None else self._reload(job)
        if code == "PUBLISHED":  # published by a run we lost track of: find it, never publish again
            return self._record_found(self._move(job, "containers_created", "publishing"))
        return WaitFor((job.parent_container_id or "",), "container")

    def _ready(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        row = self._fetch(_START_PUBLISHING, (job.job_id,))
        if row is None:
            return self._reload(job)
        job = _job(row)
        log.info("Publishing container %s of %s (attempt %d)", job.parent_container_id, job.describe(), job.attempts)
        try:
            media_id = self.hook.publish_container(job.account_id, job.parent_container_id)
        except NotReadyError as exc:  # Meta did not publish: wait as for IN_PROGRESS, then publish
            return self._not_ready(
                job, exc, "publishing", "containers_created", (job.parent_container_id or "",), "container"
            )
        except TransientError as exc:
            self._answer_lost(
                job, f"media_publish for container {job.parent_container_id} got no usable answer ({exc})"
            )
        except (RateLimitError, RateLimiterUnavailableError):
            self._move(job, "publishing", "ready")  # refused before Meta acted
            raise
        except GraphApiError as exc:
            return self._refused(job, exc)
        return self._record_published(job, media_id)

    def _publishing(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        """The exactly-once check: an earlier publish attempt has no recorded outcome. Once
        it has settled (the caller holds the job's lock), the container says what happened."""
        self._await_settle(job, f"The outcome of the earlier media_publish of container {job.parent_container_id} "
                                "is unknown")
        status = self.hook.get_container_status(job.account_id, job.parent_container_id)
        code = status.get("status_code")
        log.info("Container %s of %s is %s", job.parent_container_id, job.describe(), code)
        if code == "PUBLISHED":
            return self._record_found(job)
        if code == "FINISHED":
            log.warning("The earlier media_publish of %s did not take effect (the container is FINISHED %g s after "
                        "its answer was lost); publishing again", job.describe(), self.settle_seconds)
            return self._move(job, "publishing", "ready")
        if code == "IN_PROGRESS":
            return self._move(job, "publishing", "containers_created")
        self._fail(
            job,
            f"Container {job.parent_container_id} is {code} ({status.get('status') or 'no reason given'}): nothing "
            "was published. Trigger again to make a new container.",
            after_check=True,
            subcode=_status_subcode(status.get("status") or ""),
        )

    # --- helpers --------------------------------------------------------------------------

    def _check_quota(self, job: PublishJob) -> None:
        limit = self.hook.get_publishing_limit(job.account_id)
        usage = int(limit.get("quota_usage") or 0)
        config = limit.get("config") or {}
        total = config.get("quota_total")
        if total is None or usage < int(total):
            log.info("Account %s has published %s of %s posts in the quota window", job.account_id, usage, total)
            return
        hours = int(config.get("quota_duration") or 86400) // 3600
        self._fail(
            job,
            f"Account {job.account_id} has used its publishing quota: {usage} of {total} posts in the last {hours} h. "
            f"Nothing was created or published. Trigger again later, once the oldest post in that window is "
            f"{hours} h old.",
            code=9,
            subcode=2207042,
        )

    def _create(self, job: PublishJob, spec: ContainerSpec) -> str:
        try:
            container_id = self.hook.create_container(job.account_id, **spec.params())
        except (TransientError, RateLimitError, RateLimiterUnavailableError):
            raise
        except GraphApiError as exc:
            self._fail(
                job,
                f"Instagram refused to create a container: {exc}. Nothing was published. "
                f"{_advice(exc, job.account_id)}",
                error=exc,
            )
        log.info("Created container %s for %s", container_id, job.describe())
        return container_id

    def _not_ready(
        self, job: PublishJob, error: NotReadyError, from_state: str, to_state: str, wait_ids: tuple[str, ...],
        what: str,
    ) -> WaitFor:
        """Meta did not act ("not ready"): record its answer and wait at least
        :attr:`not_ready_wait`, then try again (within the job's wait timeout)."""
        wait = self.not_ready_wait.total_seconds()
        message = (
            f"Waiting: Instagram answered that the media is not ready ({error}); trying again in {wait:.0f} s or "
            "later, until the wait timeout."
        )
        row = self._fetch(
            _NOT_READY, (to_state, error.code, error.subcode, message, error.fbtrace_id, job.job_id, from_state)
        )
        if row is None:
            raise RuntimeError(f"{job.describe()} left state {from_state} while Instagram answered not ready")
        log.warning("%s: %s", job.describe(), message)
        return WaitFor(wait_ids, what, not_before=time.time() + wait)

    def _not_ready_error(self, job: PublishJob) -> GraphApiError | None:
        """The "not ready" answer the job waits after, as its catalogue error; None otherwise."""
        if job.error_code is None:
            return None
        error = classify(
            {"error": {"code": job.error_code, "error_subcode": job.error_subcode, "message": "Media not ready"}},
            None,
            account_id=job.account_id,
        )
        return error if isinstance(error, NotReadyError) else None

    def _containers_created_as(self, job: PublishJob, parent_id: str) -> PublishJob:
        row = self._fetch(_CONTAINERS_CREATED, (parent_id, job.job_id))
        return _job(row) if row is not None else self._reload(job)

    def _refused(self, job: PublishJob, error: GraphApiError) -> PublishJob:
        """Meta answered media_publish with an error: it did not publish now. Whether an
        earlier attempt did is the container's to say (Meta refuses a second publish)."""
        status = self.hook.get_container_status(job.account_id, job.parent_container_id)
        if status.get("status_code") == "PUBLISHED":
            if error.code != DUPLICATE_POST_CODE:
                log.warning("media_publish was refused (%s) but the container is PUBLISHED", error)
            return self._record_found(job)
        if isinstance(error, TokenError):
            # The outcome is known (not published), but the job can still be finished
            # with the same container once the account is reconnected: keep it resumable.
            self._move(job, "publishing", "ready")
            raise error
        advice = _advice(error, job.account_id)
        self._fail(job, f"Instagram refused to publish: {error}. Nothing was published. {advice}", error=error,
                   after_check=True)

    def _record_found(self, job: PublishJob) -> PublishJob:
        media = self._find_published_media(job)
        if media is None:
            raise PublishedMediaNotFound(
                f"Container {job.parent_container_id} of {job.describe()} is PUBLISHED, so the post exists, but it "
                f"is not on the account's {PUBLISHED_AS[job.media_type].edge} edge yet. It will not be published "
                "again; a retry records its media id."
            )
        log.info("Found the post of %s: media %s", job.describe(), media["id"])
        return self._record_published(job, str(media["id"]), media.get("permalink"))

    def _find_published_media(self, job: PublishJob) -> dict[str, Any] | None:
        """The account's post that matches the job and no other job claimed.

        Meta does not link a container to its media, so the match is on what we asked for:
        the edge and product type, the media type, the caption, and the time of the publish
        attempt (see :func:`~instagram_graph.jobs.pick_after`; posts older than the attempt
        less :attr:`lookup_slack` are never taken).
        """
        shape = PUBLISHED_AS[job.media_type]
        started = job.publish_started_at or job.created_at
        since = started - self.lookup_slack  # type: ignore[operator]
        page = self.hook.get_page(
            job.account_id, f"{job.account_id}/{shape.edge}", params={"fields": LOOKUP_FIELDS}, limit=25
        )
        claimed = {row[0] for row in self._fetch_all(_CLAIMED_MEDIA, (job.account_id,))}
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
        return pick_after(candidates, started)  # type: ignore[arg-type]

    def _record_published(self, job: PublishJob, media_id: str, permalink: str | None = None) -> PublishJob:
        row = self._fetch(_PUBLISHED, (media_id, permalink, job.job_id))
        job = _job(row) if row is not None else self._reload(job)
        log.info("Published %s as media %s", job.describe(), media_id)
        if job.permalink is None:
            try:
                media = self.hook.get_media(job.account_id, media_id, fields="id,permalink")
            except GraphApiError as exc:  # the post exists and is recorded; the link is a nicety
                log.warning("Could not read the permalink of media %s: %s", media_id, exc)
            else:
                job.permalink = media.get("permalink")
                self._execute(_SET_PERMALINK, (job.permalink, job.job_id))
        return job

    def _which_container(self, job: PublishJob, container_id: str | None) -> str:
        if container_id and job.media_type == CAROUSEL and container_id in job.container_ids:
            position = job.container_ids.index(container_id) + 1
            return f"carousel item {position} of {len(job.container_ids)} (container {container_id})"
        return f"container {container_id}"

    def _fail(
        self,
        job: PublishJob,
        message: str,
        *,
        error: GraphApiError | None = None,
        code: int | None = None,
        subcode: int | None = None,
        after_check: bool = False,
    ) -> NoReturn:
        """Record ``failed`` and raise :class:`PublishFailed`.

        Only from states where nothing can have been published; from ``publishing`` only
        once the container was checked (``after_check``).
        """
        if error is not None:
            code, subcode = error.code, error.subcode
        params = (code, subcode, message, getattr(error, "fbtrace_id", None), job.job_id)
        row = self._fetch(_FAIL_AFTER_CHECK if after_check else _FAIL, params)
        if row is None:
            raise RuntimeError(f"{job.describe()} could not be marked failed from state {self._reload(job).state}")
        job = _job(row)
        log.error("%s failed: %s", job.describe(), message)
        raise PublishFailed(job, message)

    def _move(self, job: PublishJob, from_state: str, to_state: str) -> PublishJob:
        row = self._fetch(_MOVE, (to_state, job.job_id, from_state))
        return _job(row) if row is not None else self._reload(job)



def _job(row: tuple) -> PublishJob:
    (job_id, key, account_id, state, request, request_hash, container_ids, parent, media_id, permalink,
     error_message, attempts, publish_started_at, created_at, error_code, error_subcode, answer_lost_at) = row
    return PublishJob(
        job_id=job_id,
        idempotency_key=key,
        account_id=account_id,
        state=state,
        request=PublishRequest.from_record(request),
        request_hash=request_hash,
        container_ids=list(container_ids or []),
        parent_container_id=parent,
        media_id=media_id,
        permalink=permalink,
        error_message=error_message,
        attempts=attempts,
        publish_started_at=publish_started_at,
        created_at=created_at,
        error_code=error_code,
        error_subcode=error_subcode,
        answer_lost_at=answer_lost_at,
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _status_subcode(status_text: str) -> int | None:
    """Meta's container ``status`` ends with the subcode: ``Error: ... (2207052)``."""
    match = _STATUS_SUBCODE.search(status_text or "")
    return int(match.group(1)) if match else None


def _advice(error: GraphApiError, account_id: str) -> str:
    return advice_for(error, account_id=account_id, action="publish")
