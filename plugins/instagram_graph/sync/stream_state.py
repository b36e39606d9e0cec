"""What a stream reads back from the warehouse between runs: its saved state, and which
objects are due again (media whose insights are stale, media with comments, conversations
that changed). The writes are :mod:`instagram_graph.warehouse`'s bulk upserts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_READ_STATE = "SELECT state FROM instagram.sync_state WHERE account_id = %s AND stream = %s"
_WRITE_STATE = """
    INSERT INTO instagram.sync_state (account_id, stream, state) VALUES (%s, %s, %s)
    ON CONFLICT (account_id, stream) DO UPDATE SET state = EXCLUDED.state
    WHERE sync_state.state IS DISTINCT FROM EXCLUDED.state
"""
_MEDIA_FOR_INSIGHTS = """
    SELECT m.media_id, m.media_type, m.media_product_type
    FROM instagram.media m
    LEFT JOIN LATERAL (
        SELECT max(loaded_at) AS loaded_at FROM instagram.media_insights i WHERE i.media_id = m.media_id
    ) last ON true
    WHERE m.account_id = %(account_id)s
      AND m.deleted_at IS NULL
      AND m.media_product_type IS DISTINCT FROM 'STORY'
      AND m."timestamp" >= %(oldest)s
      AND (m."timestamp" >= %(recent)s OR last.loaded_at IS NULL OR last.loaded_at < %(stale_before)s)
    ORDER BY last.loaded_at NULLS FIRST, m."timestamp" DESC
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


def media_for_insights(
    conn: Any, account_id: str, *, oldest: datetime, recent: datetime, stale_before: datetime
) -> list[tuple[str, str | None, str | None]]:
    """Feed and reels media whose insights are due: recent ones always, older ones once
    they are stale. Stories (read while live by the stories stream) and media marked
    deleted are left out.

    Least recently loaded first, so a run cut short by its call budget is continued by
    the next run instead of starting over.
    """
    params = {"account_id": account_id, "oldest": oldest, "recent": recent, "stale_before": stale_before}
    with conn, conn.cursor() as cur:
        cur.execute(_MEDIA_FOR_INSIGHTS, params)
        return [tuple(row) for row in cur.fetchall()]


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
