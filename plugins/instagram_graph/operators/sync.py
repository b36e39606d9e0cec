"""InstagramSyncOperator: runs one sync stream for one account, mapped over accounts by DAGs.

Failure policy, per account (one mapped task each, so one account never stops another):
- token or permission problems fail at once, without retries, naming the account and
  what to do (retrying cannot fix a revoked token);
- a long throttle wait defers the task, freeing its worker slot, then runs it again
  (every stream resumes safely: loads are idempotent upserts);
- anything else (transient errors after the hook's own retries) is left to Airflow's
  task retries with exponential backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator, Param, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from instagram_graph import db
from instagram_graph.errors import (
    GraphApiError,
    PermissionDeniedError,
    PolicyBlockedError,
    RateLimitError,
    TokenError,
    advice_for,
    reconnect_hint,
)
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.jobs import OutcomeUnsettled
from instagram_graph.pool_check import GRAPH_API_POOL, GraphApiPoolMissing, require_graph_api_pool
from instagram_graph.sync import STREAMS, SyncRun
from instagram_graph.sync.base import OPTION_LIMITS, SyncOptionError, validate_options
from instagram_graph.tokens import account_label

log = logging.getLogger(__name__)

# Mapped task instances are named "username (id)": the operator puts the label in the
# context (Airflow renders map_index_template again after execute); the id until then.
ACCOUNT_MAP_INDEX = "{{ account_label | default(task.account_id) }}"
DEFAULT_RETRIES = 2


def _advice(error: BaseException, account_id: str) -> str:
    if isinstance(error, AirflowFailException):
        return "the error above says what to do; this task does not retry"
    return advice_for(error, account_id=account_id)


@contextmanager
def graph_api_outcomes(task: BaseOperator, account_id: str, *, resume: str, consequence: str = "") -> Iterator[None]:
    """The Graph API failures every Instagram operator treats alike.

    A throttle with a regain time defers the task (its worker slot is freed) and calls
    ``resume`` afterwards; a token, permission or policy problem fails the task at once,
    without retries, naming the account, what ``consequence`` it had and the catalogue's
    advice.
    """
    try:
        yield
    except RateLimitError as exc:
        if not exc.retry_after:
            raise
        task.log.warning(
            "Account %s is throttled for %.0fs; deferring instead of holding a worker", account_id, exc.retry_after
        )
        task.defer(trigger=TimeDeltaTrigger(timedelta(seconds=exc.retry_after)), method_name=resume)
    except (TokenError, PermissionDeniedError, PolicyBlockedError) as exc:
        consequence = f"{consequence} " if consequence else ""
        raise AirflowFailException(
            f"account {account_id}: {type(exc).__name__}: {exc}. {consequence}{_advice(exc, account_id)}"
        ) from None


# Added to a settle wait: the job's clock (Postgres) and the triggerer's measure the same
# durations, so the resumed task finds the outcome settled instead of deferring again.
SETTLE_SLACK_SECONDS = 1.0


def defer_until_settled(
    task: BaseOperator, unknown: OutcomeUnsettled, *, resume: str, waits: int, max_waits: int,
    kwargs: dict[str, Any] | None = None,
) -> NoReturn:
    """Defer ``task`` (no worker held) until an unknown outcome can no longer change, then
    call ``resume`` with ``settle_waits=waits + 1`` (and ``kwargs``).

    After ``max_waits`` such waits in one task attempt (the answer got lost again and
    again) the attempt ends with a retryable error; the next attempt waits out the same
    settle time before it looks, so nothing is sent or published twice.
    """
    if waits >= max_waits:
        raise AirflowException(
            f"{unknown} This attempt has waited for {waits} unknown outcome(s) already; the task retries, and the "
            "next attempt waits out the settle time and looks before it repeats anything (nothing goes out twice)."
        )
    seconds = unknown.wait_seconds + SETTLE_SLACK_SECONDS
    task.log.warning("%s Deferring %.0f s (no worker held).", unknown, seconds)
    task.defer(
        trigger=TimeDeltaTrigger(timedelta(seconds=seconds)),
        method_name=resume,
        kwargs={**(kwargs or {}), "settle_waits": waits + 1},
    )


def report_failure(context: dict[str, Any]) -> None:
    """on_failure_callback: one log line naming the account, the error class and the fix."""
    task_obj = context.get("task")
    account_id = getattr(task_obj, "account_id", "?")
    error = context.get("exception")
    log.error(
        "Instagram task %s failed for account %s: %s. What to do: %s",
        getattr(task_obj, "task_id", "?"),
        account_id,
        type(error).__name__ if error else "unknown error",
        _advice(error, account_id) if error else "see the task log",
    )


# Task arguments for every Graph API task. DAGs pass them as ``default_args`` too: a
# mapped operator (``.partial().expand()``) takes pool and retries from the DAG and its
# partial() arguments, never from defaults set inside ``__init__``.
GRAPH_TASK_DEFAULTS: dict[str, Any] = {
    "pool": GRAPH_API_POOL,
    "retries": DEFAULT_RETRIES,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": report_failure,
}


class InstagramSyncOperator(BaseOperator):
    """Sync one stream (``profile``, ``media``, ``stories``, ``comments``,
    ``account_insights``, ``media_insights``, ``conversations``) for one account.

    :param stream: which stream (see :data:`instagram_graph.sync.STREAMS`).
    :param account_id: the IG user id; usually mapped from the enabled accounts.
    :param options: stream settings such as ``lookback_days`` (see each stream).
    :param call_budget: at most this many Graph API calls per run; the stream stops
        cleanly when it is spent and the next run goes on from there.
    :param instagram_graph_conn_id: the ``instagram_graph`` connection.
    """

    template_fields: Sequence[str] = ("account_id", "options", "call_budget")
    ui_color = "#f7d6e6"

    def __init__(
        self,
        *,
        stream: str,
        account_id: str,
        options: dict[str, Any] | None = None,
        call_budget: int | None = None,
        instagram_graph_conn_id: str = InstagramGraphHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; choose one of {sorted(STREAMS)}")
        super().__init__(**{**GRAPH_TASK_DEFAULTS, **kwargs})
        self.stream = stream
        self.account_id = account_id
        self.options = options or {}
        self.call_budget = call_budget
        self.instagram_graph_conn_id = instagram_graph_conn_id

    def execute(self, context: Any, event: Any = None) -> dict[str, Any]:
        start, end = _interval(context)
        try:
            call_budget = validate_options(dict(self.options), self.call_budget)
        except SyncOptionError as exc:  # bad input: no call, no write, no retry
            raise AirflowFailException(f"account {self.account_id}, stream {self.stream}: {exc}") from None
        from instagram_graph.sync_record import SyncAttempt

        attempt = SyncAttempt.begin(str(self.account_id), self.stream, context)
        hook = InstagramGraphHook(self.instagram_graph_conn_id)
        with db.connection_loss_explained():
            conn = db.connect()
        try:
            with db.connection_loss_explained(), graph_api_outcomes(self, str(self.account_id), resume="execute"):
                context["account_label"] = account_label(conn, str(self.account_id))
                run = SyncRun(
                    hook=hook,
                    conn=conn,
                    account_id=str(self.account_id),
                    interval_start=start,
                    interval_end=end,
                    options=dict(self.options),
                    call_budget=call_budget,
                )
                result = STREAMS[self.stream](run)
        except Exception as exc:  # a deferral (TaskDeferred) is no Exception: nothing ended, nothing recorded
            if isinstance(exc, GraphApiError):
                self.log.error("Account %s, stream %s: %s: %s", self.account_id, self.stream, type(exc).__name__, exc)
            attempt.failed(exc, calls=hook.calls_made)
            raise
        finally:
            conn.close()
            hook.close()
        summary = result.as_dict()
        attempt.succeeded(summary)
        self.log.info(
            "Account %s, stream %s: %d calls, rows written %s%s",
            self.account_id,
            self.stream,
            summary["calls"],
            summary["rows_written"] or "{}",
            "" if result.complete else " (call budget spent: the next run goes on)",
        )
        if result.gone:
            self.log.info(
                "%d object(s) no longer exist at Meta (deleted, or expired): marked deleted_at, not asked again",
                result.gone,
            )
        if result.skipped:
            self.log.warning("Skipped %d item(s): %s", len(result.skipped), "; ".join(result.skipped[:10]))
        return summary


def _interval(context: Any) -> tuple[datetime, datetime]:
    """The run's data interval; a manual run without one covers the last day."""
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if end is None:
        end = datetime.now(timezone.utc)
    if start is None:
        start = end - timedelta(days=1)
    return start, end


def option_param(name: str, default: int, description: str) -> Param:
    """A DAG Param for a numeric stream option, bounded like the stream checks it
    (:data:`~instagram_graph.sync.base.OPTION_LIMITS`), so the form refuses what the code would."""
    low, high = OPTION_LIMITS[name]
    return Param(
        default,
        type="integer",
        minimum=int(low),
        maximum=int(high),
        description=f"{description} ({int(low)} to {int(high)})",
    )


def graph_api_pool_required() -> None:
    """Fail the task at once (no retry) when the Graph API pool is missing: without it the
    run's Graph API tasks would wait in 'scheduled' forever (see :mod:`~instagram_graph.pool_check`)."""
    try:
        require_graph_api_pool()
    except GraphApiPoolMissing as exc:
        raise AirflowFailException(str(exc)) from None


# The first task of each DAG runs outside the Graph API pool, so that it can say the pool is missing.
@task(task_id="graph_api_pool_ready", pool="default_pool")
def graph_api_pool_ready() -> None:
    """First task of the triggered DAGs (publish, send message): checks the pool, calls nothing."""
    graph_api_pool_required()


@task(task_id="enabled_accounts", pool="default_pool")
def enabled_accounts() -> list[str]:
    """The accounts to map over: every enabled account with a token in the token store.
    Reads the warehouse only (no Graph API call), so it runs outside the Graph API pool."""
    from instagram_graph.tokens import TokenStore

    graph_api_pool_required()

    accounts = TokenStore().enabled_accounts()
    if not accounts:
        log.warning("No enabled accounts. Add one with: %s", reconnect_hint(None))
    return accounts
