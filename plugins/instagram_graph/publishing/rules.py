"""What Instagram accepts for a post, as data and checks: :class:`PublishRequest` and the
container parameters it turns into (:class:`ContainerSpec`).

Pure: no warehouse, no HTTP. :meth:`PublishRequest.build` refuses a bad request before any
call to Meta, naming the field, the problem and the fix; the limits are module constants,
so the DAG's trigger form shows the same numbers the code enforces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from instagram_graph.jobs import RequestRefused, content_hash
from instagram_graph.validation import instagram_id, plain_text

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
        options: dict[str, Any] = {
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
                    "media_url is set for a CAROUSEL: list every item's URL in children instead, and leave "
                    "media_url empty."
                )
            if not CAROUSEL_MIN_ITEMS <= len(items) <= CAROUSEL_MAX_ITEMS:
                raise RequestRefused(
                    f"A carousel needs {CAROUSEL_MIN_ITEMS} to {CAROUSEL_MAX_ITEMS} items in children; "
                    f"got {len(items)}. "
                    + ("Add items, or publish a single IMAGE or REELS instead." if len(items) < CAROUSEL_MIN_ITEMS
                       else "Remove items, or split them into two posts.")
                )
            for position, url in enumerate(items, start=1):
                _check_https(url, f"children item {position}")
            if options["alt_text"] is not None and all(_is_video(url) for url in items):
                raise RequestRefused(
                    "alt_text describes a carousel's images, and every item of this one is a video: leave "
                    "alt_text empty."
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
                    f"The caption mentions {mentions} accounts (@name); Instagram allows at most "
                    f"{CAPTION_MAX_MENTIONS}. "
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
    position = []
    for axis, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise RequestRefused(f"{name}: {axis} is {value!r}; give both x and y as numbers from 0.0 to 1.0 "
                                 "(fractions of the image's width and height).")
        position.append(float(value))
    return position[0], position[1]


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
