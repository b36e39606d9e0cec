"""Metrics Meta refused for a kind of media, remembered in ``instagram.metric_refusals``.

Meta answers "metric X is not supported for this media type" with error 100 for the
whole call. Without a memory the sync drops the metric and asks again - for every media
of that kind, on every run, forever. With it, the first refusal costs one call; every
later media of that kind (in this run and the next ones) is asked without the metric,
until the refusal is ``retry_days`` old: then one media asks again, in case Meta changed
its mind. Accepted: the row goes; refused again: the row's ``last_seen_at`` moves on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

DEFAULT_RETRY_DAYS = 7

_LOAD = """
    SELECT media_product_type, media_type, metric, last_seen_at > now() - %s AS active
      FROM instagram.metric_refusals
"""
_RECORD = """
    INSERT INTO instagram.metric_refusals (media_product_type, media_type, metric, refusal)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (media_product_type, media_type, metric)
    DO UPDATE SET refusal = EXCLUDED.refusal, last_seen_at = now()
"""
_FORGET = "DELETE FROM instagram.metric_refusals WHERE media_product_type = %s AND media_type = %s AND metric = %s"

Kind = tuple[str, str]  # (media_product_type, media_type); '' where Meta gave none


def kind_of(media_product_type: str | None, media_type: str | None) -> Kind:
    return (media_product_type or "", media_type or "")


class MetricRefusals:
    """The refusals in force, loaded once per run and kept up to date as the run goes.

    :param conn: a warehouse connection (each change commits at once: a refusal learnt
        by a run that fails later must still be remembered).
    :param retry_days: a refusal older than this is asked about again.
    """

    def __init__(self, conn: Any, retry_days: float = DEFAULT_RETRY_DAYS) -> None:
        self.conn = conn
        self._active: dict[Kind, set[str]] = defaultdict(set)
        self._to_retry: dict[Kind, set[str]] = defaultdict(set)
        with conn, conn.cursor() as cur:
            cur.execute(_LOAD, (timedelta(days=retry_days),))
            for product_type, media_type, metric, active in cur.fetchall():
                (self._active if active else self._to_retry)[(product_type, media_type)].add(metric)

    def allowed(self, kind: Kind, metrics: Sequence[str]) -> list[str]:
        """``metrics`` without those refused for this kind of media."""
        refused = self._active.get(kind, set())
        return [metric for metric in metrics if metric not in refused]

    def refused(self, kind: Kind, metric: str, refusal: str) -> None:
        self._active[kind].add(metric)
        self._to_retry[kind].discard(metric)
        with self.conn, self.conn.cursor() as cur:
            cur.execute(_RECORD, (*kind, metric, refusal))

    def accepted(self, kind: Kind, metrics: Sequence[str]) -> None:
        """Meta answered for ``metrics``: forget old refusals of any of them."""
        retried = self._to_retry.get(kind, set()).intersection(metrics)
        if not retried:
            return
        with self.conn, self.conn.cursor() as cur:
            for metric in sorted(retried):
                cur.execute(_FORGET, (*kind, metric))
        self._to_retry[kind] -= retried
