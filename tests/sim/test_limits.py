"""Usage headers and throttling."""

from __future__ import annotations

import json


def _buc(response, account_id):
    header = response.headers.get("X-Business-Use-Case-Usage")
    if header is None:
        return None
    (entry,) = json.loads(header)[account_id]
    return entry


def test_headers_absent_until_the_share_reaches_one_percent(graph, sim):
    account_id = graph.account()["id"]
    first = graph.get("/me")
    assert "X-Business-Use-Case-Usage" not in first.headers and "X-App-Usage" not in first.headers
    sim.configure(calls_per_hour=100)
    second = graph.get("/me")
    entry = _buc(second, account_id)
    assert entry["type"] == "instagram" and entry["call_count"] == 2
    assert entry["estimated_time_to_regain_access"] == 0
    assert set(entry) == {"type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}


def test_usage_rises_and_throttling_starts_at_the_limit(graph, sim):
    account_id = graph.account()["id"]
    sim.configure(calls_per_hour=10)
    shares = []
    for _ in range(10):
        response = graph.get("/me")
        assert response.status_code == 200
        shares.append(_buc(response, account_id)["call_count"])
    assert shares == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    app = json.loads(response.headers["X-App-Usage"])
    assert set(app) == {"call_count", "total_time", "total_cputime"} and app["call_count"] > 0
    throttled = graph.get("/me")
    assert throttled.status_code == 429
    error = graph.error(throttled)
    assert error["code"] == 80002
    entry = _buc(throttled, account_id)
    assert entry["call_count"] == 100 and 0 < entry["estimated_time_to_regain_access"] <= 60
    assert graph.get("/me", account=1).status_code == 200  # limits are per account
    sim.configure(throttle_code=4)
    app_code = graph.get("/me")
    assert graph.error(app_code)["code"] == 4 and app_code.status_code == 403
    sim.configure(throttle_code=17)
    assert graph.error(graph.get("/me"))["code"] == 17
    sim.advance_clock(3601)
    recovered = graph.get("/me")
    assert recovered.status_code == 200 and _buc(recovered, account_id)["call_count"] == 10


def test_control_calls_do_not_count_and_headers_can_be_switched_off(graph, sim):
    account_id = graph.account()["id"]
    sim.configure(calls_per_hour=10)
    graph.get("/me")
    for _ in range(5):
        sim.truth("media", account_id=account_id)
        sim.requests()
    assert _buc(graph.get("/me"), account_id)["call_count"] == 20
    sim.configure(usage_headers=False)
    quiet = graph.get("/me")
    assert "X-Business-Use-Case-Usage" not in quiet.headers and "X-App-Usage" not in quiet.headers


def test_config_rejects_bad_values(sim):
    import requests

    for bad in ({"throttle_code": 5}, {"calls_per_hour": 0}, {"nonsense": 1}, {"conversations_calls_per_second": -1},
                {"send_calls_per_second": -1}, {"refused_media_metrics": {"STORY": ["plays"]}}):
        response = requests.post(f"{sim.base_url}/__sim__/config", json=bad, timeout=5)
        assert response.status_code == 422, bad


def test_new_settings_are_sim_config_fields_too():
    import pytest

    from graph_api_sim import SimConfig
    from graph_api_sim.simulator import Simulator

    config = SimConfig(accounts=1, media_per_account=4, refused_media_metrics={"REELS": ["reels_skip_rate"]},
                       conversations_calls_per_second=0, send_calls_per_second=10, human_agent_approved=True)
    sim = Simulator(config)
    sim.settings.refused_media_metrics["REELS"].append("views")
    sim.reset()  # back to the configuration, which a run cannot change
    assert sim.settings.refused_media_metrics == {"REELS": ["reels_skip_rate"]}
    assert (sim.settings.conversations_calls_per_second, sim.settings.send_calls_per_second,
            sim.settings.human_agent_approved) == (0, 10, True)
    with pytest.raises(ValueError):
        SimConfig(refused_media_metrics={"FEED": ["nonsense"]})
