"""Which days an insights read covers: follower_count's floor in Meta's (Pacific) days."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest


@pytest.mark.parametrize(
    ("now", "floor"),
    [
        # before midnight Pacific (08:00 UTC in winter), Meta's today is still Nov 30
        ("2026-12-01T05:00:00+00:00", "2026-11-01T00:00:00+00:00"),
        ("2026-12-01T08:05:00+00:00", "2026-11-02T00:00:00+00:00"),
        # summer: Pacific midnight is 07:00 UTC
        ("2026-07-15T07:30:00+00:00", "2026-06-16T00:00:00+00:00"),
    ],
)
def test_follower_count_floor_follows_metas_pacific_days(now, floor) -> None:
    from instagram_graph.sync.insights import follower_count_floor

    assert follower_count_floor(datetime.fromisoformat(now)) == datetime.fromisoformat(floor)


def _insights_dag():
    """The DAG as the scheduler sees it (serialized), whose timetable plans runs and backfills."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    from tests.dags.conftest import ROOT

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["instagram_insights"]
    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def test_a_backfill_of_the_insights_dag_reads_exactly_the_days_asked_for() -> None:
    # `airflow backfill create --from-date 2026-11-28 --to-date 2026-11-30` makes the runs the
    # timetable lists between those dates (airflow.models.backfill._get_info_list); each run's
    # data interval is what the stream reads.
    from instagram_graph.sync.insights import days_of

    serialized = _insights_dag()
    first, last = datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    runs = list(serialized.iter_dagrun_infos_between(first, last))
    read = [days_of(run.data_interval.start, run.data_interval.end) for run in runs]
    assert [(start.date().isoformat(), (end - start).days) for start, end in read] == [
        ("2026-11-28", 1), ("2026-11-29", 1), ("2026-11-30", 1)
    ]


def test_a_scheduled_run_reads_the_day_that_just_ended_and_a_manual_run_yesterday() -> None:
    from instagram_graph.sync.insights import days_of

    timetable = _insights_dag().timetable
    manual = timetable.infer_manual_data_interval(run_after=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    assert days_of(manual.start, manual.end) == (
        datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    scheduled = timetable.next_dagrun_info(
        last_automated_data_interval=manual, restriction=_no_restriction()
    )
    assert scheduled.data_interval.start == manual.end, "the next scheduled run reads the next whole day"
    assert scheduled.run_after == scheduled.data_interval.end, "and runs once that day has ended"


def _no_restriction():
    from airflow.timetables.base import TimeRestriction

    # catchup: the next run follows the last one whatever the date today (without it, today wins)
    return TimeRestriction(earliest=None, latest=None, catchup=True)
