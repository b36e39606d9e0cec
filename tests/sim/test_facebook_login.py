"""Instagram API with Facebook Login: graph.facebook.com (under /facebook), the Facebook user,
its Pages and Page tokens, the token exchange, and the Page's inbox.

One simulator with ``--login both``: accounts 0 and 2 use Instagram Login, 1 and 3 Facebook Login.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
import requests

from graph_api_sim.config import SimConfig
from graph_api_sim.testing import SimulatorProcess
from graph_api_sim.world import World

VERSION = "v24.0"
PAGE_FIELDS = "id,name,access_token,instagram_business_account{id,username}"


@pytest.fixture(scope="module")
def both_server():
    with SimulatorProcess(accounts=4, media_per_account=12, seed=11, login="both") as server:
        yield server


@pytest.fixture
def fb(both_server):
    both_server.reset()
    return Facebook(both_server)


class Facebook:
    """Plain calls to both hosts of one simulator."""

    def __init__(self, sim: SimulatorProcess) -> None:
        self.sim = sim
        self.session = requests.Session()
        self.accounts = sim.accounts()
        self.user = sim.facebook_user()

    def url(self, path: str, *, host: str = "facebook") -> str:
        prefix = "/facebook" if host == "facebook" else ""
        return f"{self.sim.base_url}{prefix}/{VERSION}{path}"

    def call(self, method: str, path: str, token: str | None, *, host: str = "facebook", json: Any = None,
             **params: Any) -> requests.Response:
        if token is not None:
            params["access_token"] = token
        return self.session.request(method, self.url(path, host=host), params=params, json=json, timeout=10)

    def get(self, path: str, token: str | None, **params: Any) -> requests.Response:
        return self.call("GET", path, token, **params)

    def exchange(self, short_token: str, **overrides: Any) -> requests.Response:
        params = {"grant_type": "fb_exchange_token", "client_id": self.user["app_id"],
                  "client_secret": self.sim.config()["facebook_app_secret"], "fb_exchange_token": short_token}
        params.update(overrides)
        return self.get("/oauth/access_token", None, **{k: v for k, v in params.items() if v is not None})

    def pages(self, user_token: str, limit: int = 25) -> list[dict[str, Any]]:
        """Every Page of ``/me/accounts``, following ``paging.next`` to the end."""
        response = self.get("/me/accounts", user_token, fields=PAGE_FIELDS, limit=limit)
        pages: list[dict[str, Any]] = []
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            pages.extend(body["data"])
            next_url = body.get("paging", {}).get("next")
            if not next_url:
                return pages
            assert "/facebook/" in next_url  # paging stays on graph.facebook.com
            response = self.session.get(next_url, timeout=10)

    @staticmethod
    def error(response: requests.Response) -> dict[str, Any]:
        body = response.json()
        assert set(body) == {"error"}, body
        assert body["error"]["fbtrace_id"]
        return body["error"]


def test_accounts_say_their_login_and_the_facebook_ones_their_page(fb):
    instagram, facebook = fb.accounts[0::2], fb.accounts[1::2]
    assert [a["login"] for a in fb.accounts] == ["instagram", "facebook", "instagram", "facebook"]
    for account in instagram:
        assert account["token"].startswith("IGAAsim") and "page_id" not in account
    for account in facebook:
        assert account["token"].startswith("EAAsim") and account["token_expires_at"] is None  # a Page token
        assert account["facebook_user_id"] == fb.user["id"] and account["user_token"] == fb.user["token"]
        assert "instagram_basic" in account["permissions"]
    linked = {page["instagram_account_id"]: page["id"] for page in fb.user["pages"]}
    assert {a["id"]: a["page_id"] for a in facebook} == {k: v for k, v in linked.items() if k}
    assert sum(1 for page in fb.user["pages"] if page["instagram_account_id"] is None) == 2


def test_the_login_does_not_change_the_instagram_world():
    started = time.time()
    worlds = [World(SimConfig(accounts=4, media_per_account=6, login=login), started)
              for login in ("instagram", "facebook", "both")]
    shapes = [[(a.id, a.username, [m.id for m in a.feed]) for a in world.accounts] for world in worlds]
    assert shapes[0] == shapes[1] == shapes[2]
    assert worlds[0].facebook_user is None and worlds[1].facebook_user is not None


def test_exchange_a_short_lived_user_token_for_a_long_lived_one(fb):
    assert fb.user["token_expires_at"] - time.time() <= 2 * 3600 + 5
    response = fb.exchange(fb.user["token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"].startswith("EAAsim") and body["access_token"] != fb.user["token"]
    assert (body["token_type"], body["expires_in"]) == ("bearer", 60 * 86400)
    me = fb.get("/me", body["access_token"], fields="id,name").json()
    assert me == {"id": fb.user["id"], "name": fb.user["name"]}
    assert fb.sim.requests(path="oauth/access_token")[0]["params"]["client_secret"] == "***"


@pytest.mark.parametrize("override, code", [
    ({"client_id": "123"}, 101),
    ({"client_secret": "wrong"}, 101),
    ({"grant_type": "ig_exchange_token"}, 100),
    ({"client_secret": None}, 100),
])
def test_exchange_refuses_a_wrong_app_or_grant(fb, override, code):
    assert fb.error(fb.exchange(fb.user["token"], **override))["code"] == code


def test_exchange_refuses_tokens_that_are_not_live_user_tokens(fb):
    page_token = fb.accounts[1]["token"]
    for token in (fb.accounts[0]["token"], page_token, "EAAsim" + "0" * 32):
        assert fb.error(fb.exchange(token))["code"] == 190
    fb.sim.advance_clock(3 * 3600)  # the login dialog's token lives two hours
    assert fb.error(fb.exchange(fb.user["token"]))["error_subcode"] == 463


def test_me_accounts_lists_every_page_with_its_token_and_instagram_account(fb):
    long_lived = fb.exchange(fb.user["token"]).json()["access_token"]
    pages = fb.pages(long_lived, limit=1)  # one Page per page of the listing
    assert [page["id"] for page in pages] == [page["id"] for page in fb.user["pages"]]
    by_account = {page["instagram_business_account"]["id"]: page for page in pages
                  if "instagram_business_account" in page}
    facebook = fb.accounts[1::2]
    assert set(by_account) == {a["id"] for a in facebook}
    for account in facebook:
        page = by_account[account["id"]]
        assert page["id"] == account["page_id"]
        assert page["instagram_business_account"]["username"] == account["username"]
        assert page["access_token"].startswith("EAAsim")
        assert fb.get("/me", page["access_token"]).json()["id"] == account["page_id"]
    fb.sim.advance_clock(90 * 86400)  # Page tokens of a long-lived user token do not expire
    for account in facebook:
        token = by_account[account["id"]]["access_token"]
        assert fb.get(f"/{account['id']}", token, fields="username").status_code == 200


def test_page_tokens_of_a_short_lived_user_token_die_with_it(fb):
    pages = fb.pages(fb.user["token"])
    token = next(page["access_token"] for page in pages if "instagram_business_account" in page)
    assert fb.get("/me", token).status_code == 200
    fb.sim.advance_clock(3 * 3600)
    assert fb.error(fb.get("/me", token))["error_subcode"] == 463


def test_a_token_works_only_on_its_own_host(fb):
    instagram, facebook = fb.accounts[0], fb.accounts[1]
    for response in (
        fb.get(f"/{instagram['id']}", instagram["token"]),  # Instagram token on graph.facebook.com
        fb.call("GET", f"/{facebook['id']}", facebook["token"], host="instagram"),  # Page token on graph.instagram.com
        fb.call("GET", "/me", fb.user["token"], host="instagram"),
    ):
        error = fb.error(response)
        assert error["code"] == 190 and "Cannot parse access token" in error["message"]
    ok = fb.call("GET", f"/{instagram['id']}", instagram["token"], host="instagram")
    assert ok.status_code == 200


def test_page_and_user_tokens_read_the_linked_account_and_nothing_else(fb):
    first, second = fb.accounts[1], fb.accounts[3]
    for token in (first["token"], fb.user["token"]):
        profile = fb.get(f"/{first['id']}", token, fields="id,username")
        assert profile.json() == {"id": first["id"], "username": first["username"]}
        media = fb.get(f"/{first['id']}/media", token, fields="id", limit=5)
        assert media.status_code == 200 and len(media.json()["data"]) == 5
    refused = fb.get(f"/{second['id']}", first["token"])  # another Page's account
    assert (fb.error(refused)["code"], fb.error(refused)["error_subcode"]) == (100, 33)
    instagram_only = fb.get(f"/{fb.accounts[0]['id']}", fb.user["token"])  # not behind any Page
    assert fb.error(instagram_only)["code"] == 100
    me = fb.get("/me", first["token"], fields="id,name").json()
    assert me["id"] == first["page_id"]


def test_the_inbox_is_the_pages_and_needs_the_page_token(fb):
    account = fb.accounts[1]
    truth = [c["id"] for c in fb.sim.truth("conversations", account_id=account["id"])]
    listed = fb.get(f"/{account['page_id']}/conversations", account["token"], platform="instagram",
                    fields="id,updated_time", limit=100)
    assert listed.status_code == 200, listed.text
    assert sorted(c["id"] for c in listed.json()["data"]) == sorted(truth)
    assert fb.get(f"/{account['page_id']}/conversations", account["token"]).json()["data"] == []  # Messenger's
    user_token = fb.get(f"/{account['page_id']}/conversations", fb.user["token"], platform="instagram")
    assert fb.error(user_token)["code"] == 210
    on_account = fb.get(f"/{account['id']}/conversations", account["token"], platform="instagram")
    assert fb.error(on_account)["code"] == 100  # Instagram Login's path
    fb.sim.advance_clock(1)  # the Conversations API takes two calls a second
    messages = fb.get(f"/{truth[0]}", account["token"], fields="messages{id,message}")
    assert messages.status_code == 200 and messages.json()["messages"]["data"]
    assert fb.error(fb.get(f"/{truth[0]}", fb.user["token"], fields="messages{id}"))["code"] == 210


def test_a_dm_goes_through_the_page(fb):
    account = fb.accounts[1]
    inside = next(c for c in fb.sim.truth("conversations", account_id=account["id"]) if c["inside_window"])
    body = {"recipient": {"id": inside["user_id"]}, "message": {"text": "Hello from the Page"}}
    refused = fb.call("POST", f"/{account['page_id']}/messages", fb.user["token"], json=body)
    assert fb.error(refused)["code"] == 210
    on_account = fb.call("POST", f"/{account['id']}/messages", account["token"], json=body)
    assert fb.error(on_account)["code"] == 100
    sent = fb.call("POST", f"/{account['page_id']}/messages", account["token"], json=body)
    assert sent.status_code == 200, sent.text
    assert sent.json()["recipient_id"] == inside["user_id"]
    assert [s["message_id"] for s in fb.sim.truth("sent_messages", account_id=account["id"])] == \
        [sent.json()["message_id"]]


def test_revoking_the_facebook_user_ends_its_user_and_page_tokens(fb):
    instagram, first, second = fb.accounts[0], fb.accounts[1], fb.accounts[3]
    response = fb.call("DELETE", f"/{fb.user['id']}/permissions", fb.user["token"])
    assert response.json() == {"success": True}
    for token in (fb.user["token"], first["token"], second["token"]):
        assert fb.error(fb.get("/me", token))["code"] == 190
    assert all(a["revoked"] for a in fb.sim.accounts()[1::2])
    assert fb.call("GET", "/me", instagram["token"], host="instagram").status_code == 200


def test_appsecret_proof_uses_the_facebook_apps_secret(fb):
    account = fb.accounts[1]
    config = fb.sim.config()

    def proof(secret: str) -> str:
        return hmac.new(secret.encode(), account["token"].encode(), hashlib.sha256).hexdigest()

    wrong = fb.get("/me", account["token"], appsecret_proof=proof(config["app_secret"]))
    assert fb.error(wrong)["code"] == 100
    right = fb.get("/me", account["token"], appsecret_proof=proof(config["facebook_app_secret"]))
    assert right.status_code == 200


def test_an_instagram_only_simulator_has_no_facebook_user(sim):
    with pytest.raises(requests.HTTPError) as raised:
        sim.facebook_user()
    assert raised.value.response.status_code == 404
    assert {a["login"] for a in sim.accounts()} == {"instagram"}
