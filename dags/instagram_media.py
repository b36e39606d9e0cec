"""
### Instagram media, stories and comments (hourly)

For every enabled account:
1. **media** into **`instagram.media`** and carousel slides into
   **`instagram.media_children`** (children come in the same call by field expansion).
   The first run pages the whole edge; later runs stop once they reach media older than
   the look-back window (param `lookback_days`), so a run costs a few calls and keeps
   the counts of recent posts fresh. Updates the `instagram.media` asset.
2. **stories** that are live now into `instagram.media` (`media_product_type = 'STORY'`),
   and their insights into **`instagram.media_insights`**: Meta serves a story's insights
   only for its 24 hours, so the last hourly read before it expires holds its final numbers.
3. **comments** and replies of media from the last `comment_days` days into
   **`instagram.comments`**.

Set param `full_refresh` to page every media again (e.g. to refresh old like counts).
A post or comment deleted on Instagram keeps its row, marked with `deleted_at`, and is
not asked about again.
"""

from datetime import datetime

from airflow.sdk import DAG, Param

from instagram_graph import assets
from instagram_graph.operators.first_tasks import account_shards
from instagram_graph.operators.policy import GRAPH_TASK_DEFAULTS
from instagram_graph.operators.shard_sync import (
    SHARD_MAP_INDEX,
    InstagramShardSyncOperator,
    accounts_per_task_param,
)
from instagram_graph.operators.sync import option_param

with DAG(
    dag_id="instagram_media",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["instagram", "sync"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "accounts_per_task": accounts_per_task_param(),
        "lookback_days": option_param("lookback_days", 3, "Incremental runs re-read media this many days back"),
        "comment_days": option_param("comment_days", 7, "Comments are read for media this many days old"),
        "full_refresh": Param(False, type="boolean", description="Page every media, not just recent ones."),
    },
):
    shards = account_shards("{{ params.accounts_per_task }}")
    media = InstagramShardSyncOperator.partial(
        task_id="sync_media",
        stream="media",
        options={"lookback_days": "{{ params.lookback_days }}", "full_refresh": "{{ params.full_refresh }}"},
        outlets=[assets.MEDIA],
        map_index_template=SHARD_MAP_INDEX,
    ).expand(shard=shards)
    stories = InstagramShardSyncOperator.partial(
        task_id="sync_stories", stream="stories", map_index_template=SHARD_MAP_INDEX
    ).expand(shard=shards)
    comments = InstagramShardSyncOperator.partial(
        task_id="sync_comments",
        stream="comments",
        options={"comment_days": "{{ params.comment_days }}"},
        map_index_template=SHARD_MAP_INDEX,
    ).expand(shard=shards)
    media >> comments
