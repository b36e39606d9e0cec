"""Account and media insights."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from instagram_graph.endpoints.base import EndpointGroup
from instagram_graph.models import Insight


def _unix(value: datetime | int | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


class InsightEndpoints(EndpointGroup):
    """Insights of an account, and of one media."""

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
