"""
### Instagram insights (daily, backfillable)

For every enabled account:
1. **account insights** for the run's data interval into **`instagram.account_insights`**
   (long format: one row per metric, period, end time and breakdown). Each run also
   re-reads the two days before its interval, because Meta's numbers settle for up to
   48 hours. Fill past days with a backfill:
   `airflow backfill create --dag-id instagram_insights --from-date 2026-01-01 --to-date 2026-01-31`
   (or *Trigger → Backfill* in the UI).
2. **media insights** into **`instagram.media_insights`**: media younger than
   `recent_days` every run, older media (up to `max_age_days`) once a week. The common
   metrics (reach, views, likes, comments, saved, shares, total_interactions) come
   `insights_page_size` media per call by field expansion; the type-specific ones (FEED:
   profile visits, follows; REELS: watch time) one call per media, every day while the
   media is younger than `young_days` and once when it is `settled_days` old.
   `insights_road=per_media` goes back to one call per media with every metric, every run.
   Stories are read hourly by `instagram_media` while they are live; media deleted on
   Instagram are skipped (`deleted_at`).

A metric Meta refuses (retired, not for this media type, media older than the business
account) is logged and skipped; refusals are remembered in `instagram.metric_refusals`
and asked again after a week. follower_count is read for the last 30 days only. Each run
spends at most `call_budget` calls per account; when it is spent the run stops cleanly and
the next run goes on from there.
"""

from datetime import datetime

from airflow.sdk import DAG, CronDataIntervalTimetable

from instagram_graph import assets
from instagram_graph.operators.first_tasks import account_shards
from instagram_graph.operators.policy import GRAPH_TASK_DEFAULTS
from instagram_graph.operators.shard_sync import (
    SHARD_MAP_INDEX,
    InstagramShardSyncOperator,
    accounts_per_task_param,
)
from instagram_graph.operators.sync import choice_param, option_param

with DAG(
    dag_id="instagram_insights",
    # Data intervals, so each run covers one day: a backfill from D1 to D2 reads exactly
    # D1..D2, a scheduled run the day that just ended, a manual run yesterday. (Cron strings
    # give empty intervals in Airflow 3, and "the day before" then shifts backfills by a day.)
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=3,
    tags=["instagram", "sync", "insights"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "accounts_per_task": accounts_per_task_param(),
        "call_budget": option_param("call_budget", 150, "Graph API calls per account and task"),
        "recent_days": option_param("recent_days", 30, "Media this many days old: insights every run"),
        "max_age_days": option_param("max_age_days", 90, "Older media: no insights"),
        "insights_road": choice_param(
            "insights_road", "expansion", "How media insights are read: a page of media per call, or one per media"
        ),
        "insights_page_size": option_param("insights_page_size", 50, "Media per expanded insights call"),
        "young_days": option_param("young_days", 2, "Type-specific metrics daily while a media is younger (0: off)"),
        "settled_days": option_param("settled_days", 28, "Type-specific metrics once more at this age (0: off)"),
    },
):
    shards = account_shards("{{ params.accounts_per_task }}")
    InstagramShardSyncOperator.partial(
        task_id="sync_account_insights",
        stream="account_insights",
        call_budget="{{ params.call_budget }}",
        outlets=[assets.ACCOUNT_INSIGHTS],
        map_index_template=SHARD_MAP_INDEX,
    ).expand(shard=shards)
    InstagramShardSyncOperator.partial(
        task_id="sync_media_insights",
        stream="media_insights",
        call_budget="{{ params.call_budget }}",
        options={
            "recent_days": "{{ params.recent_days }}",
            "max_age_days": "{{ params.max_age_days }}",
            "insights_road": "{{ params.insights_road }}",
            "insights_page_size": "{{ params.insights_page_size }}",
            "young_days": "{{ params.young_days }}",
            "settled_days": "{{ params.settled_days }}",
        },
        outlets=[assets.MEDIA_INSIGHTS],
        map_index_template=SHARD_MAP_INDEX,
    ).expand(shard=shards)
