"""Token refresh as Airflow tasks: which accounts are due, and one refresh per account.

Mapped over accounts, so a token that cannot be refreshed fails its own task - red in
the grid, named by its account (``map_index_template``) - and tells who must reconnect,
while every other account's token is still refreshed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, task
from airflow.sdk.exceptions import AirflowFailException

from instagram_graph.errors import TokenError, reconnect_hint
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.operators.sync import GRAPH_TASK_DEFAULTS
from instagram_graph.token_lifecycle import TokenRefreshError, accounts_due, refresh

log = logging.getLogger(__name__)


@task(task_id="tokens_due", pool="default_pool")
def tokens_due(expires_within_days: int | str = 7) -> list[str]:
    """Accounts whose token expires within the given days and is at least 24 h old. Reads the
    warehouse only, so it runs outside the Graph API pool and checks that the pool exists."""
    from instagram_graph.operators.sync import graph_api_pool_required
    from instagram_graph.tokens import TokenStore

    graph_api_pool_required()

    days = int(expires_within_days)
    accounts = accounts_due(TokenStore(), timedelta(days=days))
    log.info("%d token(s) expire within %d days: %s", len(accounts), days, ", ".join(accounts) or "none")
    return accounts


class InstagramTokenRefreshOperator(BaseOperator):
    """Refresh one account's long-lived token and store the new one, encrypted.

    :param account_id: the IG user id; usually mapped from :func:`tokens_due`.
    """

    template_fields: Sequence[str] = ("account_id",)
    ui_color = "#e4e0f5"

    def __init__(
        self,
        *,
        account_id: str,
        instagram_graph_conn_id: str = InstagramGraphHook.default_conn_name,
        redis_conn_id: str = "instagram_redis",
        **kwargs: Any,
    ) -> None:
        super().__init__(**{**GRAPH_TASK_DEFAULTS, **kwargs})
        self.account_id = account_id
        self.instagram_graph_conn_id = instagram_graph_conn_id
        self.redis_conn_id = redis_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        account_id = str(self.account_id)
        hook = InstagramGraphHook(self.instagram_graph_conn_id, redis_conn_id=self.redis_conn_id)
        try:
            result = refresh(hook, hook.token_store, account_id)
        except (TokenError, TokenRefreshError) as exc:
            raise AirflowFailException(
                f"The token of Instagram account {account_id} cannot be refreshed: {type(exc).__name__}: {exc}. "
                f"The account must be reconnected before its token expires: get a new long-lived token and run "
                f"`{reconnect_hint(account_id)}`"
            ) from None
        finally:
            hook.close()
        return result.summary()
