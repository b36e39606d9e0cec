"""The walk's ladder on an edge whose refusing media are placed on purpose.

The edge here is a list in memory that answers like Meta is assumed to (a page holding a
refusing media fails whole; a page over the size limit is "too much data"), so every
position of a bad media can be tried; the simulator tests the same walk over HTTP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from instagram_graph.errors import InsightsUnavailableError, InvalidRequestError, TooMuchDataError
from instagram_graph.models import Page
from instagram_graph.sync.insight_walk import InsightWalk, ListedMedia, RefusedMedia


@dataclass
class FakeSizes:
    stored: dict[str, int] = field(default_factory=dict)

    def size(self, edge: str, wanted: int) -> int:
        return min(wanted, self.stored.get(edge, wanted))

    def refused(self, edge: str, size: int) -> int:
        self.stored[edge] = min(self.stored.get(edge, size), max(1, size // 2))
        return self.stored[edge]


class FakeEdge:
    """``n`` media; ``bad`` positions refuse insights; pages above ``max_page`` are too much."""

    def __init__(self, n: int, bad: set[int], max_page: int = 100) -> None:
        self.items = [{"id": str(i), "timestamp": f"2026-01-01T00:00:{i % 60:02d}+0000"} for i in range(n)]
        self.bad = bad
        self.max_page = max_page
        self.calls: list[tuple[int, int, bool]] = []  # (start, limit, with insights)
        self.page_sizes = FakeSizes()
        self.calls_made = 0

    def get_insights_page(self, account_id, edge, metrics, *, fields, after, limit):
        start = int(after) if after else 0
        self.calls.append((start, limit, bool(metrics)))
        self.calls_made += 1
        window = self.items[start : start + limit]
        if metrics:
            if limit > self.max_page:
                raise TooMuchDataError("Please reduce the amount of data you're asking for", code=1)
            if any(start + i in self.bad for i in range(len(window))):
                raise InvalidRequestError("(#100) metric not supported for this media", code=100)
        stop = start + len(window)
        return Page(data=[dict(m) for m in window], after=str(stop) if stop < len(self.items) else None)


class Plan:
    def next_limit(self, page_size: int) -> int:
        return page_size

    def metrics(self, limit: int):
        return ("reach",)


@dataclass
class FakeRun:
    hook: FakeEdge
    account_id: str = "1"

    def spend(self, calls: int = 1) -> None:
        pass


def _walk(edge: FakeEdge, page_size: int = 50, **kwargs) -> tuple[list[str], list[str]]:
    listed, refused = [], []
    for event in InsightWalk(FakeRun(edge), "media", Plan(), page_size=page_size, **kwargs):
        (listed if isinstance(event, ListedMedia) else refused).append(event.media["id"])
    return listed, refused


@pytest.mark.parametrize("position", [0, 1, 24, 25, 26, 48, 49, 50, 99, 120, 149])
def test_one_bad_media_costs_about_log2_of_the_page_and_no_neighbour_is_lost(position) -> None:
    edge = FakeEdge(150, {position})
    listed, refused = _walk(edge)
    assert refused == [str(position)]
    assert sorted(map(int, listed)) == [i for i in range(150) if i != position]
    extra = len(edge.calls) - 3  # three pages without the bad media
    assert extra <= math.ceil(math.log2(50)) + 2, edge.calls


def test_several_bad_media_each_cost_a_ladder() -> None:
    bad = {3, 4, 70, 149}
    edge = FakeEdge(150, bad)
    listed, refused = _walk(edge)
    assert sorted(map(int, refused)) == sorted(bad)
    assert sorted(map(int, listed)) == [i for i in range(150) if i not in bad]
    assert len(edge.calls) <= 3 + len(bad) * (math.ceil(math.log2(50)) + 2)


def test_too_much_data_halves_the_page_until_meta_answers_and_remembers_it() -> None:
    edge = FakeEdge(100, set(), max_page=20)
    listed, refused = _walk(edge)
    assert refused == [] and sorted(map(int, listed)) == list(range(100))
    assert [limit for _, limit, _ in edge.calls[:3]] == [50, 25, 12]
    assert edge.page_sizes.stored["media"] == 12
    assert all(limit <= 12 for _, limit, _ in edge.calls[2:])


def test_a_short_edge_is_counted_before_it_is_bisected() -> None:
    edge = FakeEdge(5, {4})
    listed, refused = _walk(edge, count_first=True)
    assert refused == ["4"] and listed == ["0", "1", "2", "3"]
    assert edge.calls[1] == (0, 50, False), "the refused page is listed once, without insights"
    assert max(limit for _, limit, insights in edge.calls[2:] if insights) <= 2
    assert len(edge.calls) <= 1 + 1 + math.ceil(math.log2(5)) + 1


def test_the_caller_can_end_the_walk_at_a_refused_media() -> None:
    edge = FakeEdge(150, {80, 120})
    seen = []
    walk = InsightWalk(FakeRun(edge), "media", Plan(), page_size=50)
    for event in walk:
        seen.append(event.media["id"])
        if isinstance(event, RefusedMedia):
            walk.stop()
    assert seen[-1] == "80" and len(seen) == 81
    assert max(start for start, _, _ in edge.calls) <= 80, "no page past the media that ended it"


def test_errors_that_are_not_refusals_propagate() -> None:
    class Locked(FakeEdge):
        def get_insights_page(self, *args, **kwargs):
            raise InsightsUnavailableError("posted before", code=100, subcode=2108006)

    edge = Locked(10, set())
    with pytest.raises(InsightsUnavailableError):
        _walk(edge, refusals=(TooMuchDataError,))
