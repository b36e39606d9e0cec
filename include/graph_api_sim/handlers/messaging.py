"""``POST /me/messages`` (the Send API): the request's shape checked here, the 24-hour window by the ``Inbox``.

Text is limited in UTF-8 bytes, not characters.
"""

from __future__ import annotations

import json
from typing import Any

from .. import catalog
from ..call import Call
from ..errors import GraphError


def _json_object(value: Any) -> dict[str, Any] | None:
    """Meta takes ``recipient`` and ``message`` as JSON objects or as JSON-encoded form fields."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None
    return None


def send_message(call: Call) -> dict[str, Any]:
    """``POST /me/messages`` with ``{"recipient": {"id": IGSID}, "message": {"text": ...}}``."""
    recipient = _json_object(call.params.get("recipient"))
    if not recipient or not recipient.get("id"):
        raise GraphError("recipient_missing")
    message = _json_object(call.params.get("message"))
    text = message.get("text") if message else None
    if not isinstance(text, str) or not text:
        raise GraphError("message_missing")
    size = len(text.encode("utf-8"))
    if size > catalog.MESSAGE_MAX_BYTES:
        raise GraphError("message_too_long", limit=catalog.MESSAGE_MAX_BYTES, length=size)
    recipient_id = str(recipient["id"])
    sent = call.sim.inbox.send(call.owner, recipient_id, text, call.param("tag"))
    return {"recipient_id": recipient_id, "message_id": sent.id}
