"""Media (with carousel children), stories (with their insights) and comments.

Media is incremental: the first run pages the whole edge (about the newest 10,000 on the
real API); later runs page newest-first and stop once a page reaches media older than the
look-back window, so a run costs a handful of calls while counts of recent posts stay fresh.
The first run records ``full_load_done`` only when it reached the end, so an interrupted
first load is simply done again (every page is an idempotent upsert).

A media the walk should have listed and did not, a media whose comments answer 100/33,
and a comment missing from a full read of its media's comments are marked ``deleted_at``
(:mod:`instagram_graph.sync.vanished`) and never asked about again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from instagram_graph.errors import (
    InvalidRequestError,
    ObjectNotFoundError,
    PermissionDeniedError,
)
from instagram_graph.graph_time import parse_graph_time
from instagram_graph.records import COMMENTS, MEDIA, MEDIA_CHILDREN, child_rows, comment_rows, media_row
from instagram_graph.sync.base import SyncResult, SyncRun
from instagram_graph.sync.media_insights import read_live_stories
from instagram_graph.sync.stream_state import read_state, recent_commented_media, write_state
from instagram_graph.sync.vanished import mark_media_gone, mark_unlisted_comments_gone, mark_unlisted_media_gone
from instagram_graph.warehouse import load

log = logging.getLogger(__name__)

MEDIA_EDGE_MAX_ITEMS = 10_000  # Meta's /media edge serves about the newest 10,000 media, no more
DEFAULT_LOOKBACK_DAYS = 3
DEFAULT_COMMENT_DAYS = 7


def sync_media(run: SyncRun) -> SyncResult:
    """Options: ``lookback_days`` (default 3), ``full_refresh`` (page everything again)."""
    result = SyncResult("media", run.account_id)
    state = read_state(run.conn, run.account_id, "media")
    incremental = state.get("full_load_done") and not run.option("full_refresh", False)
    stop_before = run.interval_end - timedelta(days=run.option("lookback_days", DEFAULT_LOOKBACK_DAYS))
    newest = parse_graph_time(state.get("newest_timestamp"))
    seen: set[str] = set()
    oldest_seen: datetime | None = None
    after = None
    while True:
        run.spend()
        page = run.hook.get_media_page(run.account_id, after=after)
        media = [m for m in page.data if m.get("id")]
        result.add(
            load(
                run.conn,
                [
                    (MEDIA, [media_row(run.account_id, m) for m in media]),
                    (MEDIA_CHILDREN, [row for m in media for row in child_rows(m)]),
                ],
            )
        )
        seen.update(str(m["id"]) for m in media)
        stamps = [t for t in (parse_graph_time(m.get("timestamp")) for m in media) if t]
        if stamps:
            newest = max([newest, *stamps]) if newest else max(stamps)
            oldest_seen = min([oldest_seen, *stamps]) if oldest_seen else min(stamps)
        if not page.has_next:
            break
        if incremental and stamps and min(stamps) < stop_before:
            break
        after = page.after
    whole_edge = not page.has_next and len(seen) < MEDIA_EDGE_MAX_ITEMS
    if seen:  # an empty answer proves nothing: never mark everything gone on it
        gone = mark_unlisted_media_gone(run.conn, run.account_id, seen, None if whole_edge else oldest_seen)
        if gone:
            log.info("Account %s: %d media no longer listed by Meta; marked deleted", run.account_id, len(gone))
            result.gone += len(gone)
    write_state(
        run.conn,
        run.account_id,
        "media",
        {"full_load_done": True, "newest_timestamp": newest.strftime("%Y-%m-%dT%H:%M:%S%z") if newest else None},
    )
    result.calls = run.calls_spent
    return result


def sync_stories(run: SyncRun) -> SyncResult:
    """Live stories, and their insights while Meta still serves them.

    Meta serves a story and its insights only for its 24 hours, so this hourly stream
    reads the live stories with their insights expanded - one call for all of them - and
    the last read before expiry holds the final numbers; no call is ever made for an
    expired story. The rows stay.
    Options: ``story_insights`` (default True), ``insights_page_size``, ``refusal_retry_days``.
    """
    result = SyncResult("stories", run.account_id)
    if run.option("story_insights", True):
        read_live_stories(run, result)
    else:
        run.spend()
        stories = run.hook.get_stories(run.account_id)
        result.add(load(run.conn, [(MEDIA, [media_row(run.account_id, s) for s in stories])]))
    result.calls = run.calls_spent
    return result


def sync_comments(run: SyncRun) -> SyncResult:
    """Comments and replies of media posted in the last ``comment_days`` (default 7).

    Each media's comments are read whole, so a comment no longer among them is gone.
    """
    result = SyncResult("comments", run.account_id)
    since = run.interval_end - timedelta(days=run.option("comment_days", DEFAULT_COMMENT_DAYS))
    for media_id in recent_commented_media(run.conn, run.account_id, since):
        run.spend()
        try:
            comments = run.hook.get_comments(run.account_id, media_id)
        except ObjectNotFoundError:
            log.info("Media %s of account %s is gone at Meta (100/33); marked deleted", media_id, run.account_id)
            mark_media_gone(run.conn, media_id)
            result.gone += 1
            continue
        except (InvalidRequestError, PermissionDeniedError) as exc:
            # e.g. comments are restricted on this media
            result.skipped.append(f"{media_id}: {type(exc).__name__}")
            continue
        rows = [row for comment in comments for row in comment_rows(run.account_id, media_id, comment)]
        result.add(load(run.conn, [(COMMENTS, rows)]))
        gone = mark_unlisted_comments_gone(run.conn, media_id, [row["comment_id"] for row in rows])
        result.gone += len(gone)
    result.calls = run.calls_spent
    return result
