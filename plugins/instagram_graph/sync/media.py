"""Media (with carousel children), stories and comments.

Media is incremental: the first run pages the whole edge (about the newest 10,000 on the
real API); later runs page newest-first and stop once a page reaches media older than the
look-back window, so a run costs a handful of calls while counts of recent posts stay fresh.
The first run records ``full_load_done`` only when it reached the end, so an interrupted
first load is simply done again (every page is an idempotent upsert).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from instagram_graph.errors import InvalidRequestError, PermissionDeniedError
from instagram_graph.records import COMMENTS, MEDIA, MEDIA_CHILDREN, child_rows, comment_rows, media_row
from instagram_graph.sync.base import SyncResult, SyncRun
from instagram_graph.warehouse import load, read_state, recent_commented_media, write_state

DEFAULT_LOOKBACK_DAYS = 3
DEFAULT_COMMENT_DAYS = 7


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


def sync_media(run: SyncRun) -> SyncResult:
    """Options: ``lookback_days`` (default 3), ``full_refresh`` (page everything again)."""
    result = SyncResult("media", run.account_id)
    state = read_state(run.conn, run.account_id, "media")
    incremental = state.get("full_load_done") and not run.option("full_refresh", False)
    stop_before = run.interval_end - timedelta(days=run.option("lookback_days", DEFAULT_LOOKBACK_DAYS))
    newest = _parse_time(state.get("newest_timestamp"))
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
        for item in media:
            stamp = _parse_time(item.get("timestamp"))
            if stamp and (newest is None or stamp > newest):
                newest = stamp
        oldest_on_page = min((t for t in (_parse_time(m.get("timestamp")) for m in media) if t), default=None)
        if not page.has_next:
            break
        if incremental and oldest_on_page is not None and oldest_on_page < stop_before:
            break
        after = page.after
    write_state(
        run.conn,
        run.account_id,
        "media",
        {"full_load_done": True, "newest_timestamp": newest.strftime("%Y-%m-%dT%H:%M:%S%z") if newest else None},
    )
    result.calls = run.calls_spent
    return result


def sync_stories(run: SyncRun) -> SyncResult:
    """Live stories (Meta serves them for 24 hours; the rows stay)."""
    result = SyncResult("stories", run.account_id)
    run.spend()
    stories = run.hook.get_stories(run.account_id)
    result.add(load(run.conn, [(MEDIA, [media_row(run.account_id, s) for s in stories])]))
    result.calls = run.calls_spent
    return result


def sync_comments(run: SyncRun) -> SyncResult:
    """Comments and replies of media posted in the last ``comment_days`` (default 7)."""
    result = SyncResult("comments", run.account_id)
    since = run.interval_end - timedelta(days=run.option("comment_days", DEFAULT_COMMENT_DAYS))
    for media_id in recent_commented_media(run.conn, run.account_id, since):
        run.spend()
        try:
            comments = run.hook.get_comments(run.account_id, media_id)
        except (InvalidRequestError, PermissionDeniedError) as exc:
            # e.g. the media was deleted since the media sync, or comments are restricted
            result.skipped.append(f"{media_id}: {type(exc).__name__}")
            continue
        rows = [row for comment in comments for row in comment_rows(run.account_id, media_id, comment)]
        result.add(load(run.conn, [(COMMENTS, rows)]))
    result.calls = run.calls_spent
    return result
