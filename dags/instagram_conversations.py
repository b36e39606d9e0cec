"""
### Instagram conversations (every 15 minutes)

For every enabled account: Direct conversations into **`instagram.conversations`** and
their messages into **`instagram.messages`**. Only conversations whose `updated_time`
moved since the last run are read again, so a quiet inbox costs one call.
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
    dag_id="instagram_conversations",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["instagram", "sync", "messaging"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={"accounts_per_task": accounts_per_task_param()},
):
    InstagramShardSyncOperator.partial(
        task_id="sync_conversations",
        stream="conversations",
        outlets=[assets.MESSAGES],
        map_index_template=SHARD_MAP_INDEX,
    ).expand(shard=account_shards("{{ params.accounts_per_task }}"))
