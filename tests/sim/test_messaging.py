"""Messaging: the Send API and the 24-hour window."""

from __future__ import annotations

import json


def _split(sim, account_id):
    conversations = sim.truth("conversations", account_id=account_id)
    inside = next(c for c in conversations if c["inside_window"])
    outside = next(c for c in conversations if not c["inside_window"])
    return inside, outside


def _send(graph, recipient, text, path="/me/messages", **params):
    return graph.post(path, json={"recipient": {"id": recipient}, "message": {"text": text}}, **params)


def test_send_inside_the_window(graph, sim):
    account_id = graph.account()["id"]
    inside, _ = _split(sim, account_id)
    response = _send(graph, inside["user_id"], "Thanks for your message!")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["recipient_id"] == inside["user_id"] and body["message_id"]
    messages = graph.get(f"/{inside['id']}/messages", fields="id,message,from,to").json()["data"]
    assert messages[0]["id"] == body["message_id"] and messages[0]["message"] == "Thanks for your message!"
    assert messages[0]["from"]["id"] == account_id and messages[0]["to"]["data"][0]["id"] == inside["user_id"]
    sent = sim.truth("sent_messages", account_id=account_id)
    assert [(s["message_id"], s["conversation_id"]) for s in sent] == [(body["message_id"], inside["id"])]
    listed = graph.get("/me/conversations", platform="instagram").json()["data"]
    assert listed[0]["id"] == inside["id"]  # the conversation moved to the top


def test_send_outside_the_window_is_refused(graph, sim):
    account_id = graph.account()["id"]
    _, outside = _split(sim, account_id)
    response = _send(graph, outside["user_id"], "Hello again", path=f"/{account_id}/messages")
    assert response.status_code == 403
    error = graph.error(response)
    assert (error["type"], error["code"], error["error_subcode"]) == ("IGApiException", 10, 2534022)
    assert error["is_transient"] is False
    assert sim.truth("sent_messages") == []


def test_window_closes_with_the_clock_and_reopens_when_the_customer_writes(graph, sim):
    inside, _ = _split(sim, graph.account()["id"])
    sim.advance_clock(25 * 3600)
    assert _send(graph, inside["user_id"], "Late").status_code == 403
    sim.customer_writes(inside["id"], "Are you there?")
    assert _send(graph, inside["user_id"], "Yes!").status_code == 200
    assert graph.get(f"/{inside['id']}/messages", fields="message").json()["data"][1]["message"] == "Are you there?"


def test_human_agent_tag_extends_the_window_to_seven_days_when_approved(graph, sim):
    sim.configure(human_agent_approved=True)
    inside, _ = _split(sim, graph.account()["id"])
    sim.advance_clock(3 * 86400)
    assert _send(graph, inside["user_id"], "Following up").status_code == 403
    assert _send(graph, inside["user_id"], "Following up", tag="HUMAN_AGENT").status_code == 200
    sim.advance_clock(5 * 86400)
    late = _send(graph, inside["user_id"], "Following up", tag="HUMAN_AGENT")
    assert late.status_code == 403 and graph.error(late)["error_subcode"] == 2534022


def test_text_is_limited_to_1000_utf8_bytes_not_characters(graph, sim):
    inside, _ = _split(sim, graph.account()["id"])
    for text in ("x" * 1001, "é" * 501, "👋" * 251):  # 1001, 1002 and 1004 bytes; 1001, 501 and 251 characters
        too_long = _send(graph, inside["user_id"], text)
        assert too_long.status_code == 400, text[:3]
        error = graph.error(too_long)
        assert error["code"] == 100 and "1000 bytes" in error["message"]
    for text in ("x" * 1000, "é" * 500, "👋" * 250):  # exactly 1000 bytes
        assert _send(graph, inside["user_id"], text).status_code == 200
    assert len(sim.truth("sent_messages")) == 3


def test_form_encoded_send_and_bad_recipients(graph, sim):
    inside, _ = _split(sim, graph.account()["id"])
    form = graph.session.post(graph.url("/me/messages"), data={
        "access_token": graph.token(), "recipient": json.dumps({"id": inside["user_id"]}),
        "message": json.dumps({"text": "Sent as a form"})})
    assert form.status_code == 200, form.text
    unknown = graph.error(_send(graph, "7000000000000001", "Hi"))
    assert (unknown["code"], unknown["error_subcode"]) == (100, 2534014)
    assert graph.error(graph.post("/me/messages", json={"message": {"text": "Hi"}}))["code"] == 100
    assert graph.error(graph.post("/me/messages", json={"recipient": {"id": inside["user_id"]}}))["code"] == 100


def test_human_agent_tag_is_refused_without_the_feature(graph, sim):
    assert sim.config()["human_agent_approved"] is False  # the harsher reading by default
    inside, _ = _split(sim, graph.account()["id"])
    refused = _send(graph, inside["user_id"], "Following up", tag="HUMAN_AGENT")  # even inside 24 h
    assert refused.status_code == 403
    error = graph.error(refused)
    assert (error["code"], error["type"]) == (10, "IGApiException") and "HUMAN_AGENT" in error["message"]
    bad_tag = graph.error(_send(graph, inside["user_id"], "Hi", tag="ACCOUNT_UPDATE"))
    assert bad_tag["code"] == 100 and "tag" in bad_tag["message"]
    assert sim.truth("sent_messages") == []


def _buc_calls(response, account_id):
    header = response.headers.get("X-Business-Use-Case-Usage")
    return None if header is None else json.loads(header)[account_id][0]["call_count"]


def test_messaging_calls_do_not_count_against_the_platform_limit(graph, sim):
    account_id = graph.account()["id"]
    inside, _ = _split(sim, account_id)
    sim.configure(calls_per_hour=10, conversations_calls_per_second=0)
    assert _buc_calls(graph.get("/me"), account_id) == 10
    messaging = [graph.get("/me/conversations", platform="instagram"),
                 graph.get(f"/{inside['id']}", fields="messages{message}"),
                 graph.get(f"/{inside['id']}/messages"),
                 _send(graph, inside["user_id"], "Hello")]
    message_id = messaging[-1].json()["message_id"]
    messaging.append(graph.get(f"/{message_id}", fields="message"))
    for response in messaging:
        assert response.status_code == 200, response.text
        assert "X-Business-Use-Case-Usage" not in response.headers and "X-App-Usage" not in response.headers
    assert _buc_calls(graph.get("/me"), account_id) == 20  # two platform calls, whatever came between
    for _ in range(8):
        graph.get("/me")
    assert graph.error(graph.get("/me"))["code"] == 80002  # the platform limit is reached...
    assert graph.get("/me/conversations", platform="instagram").status_code == 200  # ...messaging still works
    assert _send(graph, inside["user_id"], "Still here").status_code == 200


def test_conversations_api_allows_two_reads_per_second_per_account(graph, sim):
    assert sim.config()["conversations_calls_per_second"] == 2
    inside, _ = _split(sim, graph.account()["id"])
    reads = [graph.get("/me/conversations", platform="instagram"), graph.get(f"/{inside['id']}/messages")]
    assert [r.status_code for r in reads] == [200, 200]
    third = graph.get(f"/{inside['id']}", fields="messages{message}")
    assert third.status_code == 400
    error = graph.error(third)
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (613, 2534040, False)
    assert graph.get("/me/conversations", account=1, platform="instagram").status_code == 200  # per account
    assert _send(graph, inside["user_id"], "Sending has its own limit").status_code == 200
    assert graph.get("/me").status_code == 200  # and so do platform calls
    sim.advance_clock(1)
    assert graph.get("/me/conversations", platform="instagram").status_code == 200
    sim.configure(conversations_calls_per_second=0)  # unlimited
    assert all(graph.get(f"/{inside['id']}/messages").status_code == 200 for _ in range(5))


def test_send_api_has_its_own_per_second_limit(graph, sim):
    assert sim.config()["send_calls_per_second"] == 100
    inside, _ = _split(sim, graph.account()["id"])
    sim.configure(send_calls_per_second=3)
    statuses = [_send(graph, inside["user_id"], f"Message {i}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 400]
    error = graph.error(_send(graph, inside["user_id"], "Again"))
    assert (error["code"], error["error_subcode"]) == (613, 2534040)
    assert len(sim.truth("sent_messages")) == 3  # refused sends are not sent
    sim.advance_clock(1)
    assert _send(graph, inside["user_id"], "Later").status_code == 200
