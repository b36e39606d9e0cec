"""ContainerStatusTrigger: wait in the triggerer until media containers finish processing.

A video can process for minutes; a deferred task holds no worker slot meanwhile. The
trigger polls ``GET /{container-id}?fields=status_code,status`` through the same hook as
every other call (token store, Redis rate limiter, error classes), run in a thread so
the triggerer's event loop never blocks on HTTP or Postgres. Its kwargs hold ids and the
poll schedule only: the token is read from the token store inside :meth:`run`, never
serialized.

Checks follow Meta's guidance: the connection's ``status_poll_intervals`` (a few quick
checks, then about one a minute; the last pause repeats). After Meta answered "not ready"
the trigger also waits until ``not_before`` before it checks or reports anything.

It sends one event, then ends: a :class:`~instagram_graph.triggers.events.ContainerStatusEvent`
as its payload (all containers FINISHED, one in ERROR/EXPIRED, the deadline passed, or a
call that failed for good).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from instagram_graph.errors import GraphApiError, RateLimitError, TransientError
from instagram_graph.settings import GraphApiSettings
from instagram_graph.triggers.events import ContainerStatusEvent

DONE = ("FINISHED", "PUBLISHED")
FAILED = ("ERROR", "EXPIRED")
# Trouble outside the Graph API (warehouse, connections) in a row before giving up: a blip
# should not fail a post, a misconfiguration should not wait out the whole deadline.
MAX_CONSECUTIVE_ERRORS = 5
# The connection's default status_poll_intervals: quick checks first, then about once a minute.
DEFAULT_POLL_INTERVALS: tuple[float, ...] = GraphApiSettings.status_poll_intervals


def poll_pauses(intervals: Sequence[float]) -> Iterator[float]:
    """The pauses before each status check: ``intervals`` in order, then the last one
    forever (Meta asks for about one check a minute once the first quick ones are done)."""
    yield from intervals
    while True:
        yield intervals[-1]


class ContainerStatusTrigger(BaseTrigger):
    """Poll containers until all are FINISHED, one fails, or ``deadline`` passes.

    :param account_id: the IG user id owning the containers.
    :param container_ids: the containers to wait for (none: wait for ``not_before`` only).
    :param deadline: absolute unix time to give up at (absolute, so a trigger restarted
        on another triggerer keeps the same deadline).
    :param poll_intervals: seconds to pause before each check, in order; the last one
        repeats (the connection's ``status_poll_intervals``).
    :param not_before: absolute unix time before which nothing is checked or reported:
        Meta answered "not ready" and asked for a wait.
    :param poll_interval: older serialized triggers only (a longest pause); ignored when
        ``poll_intervals`` is given.
    :param first_interval: older serialized triggers only.
    """

    def __init__(
        self,
        *,
        account_id: str,
        container_ids: Sequence[str],
        deadline: float,
        instagram_graph_conn_id: str = "instagram_graph_default",
        redis_conn_id: str = "instagram_redis",
        poll_intervals: Sequence[float] | None = None,
        not_before: float | None = None,
        poll_interval: float | None = None,
        first_interval: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Airflow leaves BaseTrigger.__init__ unannotated
        self.account_id = str(account_id)
        self.container_ids = [str(cid) for cid in container_ids]
        self.deadline = float(deadline)
        self.instagram_graph_conn_id = instagram_graph_conn_id
        self.redis_conn_id = redis_conn_id
        if poll_intervals is None and poll_interval is not None:  # serialized before poll_intervals existed
            poll_intervals = _legacy_schedule(float(first_interval or 1.0), float(poll_interval))
        self.poll_intervals = tuple(float(p) for p in (poll_intervals or DEFAULT_POLL_INTERVALS))
        if min(self.poll_intervals) <= 0:
            raise ValueError(f"poll_intervals must be positive seconds, got {self.poll_intervals}")
        self.not_before = float(not_before) if not_before is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "account_id": self.account_id,
                "container_ids": list(self.container_ids),
                "deadline": self.deadline,
                "instagram_graph_conn_id": self.instagram_graph_conn_id,
                "redis_conn_id": self.redis_conn_id,
                "poll_intervals": list(self.poll_intervals),
                "not_before": self.not_before,
            },
        )

    def _hook(self) -> Any:
        from instagram_graph.hooks.graph_api import InstagramGraphHook

        return InstagramGraphHook(self.instagram_graph_conn_id, redis_conn_id=self.redis_conn_id)

    def _timeout(self, started: float, pending: list[str], statuses: dict[str, str]) -> TriggerEvent:
        return _event(ContainerStatusEvent.timeout(pending, round(time.time() - started, 1), statuses))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.time()
        pending = list(self.container_ids)
        statuses: dict[str, str] = {}
        pauses = poll_pauses(self.poll_intervals)
        throttled_for = 0.0
        errors_in_a_row = 0
        hook = self._hook()
        try:
            while True:
                pause = max(next(pauses), throttled_for, (self.not_before or 0.0) - time.time())
                throttled_for = 0.0
                await asyncio.sleep(min(pause, max(0.0, self.deadline - time.time())))
                if self.not_before is not None and time.time() < self.not_before:
                    yield self._timeout(started, pending, statuses)  # the deadline came first
                    return
                for container_id in list(pending):
                    try:
                        status = await asyncio.to_thread(hook.get_container_status, self.account_id, container_id)
                    except RateLimitError as exc:
                        self.log.warning("Throttled while polling container %s: %s", container_id, exc)
                        throttled_for = float(exc.retry_after or 0.0)
                        break
                    except TransientError as exc:
                        self.log.warning("Polling container %s failed (%s); polling again", container_id, exc)
                        break
                    except GraphApiError as exc:
                        yield _event(ContainerStatusEvent.call_failed(container_id, exc))
                        return
                    except Exception as exc:  # token store, warehouse or connection trouble
                        errors_in_a_row += 1
                        if errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                            yield _event(ContainerStatusEvent.call_failed(container_id, exc))
                            return
                        self.log.warning("Polling container %s failed (%s: %s); polling again",
                                         container_id, type(exc).__name__, exc)
                        break
                    errors_in_a_row = 0
                    code = str(status.get("status_code") or "")
                    if code in DONE:
                        statuses[container_id] = code
                        pending.remove(container_id)
                    elif code in FAILED:
                        self.log.info("Container %s is %s: %s", container_id, code, status.get("status"))
                        yield _event(
                            ContainerStatusEvent.container_failed(
                                code, container_id, status.get("status") or code, statuses
                            )
                        )
                        return
                if not pending:
                    self.log.info("Containers %s are done", ", ".join(self.container_ids) or "(none)")
                    yield _event(ContainerStatusEvent.finished(statuses))
                    return
                if time.time() >= self.deadline:
                    yield self._timeout(started, pending, statuses)
                    return
                self.log.info("Containers %s are still processing", ", ".join(pending))
        finally:
            hook.close()


def _legacy_schedule(first: float, longest: float) -> tuple[float, ...]:
    """The schedule of triggers serialized before ``poll_intervals``: from ``first``, half
    as long again each time, up to ``longest``."""
    pauses = [min(first, longest)]
    while pauses[-1] < longest:
        pauses.append(min(pauses[-1] * 1.5, longest))
    return tuple(pauses)


def _event(event: ContainerStatusEvent) -> TriggerEvent:
    return TriggerEvent(event.to_payload())
