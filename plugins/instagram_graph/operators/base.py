"""InstagramBaseOperator: what every Instagram operator has in common, so each holds only its own logic.

In the style of the Amazon provider's ``AwsBaseOperator``: the base names its hook class
once, owns the connection ids and builds the hook from them (``self.hook``), opens the
warehouse connection a unit of work needs, applies the shared failure policy
(:mod:`~instagram_graph.operators.policy`) and turns a refused request (bad input) into a
task failure that is not retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from instagram_graph import db
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.jobs import RequestRefused, open_warehouse
from instagram_graph.operators.policy import GRAPH_TASK_DEFAULTS, graph_api_outcomes
from instagram_graph.validation import InvalidInput

DEFAULT_REDIS_CONN_ID = "instagram_redis"


class InstagramBaseOperator(BaseOperator):
    """Base of the Instagram operators: connection ids, hook, warehouse and failure policy.

    Task arguments default to :data:`~instagram_graph.operators.policy.GRAPH_TASK_DEFAULTS`
    (the Graph API pool, retries with exponential backoff, the failure report); arguments
    given to the operator win.

    :param account_id: the IG user id the task works for.
    :param instagram_graph_conn_id: the ``instagram_graph`` connection.
    :param redis_conn_id: the Redis connection every worker shares for the rate limiter.
    """

    hook_class: type[InstagramGraphHook] = InstagramGraphHook

    def __init__(
        self,
        *,
        account_id: str,
        instagram_graph_conn_id: str = InstagramGraphHook.default_conn_name,
        redis_conn_id: str = DEFAULT_REDIS_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**{**GRAPH_TASK_DEFAULTS, **kwargs})
        self.account_id = account_id
        self.instagram_graph_conn_id = instagram_graph_conn_id
        self.redis_conn_id = redis_conn_id

    @cached_property
    def hook(self) -> InstagramGraphHook:
        """The Graph API hook, built on first use in an :meth:`hook_scope`."""
        return self.hook_class(self.instagram_graph_conn_id, redis_conn_id=self.redis_conn_id)

    @contextmanager
    def hook_scope(self) -> Iterator[None]:
        """One execute or resume: the hook built in it is closed at its end (pooled HTTP
        session, Redis client), and the next scope builds a new one."""
        try:
            yield
        finally:
            hook = self.__dict__.pop("hook", None)
            if hook is not None:
                hook.close()

    @contextmanager
    def warehouse(self, *, autocommit: bool = False) -> Iterator[Any]:
        """A new warehouse connection, closed afterwards; a lost connection is explained as such.

        :param autocommit: each statement is durable at once (the publish and message jobs,
            whose every state change must outlive a crash).
        """
        with db.connection_loss_explained():
            conn = open_warehouse() if autocommit else db.connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def graph_api_work(self, *, resume: str, consequence: str = "") -> Iterator[None]:
        """The shared failure policy around Graph API and warehouse work for this task's account
        (see :func:`~instagram_graph.operators.policy.graph_api_outcomes`)."""
        with db.connection_loss_explained(), graph_api_outcomes(
            self, str(self.account_id), resume=resume, consequence=consequence
        ):
            yield

    @contextmanager
    def refused_as_failure(self, prefix: str = "") -> Iterator[None]:
        """Bad input (a refused request) fails the task at once: a retry would be refused alike."""
        try:
            yield
        except (RequestRefused, InvalidInput) as exc:
            raise AirflowFailException(f"{prefix}{exc}") from None


def data_interval(context: Any) -> tuple[datetime, datetime]:
    """The run's data interval; a manual run without one covers the last day."""
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if end is None:
        end = datetime.now(UTC)
    if start is None:
        start = end - timedelta(days=1)
    return start, end
