"""
### Instagram profiles (hourly)

For every enabled account: the IG User object (username, bio, followers, follows,
media count) into **`instagram.profiles`** (latest, one row per account) and a row per
run into **`instagram.profile_snapshots`** (history, keyed by the run's interval end, so
a rerun overwrites its own snapshot).

One mapped task per account: a failing account (expired token, missing permission)
fails only its own task, and its log says what to do.
"""

from datetime import datetime

from airflow.sdk import DAG

from instagram_graph import assets
from instagram_graph.operators.first_tasks import account_shards
from instagram_graph.operators.policy import GRAPH_TASK_DEFAULTS
from instagram_graph.operators.shard_sync import (
    SHARD_MAP_INDEX,
    InstagramShardSyncOperator,
    accounts_per_task_param,
)

with DAG(
    dag_id="instagram_profiles",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["instagram", "sync"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={"accounts_per_task": accounts_per_task_param()},
):
    InstagramShardSyncOperator.partial(
        task_id="sync_profile",
        stream="profile",
        outlets=[assets.PROFILES],
        map_index_template=SHARD_MAP_INDEX,
    ).expand(shard=account_shards("{{ params.accounts_per_task }}"))
