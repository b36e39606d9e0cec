"""Request log, reset and determinism."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import requests

from graph_api_sim.testing import SimulatorProcess


def test_request_log_redacts_tokens_and_proofs(graph, sim):
    token = graph.token()
    proof = hmac.new(b"whatever", token.encode(), hashlib.sha256).hexdigest()
    graph.get("/me", fields="id", appsecret_proof=proof)
    graph.session.get(graph.url("/me/media"), headers={"Authorization": f"Bearer {token}"})
    graph.post("/me/media", image_url="https://cdn.example.com/a.jpg")
    first = graph.get("/me/media", limit=2).json()
    graph.session.get(first["paging"]["next"])
    log = sim.requests()
    assert len(log) == 5
    text = json.dumps(log)
    assert token not in text and proof not in text
    assert log[0]["params"] == {"fields": "id", "access_token": "***", "appsecret_proof": "***"}
    assert log[0]["status"] == 400  # the proof was wrong (no secret set)
    assert {"method", "path", "params", "status", "time", "fault"} <= set(log[0])
    assert log[2]["method"] == "POST" and log[2]["params"]["image_url"] == "https://cdn.example.com/a.jpg"
    assert [e["path"] for e in sim.requests(method="POST")] == ["/me/media"]
    assert len(sim.requests(path="media$")) == 4
    assert sim.request_count() == 5
    assert sim.request_count(status=200) == 4 and sim.request_count(status=400) == 1
    sim.clear_requests()
    assert sim.requests() == [] and sim.request_count() == 0


def test_the_request_count_goes_on_when_the_log_drops_its_oldest_entries(monkeypatch):
    from graph_api_sim import request_log

    monkeypatch.setattr(request_log, "MAX_ENTRIES", 3)
    log = request_log.RequestLog()
    for number in range(5):
        log.add({"method": "GET", "path": f"/{number}", "resolved_path": f"/{number}", "account_id": None})
    assert [entry["path"] for entry in log.query()] == ["/2", "/3", "/4"]
    assert log.total == 5


def test_reset_restores_the_seeded_state(graph, sim):
    container = graph.post("/me/media", image_url="https://cdn.example.com/a.jpg").json()["id"]
    sim.advance_clock(5)
    graph.post("/me/media_publish", creation_id=container)
    graph.delete("/me/permissions")
    sim.add_fault(kind="http_500")
    sim.configure(calls_per_hour=3)
    sim.reset()
    assert sim.truth("published") == [] and sim.truth("containers") == []
    assert sim.config()["clock_offset"] == 0 and sim.config()["calls_per_hour"] == 4800
    assert graph.get("/me").status_code == 200
    assert sim.accounts() == graph.accounts


def test_unknown_truth_kind_is_404(sim):
    response = requests.get(f"{sim.base_url}/__sim__/truth/everything", timeout=5)
    assert response.status_code == 404


def _snapshot(server):
    accounts = server.accounts()
    first = accounts[0]["id"]
    media = server.truth("media", account_id=first)
    return {
        "accounts": [{k: a[k] for k in ("id", "username", "token", "followers_count")} for a in accounts],
        "media": media,
        "comments": server.truth("comments", media_id=media[2]["id"]),
        "conversations": server.truth("conversations", account_id=first),
        "insights": server.truth("account_insights", account_id=first, metric="reach", period="day"),
        "media_insights": server.truth("media_insights", media_id=media[0]["id"]),
        # Data is dated from the start time: days for media, hours for stories and DMs.
        "anchor": (server.config()["day_anchor"], server.config()["hour_anchor"]),
    }


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items()
                if not k.endswith(("time", "timestamp", "end_time", "anchor"))}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def test_same_seed_same_data_and_another_seed_differs(sim_server):
    sim_server.reset()
    here = _snapshot(sim_server)
    with SimulatorProcess(accounts=3, media_per_account=120, seed=7, login="instagram") as twin:
        there = _snapshot(twin)
    if here["anchor"] != there["anchor"]:  # the two runs straddle an hour (or midnight) UTC
        here, there = _without_times(here), _without_times(there)
    assert here == there
    with SimulatorProcess(accounts=3, media_per_account=120, seed=8, login="instagram") as other:
        different = _snapshot(other)
    assert {a["id"] for a in different["accounts"]}.isdisjoint({a["id"] for a in here["accounts"]})
    assert different["media"] != here["media"]


@pytest.mark.parametrize("path", ["/__sim__/accounts", "/__sim__/config", "/__sim__/faults", "/__sim__/clock"])
def test_control_reads_answer_json(sim, path):
    response = requests.get(f"{sim.base_url}{path}", timeout=5)
    assert response.status_code == 200 and response.json() is not None
