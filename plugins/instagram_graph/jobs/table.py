"""A job table as the publisher and the messenger use it: one row per idempotency key,
changed only by state-guarded statements on an autocommit connection, one worker at a
time (an advisory lock per key)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from instagram_graph import db
from instagram_graph.jobs.outcomes import JobBusy, JobFailed, OutcomeUnsettled
from instagram_graph.jobs.requests import require_usable_account
from instagram_graph.jobs.statements import JobStatements

log = logging.getLogger(__name__)


class JobRecord:
    """One row of a job table, as a dataclass that names itself and its task result."""

    idempotency_key: str
    account_id: str
    state: str
    error_message: str | None
    summary_fields: ClassVar[tuple[str, ...]]  # what the task returns (XCom): ids and state, no content, no token

    def describe(self) -> str:
        """The job in words, for logs and messages (ids only)."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.summary_fields}


JobT = TypeVar("JobT", bound=JobRecord)


class JobRequest(Protocol):
    """What registering needs of any request: the account it acts for."""

    @property
    def account_id(self) -> str: ...


RequestT = TypeVar("RequestT", bound=JobRequest)


def open_warehouse() -> Any:
    """A new autocommit connection: each state change is durable as soon as it is made."""
    conn = db.connect()
    conn.autocommit = True
    return conn


@contextmanager
def job_lock(conn: Any, table: str, key: str) -> Iterator[None]:
    """Hold the advisory lock of one job (``table`` + idempotency key) on ``conn``.

    :raises JobBusy: another session holds it (a concurrent run with the same key).
    """
    lock_name = f"instagram.{table}:{key}"
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (lock_name,))
        (acquired,) = cur.fetchone()
    if not acquired:
        raise JobBusy(
            f"Another task is working on {table} key {key!r} right now; this attempt stops so that "
            "only one of them acts. It is safe to retry: the job resumes from its recorded state."
        )
    try:
        yield
    finally:
        if not conn.closed:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (lock_name,))


class JobTable(Generic[JobT, RequestT]):
    """What :class:`~instagram_graph.publishing.Publisher` and
    :class:`~instagram_graph.messaging.Messenger` share: a hook, an autocommit warehouse
    connection (see :func:`open_warehouse`), registering a job by idempotency key, and
    the small queries over their job table.

    A subclass names its table's statements (:class:`JobStatements`, and ``insert_sql``
    ``RETURNING`` the job's columns), the state that means done, the states a job may
    fail from, its outcome exceptions, and how a row becomes a job and a request its
    insert parameters.

    The settle time after a lost answer is the hook's ``settle_seconds`` setting
    (:attr:`~instagram_graph.settings.GraphApiSettings.outcome_settle_seconds`).
    """

    statements: JobStatements
    insert_sql: str  # params: _insert_params(); ON CONFLICT (idempotency_key) DO NOTHING
    done_state: str
    failable_states: tuple[str, ...]  # where nothing can have been done at Meta yet: _fail() moves only from these
    looked_up_in: str  # what decides a request's outcome, for messages ("the conversation")
    unsettled_error: type[OutcomeUnsettled]
    failed_error: type[JobFailed]

    default_lookup_slack: timedelta  # how far before an attempt a found result may be dated

    def __init__(self, hook: Any, conn: Any, *, lookup_slack: timedelta | None = None) -> None:
        self.hook = hook
        self.conn = conn
        self.lookup_slack = lookup_slack if lookup_slack is not None else self.default_lookup_slack

    def register(self, request: RequestT, key: str, dag_run_id: str | None = None) -> JobT:
        """The job for ``key``: new, resumed, or (when it failed before) started over.

        :raises RequestRefused: the key belongs to another request, or the account cannot
            be used.
        """
        job = self.load(key)
        if job is not None:
            self._check_same(job, request)
            if job.state == self.done_state:
                return job
        require_usable_account(self.hook.token_store, request.account_id)
        if job is None:
            row = self._fetch(self.insert_sql, self._insert_params(request, key, dag_run_id))
            if row is not None:
                job = self._from_row(row)
                log.info("Registered %s", job.describe())
                return job
            job = self.load(key)  # a concurrent run registered it first
            assert job is not None
            self._check_same(job, request)
        if job.state == "failed":
            log.info("%s failed before (%s); starting it over", job.describe(), job.error_message)
            row = self._fetch(self.statements.restart, self._restart_params(request, key, dag_run_id))
            job = self._from_row(row) if row is not None else self._reload(job)
        else:
            log.info("Resuming %s from state %s", job.describe(), job.state)
        return job

    @property
    def settle_seconds(self) -> float:
        return float(self.hook.settings.outcome_settle_seconds)

    def _await_settle(self, job: JobT, why: str) -> None:
        """Return once the outcome of ``job``'s request can no longer change; raise
        :attr:`unsettled_error` (with the seconds left) before that.

        Stamps ``answer_lost_at`` the first time: the answer was lost just now, or the
        worker that sent the request is gone (the caller holds the job's lock, so no other
        worker is waiting for an answer).
        """
        row = self._fetch(self.statements.settle, {"settle": self.settle_seconds, "key": job.idempotency_key})
        if row is None:
            return  # the job left its in-flight state meanwhile: the caller reloads it
        wait = float(row[0])
        if wait <= 0:
            return
        raise self.unsettled_error(
            f"{why}. The request may still take effect at Meta: whether it did is looked up in {self.looked_up_in} "
            f"in {wait:.0f} s ({self.settle_seconds:g} s after its answer was found lost, the connection's "
            f"settle_seconds), not sooner, and it is repeated only if that shows it did not "
            f"[{job.describe()}]",
            wait,
        )

    def _answer_lost(self, job: JobT, why: str) -> NoReturn:
        """The answer to ``job``'s request was lost just now: record when, and raise
        :attr:`unsettled_error` with the settle time to wait."""
        self._await_settle(job, why)
        raise self.unsettled_error(f"{why}; look again [{job.describe()}]", 0.0)  # it left its state meanwhile

    def load(self, key: str) -> JobT | None:
        """The job of idempotency key ``key``, or None."""
        row = self._fetch(self.statements.select, {"key": key})
        return self._from_row(row) if row is not None else None

    def _from_row(self, row: tuple) -> JobT:
        raise NotImplementedError

    def _insert_params(self, request: RequestT, key: str, dag_run_id: str | None) -> tuple:
        raise NotImplementedError

    def _check_same(self, job: JobT, request: RequestT) -> None:
        """Refuse (RequestRefused) when ``job`` was registered for other content."""
        raise NotImplementedError

    def _restart_params(self, request: RequestT, key: str, dag_run_id: str | None) -> dict[str, Any]:
        """The parameters of the restart statement: the dag run id and the key, unless a
        table records more of the request anew when a failed job starts over."""
        return {"dag_run_id": dag_run_id, "key": key}

    def _start(self, job: JobT) -> JobT | None:
        """Record that the request is about to leave (committed before it does); None when
        the job left the state it starts from meanwhile."""
        row = self._fetch(self.statements.start, {"key": job.idempotency_key})
        return self._from_row(row) if row is not None else None

    def _move(self, job: JobT, from_state: str, to_state: str) -> JobT:
        """Move ``job`` from ``from_state`` to ``to_state``; the job as it is now either way."""
        row = self._fetch(self.statements.move, {"key": job.idempotency_key, "from_state": from_state,
                                                 "to_state": to_state})
        return self._from_row(row) if row is not None else self._reload(job)

    def _finish(self, job: JobT, **done: Any) -> JobT:
        """Record the done state with its columns' parameters ``done``."""
        row = self._fetch(self.statements.finish, {"key": job.idempotency_key, **done})
        return self._from_row(row) if row is not None else self._reload(job)

    def _fail(
        self,
        job: JobT,
        message: str,
        *,
        error: Any = None,
        code: int | None = None,
        subcode: int | None = None,
        from_states: Sequence[str] | None = None,
    ) -> NoReturn:
        """Record ``failed`` with the error (``error``'s code and subcode, else those given)
        and raise :attr:`failed_error`.

        Only from :attr:`failable_states`, unless ``from_states`` names others (a state
        whose request was sent, once the caller knows it did not take effect).
        """
        if error is not None:
            code, subcode = error.code, error.subcode
        row = self._fetch(self.statements.fail, {
            "key": job.idempotency_key, "from_states": list(from_states or self.failable_states), "code": code,
            "subcode": subcode, "message": message, "fbtrace_id": getattr(error, "fbtrace_id", None),
        })
        if row is None:
            raise RuntimeError(f"{job.describe()} could not be marked failed from state {self._reload(job).state}")
        job = self._from_row(row)
        log.error("%s failed: %s", job.describe(), message)
        raise self.failed_error(job, message, error)

    def _reload(self, job: JobT) -> JobT:
        fresh = self.load(job.idempotency_key)
        assert fresh is not None, f"job {job.idempotency_key!r} vanished from its table"
        return fresh

    def _fetch(self, sql: str, params: tuple | Mapping[str, Any]) -> tuple | None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def _fetch_all(self, sql: str, params: tuple | Mapping[str, Any]) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _execute(self, sql: str, params: tuple | Mapping[str, Any]) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)


def pick_after(candidates: list[tuple[datetime, Any]], started: datetime) -> Any | None:
    """The candidate that best matches an attempt made at ``started``.

    Meta's timestamps have whole seconds, and clocks differ: prefer the oldest candidate
    dated at or after the attempt's second; failing that, the newest one before it (the
    caller has already dropped those older than its clock-skew allowance).
    """
    floor = started.replace(microsecond=0)
    after = [pair for pair in candidates if pair[0] >= floor]
    if after:
        return min(after, key=lambda pair: pair[0])[1]
    if candidates:
        return max(candidates, key=lambda pair: pair[0])[1]
    return None
