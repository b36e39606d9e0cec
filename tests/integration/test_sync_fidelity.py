"""Sync streams against what Meta really answers: refused metrics remembered, follower_count's
30-day rule, story insights only while live, objects that vanish skipped and marked.

Streams run in-process on a hook wired to the simulator (real HTTP, Redis, Postgres).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from instagram_graph.sync.insights import follower_count_floor

NOW = datetime.now(UTC)


def _insights_calls(sim, media_ids=None) -> list[dict]:
    calls = [r for r in sim.requests(method="GET") if r["path"].endswith("/insights")]
    if media_ids is not None:
        calls = [r for r in calls if r["path"].strip("/").split("/")[0] in media_ids]
    return calls


def _reels(warehouse, account_id: str) -> set[str]:
    return {r[0] for r in warehouse(
        "SELECT media_id FROM instagram.media WHERE account_id = %s AND media_product_type = 'REELS' "
        "AND \"timestamp\" >= now() - interval '30 days'", (account_id,))}


def test_per_media_a_metric_refused_for_reels_costs_one_call_then_none(run_stream, sim, account, warehouse) -> None:
    sim.configure(refused_media_metrics={"REELS": ["reels_skip_rate"]})
    run_stream("media")
    reels = _reels(warehouse, account["id"])
    assert len(reels) >= 2, "the seeded world has several recent reels"

    sim.clear_requests()
    first = run_stream("media_insights", insights_road="per_media")
    refused = [r for r in _insights_calls(sim, reels) if r["status"] != 200]
    assert len(refused) == 1, "one refusal for the kind of media, not one per reel"
    assert "reels_skip_rate" in str(refused[0]["params"])
    assert warehouse("SELECT media_product_type, media_type, metric FROM instagram.metric_refusals") == [
        ("REELS", "VIDEO", "reels_skip_rate")
    ]
    loaded = warehouse("SELECT DISTINCT metric FROM instagram.media_insights WHERE media_id = ANY(%s)", (list(reels),))
    assert "ig_reels_avg_watch_time" in {r[0] for r in loaded} and "reels_skip_rate" not in {r[0] for r in loaded}
    assert first.complete

    sim.clear_requests()
    run_stream("media_insights", insights_road="per_media")
    calls = _insights_calls(sim, reels)
    assert len(calls) == len(reels) and all(r["status"] == 200 for r in calls), "the next run asks no refused metric"
    assert all("reels_skip_rate" not in str(r["params"]) for r in calls)

    # A week later it asks once more, in case Meta changed its mind; Meta now answers.
    warehouse("UPDATE instagram.metric_refusals SET last_seen_at = now() - interval '8 days'")
    sim.configure(refused_media_metrics={})
    sim.clear_requests()
    run_stream("media_insights", insights_road="per_media")
    assert warehouse("SELECT count(*) FROM instagram.metric_refusals") == [(0,)]
    assert any("reels_skip_rate" in str(r["params"]) for r in _insights_calls(sim, reels))


def test_follower_count_is_never_asked_for_days_older_than_30(run_stream, sim, account, warehouse) -> None:
    start = (NOW - timedelta(days=45)).replace(hour=0, minute=0, second=0, microsecond=0)
    sim.clear_requests()
    result = run_stream("account_insights", start=start, end=start + timedelta(days=20))
    assert result.complete and not [s for s in result.skipped if "follower_count" in s]
    floor = follower_count_floor().timestamp()
    series = [r for r in sim.requests(method="GET") if r["path"].endswith("/insights")
              and "total_value" not in str(r["params"].get("metric_type"))]
    assert series and all(r["status"] == 200 for r in series)
    old = [r for r in series if int(r["params"]["since"]) < floor]
    recent = [r for r in series if int(r["params"]["since"]) >= floor]
    assert old and all("follower_count" not in r["params"]["metric"] for r in old)
    assert recent and all("follower_count" in r["params"]["metric"] for r in recent), "split at the 30-day line"
    reach = warehouse("SELECT count(*) FROM instagram.account_insights WHERE metric = 'reach' AND end_time < %s",
                      (datetime.fromtimestamp(floor, UTC),))
    assert reach[0][0] > 0, "older days still get every other metric"


def test_story_insights_are_read_while_live_and_never_after(run_stream, sim, account, warehouse) -> None:
    truth = sim.truth("stories", account_id=account["id"])
    stories = {s["id"] for s in truth}
    too_few_viewers = {s["id"] for s in truth if s["viewers"] < 5}
    sim.clear_requests()
    result = run_stream("stories")
    with_insights = {r[0] for r in warehouse(
        "SELECT DISTINCT media_id FROM instagram.media_insights WHERE media_id = ANY(%s)", (list(stories),))}
    assert with_insights == stories - too_few_viewers and with_insights
    assert len(result.skipped) == len(too_few_viewers), "too few viewers: skipped, not failed"
    assert _insights_calls(sim, stories) == [], "insights come expanded on /stories; a refusal is the story's own"
    ladder = 1 + math.ceil(math.log2(len(stories))) + 1  # list the page, bisect, name the story
    assert result.calls == len(sim.requests()) <= 1 + len(too_few_viewers) * ladder

    run_stream("media")
    sim.clear_requests()
    run_stream("media_insights")
    assert _insights_calls(sim, stories) == [], "the daily media insights leave stories to the hourly stream"

    sim.advance_clock(25 * 3600)
    sim.clear_requests()
    run_stream("stories")
    assert _insights_calls(sim, stories) == [] and len(sim.requests()) == 1, "expired: one listing call, no insights"
    assert warehouse("SELECT count(*) FROM instagram.media WHERE media_id = ANY(%s) AND deleted_at IS NULL",
                     (list(stories),)) == [(len(stories),)], "expired stories are not deleted ones"


def test_a_deleted_media_is_skipped_marked_and_its_comments_too(run_stream, sim, account, warehouse) -> None:
    run_stream("media", lookback_days=3)
    run_stream("comments", comment_days=365)
    commented = sim.truth("media", account_id=account["id"])
    victim = next(m["id"] for m in commented[5:] if m.get("comments_count"))
    sim.delete_object(victim)

    sim.clear_requests()
    result = run_stream("comments", comment_days=365)
    assert result.gone == 1 and result.complete
    assert len([r for r in sim.requests() if victim in r["path"]]) == 1, "100/33 is never retried"
    assert warehouse("SELECT deleted_at IS NOT NULL FROM instagram.media WHERE media_id = %s", (victim,)) == [(True,)]
    assert warehouse("SELECT bool_and(deleted_at IS NOT NULL) FROM instagram.comments WHERE media_id = %s",
                     (victim,)) == [(True,)]

    sim.clear_requests()
    run_stream("comments", comment_days=365)
    run_stream("media_insights")
    assert [r for r in sim.requests() if victim in r["path"]] == []


def test_a_media_gone_from_the_walk_is_marked(run_stream, sim, account, warehouse) -> None:
    run_stream("media")
    newest = sim.truth("media", account_id=account["id"])[:5]
    sim.delete_object(newest[2]["id"])
    result = run_stream("media", lookback_days=3)
    assert result.gone == 1
    marked = warehouse("SELECT media_id FROM instagram.media WHERE deleted_at IS NOT NULL")
    assert marked == [(newest[2]["id"],)]


def test_a_media_meta_lists_again_is_unmarked(run_stream, sim, account, warehouse) -> None:
    run_stream("media")
    newest = sim.truth("media", account_id=account["id"])[0]["id"]
    warehouse("UPDATE instagram.media SET deleted_at = now() WHERE media_id = %s", (newest,))
    run_stream("media")
    assert warehouse("SELECT deleted_at FROM instagram.media WHERE media_id = %s", (newest,)) == [(None,)]
