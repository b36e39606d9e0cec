"""The first task of every DAG: it runs outside the Graph API pool and says when that pool is missing.

Without the pool, the run's Graph API tasks would wait in 'scheduled' forever (see
:mod:`~instagram_graph.pool_check`). The scheduled DAGs' first task also lists the accounts
to map over; the triggered DAGs' first task only checks. None of them calls the Graph API.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException

from instagram_graph.errors import reconnect_hint
from instagram_graph.pool_check import GraphApiPoolMissing, require_graph_api_pool
from instagram_graph.token_lifecycle import DEFAULT_REFRESH_WITHIN, accounts_due

log = logging.getLogger(__name__)


def graph_api_pool_required() -> None:
    """Fail the task at once (no retry) when the Graph API pool is missing."""
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
    from instagram_graph.accounts import AccountRegistry

    graph_api_pool_required()

    accounts = AccountRegistry().enabled_accounts()
    if not accounts:
        log.warning("No enabled accounts. Add one with: %s", reconnect_hint(None))
    return accounts


@task(task_id="tokens_due", pool="default_pool")
def tokens_due(expires_within_days: int | str = DEFAULT_REFRESH_WITHIN.days) -> list[str]:
    """Accounts whose token expires within the given days and is at least 24 h old. Reads the
    warehouse only, so it runs outside the Graph API pool and checks that the pool exists."""
    from instagram_graph.accounts import AccountRegistry

    graph_api_pool_required()

    days = int(expires_within_days)
    accounts = accounts_due(AccountRegistry(), timedelta(days=days))
    log.info("%d token(s) expire within %d days: %s", len(accounts), days, ", ".join(accounts) or "none")
    return accounts
