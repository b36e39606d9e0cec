"""Token refresh as an Airflow task: one refresh per account (Instagram Login), one renewal
per Facebook user (Facebook Login).

Mapped over the accounts due (:func:`~instagram_graph.operators.first_tasks.tokens_due`),
so a token that cannot be refreshed fails its own task - red in the grid, named by its
account (``map_index_template``) - and tells who must reconnect, while every other
account's token is still refreshed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from instagram_graph.errors import TokenError, reconnect_hint
from instagram_graph.operators.base import InstagramBaseOperator
from instagram_graph.token_lifecycle import TokenRefreshError, refresh, refresh_facebook_user


class InstagramTokenRefreshOperator(InstagramBaseOperator):
    """Refresh one account's long-lived token and store the new one, encrypted.

    :param account_id: the IG user id; usually mapped from :func:`~instagram_graph.operators.first_tasks.tokens_due`.

    The connection ids and task defaults are :class:`~instagram_graph.operators.base.InstagramBaseOperator`'s.
    """

    template_fields: Sequence[str] = ("account_id",)
    ui_color = "#e4e0f5"

    def execute(self, context: Any) -> dict[str, Any]:
        account_id = str(self.account_id)
        with self.hook_scope():
            try:
                result = refresh(self.hook, self.hook.token_store, account_id)
            except (TokenError, TokenRefreshError) as exc:
                raise AirflowFailException(
                    f"The token of Instagram account {account_id} cannot be refreshed: {type(exc).__name__}: {exc}. "
                    f"The account must be reconnected before its token expires: get a new long-lived token and run "
                    f"`{reconnect_hint(account_id)}`"
                ) from None
        return result.summary()


class FacebookUserTokenRefreshOperator(InstagramBaseOperator):
    """Renew one Facebook user's long-lived token (``fb_exchange_token``) and store the new one, encrypted.

    :param user_id: the Facebook user id; usually mapped from
        :func:`~instagram_graph.operators.first_tasks.facebook_users_due_task`.

    The user's Page tokens (its accounts') do not expire and are left as they are.
    """

    template_fields: Sequence[str] = ("user_id",)
    ui_color = "#e4e0f5"

    def __init__(self, *, user_id: str, **kwargs: Any) -> None:
        super().__init__(account_id=user_id, **kwargs)  # no account of its own: the user stands in
        self.user_id = user_id

    def execute(self, context: Any) -> dict[str, Any]:
        user_id = str(self.user_id)
        with self.hook_scope():
            try:
                result = refresh_facebook_user(self.hook, self.hook.token_store, user_id)
            except (TokenError, TokenRefreshError) as exc:
                raise AirflowFailException(
                    f"The token of Facebook user {user_id} cannot be renewed: {type(exc).__name__}: {exc}. Its "
                    "accounts keep working on their Page tokens, but the user's access can no longer be revoked "
                    "from here: run `instagram-graph accounts discover` with a new token of that user"
                ) from None
        return {"facebook_user_id": result.account_id, "expires_at": result.summary()["expires_at"]}
