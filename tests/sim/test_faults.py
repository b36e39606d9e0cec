"""Injected faults: every kind, times, probability and method matching."""

from __future__ import annotations

import json

import pytest
import requests

IMAGE = "https://cdn.example.com/photos/a.jpg"


def test_http_500_fires_the_given_number_of_times(graph, sim):
    sim.add_fault(method="GET", path=r"^/me$", kind="http_500", times=2)
    statuses = [graph.get("/me").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert graph.session.get(graph.url("/me"), params={"access_token": graph.token()}).status_code == 200
    log = sim.requests(path=r"^/me$")
    assert [entry["fault"] for entry in log[:3]] == ["http_500", "http_500", None]
    assert [entry["status"] for entry in log[:3]] == [500, 500, 200]


def test_http_500_body_is_empty(graph, sim):
    sim.add_fault(kind="http_500", times=1)
    response = graph.get("/me")
    assert response.status_code == 500 and response.content == b""


def test_error_fault_uses_meta_envelope(graph, sim):
    sim.add_fault(path="/media$", kind="error", code=2, is_transient=True, http_status=503, times=1)
    response = graph.get("/me/media")
    assert response.status_code == 503
    error = graph.error(response)
    assert (error["code"], error["is_transient"]) == (2, True)
    sim.add_fault(path="/media$", kind="error", code=100, subcode=33, message="Unsupported get request.", times=1)
    custom = graph.error(graph.get("/me/media"))
    assert (custom["code"], custom["error_subcode"], custom["message"]) == (100, 33, "Unsupported get request.")
    assert "error_data" not in custom
    sim.add_fault(path="/media$", kind="error", code=100, subcode=33, times=1)
    gone = graph.error(graph.get("/me/media"))  # the catalogue row of 100/33, not just of code 100
    assert gone["type"] == "GraphMethodException"
    assert gone["message"].startswith("Unsupported ... request. Object with ID '...' does not exist")
    sim.add_fault(path="/insights$", kind="error", code=100, error_data={"blame_field_specs": [["metric"]]}, times=1)
    blamed = graph.error(graph.get("/me/insights", metric="reach", period="day"))
    assert blamed["error_data"] == {"blame_field_specs": [["metric"]]}
    assert graph.get("/me/media").status_code == 200


def test_delay_makes_clients_time_out(graph, sim):
    sim.add_fault(kind="delay", seconds=0.6, times=1)
    with pytest.raises(requests.ReadTimeout):
        graph.session.get(graph.url("/me"), params={"access_token": graph.token()}, timeout=0.2)
    assert graph.get("/me").status_code == 200


def test_delay_then_answers_normally(graph, sim):
    sim.add_fault(kind="delay", seconds=0.2, times=1)
    assert graph.get("/me").json()["id"] == graph.account()["id"]


def test_reset_drops_the_connection(graph, sim):
    sim.add_fault(kind="reset", times=1)
    with pytest.raises(requests.ConnectionError):
        graph.get("/me")
    assert graph.get("/me").status_code == 200
    assert sim.requests(path="^/me$")[0]["fault"] == "reset"


def test_malformed_body(graph, sim):
    sim.add_fault(kind="malformed", times=1)
    response = graph.get("/me/media")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.text)


def test_throttle_fault_reports_regain_minutes(graph, sim):
    sim.configure(throttle_code=17)
    sim.add_fault(kind="throttle", regain_minutes=7, http_status=400, times=1)
    response = graph.get("/me")
    assert response.status_code == 400
    assert graph.error(response)["code"] == 17
    (entry,) = json.loads(response.headers["X-Business-Use-Case-Usage"])[graph.account()["id"]]
    assert entry["estimated_time_to_regain_access"] == 7


def test_commit_then_drop_publishes_without_answering(graph, sim):
    container_id = graph.post("/me/media", image_url=IMAGE).json()["id"]
    sim.advance_clock(1)
    sim.add_fault(method="POST", path=r"^/\d+/media_publish$", kind="commit_then_drop", times=1)
    account_id = graph.account()["id"]
    with pytest.raises(requests.ConnectionError):
        graph.post(f"/{account_id}/media_publish", creation_id=container_id)
    (post,) = sim.truth("published", account_id=account_id)
    assert post["container_id"] == container_id
    status = graph.get(f"/{container_id}", fields="status_code").json()["status_code"]
    assert status == "PUBLISHED"  # what a careful client checks before retrying
    retry = graph.post(f"/{account_id}/media_publish", creation_id=container_id)
    assert retry.status_code == 400
    assert len(sim.truth("published", account_id=account_id)) == 1
    assert graph.get("/me/media", limit=1).json()["data"][0]["id"] == post["media_id"]


def test_method_filter_and_clearing(graph, sim):
    sim.add_fault(method="POST", kind="http_500")
    assert graph.get("/me").status_code == 200
    assert graph.post("/me/media", image_url=IMAGE).status_code == 500
    sim.clear_faults()
    assert graph.post("/me/media", image_url=IMAGE).status_code == 200


def test_probability_is_seeded_and_replays_after_reset(graph, sim):
    def run():
        sim.add_fault(path="^/me$", kind="http_500", probability=0.5)
        return [graph.get("/me").status_code for _ in range(30)]

    first = run()
    assert 5 <= first.count(500) <= 25
    sim.reset()
    assert run() == first


def test_bad_fault_specs_are_refused(sim):
    for bad in ({"kind": "explode"}, {"kind": "delay"}, {"kind": "http_500", "path": "("},
                {"kind": "reset", "seconds": 1}, {"kind": "error", "probability": 2}):
        response = requests.post(f"{sim.base_url}/__sim__/faults", json=bad, timeout=5)
        assert response.status_code == 422, bad


def test_numeric_path_faults_and_filters_also_match_me(graph, sim):
    account_id = graph.account()["id"]
    sim.add_fault(method="GET", path=r"^/\d+/media$", kind="http_500", times=2)
    assert graph.get("/me/media").status_code == 500
    assert graph.get(f"/{account_id}/media").status_code == 500
    assert graph.get("/me/media").status_code == 200
    log = sim.requests(path=r"^/\d+/media$")
    assert [e["path"] for e in log] == ["/me/media", f"/{account_id}/media", "/me/media"]
    assert {e["resolved_path"] for e in log} == {f"/{account_id}/media"}


def test_every_answer_carries_a_trace_id_the_log_keeps(graph, sim):
    sim.clear_requests()
    ok = graph.get("/me")
    refused = graph.get("/me", fields="id,no_such_field")
    sim.add_fault(path=r"^/me$", kind="http_500", times=1)
    failed = graph.get("/me")
    sim.add_fault(path=r"^/me$", kind="reset", times=1)
    with pytest.raises(requests.ConnectionError):
        graph.get("/me")
    traces = [r.headers.get("x-fb-trace-id") for r in (ok, refused, failed)]
    assert all(traces) and len(set(traces)) == 3
    assert graph.error(refused)["fbtrace_id"] == traces[1], "the error body repeats the header's trace id"
    assert [entry["trace_id"] for entry in sim.requests()] == [*traces, None], "no answer, no trace id"
