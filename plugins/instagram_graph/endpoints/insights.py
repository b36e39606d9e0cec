"""Account and media insights."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from instagram_graph.endpoints.paging import MAX_PAGE_SIZE, Paging
from instagram_graph.models import Insight, Media, Page

# What a walk of the media or stories edge needs of each media besides its insights.
INSIGHT_WALK_FIELDS = "id,media_type,media_product_type,timestamp"


def _unix(value: datetime | int | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


class InsightEndpoints(Paging):
    """Insights of an account, of one media, and of a page of media by field expansion."""

    def get_account_insights(
        self,
        account_id: str,
        metrics: Sequence[str],
        *,
        period: str = "day",
        metric_type: str | None = None,
        since: datetime | int | None = None,
        until: datetime | int | None = None,
        breakdown: str | None = None,
        timeframe: str | None = None,
    ) -> list[Insight]:
        """Account insights; ``since``/``until`` may span at most 30 days per call."""
        params = {
            "metric": ",".join(metrics),
            "period": period,
            "metric_type": metric_type,
            "since": _unix(since),
            "until": _unix(until),
            "breakdown": breakdown,
            "timeframe": timeframe,
        }
        payload = self.client.call(account_id, "GET", f"{account_id}/insights", params=params)
        return cast(list[Insight], payload.get("data", []))

    def get_media_insights(
        self, account_id: str, media_id: str, metrics: Sequence[str], *, period: str | None = None
    ) -> list[Insight]:
        """Insights of one media; the valid metric set depends on its type (see API docs)."""
        params = {"metric": ",".join(metrics), "period": period}
        payload = self.client.call(account_id, "GET", f"{media_id}/insights", params=params)
        return cast(list[Insight], payload.get("data", []))

    def get_insights_page(
        self,
        account_id: str,
        edge: str,
        metrics: Sequence[str],
        *,
        fields: str = INSIGHT_WALK_FIELDS,
        after: str | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> Page[Media]:
        """One page of the ``media`` or ``stories`` edge, each media with the insights of
        ``metrics`` in ``insights.data`` (field expansion: one call for the whole page).

        Meta fails the whole call when one media of the page refuses one metric; with no
        metrics this is a plain page of the edge (how a walk learns which media refused).
        """
        expanded = f"{fields},insights.metric({','.join(metrics)})" if metrics else fields
        page = self.get_page(account_id, f"{account_id}/{edge}", params={"fields": expanded}, after=after, limit=limit)
        return cast(Page[Media], page)

