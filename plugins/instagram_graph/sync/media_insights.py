"""Media insights: a page of media per call for the common metrics, the rest a few times per media.

Which media are due is unchanged (:func:`~instagram_graph.sync.stream_state.media_for_insights`:
younger than ``recent_days`` every run, older ones up to ``max_age_days`` once they are
``stale_days`` old). How they are read is the ``insights_road`` option:

``expansion`` (default)
    The common metrics (:data:`~instagram_graph.metrics.EXPANDED_MEDIA_METRICS`) come by
    walking the /media edge newest first with ``insights.metric(...)`` expanded, down to
    the oldest due media: one call per page of ``insights_page_size`` media. A page asks
    only what every kind of media expected in it accepts, so a kind that refuses a metric
    does not fail its neighbours' page; when Meta still refuses a page, the walk's ladder
    (:mod:`~instagram_graph.sync.insight_walk`) finds the one media and reads it alone.
    The first media posted before the business conversion (2108006) ends the walk: every
    older media is just as old, and none is asked about again.

    The type-specific metrics (and what a page had to leave out) cost one call per media,
    so they are read while a media is young (below ``young_days``: at most once per day of
    its age) and once when it has settled (from ``settled_days`` for
    ``settled_window_days``), then never again. ``young_days=0`` / ``settled_days=0`` turn
    a window off.

``per_media``
    One ``/{media-id}/insights`` call per due media with its whole metric set, every run.

Either way a refused metric is remembered (:mod:`~instagram_graph.sync.refusals`), media
gone at Meta are marked (:mod:`~instagram_graph.sync.vanished`), and nothing fails the run
for them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from instagram_graph.errors import (
    InsightsUnavailableError,
    InvalidRequestError,
    ObjectNotFoundError,
    PermissionDeniedError,
    TooMuchDataError,
)
from instagram_graph.graph_time import parse_graph_time
from instagram_graph.metrics import EXPANDED_MEDIA_METRICS, MEDIA_METRICS, media_metrics, metric_groups
from instagram_graph.models import Insight, Media
from instagram_graph.records import MEDIA, MEDIA_INSIGHTS, media_insight_rows, media_row
from instagram_graph.sync.base import OPTION_CHOICES, BudgetSpent, SyncOptionError, SyncResult, SyncRun
from instagram_graph.sync.insight_walk import InsightWalk, ListedMedia, RefusedMedia
from instagram_graph.sync.insights import fetch_skipping_refused
from instagram_graph.sync.refusals import DEFAULT_RETRY_DAYS, Kind, MetricRefusals, kind_of
from instagram_graph.sync.stream_state import (
    MediaKind,
    media_for_insights,
    media_for_specific_insights,
    media_in_edge_order,
    read_state,
    record_reads,
    record_specific_read,
    write_state,
)
from instagram_graph.sync.vanished import mark_media_gone, mark_unlisted_media_gone
from instagram_graph.warehouse import load

log = logging.getLogger(__name__)

DEFAULT_RECENT_DAYS = 30
DEFAULT_MAX_AGE_DAYS = 90
DEFAULT_STALE_DAYS = 7
DEFAULT_PAGE_SIZE = 50  # media per expanded call; Meta's "reduce the amount of data" lowers it
DEFAULT_YOUNG_DAYS = 2
DEFAULT_SETTLED_DAYS = 28
DEFAULT_SETTLED_WINDOW_DAYS = 7
ROADS = OPTION_CHOICES["insights_road"]
STORY_FIELDS = "id,caption,media_type,media_product_type,media_url,permalink,thumbnail_url,timestamp"

# The state key under which the stream remembers where the business conversion is.
NO_INSIGHTS_UNTIL = "no_insights_until"


def insights_of(media: Media) -> list[Insight]:
    """The insights a field-expanded read gave this media ([] when Meta sent none)."""
    edge = media.get("insights")
    return list(edge.get("data") or []) if edge else []


def read_media_insights(
    run: SyncRun,
    result: SyncResult,
    refusals: MetricRefusals,
    media_id: str,
    media_type: str | None,
    product_type: str | None,
    metrics: Sequence[str] | None = None,
) -> list[str]:
    """Read and load one media's insights by its own call; the metrics loaded, [] when the
    media has none to give (gone, too few viewers, every metric refused).

    :param metrics: what to ask (default: the media's whole set); refusals still apply.
    :raises InsightsUnavailableError: the media predates the business conversion (the
        caller remembers it); budget and other errors propagate.
    """
    kind = kind_of(product_type, media_type)
    wanted = refusals.allowed(kind, media_metrics(product_type, media_type) if metrics is None else metrics)
    if not wanted:
        return []
    account = run.account_id
    try:
        insights = fetch_skipping_refused(
            lambda ms: run.hook.get_media_insights(account, media_id, ms),
            wanted,
            run,
            result,
            f"media {media_id}",
            on_refused=lambda metric, text: refusals.refused(kind, metric, text),
        )
    except ObjectNotFoundError:
        log.info("Media %s of account %s is gone at Meta (100/33); marked deleted", media_id, account)
        mark_media_gone(run.conn, media_id)
        result.gone += 1
        return []
    except PermissionDeniedError as exc:  # e.g. a story with fewer than 5 viewers
        result.skipped.append(f"media {media_id}: {exc.api_message}")
        return []
    names = [insight["name"] for insight in insights]
    if names:
        refusals.accepted(kind, names)
        rows = [row for insight in insights for row in media_insight_rows(account, media_id, insight)]
        result.add(load(run.conn, [(MEDIA_INSIGHTS, rows)]))
    return names


def _common_metrics(kinds: set[Kind], refusals: MetricRefusals) -> list[str]:
    """The expanded metrics every kind in ``kinds`` accepts, in the metric table's order."""
    accepted = set(EXPANDED_MEDIA_METRICS)
    for product_type, media_type in kinds:
        accepted &= set(refusals.allowed((product_type, media_type), media_metrics(product_type, media_type)))
    order = MEDIA_METRICS["FEED"] + MEDIA_METRICS["REELS"]
    return sorted(accepted, key=order.index)


class _EdgePlan:
    """Where the walk of /media stands against what the warehouse expects it to meet.

    ``expected`` is the account's media newest first (the edge's order); the walk must reach
    the oldest due one. Each page asks what every kind expected in it accepts.
    """

    def __init__(self, expected: list[MediaKind], due: set[str], refusals: MetricRefusals) -> None:
        self.expected = expected
        self.refusals = refusals
        self.last_due = max((i for i, m in enumerate(expected) if m[0] in due), default=-1)
        self.position = 0  # the first expected media the walk has not passed
        self.seen: set[str] = set()
        self.oldest_seen: datetime | None = None

    def passed(self, media: Media) -> None:
        media_id = str(media["id"])
        self.seen.add(media_id)
        stamp = parse_graph_time(media.get("timestamp"))
        if stamp is None:
            return
        self.oldest_seen = min(self.oldest_seen, stamp) if self.oldest_seen else stamp
        while self.position < len(self.expected) and (
            self.expected[self.position][3] > stamp or self.expected[self.position][0] in self.seen
        ):
            self.position += 1

    def next_limit(self, page_size: int) -> int:
        return max(0, min(page_size, self.last_due - self.position + 1))

    def metrics(self, limit: int) -> Sequence[str]:
        ahead = self.expected[self.position : self.position + limit] or self.expected
        return _common_metrics({kind_of(m[2], m[1]) for m in ahead}, self.refusals)


class _MediaInsightsRun:
    """One run of the stream: its options, memory and what it has read so far."""

    def __init__(self, run: SyncRun) -> None:
        self.run = run
        self.result = SyncResult("media_insights", run.account_id)
        self.now = run.interval_end
        self.refusals = MetricRefusals(run.conn, run.option("refusal_retry_days", float(DEFAULT_RETRY_DAYS)))
        self.state = read_state(run.conn, run.account_id, "media_insights")
        self.unavailable: set[str] = set(self.state.get("unavailable", []))
        self.no_insights_until = parse_graph_time(self.state.get(NO_INSIGHTS_UNTIL))
        self.read: dict[str, list[str]] = {}  # media id -> metrics loaded this run
        self.unrecorded: set[str] = set()  # media read whose read is not in media_insight_reads yet

    def due(self) -> list[MediaKind]:
        run = self.run
        due = media_for_insights(
            run.conn,
            run.account_id,
            oldest=self.now - timedelta(days=run.option("max_age_days", DEFAULT_MAX_AGE_DAYS)),
            recent=self.now - timedelta(days=run.option("recent_days", DEFAULT_RECENT_DAYS)),
            stale_before=self.now - timedelta(days=run.option("stale_days", DEFAULT_STALE_DAYS)),
            available_after=self.no_insights_until,
        )
        return [m for m in due if m[0] not in self.unavailable]

    def save(self) -> None:
        record_reads(self.run.conn, self.run.account_id, self.unrecorded, self.now)
        self.unrecorded.clear()
        state = {**self.state, "unavailable": sorted(self.unavailable)}
        if self.no_insights_until is not None:
            state[NO_INSIGHTS_UNTIL] = self.no_insights_until.isoformat()
        if state != self.state:
            write_state(self.run.conn, self.run.account_id, "media_insights", state)

    # --- per media -------------------------------------------------------------------------

    def per_media(self) -> None:
        for media_id, media_type, product_type, _ in self.due():
            try:
                read_media_insights(self.run, self.result, self.refusals, media_id, media_type, product_type)
            except InsightsUnavailableError:
                self.result.skipped.append(f"media {media_id}: posted before the business conversion")
                self.unavailable.add(media_id)
                continue
            record_reads(self.run.conn, self.run.account_id, [media_id], self.now)

    # --- by expansion ----------------------------------------------------------------------

    def expansion(self) -> None:
        run = self.run
        due = self.due()
        if not due:
            return
        oldest_due = min(m[3] for m in due)
        expected = media_in_edge_order(
            run.conn, run.account_id, oldest=oldest_due, available_after=self.no_insights_until
        )
        due_ids = {m[0] for m in due}
        plan = _EdgePlan(expected, due_ids, self.refusals)
        walk = InsightWalk(run, "media", plan, page_size=run.option("insights_page_size", DEFAULT_PAGE_SIZE))
        rows: list[dict[str, Any]] = []
        try:
            for event in walk:
                media = event.media
                plan.passed(media)
                if isinstance(event, ListedMedia):  # due or not: its numbers came with the page, for free
                    rows.extend(self._listed(media))
                    continue
                self._flush(rows)
                if not self._refused(event):
                    walk.stop()
        finally:
            self._flush(rows)
            if plan.seen:
                gone = mark_unlisted_media_gone(run.conn, run.account_id, plan.seen, plan.oldest_seen)
                self.result.gone += len(gone)

    def _listed(self, media: Media) -> list[dict[str, Any]]:
        insights = insights_of(media)
        names = [insight["name"] for insight in insights]
        media_id = str(media["id"])
        self.read[media_id] = names
        self.unrecorded.add(media_id)
        if names:
            self.refusals.accepted(kind_of(media.get("media_product_type"), media.get("media_type")), names)
        return [row for insight in insights for row in media_insight_rows(self.run.account_id, media_id, insight)]

    def _flush(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.result.add(load(self.run.conn, [(MEDIA_INSIGHTS, rows)]))
            rows.clear()
        record_reads(self.run.conn, self.run.account_id, self.unrecorded, self.now)
        self.unrecorded.clear()

    def _refused(self, event: RefusedMedia) -> bool:
        """Deal with the one media a page was refused for; False ends the walk."""
        media, error = event.media, event.error
        media_id = str(media["id"])
        if isinstance(error, InsightsUnavailableError):
            return self._conversion_found(media)
        if isinstance(error, ObjectNotFoundError):
            mark_media_gone(self.run.conn, media_id)
            self.result.gone += 1
            return True
        # A metric refused for its kind (or too much data): its own call drops what Meta
        # refuses, and the refusal is remembered for the pages to come.
        try:
            self.read[media_id] = read_media_insights(
                self.run,
                self.result,
                self.refusals,
                media_id,
                media.get("media_type"),
                media.get("media_product_type"),
                metrics=event.metrics or None,
            )
        except InsightsUnavailableError:
            return self._conversion_found(media)
        self.unrecorded.add(media_id)
        return True

    def _conversion_found(self, media: Media) -> bool:
        stamp = parse_graph_time(media.get("timestamp"))
        self.result.skipped.append(
            f"media {media['id']} and every older one: posted before the business conversion, no insights (2108006)"
        )
        if stamp is None:
            self.unavailable.add(str(media["id"]))
            return True
        self.no_insights_until = max(stamp, self.no_insights_until) if self.no_insights_until else stamp
        return False

    def specific(self) -> None:
        """Type-specific metrics (and what the walk left out) of media in their windows."""
        run = self.run
        young = run.option("young_days", DEFAULT_YOUNG_DAYS)
        settled = run.option("settled_days", DEFAULT_SETTLED_DAYS)
        if young <= 0 and settled <= 0:
            return
        due = media_for_specific_insights(
            run.conn,
            run.account_id,
            now=self.now,
            young_days=young,
            settled_days=settled,
            settled_window_days=run.option("settled_window_days", DEFAULT_SETTLED_WINDOW_DAYS),
            available_after=self.no_insights_until,
        )
        for media_id, media_type, product_type, age_days in due:
            if media_id in self.unavailable:
                continue
            got = set(self.read.get(media_id, ()))
            common, specific = metric_groups(product_type, media_type)
            wanted = [m for m in (*common, *specific) if m in specific or m not in got]
            try:
                if self.refusals.allowed(kind_of(product_type, media_type), wanted):
                    read_media_insights(
                        run, self.result, self.refusals, media_id, media_type, product_type, metrics=wanted
                    )
                    if set(wanted) & set(common):
                        self.unrecorded.add(media_id)
            except InsightsUnavailableError:
                self.result.skipped.append(f"media {media_id}: posted before the business conversion")
                self.unavailable.add(media_id)
            record_specific_read(run.conn, run.account_id, media_id, age_days, self.now)


def check_road(run: SyncRun) -> str:
    road = run.option("insights_road", "expansion")
    if road not in ROADS:
        raise SyncOptionError(f"option insights_road={road!r} is unknown: use one of {', '.join(ROADS)}")
    return str(road)


def sync_media_insights(run: SyncRun) -> SyncResult:
    """Insights of the due feed and reels media, by the ``insights_road`` option (see the module).

    Options: ``recent_days`` (30), ``max_age_days`` (90), ``stale_days`` (7),
    ``refusal_retry_days`` (7), ``insights_road`` (expansion), ``insights_page_size`` (50),
    ``young_days`` (2), ``settled_days`` (28), ``settled_window_days`` (7).
    """
    road = check_road(run)
    stream = _MediaInsightsRun(run)
    try:
        if road == "per_media":
            stream.per_media()
        else:
            stream.expansion()
            stream.specific()
    except BudgetSpent:
        stream.result.complete = False
    finally:
        stream.save()
    stream.result.calls = run.calls_spent
    return stream.result


# --- stories ----------------------------------------------------------------------------------


class _StoryPlan:
    """Every live story, each page asking what every kind of story accepts."""

    def __init__(self, refusals: MetricRefusals) -> None:
        self.refusals = refusals

    def next_limit(self, page_size: int) -> int:
        return page_size

    def metrics(self, limit: int) -> Sequence[str]:
        accepted = list(MEDIA_METRICS["STORY"])
        for media_type in ("IMAGE", "VIDEO"):
            allowed = set(self.refusals.allowed(("STORY", media_type), accepted))
            accepted = [m for m in accepted if m in allowed]
        return accepted


def read_live_stories(run: SyncRun, result: SyncResult) -> list[Media]:
    """The live stories with their insights, by one expanded read of /stories (and the
    walk's ladder for a story Meta refuses: too few viewers, a metric not for its kind)."""
    refusals = MetricRefusals(run.conn, run.option("refusal_retry_days", float(DEFAULT_RETRY_DAYS)))
    walk = InsightWalk(
        run,
        "stories",
        _StoryPlan(refusals),
        page_size=run.option("insights_page_size", DEFAULT_PAGE_SIZE),
        refusals=(InvalidRequestError, PermissionDeniedError),
        fields=STORY_FIELDS,
        count_first=True,
    )
    stories: list[Media] = []
    rows: list[dict[str, Any]] = []
    for event in walk:
        story = event.media
        story_id = str(story["id"])
        stories.append(cast(Media, {key: value for key, value in story.items() if key != "insights"}))
        if isinstance(event, ListedMedia):
            insights = insights_of(story)
            if insights:
                refusals.accepted(kind_of("STORY", story.get("media_type")), [i["name"] for i in insights])
            rows.extend(row for insight in insights for row in media_insight_rows(run.account_id, story_id, insight))
            continue
        error = event.error
        if isinstance(error, (InvalidRequestError, TooMuchDataError)) and not isinstance(
            error, (InsightsUnavailableError, ObjectNotFoundError)
        ):
            try:
                read_media_insights(
                    run, result, refusals, story_id, story.get("media_type"), "STORY", metrics=event.metrics or None
                )
            except InsightsUnavailableError as exc:
                result.skipped.append(f"story {story_id}: {exc.api_message}")
        else:
            result.skipped.append(f"story {story_id}: {error.api_message}")
    result.add(load(run.conn, [(MEDIA, [media_row(run.account_id, s) for s in stories]), (MEDIA_INSIGHTS, rows)]))
    return stories
