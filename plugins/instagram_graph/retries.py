"""The retry policy for Graph API calls, composed from tenacity parts.

In one sentence: retry what the error catalogue calls retryable (and short throttles) at most three times,
waiting 1 s, 2 s, 4 s ... capped at 30 s plus jitter; never retry a call with side
effects after an ambiguous failure, because Meta may already have done it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from instagram_graph.errors import GraphApiError, RateLimitError
from instagram_graph.settings import GraphApiSettings

if TYPE_CHECKING:
    from airflow.sdk.types import Logger  # the task log (self.log of a hook)


def is_short_throttle(error: BaseException, max_inline_wait: float) -> bool:
    return (
        isinstance(error, RateLimitError)
        and error.retry_after is not None
        and error.retry_after <= max_inline_wait
    )


class wait_backoff_unless_throttled(wait_base):
    """Exponential backoff with jitter, except after a throttle.

    After a throttle the next attempt waits in the hook's admission gate instead, for the
    regain time Meta gave (recorded in Redis, so every worker waits, not just this one).
    """

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and isinstance(outcome.exception(), RateLimitError):
            return 0.0
        return self.backoff(retry_state)


def build_retrying(
    settings: GraphApiSettings,
    *,
    idempotent: bool,
    log: logging.Logger | Logger,
    describe: Callable[[], str],
) -> Retrying:
    """A tenacity ``Retrying`` for one call.

    :param idempotent: False for publish and send: then only throttles (refused before
        Meta did anything) are retried, never transient or network failures.
    :param describe: names the call in log lines (method and path, never the URL).
    """

    def should_retry(error: BaseException) -> bool:
        if is_short_throttle(error, settings.max_inline_wait):
            return True
        return idempotent and isinstance(error, GraphApiError) and error.retryable

    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        fbtrace = getattr(error, "fbtrace_id", None) or "-"
        log.warning(
            "%s failed on attempt %d of %d (%s, fbtrace_id %s); retrying in %.2fs",
            describe(),
            state.attempt_number,
            settings.max_attempts,
            type(error).__name__,
            fbtrace,
            state.upcoming_sleep,
        )

    return Retrying(
        retry=retry_if_exception(should_retry),
        stop=stop_after_attempt(settings.max_attempts),
        wait=wait_backoff_unless_throttled(
            wait_exponential_jitter(
                multiplier=settings.retry_base_delay,
                max=settings.retry_max_delay,
                exp_base=2,
                jitter=settings.retry_base_delay,
            )
        ),
        before_sleep=log_retry,
        reraise=True,
    )


__all__ = ["GraphApiError", "build_retrying", "is_short_throttle", "wait_backoff_unless_throttled"]
