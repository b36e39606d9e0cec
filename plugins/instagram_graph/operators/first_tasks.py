"""The first task of every DAG: it runs outside the Graph API pool and says when that pool is missing.

Without the pool, the run's Graph API tasks would wait in 'scheduled' forever (see
:mod:`~instagram_graph.pool_check`). The scheduled DAGs' first task also lists the shards of
accounts to map over; the triggered DAGs' first task only checks. None of them calls the Graph API.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException

from instagram_graph.errors import reconnect_hint
from instagram_graph.pool_check import GraphApiPoolMissing, require_graph_api_pool
from instagram_graph.token_lifecycle import DEFAULT_REFRESH_WITHIN, accounts_due, facebook_users_due

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


@task(task_id="account_shards", pool="default_pool")
def account_shards(accounts_per_task: int | str = 0) -> list[dict[str, Any]]:
    """The shards of enabled accounts to map over (see :mod:`instagram_graph.shards`): a few
    dozen task instances per run whatever the number of accounts (``accounts_per_task`` 0),
    or the size asked for (1: one task per account). Never more than Airflow's
    ``[core] max_map_length``. Reads the warehouse only, outside the Graph API pool."""
    from airflow.configuration import conf

    from instagram_graph import db
    from instagram_graph.shards import shards_of_enabled_accounts

    graph_api_pool_required()
    try:
        per_task = int(accounts_per_task)
        if per_task < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise AirflowFailException(
            f"accounts_per_task={accounts_per_task!r} is not a whole number >= 0: give 0 (automatic), 1 (one task "
            "per account) or the number of accounts per task"
        ) from None
    max_map_length = conf.getint("core", "max_map_length", fallback=1024)
    with db.connection_loss_explained():
        conn = db.connect()
        try:
            shards = shards_of_enabled_accounts(conn, per_task, max_map_length=max_map_length)
        finally:
            conn.close()
    if not shards:
        log.warning("No enabled accounts. Add one with: %s", reconnect_hint(None))
    else:
        accounts = sum(shard.accounts for shard in shards)
        log.info("%d enabled account(s) in %d shard(s): %s", accounts, len(shards),
                 ", ".join(shard.label for shard in shards[:10]) + (" ..." if len(shards) > 10 else ""))
    return [shard.as_arg() for shard in shards]


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


@task(task_id="facebook_users_due", pool="default_pool")
def facebook_users_due_task(expires_within_days: int | str = DEFAULT_REFRESH_WITHIN.days) -> list[str]:
    """Facebook users (Facebook Login) whose long-lived token expires within the given days.
    Their accounts' Page tokens never expire; the user's token is renewed so that the user's
    access can still be revoked and the Pages listed again. Reads the warehouse only."""
    from instagram_graph.accounts import AccountRegistry

    graph_api_pool_required()

    days = int(expires_within_days)
    users = facebook_users_due(AccountRegistry(), timedelta(days=days))
    log.info("%d Facebook user token(s) expire within %d days: %s", len(users), days, ", ".join(users) or "none")
    return users
