"""Account insights, long-format, for the run's data interval; and the refused-metric rule
every insights read shares (:func:`fetch_skipping_refused`).

Account insights follow the Airflow data interval, so backfills fill past days; each
run also re-reads the ``LAG_DAYS`` before its interval because Meta's numbers settle
for up to 48 hours. follower_count is asked only for the last 30 days (older days fail
the whole call at Meta). A metric Meta refuses (retired, unsupported) is logged and
skipped, never a failed run. Media insights: :mod:`instagram_graph.sync.media_insights`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from instagram_graph.errors import (
    InsightsUnavailableError,
    InvalidRequestError,
    ObjectNotFoundError,
)
from instagram_graph.metrics import (
    ACCOUNT_TIME_SERIES,
    ACCOUNT_TOTAL_VALUE,
    FOLLOWER_COUNT,
    FOLLOWER_COUNT_MAX_AGE_DAYS,
    LAG_DAYS,
    MAX_SPAN_DAYS,
)
from instagram_graph.models import Insight
from instagram_graph.records import ACCOUNT_INSIGHTS, account_insight_rows
from instagram_graph.sync.base import BudgetSpent, SyncResult, SyncRun
from instagram_graph.warehouse import load

log = logging.getLogger(__name__)

META_DAY_ZONE = ZoneInfo("America/Los_Angeles")  # Meta's insights days end at midnight Pacific


def _spans(
    start: datetime, end: datetime, days: int, *, split_at: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """[start, end) in spans of at most ``days``; none crosses ``split_at``."""
    if split_at is not None and start < split_at < end:
        return _spans(start, split_at, days) + _spans(split_at, end, days)
    spans = []
    while start < end:
        stop = min(start + timedelta(days=days), end)
        spans.append((start, stop))
        start = stop
    return spans


def _today(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)


def follower_count_floor(now: datetime | None = None) -> datetime:
    """The oldest UTC-midnight ``since`` Meta answers follower_count for.

    Meta counts "the last 30 days excluding today" in its own days, which start at
    midnight Pacific time (07:00 or 08:00 UTC). Our spans start at UTC midnight, so the
    floor is the first UTC midnight at or after the start of that Pacific day.
    """
    pacific_today = (now or datetime.now(UTC)).astimezone(META_DAY_ZONE).date()
    cutoff = datetime.combine(
        pacific_today - timedelta(days=FOLLOWER_COUNT_MAX_AGE_DAYS), time(0), tzinfo=META_DAY_ZONE
    ).astimezone(UTC)
    floor = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor if floor >= cutoff else floor + timedelta(days=1)


def days_of(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The interval to read. A manual run has an empty interval (start == end): it reads
    the last whole day before its logical date, which is what a person triggering it expects."""
    if start < end:
        return start, end
    day_end = end.replace(hour=0, minute=0, second=0, microsecond=0)
    return day_end - timedelta(days=1), day_end


def reread_start(interval_start: datetime, lag_days: int, now: datetime | None = None) -> datetime:
    """Where a run starts reading: earlier than its interval only for days that may still
    change (those within ``lag_days`` of now), so backfills of settled days stay exact."""
    unsettled_from = _today(now) - timedelta(days=lag_days)
    return min(interval_start, max(interval_start - timedelta(days=lag_days), unsettled_from))


def _refused_metric(error: InvalidRequestError, metrics: Sequence[str]) -> str | None:
    """The metric an error-100 message names, if it names one of ours."""
    if isinstance(error, (ObjectNotFoundError, InsightsUnavailableError)):
        return None
    text = error.api_message
    for metric in sorted(metrics, key=len, reverse=True):
        if re.search(rf"\b{re.escape(metric)}\b", text):
            return metric
    return None


def fetch_skipping_refused(
    fetch: Callable[[Sequence[str]], list[Insight]],
    metrics: Sequence[str],
    run: SyncRun,
    result: SyncResult,
    what: str,
    on_refused: Callable[[str, str], None] | None = None,
) -> list[Insight]:
    """Call ``fetch(metrics)``; on a refusal naming a metric, drop it and ask again.

    ``on_refused(metric, message)`` hears of each refusal (to remember it).
    """
    remaining = list(metrics)
    while remaining:
        run.spend()
        try:
            return fetch(remaining)
        except InvalidRequestError as exc:
            metric = _refused_metric(exc, remaining)
            if metric is None:
                raise
            log.warning("%s: Meta refused metric %s (%s); skipping it", what, metric, exc.api_message)
            result.skipped.append(f"{what}: {metric}")
            remaining.remove(metric)
            if on_refused is not None:
                on_refused(metric, exc.api_message)
    return []


def sync_account_insights(run: SyncRun) -> SyncResult:
    """Time-series metrics in spans of up to 30 days; total-value metrics one day per call.

    follower_count is left out of spans older than :func:`follower_count_floor` (a span
    never straddles it), so a backfill of old days reads every other metric.
    """
    result = SyncResult("account_insights", run.account_id)
    interval_start, end = days_of(run.interval_start, run.interval_end)
    start = reread_start(interval_start, run.option("lag_days", LAG_DAYS))
    floor = follower_count_floor()
    hook, account = run.hook, run.account_id
    time_series = run.option("time_series_metrics", ACCOUNT_TIME_SERIES)
    try:
        for since, until in _spans(start, end, MAX_SPAN_DAYS, split_at=floor):
            metrics = [m for m in time_series if m != FOLLOWER_COUNT or since >= floor]
            insights = fetch_skipping_refused(
                partial(hook.get_account_insights, account, period="day", since=since, until=until),
                metrics,
                run,
                result,
                f"account {account}",
            )
            rows = [row for insight in insights for row in account_insight_rows(account, insight, until)]
            result.add(load(run.conn, [(ACCOUNT_INSIGHTS, rows)]))
        for since, until in _spans(start, end, 1):
            insights = fetch_skipping_refused(
                partial(
                    hook.get_account_insights, account, period="day", metric_type="total_value", since=since, until=until
                ),
                run.option("total_value_metrics", ACCOUNT_TOTAL_VALUE),
                run,
                result,
                f"account {account}",
            )
            rows = [row for insight in insights for row in account_insight_rows(account, insight, until)]
            result.add(load(run.conn, [(ACCOUNT_INSIGHTS, rows)]))
    except BudgetSpent:
        result.complete = False
    result.calls = run.calls_spent
    return result
