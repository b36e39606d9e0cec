"""One warehouse connection per hook for its bookkeeping writes, opened on first use.

The hook writes two kinds of bookkeeping to the warehouse on its call path: the durable
record of admitted rate-limit slots (:mod:`instagram_graph.admission_record`) and the
audit trail of its calls (:mod:`instagram_graph.call_audit`). Both share this link: one
autocommit connection, opened lazily through :func:`instagram_graph.db.connect` (the
``instagram_warehouse`` connection or ``INSTAGRAM_WAREHOUSE_DSN``, like the rest of the
package) or through a factory the caller hands in.

Bookkeeping must never cost a Graph API call more than a moment: when the warehouse cannot
be reached, :meth:`WarehouseLink.run` raises :class:`WarehouseUnavailable` and does not try
to connect again for ``retry_seconds``, so a dead warehouse is not dialled on every call.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bookkeeping commits do not wait for their WAL to reach disk (a Postgres crash may lose
# the last fraction of a second of them, never corrupt anything): a commit that waits for
# the disk costs more than the Graph API call it records. Lock waits are bounded, so a
# writer never hangs behind someone reading the audit trail.
_SESSION = "SET synchronous_commit = off; SET lock_timeout = '5s'"

# Errors that mean the connection is gone or was never made: drop it, reconnect later.
_LOST = (psycopg2.OperationalError, psycopg2.InterfaceError)


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached (or is not configured) right now."""


class WarehouseLink:
    """A lazily opened autocommit connection shared by the hook's bookkeeping writers.

    :param connect: returns a new psycopg2 connection; default :func:`instagram_graph.db.connect`.
    :param retry_seconds: after a failure, :meth:`run` refuses at once for this long.
    """

    def __init__(self, connect: Callable[[], Any] | None = None, *, retry_seconds: float = 5.0) -> None:
        self._connect = connect
        self.retry_seconds = float(retry_seconds)
        self._conn: Any = None
        self._down_until = 0.0
        self._last_error = ""
        self._lock = threading.Lock()

    def run(self, work: Callable[[Any], T]) -> T:
        """Run ``work(cursor)`` on the shared connection (autocommit: each statement commits).

        :raises WarehouseUnavailable: no connection could be made, or it was lost during
            ``work``. Other database errors (a missing table, a constraint) pass through.
        """
        with self._lock:
            if time.monotonic() < self._down_until:
                raise WarehouseUnavailable(self._last_error)
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._open()
                with self._conn.cursor() as cur:
                    return work(cur)
            except _LOST as exc:
                self._fail(exc)
                raise WarehouseUnavailable(self._last_error) from exc

    def _open(self) -> Any:
        try:
            conn = self._connect() if self._connect is not None else _default_connect()
        except RuntimeError as exc:  # db.connect: no warehouse configured
            raise psycopg2.OperationalError(str(exc)) from exc
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(_SESSION)
        return conn

    def _fail(self, exc: BaseException) -> None:
        detail = (getattr(exc, "pgerror", None) or str(exc)).strip().splitlines()
        self._last_error = f"{type(exc).__name__}: {detail[0] if detail else 'no detail'}"
        self._down_until = time.monotonic() + self.retry_seconds
        self._close_quietly()

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

    def _close_quietly(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.close()
            self._conn = None


def _default_connect() -> Any:
    from instagram_graph import db

    return db.connect()
