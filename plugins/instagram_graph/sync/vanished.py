"""Objects Meta no longer has: marking them gone, so no run asks about them again.

Meta answers 100/33 (:class:`~instagram_graph.errors.ObjectNotFoundError`) for a post
deleted on Instagram, a deleted comment, a story past its 24 hours. Such an object is
not an error of the run: its row stays (history) and gets ``deleted_at`` (sql/008), and
every query that picks objects to read leaves marked rows out. A media that shows up in
a walk of the media edge again is loaded with ``deleted_at = NULL`` (Meta restored it).

Two ways to learn that an object is gone:
- a read of the object itself answers 100/33 (:func:`mark_media_gone`);
- a read that covers the object's place no longer lists it: a walk of the media edge
  (every media newer than the oldest one the walk saw, :func:`mark_unlisted_media_gone`)
  or a full read of one media's comments (:func:`mark_unlisted_comments_gone`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

_MARK_MEDIA = """
    UPDATE instagram.media SET deleted_at = now()
     WHERE media_id = %(media_id)s AND deleted_at IS NULL
"""
_MARK_COMMENTS_OF_MEDIA = """
    UPDATE instagram.comments SET deleted_at = now()
     WHERE media_id = %(media_id)s AND deleted_at IS NULL
"""
# Stories are left out: the /media edge never lists them, and past their 24 hours they
# expired, they were not deleted.
_MARK_UNLISTED_MEDIA = """
    UPDATE instagram.media SET deleted_at = now()
     WHERE account_id = %(account_id)s
       AND deleted_at IS NULL
       AND media_product_type IS DISTINCT FROM 'STORY'
       AND (%(since)s::timestamptz IS NULL OR "timestamp" >= %(since)s::timestamptz)
       AND NOT (media_id = ANY(%(seen)s))
    RETURNING media_id
"""
_MARK_UNLISTED_COMMENTS = """
    UPDATE instagram.comments SET deleted_at = now()
     WHERE media_id = %(media_id)s AND deleted_at IS NULL AND NOT (comment_id = ANY(%(seen)s))
    RETURNING comment_id
"""


def mark_media_gone(conn: Any, media_id: str) -> None:
    """A read of ``media_id`` answered 100/33: the media and its comments are gone."""
    params = {"media_id": media_id}
    with conn, conn.cursor() as cur:
        cur.execute(_MARK_MEDIA, params)
        cur.execute(_MARK_COMMENTS_OF_MEDIA, params)


def mark_unlisted_media_gone(conn: Any, account_id: str, seen: Collection[str], since: datetime | None) -> list[str]:
    """Media of the account that a walk of the media edge should have listed and did not.

    :param seen: every media id the walk listed.
    :param since: the oldest timestamp the walk reached; None when the walk read the
        whole edge (then every media of the account not seen is gone).
    """
    params = {"account_id": account_id, "seen": list(seen), "since": since}
    with conn, conn.cursor() as cur:
        cur.execute(_MARK_UNLISTED_MEDIA, params)
        gone = [row[0] for row in cur.fetchall()]
        for media_id in gone:
            cur.execute(_MARK_COMMENTS_OF_MEDIA, {"media_id": media_id})
    return gone


def mark_unlisted_comments_gone(conn: Any, media_id: str, seen: Collection[str]) -> list[str]:
    """Comments and replies of ``media_id`` that a full read of its comments did not list."""
    with conn, conn.cursor() as cur:
        cur.execute(_MARK_UNLISTED_COMMENTS, {"media_id": media_id, "seen": list(seen)})
        return [row[0] for row in cur.fetchall()]
