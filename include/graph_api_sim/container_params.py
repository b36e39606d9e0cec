"""The parameters of ``POST /{ig-user-id}/media``: which containers take each, and its form.

The table is ``catalog.CONTAINER_PARAMS``; this module holds the rules it names. Meta
refuses an unknown parameter, or one the container does not take (``alt_text`` on a
reel), with error 100 naming it. The simulator does the same, so a client never learns
to rely on a parameter being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from . import catalog
from .errors import GraphError
from .params import json_array, split_list

USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")


@dataclass(frozen=True)
class Draft:
    """What the rules need to know about the container being created."""

    media_type: str | None  # the media_type parameter (None: an image)
    kind: catalog.ContainerKind
    is_item: bool
    video: bool

    def label(self) -> str:
        """How error messages name the container: "REELS", "VIDEO carousel item", ..."""
        if self.is_item:
            return f"{'VIDEO' if self.video else 'IMAGE'} carousel item"
        return self.media_type or "IMAGE"


PARAM_SCOPES: dict[str, Callable[[Draft], bool]] = {
    "any": lambda draft: True,
    "feed_image": lambda draft: (draft.kind.product_type == catalog.PRODUCT_FEED
                                 and draft.kind.media_type == "IMAGE" and not draft.video),
    "video": lambda draft: draft.video,
    "reels": lambda draft: draft.kind.product_type == catalog.PRODUCT_REELS,
    "carousel": lambda draft: draft.media_type == "CAROUSEL",
    "not_carousel": lambda draft: draft.media_type != "CAROUSEL",
    "not_carousel_item": lambda draft: not draft.is_item,
}


def _invalid(name: str, expected: str) -> GraphError:
    return GraphError("invalid_parameter", detail=f"Param {name} must be {expected}")


def _bool(value: Any, name: str, draft: Draft) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise _invalid(name, "true or false")
    return text == "true"


def _https_url(value: Any, name: str, draft: Draft) -> str:
    parsed = urlparse(str(value))
    if parsed.scheme != "https" or not parsed.netloc:
        raise _invalid(name, "a public https URL")
    return str(value)


def _milliseconds(value: Any, name: str, draft: Draft) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or str(value).strip().isdigit()):
        raise _invalid(name, "a whole number of milliseconds, 0 or more")
    return int(value)


def _text(value: Any, name: str, draft: Draft) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(name, "a non-empty string")
    return value


def _numeric_id(value: Any, name: str, draft: Draft) -> str:
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise _invalid(name, "a numeric id")
    return str(value).strip()


def _usernames(value: Any, name: str, draft: Draft) -> list[str]:
    names = split_list(value, name)
    if not 1 <= len(names) <= catalog.COLLABORATORS_MAX or not all(USERNAME.match(n) for n in names):
        raise _invalid(name, f"1 to {catalog.COLLABORATORS_MAX} Instagram usernames")
    return names


def _coordinate(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _user_tags(value: Any, name: str, draft: Draft) -> list[dict[str, Any]]:
    """``[{"username": "...", "x": 0.5, "y": 0.5}]``: x and y place the tag on an image (required
    there); videos and reels take usernames only."""
    tags = json_array(value, name)
    image = not draft.video
    shape = 'objects {"username", "x", "y"} with x and y between 0 and 1' if image else 'objects {"username"}'
    if len(tags) > catalog.USER_TAGS_MAX:
        raise _invalid(name, f"at most {catalog.USER_TAGS_MAX} tags")
    for tag in tags:
        keys = {"username", "x", "y"} if image else {"username"}
        if (not isinstance(tag, dict) or set(tag) != keys or not USERNAME.match(str(tag["username"]))
                or (image and not (_coordinate(tag["x"]) and _coordinate(tag["y"])))):
            raise _invalid(name, f"a JSON array of {shape}")
    return [dict(tag) for tag in tags]


PARAM_FORMS: dict[str, Callable[[Any, str, Draft], Any]] = {
    "bool": _bool,
    "https_url": _https_url,
    "milliseconds": _milliseconds,
    "text": _text,
    "numeric_id": _numeric_id,
    "usernames": _usernames,
    "user_tags": _user_tags,
}


def check_params(params: dict[str, Any], draft: Draft) -> dict[str, Any]:
    """Refuse unknown and misplaced parameters; return the checked options the container keeps.

    A JSON ``null`` counts as not given.
    """
    options: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        rule = catalog.CONTAINER_PARAMS.get(name)
        if rule is None:
            raise GraphError("unknown_parameter", name=name)
        if not PARAM_SCOPES[rule.scope](draft):
            raise GraphError("parameter_not_supported", name=name, kind=draft.label())
        if rule.form:
            options[name] = PARAM_FORMS[rule.form](value, name, draft)
    return options
