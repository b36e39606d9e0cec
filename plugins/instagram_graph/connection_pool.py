"""A few warehouse connections shared by many sync threads, one transaction at a time.

A shard's accounts sync on many threads (:class:`~instagram_graph.sync.fleet.Fleet`), and
most of a thread's time is spent waiting for Meta: a conversations read is paced at 2 calls
a second per account, so an account's thread sleeps nine tenths of the time. A connection
per thread would need hundreds of Postgres sessions at 10,000 accounts; Postgres allows 100
by default. So the threads share a small :class:`ConnectionPool`, and each thread's
:class:`PooledConnection` holds a real connection only while a transaction is open.

The sync code works in ``with conn, conn.cursor() as cur:`` blocks (one transaction each),
which is what the proxy supports: the connection is borrowed when the block (or a bare
``cursor()``) starts and given back when the outermost block commits or rolls back. A
thread holds at most one connection, so threads wait for each other, never deadlock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import psycopg2


class ConnectionPool:
    """At most ``size`` connections made by ``connect``; :meth:`take` waits for a free one.

    A connection that comes back closed (lost) is dropped; the next :meth:`take` makes another.
    """

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one connection, got size={size}")
        self.connect = connect
        self.size = size
        self._free: list[Any] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._all: list[Any] = []

    def take(self) -> Any:
        self._slots.acquire()
        try:
            with self._lock:
                while self._free:
                    conn = self._free.pop()
                    if not conn.closed:
                        return conn
            conn = self.connect()
            with self._lock:
                self._all.append(conn)
            return conn
        except BaseException:
            self._slots.release()
            raise

    def give_back(self, conn: Any) -> None:
        with self._lock:
            if conn.closed:
                self._all = [c for c in self._all if c is not conn]
            else:
                self._free.append(conn)
        self._slots.release()

    def close(self) -> None:
        """Close every connection (in use or not): at the end of the run."""
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(psycopg2.Error):
                    conn.close()
            self._all, self._free = [], []


class PooledConnection:
    """Looks like a psycopg2 connection to code that works in ``with conn:`` transactions.

    One per thread (it is not thread-safe itself). ``closed`` is always false: a lost
    connection is replaced on the next transaction.
    """

    closed = 0

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._conn: Any = None
        self._depth = 0

    def _borrowed(self) -> Any:
        if self._conn is None:
            self._conn = self._pool.take()
        return self._conn

    def _release_if_idle(self) -> None:
        if self._depth == 0 and self._conn is not None:
            conn, self._conn = self._conn, None
            if not conn.closed:
                with contextlib.suppress(psycopg2.Error):
                    conn.rollback()  # ends a read-only transaction a bare cursor() may have left open
            self._pool.give_back(conn)

    def __enter__(self) -> PooledConnection:
        self._borrowed()
        self._depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        try:
            if not self._conn.closed:
                self._conn.__exit__(exc_type, exc, traceback)  # commit, or roll back on an error
        finally:
            self._depth -= 1
            self._release_if_idle()

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        """A cursor in the current transaction (outside a ``with`` block, the connection is
        held until :meth:`commit` or :meth:`rollback`)."""
        return self._borrowed().cursor(*args, **kwargs)

    def commit(self) -> None:
        if self._conn is not None:
            self._conn.commit()
            self._release_if_idle()

    def rollback(self) -> None:
        if self._conn is not None:
            if not self._conn.closed:
                self._conn.rollback()
            self._release_if_idle()

    def close(self) -> None:
        """Give the connection back (the pool closes it at the end)."""
        if self._conn is not None:
            self._depth = 0
            self._release_if_idle()
