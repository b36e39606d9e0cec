"""ContainerStatusEvent: what :class:`~instagram_graph.triggers.container_status.ContainerStatusTrigger`
reports, as one typed object.

The trigger sends it as :meth:`ContainerStatusEvent.to_payload` (Airflow stores the payload
as JSON); the task that resumes reads it back with :meth:`ContainerStatusEvent.from_payload`.
The payload keeps the shape it had before this type existed (one dict per outcome, below),
so a task deferred by an older version resumes with the same reading.

Payloads (one, then the trigger ends):
``{"status": "FINISHED", "statuses": {id: "FINISHED"|"PUBLISHED"}}`` every container is done;
``{"status": "ERROR"|"EXPIRED", "container_id", "reason", "statuses"}`` one failed, with Meta's reason;
``{"status": "TIMEOUT", "pending": [ids], "waited_seconds", "statuses"}`` the deadline passed;
``{"status": "FAILED", "container_id", "error", "message", "code", "subcode"}`` a call failed for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FINISHED, ERROR, EXPIRED, TIMEOUT, FAILED = "FINISHED", "ERROR", "EXPIRED", "TIMEOUT", "FAILED"
# The keys each outcome's payload carries besides "status".
PAYLOAD_KEYS: dict[str, tuple[str, ...]] = {
    FINISHED: ("statuses",),
    ERROR: ("container_id", "reason", "statuses"),
    EXPIRED: ("container_id", "reason", "statuses"),
    TIMEOUT: ("pending", "waited_seconds", "statuses"),
    FAILED: ("container_id", "error", "message", "code", "subcode"),
}


@dataclass(frozen=True)
class ContainerStatusEvent:
    """How a wait for media containers ended.

    :param status: FINISHED, ERROR, EXPIRED, TIMEOUT or FAILED (see the module docstring).
    :param statuses: container id -> ``FINISHED`` or ``PUBLISHED``, for those done so far.
    :param container_id: the container that failed (ERROR, EXPIRED, FAILED).
    :param reason: Meta's ``status`` text of a failed container (ERROR, EXPIRED).
    :param pending: the containers still processing at the deadline (TIMEOUT).
    :param waited_seconds: how long the trigger waited (TIMEOUT).
    :param error: the exception class name of a call that failed for good (FAILED).
    :param message: its message; a GraphApiError's holds no token (FAILED).
    :param code: its Graph API code, if any (FAILED).
    :param subcode: its Graph API subcode, if any (FAILED).
    """

    status: str
    statuses: Mapping[str, str] = field(default_factory=dict)
    container_id: str | None = None
    reason: str | None = None
    pending: tuple[str, ...] = ()
    waited_seconds: float = 0.0
    error: str | None = None
    message: str | None = None
    code: int | None = None
    subcode: int | None = None

    @classmethod
    def finished(cls, statuses: Mapping[str, str]) -> ContainerStatusEvent:
        return cls(FINISHED, statuses=dict(statuses))

    @classmethod
    def container_failed(
        cls, status: str, container_id: str, reason: str, statuses: Mapping[str, str]
    ) -> ContainerStatusEvent:
        """A container ended in ERROR or EXPIRED."""
        return cls(status, statuses=dict(statuses), container_id=container_id, reason=reason)

    @classmethod
    def timeout(
        cls, pending: Sequence[str], waited_seconds: float, statuses: Mapping[str, str]
    ) -> ContainerStatusEvent:
        return cls(TIMEOUT, statuses=dict(statuses), pending=tuple(pending), waited_seconds=waited_seconds)

    @classmethod
    def call_failed(cls, container_id: str, error: BaseException) -> ContainerStatusEvent:
        """A status call failed for good; GraphApiError messages hold no token."""
        return cls(
            FAILED,
            container_id=container_id,
            error=type(error).__name__,
            message=str(error),
            code=getattr(error, "code", None),
            subcode=getattr(error, "subcode", None),
        )

    def to_payload(self) -> dict[str, Any]:
        """The JSON-serializable dict the trigger sends: ``status`` and its outcome's keys."""
        values: dict[str, Any] = {
            "statuses": dict(self.statuses),
            "container_id": self.container_id,
            "reason": self.reason,
            "pending": list(self.pending),
            "waited_seconds": self.waited_seconds,
            "error": self.error,
            "message": self.message,
            "code": self.code,
            "subcode": self.subcode,
        }
        return {"status": self.status, **{key: values[key] for key in PAYLOAD_KEYS.get(self.status, tuple(values))}}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ContainerStatusEvent:
        """Read a payload back; a key the outcome does not carry keeps its default."""
        return cls(
            status=str(payload.get("status") or ""),
            statuses={str(k): str(v) for k, v in (payload.get("statuses") or {}).items()},
            container_id=payload.get("container_id"),
            reason=payload.get("reason"),
            pending=tuple(str(cid) for cid in payload.get("pending") or ()),
            waited_seconds=float(payload.get("waited_seconds") or 0),
            error=payload.get("error"),
            message=payload.get("message"),
            code=payload.get("code"),
            subcode=payload.get("subcode"),
        )
