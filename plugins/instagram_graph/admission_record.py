"""The durable record of admitted rate-limit slots, so a window Redis loses can be rebuilt.

Redis holds the limiter's sliding windows. A restart without persistence, an eviction or a
failover to an empty replica loses them, and an empty window would hand out a fresh
``limit`` at once: with 16 workers on one account, 400 calls went out inside one window
(tests/integration/test_rate_limit_redis_loss.py). So the limiter (see
:class:`~instagram_graph.rate_limit.RedisRateLimiter`, ``record=``) writes down what it
admits, here, and rebuilds a lost window from it.

What is written, and when: one row per (account, budget, minute of Redis's clock) with a
count, in ``instagram.rate_limit_admissions`` (migration 010), upserted once per lease of
slots - a lease takes up to ``slot_lease_max`` slots in one Redis round trip - right after
Redis granted it and before any of its slots is used. So the record is never behind what
Redis admitted, and it costs one small upsert per lease, not one per call.

When the warehouse cannot take a write, the counts stay pending in memory and go with the
next write (or at ``hook.close()``); the call goes on, since Redis still enforces the
limit. A warning says so. (Only if Redis also loses its data before the warehouse answers
again can a rebuild miss those calls.)

Old rows are pruned by the writers themselves: once a minute per account and process, in
the same round trip as an upsert, rows older than :data:`RETENTION_WINDOWS` windows (and
at least :data:`MIN_RETENTION_SECONDS`) are deleted through the primary key.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from typing import Any

import psycopg2
import psycopg2.errors

from instagram_graph.warehouse_link import WarehouseLink, WarehouseUnavailable

log = logging.getLogger(__name__)

TABLE = "instagram.rate_limit_admissions"
RETENTION_WINDOWS = 3
MIN_RETENTION_SECONDS = 600

_UPSERT = (
    f"INSERT INTO {TABLE} AS r (account_id, budget, minute, calls) VALUES {{values}} "
    "ON CONFLICT (account_id, budget, minute) DO UPDATE SET calls = r.calls + EXCLUDED.calls"
)
_PRUNE = f"DELETE FROM {TABLE} WHERE account_id = %s AND budget = %s AND minute < to_timestamp(%s)"
_READ = (
    f"SELECT extract(epoch FROM minute)::bigint, calls FROM {TABLE} "
    "WHERE account_id = %s AND budget = %s AND minute >= to_timestamp(%s) ORDER BY minute"
)


class RecordUnavailable(RuntimeError):
    """The record cannot be read: the warehouse is unreachable or not configured, or
    migration 010 was not applied. The limiter then rebuilds conservatively."""


class AdmissionRecord:
    """Admitted slots per account and minute, in the warehouse.

    :param link: the hook's warehouse link (one autocommit connection, opened on first use).
    :param window_seconds: the limiter's window; rows are kept for
        ``RETENTION_WINDOWS`` windows (at least ``MIN_RETENTION_SECONDS``).
    :param budget: the budget the rows are counted under (``platform``).
    """

    def __init__(self, link: WarehouseLink, *, window_seconds: float, budget: str = "platform") -> None:
        self.link = link
        self.budget = budget
        self.retention_seconds = max(RETENTION_WINDOWS * float(window_seconds), MIN_RETENTION_SECONDS)
        self._pending: dict[tuple[str, int], int] = defaultdict(int)
        self._pruned: dict[str, int] = {}  # account -> the minute its old rows were last pruned
        self._failing = False
        self._lock = threading.RLock()  # a hook may be shared by threads

    @property
    def pending(self) -> int:
        """Slots admitted but not yet in the warehouse (it could not be reached)."""
        return sum(self._pending.values())

    def add(self, account_id: str, slots: int, at_us: int) -> None:
        """``slots`` were admitted for ``account_id`` at ``at_us`` (Redis time, microseconds).

        Written before returning when the warehouse answers; kept pending otherwise.
        """
        minute = int(at_us // 60_000_000) * 60
        with self._lock:
            self._pending[(account_id, minute)] += int(slots)
            self.flush()

    def flush(self) -> bool:
        """Write what is pending; True when nothing is left pending."""
        with self._lock:
            return self._flush()

    def _flush(self) -> bool:
        if not self._pending:
            return True
        rows = dict(self._pending)
        prune = {
            account: minute for (account, minute) in rows
            if self._pruned.get(account) != minute
        }

        def write(cur: Any) -> None:
            values = b",".join(
                cur.mogrify("(%s, %s, to_timestamp(%s), %s)", (account, self.budget, minute, calls))
                for (account, minute), calls in rows.items()
            )
            statements = [_UPSERT.format(values=values.decode())]
            for account, minute in prune.items():
                cutoff = minute - self.retention_seconds
                statements.append(cur.mogrify(_PRUNE, (account, self.budget, cutoff)).decode())
            cur.execute(";\n".join(statements))  # one round trip, one implicit transaction

        try:
            self.link.run(write)
        except (WarehouseUnavailable, psycopg2.Error) as exc:
            if not self._failing:
                log.warning(
                    "The record of admitted rate-limit slots could not be written (%s); %d slot(s) kept to "
                    "write later. Calls go on (Redis still holds the limit), but a window Redis loses meanwhile "
                    "is rebuilt without them.%s", _describe(exc), self.pending, _migrate_hint(exc),
                )
                self._failing = True
            return False
        for key, calls in rows.items():
            left = self._pending[key] - calls
            if left > 0:
                self._pending[key] = left
            else:
                del self._pending[key]
        self._pruned.update(prune)
        if self._failing:
            log.warning("The record of admitted rate-limit slots is written again")
            self._failing = False
        return not self._pending

    def read(self, account_id: str, since_us: int) -> list[tuple[int, int]]:
        """``(minute start in epoch seconds, calls)`` of the account's minutes from ``since_us`` on.

        :raises RecordUnavailable: the warehouse cannot be reached, or has no record table.
        """
        with self._lock:
            self._flush()  # what this worker still holds counts too
            pending = [(minute, calls) for (account, minute), calls in self._pending.items() if account == account_id]
        since = math.floor(since_us / 60_000_000) * 60

        def query(cur: Any) -> list[tuple[int, int]]:
            cur.execute(_READ, (account_id, self.budget, since))
            return [(int(minute), int(calls)) for minute, calls in cur.fetchall()]

        try:
            rows = self.link.run(query)
        except (WarehouseUnavailable, psycopg2.Error) as exc:
            raise RecordUnavailable(f"{_describe(exc)}{_migrate_hint(exc)}") from exc
        return sorted(rows + pending)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, WarehouseUnavailable):
        return f"warehouse unreachable: {exc}"
    detail = (getattr(exc, "pgerror", None) or str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0] if detail else 'no detail'}"


def _migrate_hint(exc: BaseException) -> str:
    if isinstance(exc, psycopg2.errors.UndefinedTable):
        return " Run `instagram-graph migrate` (migration 010 adds the table)."
    return ""
