"""The audit trail of Graph API calls: one structured record per call attempt.

Each attempt that sends a request (retries included) becomes one record: account, method,
path WITHOUT its query string, HTTP status (None when no answer came), duration, attempt
number, Meta's trace id (the ``x-fb-trace-id`` header, or the error's ``fbtrace_id``), the
error class it ended in, and the Airflow task try that made it (dag_id, run_id, task_id,
map_index, try_number: the correlation id; None outside Airflow). Never a token, an
``appsecret_proof`` or a query string: the hook sends the token in a header and the
record keeps only the URL's path.

Where it goes:

* the task log at DEBUG, one line per attempt (``graph_api_call account=... path=...``),
  whatever the settings;
* the warehouse table ``instagram.api_calls`` (migration 011) unless the connection's
  ``audit_calls`` extra is false: buffered in the hook and written with one COPY per
  :data:`BATCH_ROWS` records or :data:`FLUSH_SECONDS` seconds, and at ``hook.close()``.

What it costs at 10,000 accounts: a few hundred thousand attempts an hour come to one COPY
of up to 500 rows per task and batch (about 250 bytes a row with its two indexes), and
pruning is a DROP of one day's partition a day (``audit_retention_days``, default 7), never
a DELETE.

When the warehouse cannot be reached the records wait in memory (at most
:data:`BUFFER_MAX`; the oldest go first beyond that) for the next flush; a call never fails
because its audit record could not be written.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import psycopg2
import psycopg2.errors

from instagram_graph.warehouse_link import WarehouseLink, WarehouseUnavailable

if TYPE_CHECKING:
    from airflow.sdk.types import Logger  # the task log (self.log of a hook)

BATCH_ROWS = 500
FLUSH_SECONDS = 5.0
BUFFER_MAX = 10_000

COLUMNS = (
    "called_at", "account_id", "method", "path", "status", "duration_ms", "attempt", "fbtrace_id", "error",
    "dag_id", "run_id", "task_id", "map_index", "try_number",
)
_COPY = f"COPY instagram.api_calls ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
TRACE_HEADER = "x-fb-trace-id"


class Correlation(NamedTuple):
    """The Airflow task try a call belongs to; every field None outside Airflow."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None


def task_correlation(environ: Mapping[str, str] | None = None) -> Correlation:
    """The running task try: from Airflow's task context, else from the ``AIRFLOW_CTX_*``
    variables Airflow sets for the task process (they carry no map index), else all None."""
    try:
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
        return Correlation(ti.dag_id, ti.run_id, ti.task_id, _int(ti.map_index), _int(ti.try_number))
    except Exception:  # no task running here (the CLI, a script, a trigger)
        pass
    env = os.environ if environ is None else environ
    return Correlation(
        env.get("AIRFLOW_CTX_DAG_ID") or None,
        env.get("AIRFLOW_CTX_DAG_RUN_ID") or None,
        env.get("AIRFLOW_CTX_TASK_ID") or None,
        None,
        _int(env.get("AIRFLOW_CTX_TRY_NUMBER")),
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class CallAudit:
    """Records call attempts: a DEBUG log line each, and batched rows in the warehouse.

    :param link: the hook's warehouse link; None keeps no warehouse trail (``audit_calls`` false).
    :param log: the logger of the DEBUG lines (the hook's, so they land in the task log).
    :param retention_days: days of trail kept (``audit_retention_days``); the writer drops
        older day partitions once a day.
    """

    def __init__(
        self,
        link: WarehouseLink | None,
        *,
        log: logging.Logger | Logger,
        retention_days: int = 7,
        batch_rows: int = BATCH_ROWS,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.link = link
        self.log = log
        self.retention_days = int(retention_days)
        self.batch_rows = int(batch_rows)
        self.flush_seconds = float(flush_seconds)
        self.dropped = 0  # records lost because the warehouse stayed away too long
        self._correlation: Correlation | None = None
        self._rows: list[tuple[Any, ...]] = []
        self._days: set[str] = set()  # day partitions this process knows exist
        self._pruned_on: str | None = None
        self._failing = False
        self._lock = threading.Lock()  # a hook may be shared by threads

    @property
    def correlation(self) -> Correlation:
        if self._correlation is None:
            self._correlation = task_correlation()
        return self._correlation

    def record(
        self,
        account_id: str,
        method: str,
        path: str,
        *,
        called_at: float,
        duration: float,
        attempt: int,
        status: int | None,
        fbtrace_id: str | None,
        error: str | None = None,
    ) -> None:
        """One attempt that sent a request. ``path`` must already be without its query."""
        c = self.correlation
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug(
                "graph_api_call account=%s method=%s path=%s status=%s duration_ms=%.1f attempt=%d "
                "fbtrace_id=%s error=%s dag_id=%s run_id=%s task_id=%s map_index=%s try_number=%s",
                account_id, method, path, status, duration * 1000, attempt, fbtrace_id, error,
                c.dag_id, c.run_id, c.task_id, c.map_index, c.try_number,
            )
        if self.link is None:
            return
        row = (called_at, account_id, method, path, status, round(duration * 1000, 3), attempt, fbtrace_id or None,
               error, *c)
        with self._lock:
            self._rows.append(row)
            due = len(self._rows) >= self.batch_rows or time.time() - self._rows[0][0] >= self.flush_seconds
        if due:
            self.flush()

    @property
    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> bool:
        """Write the buffered records (one COPY); True when none is left waiting."""
        if self.link is None:
            return True
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return True
        try:
            self.link.run(lambda cur: self._write(cur, rows))
        except (WarehouseUnavailable, psycopg2.Error) as exc:
            with self._lock:
                self._keep(rows, exc)
            return False
        if self._failing:
            self.log.warning("The audit trail of Graph API calls is written again")
            self._failing = False
        return True

    def _write(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        days = {_day(row[0]) for row in rows}
        today = _day(time.time())
        for day in sorted((days | {today, _day(time.time() + 86_400)}) - self._days):
            cur.execute("SELECT instagram.api_calls_partition(%s::date)", (day,))
            self._days.add(day)
        if self._pruned_on != today:
            cur.execute("SELECT instagram.api_calls_prune(%s)", (self.retention_days,))
            (dropped,) = cur.fetchone()
            if dropped is not None:  # None: the trail was busy; another writer drops it later
                self._pruned_on = today
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow((_timestamp(row[0]), *row[1:]))
        buffer.seek(0)
        cur.copy_expert(_COPY, buffer)

    def _keep(self, rows: list[tuple[Any, ...]], exc: BaseException) -> None:
        self._rows = rows + self._rows
        overflow = len(self._rows) - BUFFER_MAX
        if overflow > 0:
            del self._rows[:overflow]
            self.dropped += overflow
        if not self._failing:
            hint = ""
            if isinstance(exc, (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedFunction)):
                hint = " Run `instagram-graph migrate` (migration 011 adds instagram.api_calls)."
            self.log.warning(
                "The audit trail of Graph API calls could not be written (%s: %s); %d record(s) kept to write "
                "later. The calls themselves go on.%s",
                type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else "", len(self._rows), hint,
            )
            self._failing = True
        self._days.clear()  # after a failure, check the partitions again

    def close(self) -> None:
        """Write what is left; say how many records never reached the warehouse."""
        if not self.flush() or self.dropped:
            self.log.warning(
                "%d audit record(s) of Graph API calls never reached the warehouse", self.pending + self.dropped
            )


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _timestamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
