"""Tokens, permissions and appsecret_proof."""

from __future__ import annotations

import hashlib
import hmac
import time

import requests


def test_tokens_look_like_simulator_tokens(graph):
    for account in graph.accounts:
        token = account["token"]
        assert token.startswith("IGAAsim") and len(token) == len("IGAAsim") + 32
        assert not token.startswith(("EAA", "IGQ"))
        assert account["token_expires_at"] - account["token_issued_at"] == 60 * 86400
        assert account["token_expires_at"] > time.time()


def test_missing_and_unknown_tokens(graph):
    missing = graph.session.get(graph.url("/me"))
    assert missing.status_code == 400 and graph.error(missing)["code"] == 104
    statuses = set()
    for _ in range(12):
        response = graph.get("/me", token="IGAAsim" + "0" * 32)
        error = graph.error(response)
        assert (error["code"], error["error_subcode"], error["type"]) == (190, 467, "OAuthException")
        statuses.add(response.status_code)
    assert statuses == {400, 401}  # Meta answers 190 with either


def test_expired_token(graph, sim):
    account = graph.account()
    sim.set_token(account["id"], expires_at=time.time() - 60)
    response = graph.get("/me")
    error = graph.error(response)
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert "Session has expired" in error["message"]
    assert response.status_code in (400, 401)


def test_token_expires_with_the_clock(graph, sim):
    sim.advance_clock(61 * 86400)
    assert graph.error(graph.get("/me"))["error_subcode"] == 463


def test_revoke_with_delete_permissions(graph, sim):
    response = graph.delete("/me/permissions")
    assert response.json() == {"success": True}
    error = graph.error(graph.get("/me"))
    assert (error["code"], error["error_subcode"]) == (190, 467)
    assert sim.accounts()[0]["revoked"] is True
    assert graph.get("/me", account=1).status_code == 200


def test_missing_permissions(graph, sim):
    account_id = graph.account()["id"]
    sim.set_token(account_id, permissions=["instagram_business_basic"])
    assert graph.get("/me/media").status_code == 200
    insights = graph.get("/me/insights", metric="reach", period="day")
    assert insights.status_code == 403 and graph.error(insights)["code"] == 10
    publish = graph.error(graph.post("/me/media", image_url="https://cdn.example.com/a.jpg"))
    assert publish["code"] == 200 and "instagram_business_content_publish" in publish["message"]
    assert graph.error(graph.get("/me/conversations", platform="instagram"))["code"] == 200
    sim.set_token(account_id, permissions=[])
    assert graph.error(graph.get("/me"))["code"] == 10


def test_appsecret_proof(graph, sim):
    account = graph.account()
    sim.set_app_secret("s3cret")
    sim.set_token(account["id"], requires_appsecret_proof=True)
    missing = graph.error(graph.get("/me"))
    assert (missing["code"], missing["type"]) == (100, "GraphMethodException")
    wrong = graph.error(graph.get("/me", appsecret_proof="ab" * 32))
    assert wrong["message"] == "Invalid appsecret_proof provided in the API argument"
    proof = hmac.new(b"s3cret", account["token"].encode(), hashlib.sha256).hexdigest()
    assert graph.get("/me", appsecret_proof=proof).status_code == 200
    assert graph.get("/me", account=1).status_code == 200  # not required for the other account


def test_bearer_header_and_form_token(graph):
    response = graph.session.get(graph.url("/me"), headers={"Authorization": f"Bearer {graph.token()}"})
    assert response.json()["id"] == graph.account()["id"]
    form = graph.session.post(graph.url("/me/media"),
                              data={"access_token": graph.token(), "image_url": "https://cdn.example.com/a.jpg"})
    assert form.status_code == 200 and form.json()["id"]


def _refresh(graph, token):
    return graph.session.get(graph.url("/refresh_access_token", version=None),
                             params={"grant_type": "ig_refresh_token", "access_token": token})


def test_refresh_issues_a_new_token_and_keeps_the_old_one(graph, sim):
    old = graph.token()
    response = _refresh(graph, old)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 5184000
    new = body["access_token"]
    assert new != old and new.startswith("IGAAsim")
    assert graph.get("/me", token=new).status_code == 200
    assert graph.get("/me", token=old).status_code == 200
    assert sim.accounts()[0]["token"] == new
    too_young = graph.error(_refresh(graph, new))
    assert too_young["code"] == 100 and "24 hours" in too_young["message"]
    sim.advance_clock(86400 + 1)
    assert _refresh(graph, new).status_code == 200
    wrong_grant = graph.session.get(graph.url("/refresh_access_token"),
                                    params={"grant_type": "password", "access_token": old})
    assert graph.error(wrong_grant)["code"] == 100


def test_expired_token_cannot_be_refreshed(graph, sim):
    sim.set_token(graph.account()["id"], expires_at=time.time() - 1)
    error = graph.error(_refresh(graph, graph.token()))
    assert (error["code"], error["error_subcode"]) == (190, 463)


def test_control_endpoint_rejects_unknown_permissions(graph, sim):
    try:
        sim.set_token(graph.account()["id"], permissions=["pages_show_list"])
    except requests.HTTPError as exc:
        assert exc.response.status_code == 422
    else:
        raise AssertionError("unknown permission accepted")


def test_exchange_for_a_long_lived_token_needs_the_client_secret(graph, sim):
    sim.set_app_secret("s3cret")
    url = graph.url("/access_token", version=None)
    wrong = graph.session.get(url, params={"grant_type": "ig_exchange_token", "client_secret": "nope",
                                           "access_token": graph.token()})
    assert graph.error(wrong)["code"] == 101
    right = graph.session.get(url, params={"grant_type": "ig_exchange_token", "client_secret": "s3cret",
                                           "access_token": graph.token()})
    body = right.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 5184000
    assert graph.get("/me", token=body["access_token"]).json()["id"] == graph.account()["id"]
