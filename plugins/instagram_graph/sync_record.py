"""The sync record: how each stream's latest try of a run ended, per account (``instagram.sync_runs``).

:class:`SyncAttempt` is what :class:`~instagram_graph.operators.sync.InstagramSyncOperator`
writes when a stream ends: a success with its calls and rows, or a failure with its error
class and the catalogue's advice. :func:`latest` is what the accounts page reads: the last
success and the last failure of each account and stream.

Writing the record never decides a task's outcome: when the warehouse cannot take the row,
a warning says so and the task ends as the stream did. No token, URL or error message is
ever written (a message can quote what Meta sent back): the class and the advice say what
happened and what to do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from instagram_graph import db
from instagram_graph.errors import GraphApiError, advice_for

log = logging.getLogger(__name__)

SUCCESS = "success"
FAILED = "failed"

_COLUMNS = (
    "account_id", "stream", "run_id", "status", "calls", "rows", "rows_by_table",
    "error_class", "advice", "started_at", "finished_at", "try_number",
)
_UPSERT = f"""
INSERT INTO instagram.sync_runs ({", ".join(_COLUMNS)})
VALUES ({", ".join(["%s"] * len(_COLUMNS))})
ON CONFLICT (account_id, stream, run_id) DO UPDATE
   SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[3:])}
"""
# Drives the index (account_id, stream, status, finished_at DESC) once per account, stream
# and status: two index probes per cell of the page, however many runs the table keeps.
_LATEST = f"""
SELECT {", ".join(f"r.{c}" for c in _COLUMNS)}
  FROM unnest(%s::text[]) AS a(account_id)
 CROSS JOIN unnest(%s::text[]) AS s(stream)
 CROSS JOIN (VALUES ('{SUCCESS}'), ('{FAILED}')) AS o(status)
 CROSS JOIN LATERAL (
       SELECT * FROM instagram.sync_runs r
        WHERE r.account_id = a.account_id AND r.stream = s.stream AND r.status = o.status
        ORDER BY r.finished_at DESC
        LIMIT 1) r
"""


@dataclass(frozen=True)
class SyncOutcome:
    """One row of ``instagram.sync_runs``: how one try of one stream for one account ended."""

    account_id: str
    stream: str
    run_id: str
    status: str
    calls: int
    rows: int
    rows_by_table: Mapping[str, int]
    error_class: str | None
    advice: str | None
    started_at: datetime
    finished_at: datetime
    try_number: int | None

    @property
    def duration(self) -> timedelta:
        return self.finished_at - self.started_at

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (ISO times, the duration in seconds)."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "calls": self.calls,
            "rows": self.rows,
            "rows_by_table": dict(self.rows_by_table),
            "error_class": self.error_class,
            "advice": self.advice,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_seconds": round(self.duration.total_seconds(), 3),
            "try_number": self.try_number,
        }


@dataclass(frozen=True)
class StreamHistory:
    """The last success and the last failure of one stream for one account (either may be None)."""

    stream: str
    last_success: SyncOutcome | None = None
    last_failure: SyncOutcome | None = None

    @property
    def failing(self) -> bool:
        """True when the stream's latest recorded try failed."""
        if self.last_failure is None:
            return False
        return self.last_success is None or self.last_failure.finished_at > self.last_success.finished_at


# Failures a retry of the same run cannot fix: the account waits for its owner (a new
# token, a permission granted), and a retry leaves it alone unless its token changed since.
PERMANENT_FAILURES = frozenset(
    {
        "TokenError",
        "TokenExpiredError",
        "TokenInvalidError",
        "PermissionDeniedError",
        "MessagingWindowClosedError",
        "PolicyBlockedError",
    }
)
_SETTLED_IN_RUN = """
SELECT r.account_id
  FROM instagram.sync_runs r
  LEFT JOIN instagram.oauth_tokens t USING (account_id)
 WHERE r.stream = %s AND r.run_id = %s AND r.account_id = ANY(%s)
   AND (r.status = 'success'
        OR (r.error_class = ANY(%s) AND (t.updated_at IS NULL OR t.updated_at < r.finished_at)))
"""


def settled_in_run(conn: Any, account_ids: Iterable[str], stream: str, run_id: str) -> set[str]:
    """The accounts a retry of this run must leave alone: synced already, or failed for a
    reason only their owner can fix (and their token has not changed since)."""
    with conn, conn.cursor() as cur:
        cur.execute(_SETTLED_IN_RUN, (stream, run_id, list(account_ids), sorted(PERMANENT_FAILURES)))
        return {row[0] for row in cur.fetchall()}


def run_id_of(context: Mapping[str, Any], started_at: datetime) -> str:
    dag_run = context.get("dag_run")
    return str(context.get("run_id") or getattr(dag_run, "run_id", None) or f"adhoc__{started_at.isoformat()}")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncAttempt:
    """One try of one stream for one account, started when made and recorded when it ends.

    ``run_id`` and ``try_number`` come from the task context; outside a DAG run (a direct
    ``execute()`` call, a script) the run id is ``adhoc__<start time>``, so each such call
    keeps its own row.
    """

    account_id: str
    stream: str
    run_id: str
    try_number: int | None = None
    started_at: datetime = field(default_factory=_now)

    @classmethod
    def begin(cls, account_id: str, stream: str, context: Mapping[str, Any]) -> SyncAttempt:
        started_at = _now()
        try_number = getattr(context.get("ti"), "try_number", None)
        return cls(
            account_id, stream, run_id_of(context, started_at), try_number if isinstance(try_number, int) else None,
            started_at,
        )

    def succeeded(self, summary: Mapping[str, Any], conn: Any = None) -> bool:
        """Record a success from the stream's ``SyncResult.as_dict()``; False when it could not be written.

        :param conn: write on this warehouse connection (default: a connection of its own).
        """
        by_table = {str(table): int(rows) for table, rows in (summary.get("rows_written") or {}).items()}
        return record(self._outcome(SUCCESS, int(summary.get("calls") or 0), by_table, None, None), conn)

    def failed(self, error: BaseException, *, calls: int, conn: Any = None) -> bool:
        """Record a failure (its class and advice, see :func:`describe_failure`); False when it could not be written."""
        error_class, advice = describe_failure(error, self.account_id)
        return record(self._outcome(FAILED, calls, {}, error_class, advice), conn)

    def _outcome(
        self, status: str, calls: int, by_table: dict[str, int], error_class: str | None, advice: str | None
    ) -> SyncOutcome:
        return SyncOutcome(
            account_id=self.account_id,
            stream=self.stream,
            run_id=self.run_id,
            status=status,
            calls=max(0, calls),
            rows=sum(by_table.values()),
            rows_by_table=by_table,
            error_class=error_class,
            advice=advice,
            started_at=self.started_at,
            finished_at=max(_now(), self.started_at),
            try_number=self.try_number,
        )


def describe_failure(error: BaseException, account_id: str | None = None) -> tuple[str, str | None]:
    """The error class and advice to record for ``error``.

    The Graph API error behind the failure counts, even when the operator turned it into
    another exception (a token or permission problem becomes ``AirflowFailException``, the
    original kept as its context), with the catalogue's advice; any other error is recorded
    by its class name only.
    """
    graph_error = _graph_api_error_in(error)
    if graph_error is None:
        return type(error).__name__, None
    return type(graph_error).__name__, advice_for(graph_error, account_id=account_id)


def _graph_api_error_in(error: BaseException) -> GraphApiError | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, GraphApiError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def write(conn: Any, outcome: SyncOutcome) -> None:
    """Upsert ``outcome`` on ``conn`` (a retry of the same run overwrites its row); the caller commits."""
    values = [getattr(outcome, c) for c in _COLUMNS]
    values[_COLUMNS.index("rows_by_table")] = json.dumps(dict(outcome.rows_by_table), sort_keys=True)
    with conn.cursor() as cur:
        cur.execute(_UPSERT, values)


def record(outcome: SyncOutcome, conn: Any = None) -> bool:
    """Write ``outcome`` on ``conn`` or a connection of its own; never raises (a warning says what was lost)."""
    try:
        if conn is not None:
            with conn:
                write(conn, outcome)
            return True
        own = db.connect()
        try:
            with own:
                write(own, outcome)
        finally:
            own.close()
    except Exception as exc:  # the stream's own outcome decides the task, never its record
        log.warning(
            "The sync record of account %s, stream %s (%s) was not written: %s: %s",
            outcome.account_id, outcome.stream, outcome.status, type(exc).__name__, exc,
        )
        return False
    return True


def latest(conn: Any, account_ids: Iterable[str], streams: Iterable[str]) -> dict[str, dict[str, StreamHistory]]:
    """``{account_id: {stream: StreamHistory}}`` for the streams each account has a recorded try of."""
    found: dict[str, dict[str, dict[str, SyncOutcome]]] = {}
    with conn.cursor() as cur:
        cur.execute(_LATEST, (list(account_ids), list(streams)))
        for row in cur.fetchall():
            outcome = SyncOutcome(**dict(zip(_COLUMNS, row, strict=True)))
            found.setdefault(outcome.account_id, {}).setdefault(outcome.stream, {})[outcome.status] = outcome
    return {
        account_id: {
            stream: StreamHistory(stream, last_success=by_status.get(SUCCESS), last_failure=by_status.get(FAILED))
            for stream, by_status in sorted(streams_found.items())
        }
        for account_id, streams_found in found.items()
    }
