"""Cursor paging of any Graph API edge: one page, or every item exactly once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from instagram_graph.endpoints.base import EndpointGroup
from instagram_graph.errors import InvalidRequestError
from instagram_graph.models import Page
from instagram_graph.rate_limit import Budget

MAX_PAGE_SIZE = 100


def page_of(payload: Mapping[str, Any]) -> Page[dict[str, Any]]:
    """A Page from an edge payload; ``after`` is None unless ``paging.next`` is present."""
    paging = payload.get("paging") or {}
    cursors = paging.get("cursors") or {}
    after = None
    if paging.get("next"):
        after = cursors.get("after")
        if not after:  # some edges omit cursors: read `after` out of the URL, keep nothing else
            after = (parse_qs(urlsplit(paging["next"]).query).get("after") or [None])[0]
    return Page(data=list(payload.get("data") or []), after=after)


class Paging(EndpointGroup):
    """Pages of an edge; the groups that read edges build on it."""

    def get_page(
        self,
        account_id: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        after: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        budget: Budget = "platform",
    ) -> Page[dict[str, Any]]:
        """One page of an edge. The next request is rebuilt from ``cursors.after``."""
        query = dict(params or {})
        query["limit"] = max(1, min(limit, MAX_PAGE_SIZE))
        if after:
            query["after"] = after
        payload = self.client.call(account_id, "GET", path, params=query, budget=budget)
        return page_of(payload)

    def paginate(
        self,
        account_id: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        limit: int = MAX_PAGE_SIZE,
        budget: Budget = "platform",
    ) -> Iterator[dict[str, Any]]:
        """Every item of an edge, exactly once. Stops only when ``paging.next`` is absent.

        Stop iterating early and no further page is fetched (incremental syncs rely on it).
        """
        after: str | None = None
        seen: set[str] = set()
        while True:
            page = self.get_page(account_id, path, params=params, after=after, limit=limit, budget=budget)
            yield from page.data
            if page.after is None:
                return
            if page.after in seen:
                raise InvalidRequestError(
                    f"/{path} returned a cursor it had already returned; stopping instead of looping"
                )
            seen.add(page.after)
            after = page.after
