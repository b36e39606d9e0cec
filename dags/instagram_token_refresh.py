"""
### Instagram token refresh (daily)

Refreshes every enabled account's long-lived token that expires within
`expires_within_days` (default 7) and is at least 24 hours old (Meta refreshes no
younger token), and stores the new token encrypted in **`instagram.oauth_tokens`**
(new ciphertext, `expires_at`, `issued_at`, `last_refreshed_at`).

One task per account, named by the account: a token that cannot be refreshed (expired,
revoked, password changed...) turns its own task red and its log says which account
must be reconnected (`instagram-graph accounts add ACCOUNT_ID < token-file`). The other
accounts are refreshed all the same.

Accounts connected with **Facebook Login** use Page tokens, which do not expire: they are
never refreshed. The Facebook user behind them has a 60-day token of its own (in
**`instagram.facebook_users`**); it is renewed (`fb_exchange_token`) when it expires within
the same days, one task per user, named by the user.

To end an account's access instead: `instagram-graph accounts revoke ACCOUNT_ID`.
"""

from datetime import datetime

from airflow.sdk import DAG, Param

from instagram_graph.operators.first_tasks import facebook_users_due_task, tokens_due
from instagram_graph.operators.policy import GRAPH_TASK_DEFAULTS
from instagram_graph.operators.tokens import FacebookUserTokenRefreshOperator, InstagramTokenRefreshOperator
from instagram_graph.token_lifecycle import DEFAULT_REFRESH_WITHIN, REFRESH_WITHIN_DAYS_MAX, REFRESH_WITHIN_DAYS_MIN

with DAG(
    dag_id="instagram_token_refresh",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["instagram", "tokens"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "expires_within_days": Param(
            DEFAULT_REFRESH_WITHIN.days, type="integer", minimum=REFRESH_WITHIN_DAYS_MIN,
            maximum=REFRESH_WITHIN_DAYS_MAX, title="Refresh tokens expiring within (days)",
        ),
    },
):
    InstagramTokenRefreshOperator.partial(
        task_id="refresh_token",
        map_index_template="{{ task.account_id }}",
    ).expand(account_id=tokens_due("{{ params.expires_within_days }}"))
    FacebookUserTokenRefreshOperator.partial(
        task_id="refresh_facebook_user",
        map_index_template="Facebook user {{ task.user_id }}",
    ).expand(user_id=facebook_users_due_task("{{ params.expires_within_days }}"))
