"""Publishing endpoints: container creation, ``media_publish`` and ``content_publishing_limit``."""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..call import Call
from ..errors import GraphError


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
