"""ContainerStatusTrigger: wait in the triggerer until media containers finish processing.

A video can process for minutes; a deferred task holds no worker slot meanwhile. The
trigger polls ``GET /{container-id}?fields=status_code,status`` through the same hook as
every other call (token store, Redis rate limiter, error classes), run in a thread so
the triggerer's event loop never blocks on HTTP or Postgres. Its kwargs hold ids only:
the token is read from the token store inside :meth:`run`, never serialized.

Events (one, then the trigger ends):
``{"status": "FINISHED", "statuses": {id: "FINISHED"|"PUBLISHED"}}`` every container is done;
``{"status": "ERROR"|"EXPIRED", "container_id", "reason", "statuses"}`` one failed, with Meta's reason;
``{"status": "TIMEOUT", "pending": [ids], "waited_seconds", "statuses"}`` the deadline passed;
``{"status": "FAILED", "container_id", "error", "message", "code", "subcode"}`` a call failed for good.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from instagram_graph.errors import GraphApiError, RateLimitError, TransientError

DONE = ("FINISHED", "PUBLISHED")
FAILED = ("ERROR", "EXPIRED")
# Trouble outside the Graph API (warehouse, connections) in a row before giving up: a blip
# should not fail a post, a misconfiguration should not wait out the whole deadline.
MAX_CONSECUTIVE_ERRORS = 5


class ContainerStatusTrigger(BaseTrigger):
    """Poll containers until all are FINISHED, one fails, or ``deadline`` passes.

    :param account_id: the IG user id owning the containers.
    :param container_ids: the containers to wait for.
    :param deadline: absolute unix time to give up at (absolute, so a trigger restarted
        on another triggerer keeps the same deadline).
    :param poll_interval: the longest pause between polls, in seconds; pauses start at
        ``first_interval`` and grow by half each time (images finish in seconds, videos in minutes).
    """

    def __init__(
        self,
        *,
        account_id: str,
        container_ids: Sequence[str],
        deadline: float,
        instagram_graph_conn_id: str = "instagram_graph_default",
        redis_conn_id: str = "instagram_redis",
        poll_interval: float = 30.0,
        first_interval: float = 1.0,
    ) -> None:
        super().__init__()
        self.account_id = str(account_id)
        self.container_ids = [str(cid) for cid in container_ids]
        self.deadline = float(deadline)
        self.instagram_graph_conn_id = instagram_graph_conn_id
        self.redis_conn_id = redis_conn_id
        self.poll_interval = float(poll_interval)
        self.first_interval = float(first_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "account_id": self.account_id,
                "container_ids": list(self.container_ids),
                "deadline": self.deadline,
                "instagram_graph_conn_id": self.instagram_graph_conn_id,
                "redis_conn_id": self.redis_conn_id,
                "poll_interval": self.poll_interval,
                "first_interval": self.first_interval,
            },
        )

    def _hook(self) -> Any:
        from instagram_graph.hooks.graph_api import InstagramGraphHook

        return InstagramGraphHook(self.instagram_graph_conn_id, redis_conn_id=self.redis_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.time()
        pending = list(self.container_ids)
        statuses: dict[str, str] = {}
        interval = self.first_interval
        errors_in_a_row = 0
        hook = self._hook()
        try:
            while True:
                pause = min(interval, max(0.0, self.deadline - time.time()))
                await asyncio.sleep(pause)
                interval = min(interval * 1.5, self.poll_interval)
                for container_id in list(pending):
                    try:
                        status = await asyncio.to_thread(hook.get_container_status, self.account_id, container_id)
                    except RateLimitError as exc:
                        self.log.warning("Throttled while polling container %s: %s", container_id, exc)
                        interval = max(interval, min(exc.retry_after or self.poll_interval, self.poll_interval))
                        break
                    except TransientError as exc:
                        self.log.warning("Polling container %s failed (%s); polling again", container_id, exc)
                        break
                    except GraphApiError as exc:
                        yield TriggerEvent(_failure(container_id, exc))
                        return
                    except Exception as exc:  # token store, warehouse or connection trouble
                        errors_in_a_row += 1
                        if errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                            yield TriggerEvent(_failure(container_id, exc))
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
                        yield TriggerEvent(
                            {
                                "status": code,
                                "container_id": container_id,
                                "reason": status.get("status") or code,
                                "statuses": statuses,
                            }
                        )
                        return
                if not pending:
                    self.log.info("Containers %s are done", ", ".join(self.container_ids))
                    yield TriggerEvent({"status": "FINISHED", "statuses": statuses})
                    return
                if time.time() >= self.deadline:
                    yield TriggerEvent(
                        {
                            "status": "TIMEOUT",
                            "pending": pending,
                            "waited_seconds": round(time.time() - started, 1),
                            "statuses": statuses,
                        }
                    )
                    return
                self.log.info("Containers %s are still processing", ", ".join(pending))
        finally:
            hook.close()


def _failure(container_id: str, error: BaseException) -> dict[str, Any]:
    """An event for a call that failed for good; GraphApiError messages hold no token."""
    return {
        "status": "FAILED",
        "container_id": container_id,
        "error": type(error).__name__,
        "message": str(error),
        "code": getattr(error, "code", None),
        "subcode": getattr(error, "subcode", None),
    }
