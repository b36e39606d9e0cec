"""What a stream reads back from the warehouse between runs: its saved state, and which
objects are due again (media whose insights are stale, media with comments, conversations
that changed). The writes are :mod:`instagram_graph.warehouse`'s bulk upserts."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

_READ_STATE = "SELECT state FROM instagram.sync_state WHERE account_id = %s AND stream = %s"
_WRITE_STATE = """
    INSERT INTO instagram.sync_state (account_id, stream, state) VALUES (%s, %s, %s)
    ON CONFLICT (account_id, stream) DO UPDATE SET state = EXCLUDED.state
    WHERE sync_state.state IS DISTINCT FROM EXCLUDED.state
"""
# Feed and reels media the insights streams may ask about: not deleted, not a story, not
# posted before the business conversion (when the stream has learnt where that line is).
_ASKABLE = """
    m.account_id = %(account_id)s
      AND m.deleted_at IS NULL
      AND m.media_product_type IS DISTINCT FROM 'STORY'
      AND (%(available_after)s::timestamptz IS NULL OR m."timestamp" > %(available_after)s::timestamptz)
"""
_MEDIA_FOR_INSIGHTS = f"""
    SELECT m.media_id, m.media_type, m.media_product_type, m."timestamp"
    FROM instagram.media m
    LEFT JOIN instagram.media_insight_reads r ON r.media_id = m.media_id
    WHERE {_ASKABLE}
      AND m."timestamp" >= %(oldest)s
      AND (m."timestamp" >= %(recent)s OR r.read_at IS NULL OR r.read_at < %(stale_before)s)
    ORDER BY r.read_at NULLS FIRST, m."timestamp" DESC
"""
_MEDIA_IN_EDGE_ORDER = f"""
    SELECT m.media_id, m.media_type, m.media_product_type, m."timestamp"
    FROM instagram.media m
    WHERE {_ASKABLE} AND m."timestamp" >= %(oldest)s
    ORDER BY m."timestamp" DESC, m.media_id DESC
"""
# Age in whole days by the run's clock. Young window: once per day of age below young_days.
# Settled window: once, between settled_days and settled_days + settled_window_days.
_MEDIA_FOR_SPECIFIC = f"""
    SELECT media_id, media_type, media_product_type, age_days FROM (
        SELECT m.media_id, m.media_type, m.media_product_type, m."timestamp", r.specific_age_days AS last_age,
               floor(extract(epoch FROM (%(now)s::timestamptz - m."timestamp")) / 86400)::int AS age_days
        FROM instagram.media m
        LEFT JOIN instagram.media_insight_reads r ON r.media_id = m.media_id
        WHERE {_ASKABLE} AND m."timestamp" <= %(now)s::timestamptz
    ) aged
    WHERE (age_days < %(young_days)s AND (last_age IS NULL OR last_age < age_days))
       OR (%(settled_days)s > 0 AND age_days >= %(settled_days)s
           AND age_days < %(settled_days)s + %(settled_window_days)s
           AND (last_age IS NULL OR last_age < %(settled_days)s))
    ORDER BY "timestamp" DESC
"""
_RECORD_READS = """
    INSERT INTO instagram.media_insight_reads (media_id, account_id, read_at)
    SELECT media_id, %(account_id)s, %(at)s FROM unnest(%(media_ids)s::text[]) AS media_id
    ON CONFLICT (media_id) DO UPDATE SET read_at = EXCLUDED.read_at
"""
_RECORD_SPECIFIC_READ = """
    INSERT INTO instagram.media_insight_reads (media_id, account_id, specific_age_days, specific_read_at)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (media_id) DO UPDATE
    SET specific_age_days = EXCLUDED.specific_age_days, specific_read_at = EXCLUDED.specific_read_at
"""
_RECENT_COMMENTED_MEDIA = """
    SELECT m.media_id FROM instagram.media m
    WHERE m.account_id = %(account_id)s AND m."timestamp" >= %(since)s AND m.deleted_at IS NULL
      AND (m.comments_count > 0 OR EXISTS (
          SELECT 1 FROM instagram.comments c WHERE c.media_id = m.media_id AND c.deleted_at IS NULL))
    ORDER BY m."timestamp" DESC
"""
_CONVERSATION_TIMES = "SELECT conversation_id, updated_time FROM instagram.conversations WHERE account_id = %s"


def read_state(conn: Any, account_id: str, stream: str) -> dict[str, Any]:
    """What a stream recorded last time (never cursors or URLs: see sql/006_sync_state.sql)."""
    with conn, conn.cursor() as cur:
        cur.execute(_READ_STATE, (account_id, stream))
        row = cur.fetchone()
    return dict(row[0]) if row else {}


def write_state(conn: Any, account_id: str, stream: str, state: Mapping[str, Any]) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(_WRITE_STATE, (account_id, stream, json.dumps(state, default=str)))


MediaKind = tuple[str, str | None, str | None, datetime]  # media_id, media_type, media_product_type, timestamp


def media_for_insights(
    conn: Any,
    account_id: str,
    *,
    oldest: datetime,
    recent: datetime,
    stale_before: datetime,
    available_after: datetime | None = None,
) -> list[MediaKind]:
    """Feed and reels media whose insights are due: recent ones always, older ones once
    their last read (``media_insight_reads.read_at``) is older than ``stale_before``. Stories (read while live by the stories stream), media marked deleted
    and media posted at or before ``available_after`` (before the business conversion) are
    left out.

    Least recently read first, so a run cut short by its call budget is continued by
    the next run instead of starting over.
    """
    params = {
        "account_id": account_id,
        "oldest": oldest,
        "recent": recent,
        "stale_before": stale_before,
        "available_after": available_after,
    }
    with conn, conn.cursor() as cur:
        cur.execute(_MEDIA_FOR_INSIGHTS, params)
        return [tuple(row) for row in cur.fetchall()]


def media_in_edge_order(
    conn: Any, account_id: str, *, oldest: datetime, available_after: datetime | None = None
) -> list[MediaKind]:
    """The account's feed and reels media as the /media edge lists them (newest first),
    back to ``oldest``: what a walk of the edge expects to meet."""
    params = {"account_id": account_id, "oldest": oldest, "available_after": available_after}
    with conn, conn.cursor() as cur:
        cur.execute(_MEDIA_IN_EDGE_ORDER, params)
        return [tuple(row) for row in cur.fetchall()]


def media_for_specific_insights(
    conn: Any,
    account_id: str,
    *,
    now: datetime,
    young_days: int,
    settled_days: int,
    settled_window_days: int,
    available_after: datetime | None = None,
) -> list[tuple[str, str | None, str | None, int]]:
    """Media whose type-specific insights are due, with their age in days: below
    ``young_days`` once per day of age, and once between ``settled_days`` and
    ``settled_days + settled_window_days`` (0 turns a window off). Newest first."""
    params = {
        "account_id": account_id,
        "now": now,
        "young_days": young_days,
        "settled_days": settled_days,
        "settled_window_days": settled_window_days,
        "available_after": available_after,
    }
    with conn, conn.cursor() as cur:
        cur.execute(_MEDIA_FOR_SPECIFIC, params)
        return [tuple(row) for row in cur.fetchall()]


def record_reads(conn: Any, account_id: str, media_ids: Collection[str], at: datetime) -> None:
    """The common metrics of ``media_ids`` were read at ``at`` (the run's clock)."""
    if not media_ids:
        return
    with conn, conn.cursor() as cur:
        cur.execute(_RECORD_READS, {"account_id": account_id, "media_ids": sorted(media_ids), "at": at})


def record_specific_read(conn: Any, account_id: str, media_id: str, age_days: int, at: datetime) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(_RECORD_SPECIFIC_READ, (media_id, account_id, age_days, at))


def recent_commented_media(conn: Any, account_id: str, since: datetime) -> list[str]:
    """Media posted since ``since`` that has comments, by Meta's count or in our table
    (so comments deleted down to none are still read once, and marked)."""
    with conn, conn.cursor() as cur:
        cur.execute(_RECENT_COMMENTED_MEDIA, {"account_id": account_id, "since": since})
        return [row[0] for row in cur.fetchall()]


def conversation_times(conn: Any, account_id: str) -> dict[str, datetime]:
    with conn, conn.cursor() as cur:
        cur.execute(_CONVERSATION_TIMES, (account_id,))
        return dict(cur.fetchall())
