"""What publishing and direct messages share: the write-side job records.

Both keep one row per idempotency key (``publish_jobs``, ``outbound_messages``) and
follow the same rules, kept here once:

- a request is refused, before any call to Meta, with a message that names the problem
  and the fix (:class:`RequestRefused`);
- the same key with other content is a conflict, found by a sha256 of the canonical
  request (:func:`content_hash`);
- the account must be known, enabled and hold a usable token (:func:`require_usable_account`);
- every state change is one UPDATE guarded by the state it moves from (:class:`JobStatements`,
  built once per table), so a job that moved meanwhile is reloaded, never overwritten;
- a job that ends in ``failed`` raises :class:`JobFailed` (nothing was published or sent);
- one worker at a time advances a job: a Postgres advisory lock per key (:func:`job_lock`),
  held by the worker's connection, so a killed worker releases it with its connection;
- every state change commits at once (:func:`open_warehouse` gives an autocommit
  connection): "about to publish" must be durable before the request leaves;
- an unknown outcome stays unknown until it can no longer change: when the answer to a
  publish or a send is lost, the request may still take effect at Meta (a late answer is
  a late write), so nothing looks it up - let alone repeats it - before
  ``settle_seconds`` (the connection's setting: the request timeout plus a margin) after
  the answer was found lost (``answer_lost_at``). Until then advancing the job raises
  :class:`OutcomeUnsettled` saying how long to wait (the operators defer). A task retry
  or a re-trigger of the same key reads the same time and waits too. A presence found by
  the settled lookup is recorded; only a settled absence allows the request again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, NoReturn

from instagram_graph import db
from instagram_graph.accounts import AccountRegistry
from instagram_graph.errors import reconnect_hint
from instagram_graph.validation import plain_text

MAX_IDEMPOTENCY_KEY_LENGTH = 250
log = logging.getLogger(__name__)


class RequestRefused(ValueError):
    """The request cannot be carried out as given; the message says what to change.

    Raised before any side effect at Instagram whenever that is possible.
    """


class JobBusy(RuntimeError):
    """Another worker is advancing the same job right now; retrying later is safe."""


class OutcomeUnsettled(Exception):
    """A publish or send got no usable answer, and it may still take effect at Meta.

    Nothing may look it up, let alone repeat it, for ``wait_seconds`` more: wait that long
    (the operators defer, holding no worker), then advance the job again; the settled
    lookup decides.
    """

    def __init__(self, message: str, wait_seconds: float) -> None:
        super().__init__(message)
        self.wait_seconds = max(0.0, float(wait_seconds))


class JobFailed(Exception):
    """The job ended in ``failed``: nothing was published or sent. The message says why and
    what to do; ``error`` is Meta's refusal, when there was one."""

    def __init__(self, job: JobRecord, message: str, error: Exception | None = None) -> None:
        self.job = job
        self.error = error
        super().__init__(f"{message} [{job.describe()}]")


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


# A job that waits or retries keeps Meta's latest answer in these columns until it gets further.
CLEAR_ERROR = "error_code = NULL, error_subcode = NULL, error_message = NULL, fbtrace_id = NULL"


@dataclass(frozen=True)
class JobStatements:
    """The statements every job table has, with named parameters. Each UPDATE names the
    state(s) it moves the job from, so a job that moved meanwhile is left alone (no row
    comes back, and the caller reloads it)."""

    select: str  # key
    start: str  # key: the request is about to leave (its time stamped, the attempt counted)
    move: str  # key, from_state, to_state
    finish: str  # key and the done columns' parameters
    fail: str  # key, from_states, code, subcode, message, fbtrace_id
    restart: str  # key, dag_run_id and what the table resets; only a failed job
    settle: str  # key, settle: stamps answer_lost_at (once), returns the seconds left to wait

    @classmethod
    def for_table(
        cls, table: str, columns: str, *, start_from: str, in_flight: str, started_at: str, done: str,
        finish_sets: str, restart_sets: str,
    ) -> JobStatements:
        """:param in_flight: the state the request is in while its outcome is not recorded.
        :param started_at: the column stamped when it leaves.
        :param finish_sets: the columns the done state records.
        :param restart_sets: what else a failed job clears when it starts over."""
        name = f"instagram.{table}"
        key = "idempotency_key = %(key)s"
        return cls(
            select=f"SELECT {columns} FROM {name} WHERE {key}",
            start=f"""
UPDATE {name} SET state = '{in_flight}', {started_at} = now(), answer_lost_at = NULL, attempts = attempts + 1
 WHERE {key} AND state = '{start_from}'
RETURNING {columns}
""",
            move=f"UPDATE {name} SET state = %(to_state)s WHERE {key} AND state = %(from_state)s RETURNING {columns}",
            finish=f"""
UPDATE {name} SET state = '{done}', {finish_sets}, {CLEAR_ERROR}
 WHERE {key} AND state <> '{done}'
RETURNING {columns}
""",
            fail=f"""
UPDATE {name}
   SET state = 'failed', error_code = %(code)s, error_subcode = %(subcode)s, error_message = %(message)s,
       fbtrace_id = %(fbtrace_id)s
 WHERE {key} AND state = ANY(%(from_states)s)
RETURNING {columns}
""",
            restart=f"""
UPDATE {name} SET state = 'pending', {CLEAR_ERROR}, answer_lost_at = NULL, dag_run_id = %(dag_run_id)s, {restart_sets}
 WHERE {key} AND state = 'failed'
RETURNING {columns}
""",
            settle=f"""
UPDATE {name} SET answer_lost_at = COALESCE(answer_lost_at, now())
 WHERE {key} AND state = '{in_flight}'
RETURNING %(settle)s - EXTRACT(EPOCH FROM now() - answer_lost_at)::float8
""",
        )


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of ``content`` (sorted keys, no spaces)."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_idempotency_key(key: str | None, dag_id: str, run_id: str) -> str:
    """The key given, else ``{dag_id}:{run_id}``: a task retry of the same run resumes
    the same job; a new run is a new job.

    :raises InvalidInput: the key holds control characters.
    """
    key = plain_text("idempotency_key", (key or "").strip()) or ""
    if not key:
        key = f"{dag_id}:{run_id}"
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise RequestRefused(
            f"idempotency_key is {len(key)} characters long; at most {MAX_IDEMPOTENCY_KEY_LENGTH} are allowed. "
            "Use a shorter key, or leave it empty to derive one from the run."
        )
    return key


def require_usable_account(store: Any, account_id: str) -> None:
    """Refuse an unknown or disabled account, or one whose token cannot be used.

    :param store: a :class:`~instagram_graph.token_store.TokenStore`; its accounts' listing holds no token.
    """
    infos = {info.account_id: info for info in AccountRegistry(store).list_accounts()}
    info = infos.get(account_id)
    if info is None:
        known = ", ".join(sorted(infos)) or "none"
        raise RequestRefused(
            f"Unknown Instagram account {account_id!r} (known accounts: {known}). "
            f"Pick a known account id, or add this one with: {reconnect_hint(account_id)}"
        )
    if not info.enabled:
        reason = f" ({info.disabled_reason})" if info.disabled_reason else ""
        raise RequestRefused(
            f"Instagram account {account_id} is disabled{reason}. "
            f"Enable it with: instagram-graph accounts enable {account_id}"
        )
    if info.status is None:
        raise RequestRefused(
            f"Instagram account {account_id} has no access token. "
            f"Add one with: {reconnect_hint(account_id)}"
        )
    if info.status == "undecryptable":
        raise RequestRefused(
            f"No key in INSTAGRAM_TOKEN_KEYS decrypts the access token of Instagram account {account_id}. "
            "Add the key it was encrypted with to INSTAGRAM_TOKEN_KEYS (comma-separated, newest first), "
            f"or reconnect the account: {reconnect_hint(account_id)}"
        )
    if info.status != "active":
        raise RequestRefused(
            f"The access token of Instagram account {account_id} is {info.status}: nothing can be sent for it. "
            f"Reconnect the account (new long-lived token): {reconnect_hint(account_id)}"
        )


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


class JobTable:
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

    def register(self, request: Any, key: str, dag_run_id: str | None = None) -> Any:
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

    def _await_settle(self, job: Any, why: str) -> None:
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

    def _answer_lost(self, job: Any, why: str) -> NoReturn:
        """The answer to ``job``'s request was lost just now: record when, and raise
        :attr:`unsettled_error` with the settle time to wait."""
        self._await_settle(job, why)
        raise self.unsettled_error(f"{why}; look again [{job.describe()}]", 0.0)  # it left its state meanwhile

    def load(self, key: str) -> Any | None:
        """The job of idempotency key ``key``, or None."""
        row = self._fetch(self.statements.select, {"key": key})
        return self._from_row(row) if row is not None else None

    def _from_row(self, row: tuple) -> Any:
        raise NotImplementedError

    def _insert_params(self, request: Any, key: str, dag_run_id: str | None) -> tuple:
        raise NotImplementedError

    def _check_same(self, job: Any, request: Any) -> None:
        """Refuse (RequestRefused) when ``job`` was registered for other content."""
        raise NotImplementedError

    def _restart_params(self, request: Any, key: str, dag_run_id: str | None) -> dict[str, Any]:
        """The parameters of the restart statement: the dag run id and the key, unless a
        table records more of the request anew when a failed job starts over."""
        return {"dag_run_id": dag_run_id, "key": key}

    def _start(self, job: Any) -> Any | None:
        """Record that the request is about to leave (committed before it does); None when
        the job left the state it starts from meanwhile."""
        row = self._fetch(self.statements.start, {"key": job.idempotency_key})
        return self._from_row(row) if row is not None else None

    def _move(self, job: Any, from_state: str, to_state: str) -> Any:
        """Move ``job`` from ``from_state`` to ``to_state``; the job as it is now either way."""
        row = self._fetch(self.statements.move, {"key": job.idempotency_key, "from_state": from_state,
                                                 "to_state": to_state})
        return self._from_row(row) if row is not None else self._reload(job)

    def _finish(self, job: Any, **done: Any) -> Any:
        """Record the done state with its columns' parameters ``done``."""
        row = self._fetch(self.statements.finish, {"key": job.idempotency_key, **done})
        return self._from_row(row) if row is not None else self._reload(job)

    def _fail(
        self,
        job: Any,
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

    def _reload(self, job: Any) -> Any:
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
