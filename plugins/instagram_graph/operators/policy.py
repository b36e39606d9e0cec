"""The failure policy every Instagram operator shares: task defaults, Graph API outcomes, settle waits.

- a throttle with a regain time defers the task (its worker slot is freed), then resumes it;
- token, permission and policy problems fail the task at once, without retries, naming the
  account and the catalogue's advice (retrying cannot fix a revoked token);
- an unknown outcome (a lost answer to a send or publish) defers until it can no longer
  change, so nothing goes out twice;
- anything else is left to Airflow's task retries with exponential backoff
  (:data:`GRAPH_TASK_DEFAULTS`), and :func:`report_failure` logs one line naming the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, NoReturn

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from instagram_graph.errors import PermissionDeniedError, PolicyBlockedError, RateLimitError, TokenError, advice_for
from instagram_graph.jobs import OutcomeUnsettled
from instagram_graph.pool_check import GRAPH_API_POOL

log = logging.getLogger(__name__)

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
def _first_retry_delay() -> timedelta:
    """The wait before a Graph API task's first retry (doubled per retry): 60 s, or what the
    deployment sets in ``[instagram] task_retry_delay_seconds``
    (``AIRFLOW__INSTAGRAM__TASK_RETRY_DELAY_SECONDS``)."""
    from airflow.configuration import conf

    seconds = conf.getint("instagram", "task_retry_delay_seconds", fallback=60)
    if seconds < 0:
        raise ValueError(f"[instagram] task_retry_delay_seconds is {seconds}: give a number of seconds >= 0")
    return timedelta(seconds=seconds)


GRAPH_TASK_DEFAULTS: dict[str, Any] = {
    "pool": GRAPH_API_POOL,
    "retries": DEFAULT_RETRIES,
    "retry_delay": _first_retry_delay(),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": report_failure,
}
