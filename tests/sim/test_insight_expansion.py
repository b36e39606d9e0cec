"""Media insights as a field: ``fields=insights.metric(..)`` on media, the media and stories edges.

Every media of a page answers exactly what ``GET /{media-id}/insights`` answers for it; one
media that would refuse fails the whole call with its error (no partial page); big pages
answer Meta's "reduce the amount of data" error; the settings ``insights_page_limit`` and
``expanded_insights_weight`` change the page size allowed and what such a call weighs.
"""

from __future__ import annotations

import json

import pytest

METRICS = "reach,views,likes,comments,saved,shares,reposts"  # every feed media and reel has them
STORY_METRICS = "reach,views,replies,navigation"
REDUCE_DATA = "Please reduce the amount of data you're asking for, then retry your request"
ALL_BUT_INSIGHTS = ["instagram_business_basic", "instagram_business_content_publish",
                    "instagram_business_manage_messages", "instagram_business_manage_comments"]


def _fields(metrics: str = METRICS) -> str:
    return f"id,media_type,media_product_type,timestamp,insights.metric({metrics})"


def _same_error(expanded, per_media) -> None:
    """The expansion's answer is the per-media call's error: status, code, subcode, type, message, all of it."""
    assert expanded.status_code == per_media.status_code != 200, (expanded.text, per_media.text)
    first, second = expanded.json()["error"], per_media.json()["error"]
    first.pop("fbtrace_id")
    second.pop("fbtrace_id")
    assert first == second


def _media_ids(graph, edge: str = "media", account: int = 0) -> list[str]:
    items, _ = graph.collect(f"/me/{edge}", account=account, fields="id", limit=100)
    return [item["id"] for item in items]


def _cursor_after(graph, index: int, edge: str = "media") -> str | None:
    """The ``after`` cursor that starts a page at item ``index`` of the edge (None: the first page)."""
    if index == 0:
        return None
    body = graph.get(f"/me/{edge}", fields="id", limit=index).json()
    return body["paging"]["cursors"]["after"]


def _page(graph, start: int, limit: int, fields: str, edge: str = "media", **params):
    after = _cursor_after(graph, start, edge)
    if after is not None:
        params["after"] = after
    return graph.get(f"/me/{edge}", fields=fields, limit=limit, **params)


def _first_per_media_refusal(graph, media_ids: list[str], metrics: str):
    """The per-media answer of the first media, in page order, that refuses these metrics (None: all answer)."""
    for media_id in media_ids:
        response = graph.get(f"/{media_id}/insights", metric=metrics)
        if response.status_code != 200:
            return response
    return None


def _answering_window(sim, graph, size: int, excluded) -> int:
    """The start of a run of ``size`` media none of which refuses insights or satisfies ``excluded(record)``."""
    media = sim.truth("media", account_id=graph.account()["id"])
    bad = [excluded(m) or sim.truth("media_insights", media_id=m["id"])["refused"] is not None for m in media]
    for start in range(len(media) - size + 1):
        if not any(bad[start:start + size]):
            return start
    raise AssertionError(f"no run of {size} media without a refusal")


# --- values -----------------------------------------------------------------------------------


def test_media_pages_carry_the_per_media_insights(graph, sim):
    first = graph.get("/me/media", fields=_fields(), limit=50)
    assert first.status_code == 200, first.text
    body = first.json()
    second = graph.session.get(body["paging"]["next"], timeout=10)  # the next link keeps the expansion
    assert second.status_code == 200, second.text
    items = body["data"] + second.json()["data"]
    assert len(items) == 100
    assert [item["id"] for item in items] == _media_ids(graph)[:100]
    for item in items:
        assert set(item) == {"id", "media_type", "media_product_type", "timestamp", "insights"}
        per_media = graph.get(f"/{item['id']}/insights", metric=METRICS)
        assert per_media.status_code == 200
        assert item["insights"] == per_media.json()
        assert [entry["name"] for entry in item["insights"]["data"]] == METRICS.split(",")
        first_entry = item["insights"]["data"][0]
        assert first_entry["period"] == "lifetime" and first_entry["id"] == f"{item['id']}/insights/reach/lifetime"
        truth = sim.truth("media_insights", media_id=item["id"])["values"]
        assert {e["name"]: e["values"][0]["value"] for e in item["insights"]["data"]} == \
            {name: truth[name] for name in METRICS.split(",")}


def test_stories_pages_carry_the_per_media_insights_and_a_quiet_story_fails_the_page(graph, sim):
    stories = sim.truth("stories", account_id=graph.account()["id"])
    order = _media_ids(graph, "stories")
    assert sorted(order) == sorted(s["id"] for s in stories)
    viewers = {s["id"]: s["viewers"] for s in stories}
    quiet = next(i for i, story_id in enumerate(order) if viewers[story_id] < 5)
    assert quiet > 0, "the seeded world has watched stories before the quiet one"
    body = graph.get("/me/stories", fields=f"id,insights.metric({STORY_METRICS})", limit=quiet).json()
    assert [item["id"] for item in body["data"]] == order[:quiet]
    for item in body["data"]:
        assert item["insights"] == graph.get(f"/{item['id']}/insights", metric=STORY_METRICS).json()
        assert item["insights"]["data"][0]["values"][0]["value"] == viewers[item["id"]]
    whole = graph.get("/me/stories", fields=f"id,insights.metric({STORY_METRICS})", limit=50)
    _same_error(whole, graph.get(f"/{order[quiet]}/insights", metric=STORY_METRICS))
    assert graph.error(whole)["code"] == 10
    assert graph.get("/me/stories", fields="id", limit=50).status_code == 200  # without insights it answers


def test_node_read_json_array_period_and_subfields(graph, sim):
    media_id = _media_ids(graph)[0]
    per_media = graph.get(f"/{media_id}/insights", metric="reach,views").json()
    node = graph.get(f"/{media_id}", fields="id,insights.metric(reach,views)")
    assert node.status_code == 200 and node.json() == {"id": media_id, "insights": per_media}
    array = graph.get(f"/{media_id}", fields='id,insights.metric(["reach","views"])').json()
    period = graph.get(f"/{media_id}", fields="id,insights.metric(reach, views).period(lifetime)").json()
    assert array == period == node.json()
    picked = graph.get(f"/{media_id}", fields="insights.metric(reach,views){name,values}").json()
    assert picked["insights"]["data"] == [
        {key: entry[key] for key in ("name", "values", "id")} for entry in per_media["data"]]
    unknown_sub = graph.error(graph.get(f"/{media_id}", fields="insights.metric(reach){nonsense}"))
    assert unknown_sub["code"] == 100 and "nonexisting field (nonsense)" in unknown_sub["message"]
    nested = graph.get("/me", fields="id,media.limit(5){id,insights.metric(reach,views)}").json()
    assert [item["insights"] for item in nested["media"]["data"]] == \
        [graph.get(f"/{item['id']}/insights", metric="reach,views").json() for item in nested["media"]["data"]]


# --- one media refusing fails the whole call ------------------------------------------------------


def test_refused_media_metrics_setting_fails_the_whole_page(graph, sim):
    sim.configure(refused_media_metrics={"REELS": ["views"]})
    ids = _media_ids(graph)
    with_reel = graph.get("/me/media", fields=_fields(), limit=50)
    expected = _first_per_media_refusal(graph, ids[:50], METRICS)
    assert expected is not None  # the newest media of every kind include a reel
    _same_error(with_reel, expected)
    error = graph.error(with_reel)
    assert (error["code"], error.get("error_subcode"), error["type"]) == (100, None, "IGApiException")
    assert "does not support the views metric for this media product type (REELS)" in error["message"]
    start = _answering_window(sim, graph, 5, lambda m: m["media_product_type"] == "REELS")
    without = _page(graph, start, 5, _fields())
    assert without.status_code == 200, without.text
    assert all(item["media_product_type"] != "REELS" for item in without.json()["data"])
    sim.configure(refused_media_metrics={})
    assert graph.get("/me/media", fields=_fields(), limit=50).status_code == 200


def test_legacy_feed_video_with_total_interactions_fails_the_whole_page(graph, sim):
    metrics = "reach,total_interactions"
    ids = _media_ids(graph)
    media = sim.truth("media", account_id=graph.account()["id"])
    first_video = next(i for i, m in enumerate(media)
                       if (m["media_type"], m["media_product_type"]) == ("VIDEO", "FEED"))
    assert first_video < 50
    page = graph.get("/me/media", fields=_fields(metrics), limit=50)
    _same_error(page, graph.get(f"/{ids[first_video]}/insights", metric=metrics))
    assert "total_interactions is not supported for this media type" in graph.error(page)["message"]
    start = _answering_window(sim, graph, 10, lambda m: (m["media_type"], m["media_product_type"]) == ("VIDEO", "FEED"))
    ok = _page(graph, start, 10, _fields(metrics))
    assert ok.status_code == 200, ok.text
    assert [item["id"] for item in ok.json()["data"]] == ids[start:start + 10]
    assert graph.get("/me/media", fields=_fields("reach,likes"), limit=50).status_code == 200


def test_media_before_business_conversion_fails_the_whole_page(graph, sim):
    media = sim.truth("media", account_id=graph.account()["id"])
    old = [i for i, m in enumerate(media) if sim.truth("media_insights", media_id=m["id"])["refused"]]
    assert old and old[0] > 0
    first_old = old[0]
    assert sim.truth("media_insights", media_id=media[first_old]["id"])["refused"]["subcode"] == 2108006
    start = max(0, first_old - 10)
    failing = _page(graph, start, 20, _fields())
    _same_error(failing, graph.get(f"/{media[first_old]['id']}/insights", metric=METRICS))
    error = graph.error(failing)
    assert (error["code"], error["error_subcode"]) == (100, 2108006)
    assert failing.status_code == 400
    before = _page(graph, start, first_old - start, _fields())
    assert before.status_code == 200, before.text
    assert len(before.json()["data"]) == first_old - start
    node = graph.get(f"/{media[first_old]['id']}", fields="id,insights.metric(reach)")
    _same_error(node, graph.get(f"/{media[first_old]['id']}/insights", metric="reach"))


def test_the_first_refusing_media_in_page_order_names_the_error(graph, sim):
    # Reels refuse views, legacy feed videos total_interactions: whichever comes first answers.
    sim.configure(refused_media_metrics={"REELS": ["views"]})
    metrics = "reach,views,total_interactions"
    ids = _media_ids(graph)
    for start in (0, 3, 20, 60):
        expected = _first_per_media_refusal(graph, ids[start:start + 50], metrics)
        page = _page(graph, start, 50, _fields(metrics))
        if expected is None:
            assert page.status_code == 200, page.text
        else:
            _same_error(page, expected)


def test_carousel_children_refuse_insights(graph, sim):
    media = sim.truth("media", account_id=graph.account()["id"])
    carousel = next(m for m in media if m["media_type"] == "CAROUSEL_ALBUM"
                    and sim.truth("media_insights", media_id=m["id"])["refused"] is None)
    children = graph.get(f"/{carousel['id']}/children", fields="id,insights.metric(reach)")
    _same_error(children, graph.get(f"/{carousel['children'][0]['id']}/insights", metric="reach"))


# --- page size ----------------------------------------------------------------------------------


def test_pages_above_insights_page_limit_answer_reduce_data(graph, sim):
    assert sim.config()["insights_page_limit"] == 50
    for limit in (51, 100, 500):  # 500 is clamped to 100, still above
        response = graph.get("/me/media", fields=_fields(), limit=limit)
        assert response.status_code == 500, limit
        body = response.json()
        assert list(body) == ["error"]
        error = body["error"]
        assert list(error) == ["message", "code", "fbtrace_id"]
        assert error["message"] == REDUCE_DATA and error["code"] == 1
        assert response.headers["x-fb-trace-id"] == error["fbtrace_id"]
    assert graph.get("/me/media", fields=_fields(), limit=50).status_code == 200
    assert graph.get("/me/media", fields="id,media_type", limit=100).status_code == 200  # no insights, no limit
    nested = graph.get("/me", fields="media.limit(60){id,insights.metric(reach)}")
    assert nested.status_code == 500 and nested.json()["error"]["message"] == REDUCE_DATA


def test_insights_page_limit_setting(graph, sim):
    sim.configure(insights_page_limit=20)
    default_page = graph.get("/me/media", fields=_fields())  # Meta's default page size, 25
    assert default_page.status_code == 500 and default_page.json()["error"]["code"] == 1
    assert graph.get("/me/media", fields=_fields(), limit=20).status_code == 200
    sim.configure(insights_page_limit=1)
    media_id = _media_ids(graph)[0]
    assert graph.get(f"/{media_id}", fields="id,insights.metric(reach)").status_code == 200  # a node counts 1
    assert graph.get("/me/media", fields=_fields(), limit=1).status_code == 200
    assert graph.get("/me/media", fields=_fields(), limit=2).status_code == 500
    sim.configure(insights_page_limit=100)
    hundred = graph.get("/me/media", fields=_fields(), limit=100)
    assert hundred.status_code == 200 and len(hundred.json()["data"]) == 100
    sim.reset()
    assert sim.config()["insights_page_limit"] == 50
    for bad in ({"insights_page_limit": 0}, {"insights_page_limit": -5}, {"expanded_insights_weight": "page"}):
        response = graph.session.post(f"{sim.base_url}/__sim__/config", json=bad, timeout=5)
        assert response.status_code == 422, bad


# --- usage weight -------------------------------------------------------------------------------


def _buc_calls(response, account_id) -> int:
    (entry,) = json.loads(response.headers["X-Business-Use-Case-Usage"])[account_id]
    return entry["call_count"]


@pytest.mark.parametrize(("weight", "expected"), [("call", 1), ("media", 50)])
def test_expanded_insights_weight(graph, sim, weight, expected):
    account_id = graph.account()["id"]
    assert sim.config()["expanded_insights_weight"] == "call"
    sim.configure(calls_per_hour=100, expanded_insights_weight=weight)  # one call: 1 %
    page = graph.get("/me/media", fields=_fields(), limit=50)
    assert page.status_code == 200 and len(page.json()["data"]) == 50
    assert _buc_calls(page, account_id) == expected
    media_id = page.json()["data"][0]["id"]
    node = graph.get(f"/{media_id}", fields="id,insights.metric(reach)")  # a node read weighs 1 either way
    assert _buc_calls(node, account_id) == expected + 1
    plain = graph.get("/me/media", fields="id", limit=50)  # without insights: 1 either way
    assert _buc_calls(plain, account_id) == expected + 2


def test_media_weight_drives_throttling(graph, sim):
    account_id = graph.account()["id"]
    sim.configure(calls_per_hour=100, expanded_insights_weight="media")
    assert graph.get("/me/media", fields=_fields(), limit=50).status_code == 200
    full = graph.get("/me/media", fields=_fields(), limit=50)  # 100 calls counted: at the limit
    assert full.status_code == 200
    (entry,) = json.loads(full.headers["X-Business-Use-Case-Usage"])[account_id]
    assert entry["call_count"] == 100 and entry["estimated_time_to_regain_access"] > 0
    throttled = graph.get("/me")
    assert throttled.status_code == 429 and graph.error(throttled)["code"] == 80002
    refused = graph.get("/me/media", fields=_fields("reach,total_interactions"), limit=50, account=1)
    assert refused.status_code == 400  # a failing call weighs 1: nothing was answered
    assert _buc_calls(graph.get("/me", account=1), graph.account(1)["id"]) == 2


# --- permission and metric errors ----------------------------------------------------------------


def test_insights_field_needs_the_insights_permission(graph, sim):
    account_id = graph.account()["id"]
    media_id = _media_ids(graph)[0]
    sim.set_token(account_id, permissions=ALL_BUT_INSIGHTS)
    per_media = graph.get(f"/{media_id}/insights", metric="reach")
    assert per_media.status_code == 403 and graph.error(per_media)["code"] == 10
    for path in ("/me/media", "/me/stories", f"/{media_id}"):
        _same_error(graph.get(path, fields="id,insights.metric(reach)"), per_media)
        assert graph.get(path, fields="id,media_type").status_code == 200
    nested = graph.get("/me", fields="media{insights.metric(reach)}")
    _same_error(nested, per_media)


def test_unknown_deprecated_and_missing_metrics_answer_as_the_per_media_call(graph, sim):
    first = _media_ids(graph)[0]
    for metrics in ("reach,impressions", "plays", "reach,nonsense", "reach,video_views"):
        page = graph.get("/me/media", fields=_fields(metrics), limit=10)
        _same_error(page, graph.get(f"/{first}/insights", metric=metrics))
        _same_error(graph.get(f"/{first}", fields=f"insights.metric({metrics})"),
                    graph.get(f"/{first}/insights", metric=metrics))
    assert "no longer supported" in graph.error(graph.get("/me/media", fields=_fields("impressions")))["message"]
    missing = graph.get(f"/{first}/insights")
    for fields in ("id,insights", "id,insights.metric()", "id,insights.period(lifetime)"):
        _same_error(graph.get("/me/media", fields=fields), missing)
        _same_error(graph.get(f"/{first}", fields=fields), missing)
    assert graph.error(missing)["message"] == "(#100) The parameter metric is required"
    bad_list = graph.get(f"/{first}", fields='insights.metric(["reach",)')
    _same_error(bad_list, graph.get(f"/{first}/insights", metric='["reach",'))
    breakdown = graph.error(graph.get("/me/media", fields="insights.metric(reach).breakdown(action_type)"))
    assert breakdown["code"] == 100 and "breakdown" in breakdown["message"]


def test_media_insights_answers_are_unchanged(graph, sim):
    """The per-media call still answers the same after the refactoring (shape and breakdowns)."""
    media = sim.truth("media", account_id=graph.account()["id"])
    image = next(m for m in media if m["media_type"] == "IMAGE"
                 and sim.truth("media_insights", media_id=m["id"])["refused"] is None)
    body = graph.get(f"/{image['id']}/insights", metric="reach,profile_activity",
                     breakdown="action_type")
    assert body.status_code == 400  # reach has no action_type breakdown
    split = graph.get(f"/{image['id']}/insights", metric="profile_activity", breakdown="action_type").json()
    (item,) = split["data"]
    assert set(item) == {"name", "period", "total_value", "title", "description", "id"}
    assert sum(r["value"] for r in item["total_value"]["breakdowns"][0]["results"]) == item["total_value"]["value"]
    plain = graph.get(f"/{image['id']}/insights", metric="reach").json()
    assert list(plain["data"][0]) == ["name", "period", "values", "title", "description", "id"]


def test_settings_are_sim_config_fields_and_command_line_flags():
    from graph_api_sim import SimConfig
    from graph_api_sim.__main__ import parse_args
    from graph_api_sim.simulator import Simulator

    simulator = Simulator(SimConfig(accounts=1, media_per_account=4, insights_page_limit=10,
                                    expanded_insights_weight="media"))
    simulator.settings.update(insights_page_limit=3, expanded_insights_weight="call")
    simulator.reset()  # back to the configuration
    assert (simulator.settings.insights_page_limit, simulator.settings.expanded_insights_weight) == (10, "media")
    for bad in ({"insights_page_limit": 0}, {"expanded_insights_weight": "page"}):
        with pytest.raises(ValueError):
            SimConfig(**bad)
        with pytest.raises(ValueError):
            simulator.settings.update(**bad)
    args = parse_args(["--insights-page-limit", "7", "--expanded-insights-weight", "media"])
    assert (args.insights_page_limit, args.expanded_insights_weight) == (7, "media")
    defaults = parse_args([])
    assert (defaults.insights_page_limit, defaults.expanded_insights_weight) == (50, "call")


@pytest.mark.parametrize("share", [0.0, 0.15, 0.5])
def test_pre_business_share_puts_the_business_conversion_after_that_share_of_the_oldest_media(share) -> None:
    import time

    from graph_api_sim.config import SimConfig
    from graph_api_sim.world import World

    world = World(SimConfig(accounts=2, media_per_account=200, pre_business_share=share), time.time())
    for account in world.accounts:
        before = [m for m in account.feed if m.timestamp < account.business_since]
        assert len(before) == round(share * 200)
        assert before == account.feed[len(account.feed) - len(before):], "the oldest ones"
    with pytest.raises(ValueError, match="pre_business_share"):
        SimConfig(pre_business_share=1.0)
