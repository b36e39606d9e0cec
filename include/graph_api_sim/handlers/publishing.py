"""Publishing endpoints: container creation, ``media_publish`` and ``content_publishing_limit``.

The parameters are checked here in the order Meta checks them; the containers, their
lifecycle and the quotas are the ``PublishingDesk``'s (``publishing.py``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from .. import catalog
from ..call import Call
from ..container_params import Draft, check_params
from ..errors import GraphError
from ..params import split_list

HASHTAG = re.compile(r"#\w+")
TRUE_VALUES = ("true", "1", "yes")


def create_container(call: Call) -> dict[str, Any]:
    """``POST /{ig-user-id}/media``."""
    params = call.params
    media_type = _text(params.get("media_type"))
    media_type = media_type.upper() if media_type else None
    kind = catalog.CONTAINER_KINDS.get(media_type)
    if kind is None:
        allowed = ", ".join(k for k in catalog.CONTAINER_KINDS if k)
        raise GraphError("media_type_invalid", media_type=media_type, allowed=allowed)
    is_item = (_text(params.get("is_carousel_item")) or "").lower() in TRUE_VALUES
    if is_item and not kind.carousel_item_allowed:
        raise GraphError("carousel_invalid", detail=f"{media_type} media cannot be a carousel item")
    url_param = next((name for name in kind.url_params if params.get(name)), None)
    video = url_param == "video_url" if url_param else kind.video
    draft = Draft(media_type, kind, is_item, video)
    options = check_params(params, draft)
    children: tuple[str, ...] = ()
    media_url = None
    if media_type == "CAROUSEL":
        children = call.sim.publishing.check_children(call.owner, _carousel_children(params.get("children")))
    else:
        if url_param is None:
            raise GraphError("missing_parameter", name=" or ".join(kind.url_params))
        media_url = _text(params[url_param])
        parsed = urlparse(media_url)
        if parsed.scheme != "https" or not parsed.netloc:
            raise GraphError("media_url_invalid", url=media_url)
    caption = _text(params.get("caption"))
    if caption is not None:
        if len(caption) > catalog.CAPTION_MAX_CHARS:
            raise GraphError("caption_too_long", length=len(caption), limit=catalog.CAPTION_MAX_CHARS)
        hashtags = len(HASHTAG.findall(caption))
        if hashtags > catalog.CAPTION_MAX_HASHTAGS:
            raise GraphError("too_many_hashtags", count=hashtags, limit=catalog.CAPTION_MAX_HASHTAGS)
    container = call.sim.publishing.create_container(
        call.owner, draft, media_url=media_url, children=children, caption=caption,
        alt_text=_text(params.get("alt_text")), options=options,
    )
    return {"id": container.id}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _carousel_children(raw: Any) -> list[str]:
    ids = split_list(raw, "children")
    if not catalog.CAROUSEL_MIN_CHILDREN <= len(ids) <= catalog.CAROUSEL_MAX_CHILDREN:
        raise GraphError("carousel_invalid", detail=f"a carousel needs {catalog.CAROUSEL_MIN_CHILDREN} to "
                                                    f"{catalog.CAROUSEL_MAX_CHILDREN} children, got {len(ids)}")
    return ids


def publish(call: Call) -> dict[str, Any]:
    """``POST /{ig-user-id}/media_publish?creation_id=``."""
    creation_id = call.param("creation_id")
    if not creation_id:
        raise GraphError("missing_parameter", name="creation_id")
    return {"id": call.sim.publishing.publish(call.owner, creation_id).id}


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
        entry["quota_usage"] = call.sim.publishing.quota_usage(call.owner.id, since_ts)
    if "config" in requested:
        entry["config"] = {"quota_total": call.sim.settings.publish_quota,
                           "quota_duration": catalog.PUBLISH_QUOTA_DURATION}
    return {"data": [entry]}
