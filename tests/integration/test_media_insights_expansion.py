"""Media insights by field expansion: a page of media per call, the ladder when Meta refuses a
page, the business conversion ending the walk, the page size Meta tolerates, and the
type-specific metrics read while young and once settled. Compared with the per-media road
on the same world.

Streams run in-process on a hook wired to the simulator (real HTTP, Redis, Postgres).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from instagram_graph.metrics import EXPANDED_MEDIA_METRICS, metric_groups

ALL_HISTORY = {"max_age_days": 730, "young_days": 0, "settled_days": 0}  # every media due; no per-media reads
LADDER = math.ceil(math.log2(50)) + 2  # one refusing media in a page of 50: bisect, name it, read it alone


def _expanded_calls(sim, edge: str = "media") -> list[dict]:
    return [r for r in sim.requests(method="GET")
            if r["path"].endswith(f"/{edge}") and "insights.metric" in str(r["params"].get("fields", ""))]


def _per_media_calls(sim) -> list[dict]:
    return [r for r in sim.requests(method="GET") if r["path"].endswith("/insights")]


def _rows(warehouse) -> dict[tuple[str, str], float]:
    return {(m, metric): float(v) for m, metric, v in warehouse(
        "SELECT media_id, metric, value FROM instagram.media_insights WHERE period = 'lifetime'")}


def _feed_truth(sim, account_id: str) -> dict[str, dict]:
    """Per feed/reels media: its kind, and what Meta would answer for it alone."""
    out = {}
    for media in sim.truth("media", account_id=account_id):
        if media["media_product_type"] == "STORY":
            continue
        out[media["id"]] = {**media, **sim.truth("media_insights", media_id=media["id"])}
    return out


def test_the_common_metrics_of_every_media_come_a_page_per_call_with_the_values_meta_gives_alone(
    run_stream, sim, account, warehouse
) -> None:
    run_stream("media")
    truth = _feed_truth(sim, account["id"])
    business = {m for m, t in truth.items() if t["refused"] is None}
    before = {m for m, t in truth.items() if t["refused"] and t["refused"]["subcode"] == 2108006}
    assert before and len(business) > 100, "the seeded world has media on both sides of the conversion"

    sim.clear_requests()
    result = run_stream("media_insights", **ALL_HISTORY)
    assert result.complete
    rows = _rows(warehouse)
    assert {m for m, _ in rows} == business, "every media since the conversion, none before it"
    for (media_id, metric), value in rows.items():
        assert value == truth[media_id]["values"][metric], (media_id, metric)
    for media_id in business:
        t = truth[media_id]
        common, _ = metric_groups(t["media_product_type"], t["media_type"])
        got = {metric for m, metric in rows if m == media_id}
        assert got <= set(common), "only the expanded metrics: the rest are type-specific"
        assert {"reach", "views", "likes", "comments", "saved", "shares"} <= got

    pages = math.ceil(len(business) / 50)
    expanded = _expanded_calls(sim)
    assert pages <= len(expanded) <= pages + LADDER, "a page per call, one ladder at the conversion"
    assert len(_per_media_calls(sim)) <= 1, "only the first media before the conversion is asked alone"
    assert result.calls == len(sim.requests())
    assert any("before the business conversion" in s for s in result.skipped)

    sim.clear_requests()
    again = run_stream("media_insights", **ALL_HISTORY)
    assert again.complete and again.skipped == []
    assert all(r["status"] == 200 for r in sim.requests()), "the conversion is remembered: no page reaches it"
    assert len(sim.requests()) == 1, "a day later only the recent media are due: one page holds them"


def test_the_two_roads_load_the_same_media_and_values_on_the_same_world(run_stream, sim, account, warehouse) -> None:
    run_stream("media")
    sim.clear_requests()
    ours = run_stream("media_insights", max_age_days=730)
    ours_rows, ours_calls = _rows(warehouse), len(sim.requests())

    warehouse("TRUNCATE instagram.media_insights, instagram.media_insight_reads")
    warehouse("DELETE FROM instagram.sync_state WHERE stream = 'media_insights'")
    sim.clear_requests()
    per_media = run_stream("media_insights", max_age_days=730, insights_road="per_media")
    per_media_rows, per_media_calls = _rows(warehouse), len(sim.requests())

    assert ours.complete and per_media.complete
    assert {m for m, _ in ours_rows} == {m for m, _ in per_media_rows}
    assert ours_rows.items() <= per_media_rows.items(), "every value ours loaded is what Meta gives per media"
    missing = per_media_rows.keys() - ours_rows.keys()
    assert all(metric not in {"reach", "views", "likes", "comments", "saved", "shares"} for _, metric in missing)
    assert per_media_calls >= len({m for m, _ in per_media_rows})
    assert ours_calls * 4 < per_media_calls, (ours_calls, per_media_calls)


def test_a_metric_one_kind_refuses_costs_one_ladder_then_is_left_out_of_pages_holding_that_kind(
    run_stream, sim, account, warehouse
) -> None:
    sim.configure(refused_media_metrics={"REELS": ["saved"]})
    run_stream("media")
    sim.clear_requests()
    result = run_stream("media_insights", **ALL_HISTORY)
    assert result.complete
    assert warehouse("SELECT media_product_type, metric FROM instagram.metric_refusals") == [("REELS", "saved")]
    refused = [r for r in _expanded_calls(sim) if r["status"] != 200]
    assert 1 <= len(refused) <= 2 * LADDER, "the refusal and the conversion: one ladder each"
    alone = _per_media_calls(sim)
    assert any("saved" in str(r["params"]) and r["status"] != 200 for r in alone), "the reel read alone learns it"

    truth = _feed_truth(sim, account["id"])
    rows = _rows(warehouse)
    reels = {m for m, t in truth.items() if t["media_product_type"] == "REELS" and t["refused"] is None}
    assert reels and all((m, "saved") not in rows for m in reels)
    assert all((m, "reach") in rows for m in reels), "the reels' other metrics are all there"

    sim.clear_requests()
    run_stream("media_insights", **ALL_HISTORY)
    assert [r for r in sim.requests() if r["status"] != 200] == [], "remembered: no page is refused again"


def test_too_much_data_halves_the_page_for_the_connection_and_every_worker_starts_there(
    run_stream, sim, account, warehouse, make_hook, redis_client
) -> None:
    sim.configure(insights_page_limit=20)
    run_stream("media")
    sim.clear_requests()
    result = run_stream("media_insights", **ALL_HISTORY)
    assert result.complete
    expanded = _expanded_calls(sim)
    sizes = [int(r["params"]["limit"]) for r in expanded]
    assert sizes[:3] == [50, 25, 12], "50 and 25 refused once each (never retried as they were), then 12"
    assert [r["status"] for r in expanded[:2]] == [500, 500] and all(r["status"] == 200 for r in expanded[2:4])
    assert max(sizes[2:]) <= 12
    assert int(redis_client.get(f"ig:page_size:{make_hook().settings.app_id}:media")) == 12
    truth = _feed_truth(sim, account["id"])
    assert {m for m, _ in _rows(warehouse)} == {m for m, t in truth.items() if t["refused"] is None}

    sim.clear_requests()
    run_stream("media_insights", hook=make_hook(), **ALL_HISTORY)
    assert all(int(r["params"]["limit"]) <= 12 and r["status"] == 200 for r in _expanded_calls(sim)), (
        "another worker starts at the size Meta accepted"
    )


def test_type_specific_metrics_are_read_while_young_and_once_settled_then_never(
    run_stream, sim, account, warehouse
) -> None:
    run_stream("media")
    now = datetime.now(UTC)
    truth = _feed_truth(sim, account["id"])

    def age(media_id: str, at: datetime) -> int:
        stamp = datetime.strptime(truth[media_id]["timestamp"], "%Y-%m-%dT%H:%M:%S%z")
        return (at - stamp) // timedelta(days=1)

    def in_windows(at: datetime) -> set[str]:
        return {m for m, t in truth.items() if t["refused"] is None
                and (age(m, at) < 2 or 28 <= age(m, at) < 35)}

    options = {"max_age_days": 90, "young_days": 2, "settled_days": 28}
    sim.clear_requests()
    run_stream("media_insights", end=now, **options)
    first = {r["path"].strip("/").split("/")[0] for r in _per_media_calls(sim)}
    assert first == in_windows(now) and first, "one call per media in a window, none outside"
    rows = _rows(warehouse)
    for media_id in first:
        t = truth[media_id]
        _, specific = metric_groups(t["media_product_type"], t["media_type"])
        assert {(media_id, metric) for metric in specific} <= rows.keys(), media_id

    sim.clear_requests()
    run_stream("media_insights", end=now, **options)
    assert _per_media_calls(sim) == [], "the same day: every media of a window was read at this age"

    later = now + timedelta(days=1)
    sim.advance_clock(86_400)
    sim.clear_requests()
    run_stream("media_insights", end=later, **options)
    second = {r["path"].strip("/").split("/")[0] for r in _per_media_calls(sim)}
    young_again = {m for m in first if age(m, later) < 2}
    settled_before = {m for m in first if age(m, now) >= 28}
    assert young_again <= second, "a young media is read once per day of its age"
    assert not (second & settled_before), "a settled media is read once, then never again"
    assert second == young_again | (in_windows(later) - first)


def test_an_older_media_is_read_again_once_stale_days_after_its_last_read_even_when_nothing_changed(
    run_stream, sim, account, schema
) -> None:
    import psycopg2

    from instagram_graph.sync.stream_state import media_for_insights

    run_stream("media")
    now = datetime.now(UTC)
    options = {"young_days": 0, "settled_days": 0}  # recent_days 30, max_age_days 90, stale_days 7

    def due(at: datetime) -> set[str]:
        conn = psycopg2.connect(schema)
        try:
            return {m[0] for m in media_for_insights(
                conn, account["id"], oldest=at - timedelta(days=90), recent=at - timedelta(days=30),
                stale_before=at - timedelta(days=7))}
        finally:
            conn.close()

    def recent(at: datetime) -> set[str]:
        return {m["id"] for m in sim.truth("media", account_id=account["id"]) if m["media_product_type"] != "STORY"
                and datetime.strptime(m["timestamp"], "%Y-%m-%dT%H:%M:%S%z") >= at - timedelta(days=30)}

    run_stream("media_insights", end=now, **options)
    assert due(now + timedelta(days=1)) == recent(now + timedelta(days=1))
    eight_days = now + timedelta(days=8)
    older = due(eight_days) - recent(eight_days)
    assert older, "a week later the older media are due again"
    sim.advance_clock(8 * 86_400)
    run_stream("media_insights", end=eight_days, **options)  # Meta's numbers did not change
    nine_days = now + timedelta(days=9)
    assert due(nine_days) == recent(nine_days), "read a day ago: not due, although no value changed"


def test_a_story_metric_meta_refuses_costs_one_ladder_and_the_other_metrics_of_every_story_load(
    run_stream, sim, account, warehouse
) -> None:
    sim.configure(refused_media_metrics={"STORY": ["navigation"]})
    truth = sim.truth("stories", account_id=account["id"])
    viewed = {s["id"] for s in truth if s["viewers"] >= 5}
    assert len(viewed) >= 2
    sim.clear_requests()
    result = run_stream("stories")
    rows = _rows(warehouse)
    assert {m for m, _ in rows} == viewed
    assert all((m, "reach") in rows and (m, "navigation") not in rows for m in viewed)
    assert [r[0] for r in warehouse("SELECT DISTINCT metric FROM instagram.metric_refusals")] == ["navigation"]
    alone = _per_media_calls(sim)
    assert len(alone) == 2 and alone[0]["status"] != 200, "one story read alone learns the refusal"
    assert len(result.skipped) >= len(truth) - len(viewed)

    sim.clear_requests()
    run_stream("stories")
    assert _per_media_calls(sim) == [], "remembered for every kind of story"


def test_the_windows_can_be_turned_off(run_stream, sim, account) -> None:
    run_stream("media")
    sim.clear_requests()
    run_stream("media_insights", young_days=0, settled_days=0)
    assert _per_media_calls(sim) == [] and _expanded_calls(sim)


def test_an_expanded_call_weighed_per_media_in_metas_usage_changes_nothing_we_load(
    run_stream, sim, account, warehouse
) -> None:
    run_stream("media")
    run_stream("media_insights", **ALL_HISTORY)
    by_call = _rows(warehouse)
    warehouse("TRUNCATE instagram.media_insights")
    warehouse("DELETE FROM instagram.sync_state WHERE stream = 'media_insights'")
    sim.reset()
    sim.configure(expanded_insights_weight="media")
    result = run_stream("media_insights", **ALL_HISTORY)
    assert result.complete and _rows(warehouse) == by_call


def test_when_meta_counts_an_expanded_call_per_media_a_throttled_walk_is_finished_by_the_next_run(
    run_stream, sim, account, warehouse, redis_client
) -> None:
    from instagram_graph.errors import RateLimitError

    run_stream("media")
    truth = _feed_truth(sim, account["id"])
    sim.configure(expanded_insights_weight="media", calls_per_hour=120)
    with pytest.raises(RateLimitError):
        run_stream("media_insights", **ALL_HISTORY)
    partial = {m for m, _ in _rows(warehouse)}
    assert partial and len(partial) < len(truth), "throttled part-way by Meta's own count"
    stamp = {m: t["timestamp"] for m, t in truth.items()}
    missing = set(truth) - partial
    assert min(stamp[m] for m in partial) > max(stamp[m] for m in missing), "what was read is kept: the newest"

    sim.configure(calls_per_hour=10_000)  # the account's hour has passed, and the pause with it
    for key in redis_client.scan_iter("ig:throttle:*"):
        redis_client.delete(key)
    sim.clear_requests()
    result = run_stream("media_insights", **ALL_HISTORY)
    assert result.complete
    assert {m for m, _ in _rows(warehouse)} == {m for m, t in truth.items() if t["refused"] is None}


@pytest.mark.parametrize("bad", [{"insights_road": "batch"}, {"insights_page_size": "0"}, {"young_days": "-1"}])
def test_bad_options_are_refused_before_any_call(bad) -> None:
    from instagram_graph.sync.base import SyncOptionError, validate_options

    with pytest.raises(SyncOptionError, match=next(iter(bad))):
        validate_options(bad)


def test_expanded_metrics_are_what_every_feed_and_reels_kind_accepts() -> None:
    for product, media_type in (("FEED", "IMAGE"), ("FEED", "CAROUSEL_ALBUM"), ("REELS", "VIDEO")):
        common, specific = metric_groups(product, media_type)
        assert set(common) == EXPANDED_MEDIA_METRICS and specific
    common, _ = metric_groups("FEED", "VIDEO")
    assert "total_interactions" not in common, "legacy feed videos refuse it"
    assert metric_groups("STORY", "IMAGE")[1] == (), "stories are read whole, while live"
