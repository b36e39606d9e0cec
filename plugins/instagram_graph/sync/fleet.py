"""One stream for many accounts at once: a bounded thread pool, one account never stopping another.

Graph API calls are I/O: a shard's accounts run on ``threads`` worker threads, which spend
most of their time waiting for Meta (conversations reads are paced at 2 a second per
account). Each thread has its own hook (HTTP session, call counter, slot leases), reused
account after account; the threads share ``connections`` warehouse connections, each
borrowed for one transaction at a time (:mod:`instagram_graph.connection_pool`). The
Redis limiter keeps every account's budget exact across threads, tasks and workers.

Each account ends one of four ways (:class:`AccountOutcome`), recorded in
``instagram.sync_runs`` as it ends:

- ``synced``;
- ``refused``: a token, permission or policy problem only the account's owner can fix (the
  token is marked by the client; the record carries the catalogue's advice);
- ``throttled``: Meta (or our usage pause) wants the account left alone for a while; not a
  failure, nothing recorded: the caller waits and asks again;
- ``failed``: anything else (transient after the call's own retries, a lost warehouse...):
  the task's retry asks again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from instagram_graph import db
from instagram_graph.connection_pool import ConnectionPool, PooledConnection
from instagram_graph.errors import PermissionDeniedError, PolicyBlockedError, RateLimitError, TokenError, advice_for
from instagram_graph.sync import STREAMS, SyncRun
from instagram_graph.sync_record import SyncAttempt

log = logging.getLogger(__name__)

SYNCED, REFUSED, THROTTLED, FAILED = "synced", "refused", "throttled", "failed"
DEFAULT_THREADS = 32
DEFAULT_CONNECTIONS = 4
# Streams whose calls Meta paces per account (conversations: 2 a second): their threads
# mostly sleep, so more of them keep a shard's wall time down at no CPU cost.
THREADS_BY_STREAM = {"conversations": 128}


# Each account's result is an INFO line of the task log up to this many accounts; beyond,
# the log has a progress line per tenth of the accounts and one line per failed or refused
# account (every account's result is in instagram.sync_runs). A line of Airflow's task log
# costs a few CPU-milliseconds between the task and its supervisor: 6,000 of them for 1,000
# accounts cost 18 CPU-seconds, a fifth of the sync itself.
LOG_EACH_ACCOUNT_UP_TO = 16


def default_threads(stream: str) -> int:
    return THREADS_BY_STREAM.get(stream, DEFAULT_THREADS)


@dataclass
class AccountOutcome:
    account_id: str
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the error class
    advice: str | None = None
    retry_after: float | None = None  # seconds, for a throttled account


@dataclass
class _Worker:
    hook: Any
    conn: PooledConnection

    def warehouse(self) -> Any:
        return self.conn

    def drop_warehouse(self) -> None:
        self.conn.close()

    def close(self) -> None:
        self.drop_warehouse()
        self.hook.close()


class Fleet:
    """Run ``stream`` for accounts on a pool of threads.

    :param make_hook: builds a hook for one worker thread (called in that thread's stead,
        before it starts: see :meth:`InstagramGraphHook.sibling`).
    :param connect: returns a new warehouse connection.
    :param context: the task's context (run id and try number for the records).
    :param threads: accounts synced at once (default :func:`default_threads`).
    :param connections: warehouse connections the threads share (each transaction borrows one).
    """

    def __init__(
        self,
        stream: str,
        *,
        make_hook: Callable[[], Any],
        connect: Callable[[], Any],
        context: Mapping[str, Any],
        interval: tuple[datetime, datetime],
        options: Mapping[str, Any] | None = None,
        call_budget: int | None = None,
        threads: int | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; choose one of {sorted(STREAMS)}")
        self.stream = stream
        self.make_hook = make_hook
        self.connect = connect
        self.context = context
        self.interval = interval
        self.options = dict(options or {})
        self.call_budget = call_budget
        self.threads = max(1, int(threads or default_threads(stream)))
        self.connections = max(1, int(connections))
        self._local = threading.local()
        self._workers: list[_Worker] = []
        self._spare: list[_Worker] = []
        self._lock = threading.Lock()
        self._ended: dict[str, int] = {}
        self._total = 0

    def run(self, accounts: Iterable[str]) -> list[AccountOutcome]:
        """Every account's outcome, in the order given."""
        accounts = list(accounts)
        if not accounts:
            return []
        threads = min(self.threads, len(accounts))
        self._ended, self._total = {}, len(accounts)
        connections = ConnectionPool(self.connect, min(self.connections, threads))
        # Hooks are built here, in the task's own thread: building one may look up Airflow
        # connections, which worker threads must not do.
        self._spare = [_Worker(self.make_hook(), PooledConnection(connections)) for _ in range(threads)]
        try:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"sync-{self.stream}") as pool:
                return list(pool.map(self._one, accounts))
        finally:
            for worker in self._workers + self._spare:
                worker.close()
            connections.close()

    def _worker(self) -> _Worker:
        worker: _Worker | None = getattr(self._local, "worker", None)
        if worker is None:
            with self._lock:
                worker = self._spare.pop()
                self._workers.append(worker)
            self._local.worker = worker
        return worker

    def _one(self, account_id: str) -> AccountOutcome:
        outcome = self._sync(account_id)
        with self._lock:
            self._ended[outcome.status] = self._ended.get(outcome.status, 0) + 1
            done = sum(self._ended.values())
            ended = dict(self._ended)
        step = max(1, self._total // 10)
        if self._total > LOG_EACH_ACCOUNT_UP_TO and (done % step == 0 or done == self._total):
            log.info("Stream %s: %d of %d accounts done (%s)", self.stream, done, self._total,
                     ", ".join(f"{n} {status}" for status, n in sorted(ended.items())))
        return outcome

    def _sync(self, account_id: str) -> AccountOutcome:
        worker = self._worker()
        attempt = SyncAttempt.begin(account_id, self.stream, self.context)
        calls_before = worker.hook.calls_made
        try:
            with db.connection_loss_explained():
                conn = worker.warehouse()
                run = SyncRun(
                    hook=worker.hook,
                    conn=conn,
                    account_id=account_id,
                    interval_start=self.interval[0],
                    interval_end=self.interval[1],
                    options=dict(self.options),
                    call_budget=self.call_budget,
                )
                result = STREAMS[self.stream](run)
        except RateLimitError as exc:
            if not exc.retry_after:
                return self._failed(worker, attempt, exc, calls_before)
            log.warning("Account %s, stream %s: throttled for %.0f s; put aside", account_id, self.stream,
                        exc.retry_after)
            return AccountOutcome(account_id, THROTTLED, retry_after=float(exc.retry_after))
        except (TokenError, PermissionDeniedError, PolicyBlockedError) as exc:
            attempt.failed(exc, calls=worker.hook.calls_made - calls_before, conn=worker.conn)
            advice = advice_for(exc, account_id=account_id)
            log.error("Account %s, stream %s: %s: %s. %s", account_id, self.stream, type(exc).__name__, exc, advice)
            return AccountOutcome(account_id, REFUSED, error=type(exc).__name__, advice=advice)
        except Exception as exc:
            return self._failed(worker, attempt, exc, calls_before)
        summary = result.as_dict()
        attempt.succeeded(summary, conn=worker.conn)
        log.log(
            logging.INFO if self._total <= LOG_EACH_ACCOUNT_UP_TO else logging.DEBUG,
            "Account %s, stream %s: %d calls, rows written %s%s",
            account_id,
            self.stream,
            summary["calls"],
            summary["rows_written"] or "{}",
            "" if result.complete else " (call budget spent: the next run goes on)",
        )
        return AccountOutcome(account_id, SYNCED, summary=summary)

    def _failed(self, worker: _Worker, attempt: SyncAttempt, exc: Exception, calls_before: int) -> AccountOutcome:
        if isinstance(exc, db.WarehouseConnectionLost):
            worker.drop_warehouse()
        attempt.failed(exc, calls=worker.hook.calls_made - calls_before, conn=worker.conn)
        advice = advice_for(exc, account_id=attempt.account_id)
        log.error("Account %s, stream %s: %s: %s", attempt.account_id, self.stream, type(exc).__name__, exc)
        return AccountOutcome(attempt.account_id, FAILED, error=type(exc).__name__, advice=advice)
