"""Walking the media or stories edge with insights expanded, and the ladder when a page is refused.

One call reads a page of media with their insights (``insights.metric(...)``). Meta fails
the WHOLE call when one media of the page refuses (posted before the business conversion,
a metric not for its kind, too few viewers), and says nothing of which media it was. The
walk then bisects, from the same cursor:

- a refused page is asked again with half the ``limit``; a half that answers is loaded and
  the walk goes on with the other half's first half, and so on, down to one media;
- that media is named by one plain read of the same cursor (``limit=1``, no insights,
  which also gives the cursor past it) and handed to the caller as :class:`RefusedMedia`
  (which reads it alone, or stops the walk); the walk goes on past it at the full page size.

One bad media costs about log2(page size) + 2 extra calls; no neighbour is lost. Meta's
"reduce the amount of data" (:class:`~instagram_graph.errors.TooMuchDataError`) halves
the page size for the connection (:class:`~instagram_graph.rate_limit.page_sizes.PageSizes`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from instagram_graph.endpoints.insights import INSIGHT_WALK_FIELDS
from instagram_graph.errors import GraphApiError, InvalidRequestError, TooMuchDataError
from instagram_graph.models import Media, Page
from instagram_graph.sync.base import SyncRun


@dataclass
class ListedMedia:
    """A media of an answered page, with ``insights.data`` for the metrics asked."""

    media: Media
    metrics: tuple[str, ...]


@dataclass
class RefusedMedia:
    """The one media a page of one was refused for, and Meta's answer."""

    media: Media
    metrics: tuple[str, ...]
    error: GraphApiError


class WalkPlan(Protocol):
    """What the caller decides as the walk goes: how far, and which metrics each page asks."""

    def next_limit(self, page_size: int) -> int:
        """How many media the next page should hold (0: the walk is done)."""
        ...

    def metrics(self, limit: int) -> Sequence[str]:
        """The metrics to expand for the next ``limit`` media of the edge."""
        ...


class InsightWalk:
    """Iterate an edge newest first as :class:`ListedMedia` and :class:`RefusedMedia`.

    :param edge: ``media`` or ``stories``.
    :param page_size: the configured page size; Meta's refusals of large pages lower it
        for the connection.
    :param refusals: the errors that mean "some media of this page refuses" (Meta's 100
        family; on stories also code 10, too few viewers). Others propagate.
    :param count_first: on a refused page, first list it without insights (one call) and
        bisect only what is there: for edges far shorter than a page (stories), where
        halving from the page size would waste calls on media that do not exist.
    """

    def __init__(
        self,
        run: SyncRun,
        edge: str,
        plan: WalkPlan,
        *,
        page_size: int,
        refusals: tuple[type[GraphApiError], ...] = (InvalidRequestError,),
        fields: str = INSIGHT_WALK_FIELDS,
        count_first: bool = False,
    ) -> None:
        self.run = run
        self.edge = edge
        self.plan = plan
        self.page_size = page_size
        self.refusals = refusals
        self.fields = fields
        self.count_first = count_first
        self.stopped = False

    def stop(self) -> None:
        """Make no further call: the walk ends once the page in hand is handed out."""
        self.stopped = True

    def _size(self) -> int:
        return self.run.hook.page_sizes.size(self.edge, self.page_size)

    def _page(self, metrics: Sequence[str], after: str | None, limit: int) -> Page[Media]:
        self.run.spend()
        return self.run.hook.get_insights_page(
            self.run.account_id, self.edge, metrics, fields=self.fields, after=after, limit=limit
        )

    def __iter__(self) -> Iterator[ListedMedia | RefusedMedia]:
        after: str | None = None
        while not self.stopped:
            limit = self.plan.next_limit(self._size())
            if limit <= 0:
                return
            following = yield from self._read(after, limit)
            if following is None:
                return
            after = following

    def _read(self, after: str | None, limit: int) -> Generator[ListedMedia | RefusedMedia, None, str | None]:
        """Hand out the next ``limit`` media from ``after``, down the ladder if Meta refuses;
        the cursor to go on from (None: the edge ended, or the walk was stopped)."""
        suspect = 0  # media from the cursor on that hold a refusing one (0: none known)
        error: GraphApiError | None = None
        listed: list[Media] | None = None  # the suspect page without insights, when counted first
        listed_after: str | None = None
        offset = 0  # media handed out since ``listed`` was read
        while True:
            metrics = tuple(self.plan.metrics(limit))
            if suspect != 1:
                try:
                    page = self._page(metrics, after, limit)
                except TooMuchDataError as exc:
                    if limit > 1:
                        limit = min(limit // 2, self.run.hook.page_sizes.refused(self.edge, limit))
                        continue
                    suspect, error = 1, exc
                except self.refusals as exc:
                    error = exc
                    if not suspect and self.count_first and limit > 1:
                        listing = self._page((), after, limit)
                        listed, listed_after = list(listing.data), listing.after
                        if not listed:
                            return None
                        limit = len(listed)
                    suspect = limit
                    if limit > 1:
                        limit //= 2
                        continue
                else:
                    for media in page.data:
                        yield ListedMedia(media, metrics)
                    if self.stopped or page.after is None:
                        return None
                    if page.after == after:
                        raise InvalidRequestError(f"/{self.edge} returned the cursor it was given; stopping")
                    after = page.after
                    if not suspect:
                        return after
                    # The refusing media is in the rest of the suspect range: try its first half.
                    offset += len(page.data)
                    suspect = max(1, suspect - len(page.data))
                    limit = max(1, suspect // 2)
                    continue
            assert error is not None
            if listed is not None and offset == len(listed) - 1:  # the last one listed: its cursor is known
                yield RefusedMedia(listed[offset], metrics, error)
                return listed_after
            named = self._page((), after, 1)  # name the one media, and learn the cursor past it
            if not named.data:
                return None
            yield RefusedMedia(named.data[0], metrics, error)
            return named.after
