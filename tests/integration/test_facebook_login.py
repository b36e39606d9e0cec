"""Facebook Login accounts beside Instagram Login ones: discovery, routing by login, the Page
inbox, renewing the Facebook user's token, revoking through the user.

One simulator with ``--login both``: accounts 0 and 2 use Instagram Login, 1 and 3 Facebook Login.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from graph_api_sim.testing import SimulatorProcess
from instagram_graph import cli
from instagram_graph.accounts import AccountRegistry
from instagram_graph.facebook_discovery import ADDED, SKIPPED, UPDATED, discover
from instagram_graph.token_lifecycle import TokenRefreshError, facebook_users_due, refresh, refresh_facebook_user
from instagram_graph.token_store import TokenStore


@pytest.fixture(scope="module")
def both_server():
    with SimulatorProcess(accounts=4, media_per_account=20, seed=11, login="both") as server:
        yield server


@pytest.fixture
def sim(both_server):
    """This module's simulator (both logins), reset before each test; the shared fixtures use it."""
    both_server.reset()
    return both_server


@pytest.fixture
def facebook_settings(sim) -> dict:
    config = sim.config()
    return {"facebook_base_url": f"{sim.base_url}/facebook", "facebook_app_id": sim.facebook_user()["app_id"],
            "facebook_app_secret": config["facebook_app_secret"], "app_secret": config["app_secret"]}


@pytest.fixture
def fb_hook(make_hook, facebook_settings):
    return make_hook(**facebook_settings)


@pytest.fixture
def empty_store(schema) -> TokenStore:
    """A token store with no account in it (discovery fills it)."""
    return TokenStore(conn_factory=lambda: psycopg2.connect(schema))


@pytest.fixture
def discover_hook(empty_store, redis_client, facebook_settings, sim):
    """A hook on the empty store, as `instagram-graph accounts discover` builds one."""
    from instagram_graph.hooks.graph_api import InstagramGraphHook
    from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
    from instagram_graph.settings import GraphApiSettings

    from .conftest import FAST_RETRIES

    settings = GraphApiSettings(base_url=sim.base_url, **facebook_settings, **FAST_RETRIES)
    hook = InstagramGraphHook(settings=settings, token_store=empty_store,
                              rate_limiter=RedisRateLimiter(redis_client, limit=10_000, window_seconds=3600),
                              throttle=UsageThrottle(redis_client))
    yield hook
    hook.close()


def _raw(schema: str, sql: str) -> list[tuple]:
    with psycopg2.connect(schema) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_discover_registers_exactly_the_pages_with_an_instagram_account(discover_hook, empty_store, sim, schema):
    user = sim.facebook_user()
    facebook = [a for a in sim.accounts() if a["login"] == "facebook"]
    found = discover(discover_hook, empty_store, user["token"])
    assert found.user_id == user["id"]
    assert {(p.account_id, p.page_id, p.action) for p in found.registered} == \
        {(a["id"], a["page_id"], ADDED) for a in facebook}
    assert sorted(p.page_name for p in found.pages if p.action == SKIPPED) == \
        sorted(p["name"] for p in user["pages"] if p["instagram_account_id"] is None)
    rows = _raw(schema, "SELECT account_id, login, page_id, facebook_user_id FROM instagram.accounts ORDER BY 1")
    assert rows == sorted((a["id"], "facebook", a["page_id"], user["id"]) for a in facebook)
    for account in facebook:  # the Page token, encrypted, never expiring: the account's calls work with it
        stored = empty_store.get(account["id"])
        assert (stored.expires_at, stored.login, stored.page_id) == (None, "facebook", account["page_id"])
        assert stored.token.startswith("EAAsim") and stored.token != user["token"]
        assert discover_hook.get_profile(account["id"])["username"] == account["username"]
    ((ciphertext, expires_at),) = _raw(schema, "SELECT ciphertext, expires_at FROM instagram.facebook_users")
    assert bytes(ciphertext).startswith(b"gAAAAA") and user["token"].encode() not in bytes(ciphertext)
    assert timedelta(days=59) < expires_at - datetime.now(UTC) < timedelta(days=61)
    long_lived = empty_store.get_facebook_user(user["id"]).token
    assert long_lived != user["token"] and long_lived.startswith("EAAsim")

    again = discover(discover_hook, empty_store, user["token"])  # rerun: updates, adds nothing twice
    assert {p.action for p in again.registered} == {UPDATED}
    assert len(_raw(schema, "SELECT 1 FROM instagram.accounts")) == len(facebook)


def test_discover_dry_run_writes_nothing(discover_hook, empty_store, sim, schema):
    found = discover(discover_hook, empty_store, sim.facebook_user()["token"], dry_run=True)
    assert {p.action for p in found.registered} == {f"would be {ADDED}"} and len(found.registered) == 2
    assert _raw(schema, "SELECT count(*) FROM instagram.accounts") == [(0,)]
    assert _raw(schema, "SELECT count(*) FROM instagram.facebook_users") == [(0,)]
    assert sim.requests(path="oauth/access_token") == []


def test_discover_needs_the_facebook_app(discover_hook, empty_store, sim):
    from instagram_graph.errors import InvalidRequestError

    hook = discover_hook
    hook._settings = hook.settings.with_overrides(facebook_app_id=None, facebook_app_secret=None)
    with pytest.raises(InvalidRequestError, match="facebook_app_id and no facebook_app_secret"):
        discover(hook, empty_store, sim.facebook_user()["token"])
    assert sim.requests() == []


@pytest.fixture
def cli_env(sim, schema, redis_client, facebook_settings, monkeypatch) -> None:
    monkeypatch.setenv("INSTAGRAM_WAREHOUSE_DSN", schema)
    extra = {"retry_base_delay": 0.02, **{k: v for k, v in facebook_settings.items() if k != "app_secret"}}
    monkeypatch.setenv(
        "AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT",
        json.dumps({"conn_type": "instagram_graph", "host": sim.base_url, "password": facebook_settings["app_secret"],
                    "extra": extra}),
    )


def test_cli_discover_prints_what_it_added_and_never_a_token(cli_env, sim, monkeypatch, capsys, caplog):
    user = sim.facebook_user()
    for flags, verb in (([], "added"), (["--dry-run"], "would be updated"), ([], "updated")):
        monkeypatch.setattr("sys.stdin", io.StringIO(user["token"] + "\n"))
        assert cli.main(["accounts", "discover", *flags]) == cli.EXIT_OK
        out = capsys.readouterr().out
        facebook = [a for a in sim.accounts() if a["login"] == "facebook"]
        for account in facebook:
            assert f"@{account['username']} ({account['id']})  {verb}" in out
        assert out.count("skipped: no Instagram business account") == 2
        secrets = [user["token"], user["long_lived_token"], *(a["token"] for a in facebook),
                   sim.config()["facebook_app_secret"]]
        for secret in secrets:
            assert secret not in out and secret not in caplog.text
    monkeypatch.setattr("sys.stdin", io.StringIO("EAAsim" + "0" * 32))
    assert cli.main(["accounts", "discover"]) == cli.EXIT_GRAPH_API
    assert "Nothing was registered" in capsys.readouterr().err
    assert cli.main(["accounts", "list"]) == cli.EXIT_OK
    listing = capsys.readouterr().out
    assert all(f"facebook (Page {a['page_id']})" in listing for a in facebook)


def test_one_hook_serves_both_logins(fb_hook, token_store, sim):
    """Reads, the inbox and a DM, each account by its own road; every call lands on its host."""
    for account in sim.accounts():
        assert fb_hook.get_profile(account["id"])["username"] == account["username"]
        assert len(list(fb_hook.iter_media(account["id"], fields="id"))) == 20
        truth = {c["id"] for c in sim.truth("conversations", account_id=account["id"])}
        assert {c["id"] for c in fb_hook.iter_conversations(account["id"])} == truth
    hosts = {(entry["account_id"], entry["host"]) for entry in sim.requests()}
    assert hosts == {(a["id"], a["login"]) for a in sim.accounts()}
    facebook = next(a for a in sim.accounts() if a["login"] == "facebook")
    inbox = [e["path"] for e in sim.requests(account_id=facebook["id"], path="conversations")]
    assert inbox and all(path.startswith(f"/{facebook['page_id']}/") for path in inbox)
    inside = next(c for c in sim.truth("conversations", account_id=facebook["id"]) if c["inside_window"])
    sent = fb_hook.send_message(facebook["id"], inside["user_id"], "Thanks, on its way!")
    assert [m["message_id"] for m in sim.truth("sent_messages", account_id=facebook["id"])] == [sent["message_id"]]
    assert sim.requests(method="POST")[-1]["path"] == f"/{facebook['page_id']}/messages"


def test_appsecret_proof_uses_each_apps_secret(fb_hook, token_store, sim):
    for account in sim.accounts():
        sim.set_token(account["id"], requires_appsecret_proof=True)
        assert fb_hook.get_profile(account["id"])["id"] == account["id"]


def test_token_refresh_does_the_right_thing_for_each_login(fb_hook, token_store, sim):
    registry = AccountRegistry(token_store)
    instagram, facebook = (next(a for a in sim.accounts() if a["login"] == login) for login in ("instagram", "facebook"))
    assert facebook["id"] not in registry.refresh_candidates(expiring_within=timedelta(days=365),
                                                             min_age=timedelta(0)), "a Page token never expires"
    with pytest.raises(TokenRefreshError, match="Page token does not expire"):
        refresh(fb_hook, token_store, facebook["id"])
    assert refresh(fb_hook, token_store, instagram["id"]).expires_at is not None

    user = sim.facebook_user()
    assert facebook_users_due(registry) == []  # 50 days left
    assert facebook_users_due(registry, timedelta(days=55)) == [user["id"]]
    renewed = refresh_facebook_user(fb_hook, token_store, user["id"])
    assert timedelta(days=59) < renewed.expires_at - datetime.now(UTC) < timedelta(days=61)
    assert token_store.get_facebook_user(user["id"]).token not in (user["long_lived_token"], user["token"])
    assert facebook_users_due(registry, timedelta(days=55)) == []


def test_revoking_a_facebook_login_account_revokes_its_user_and_every_page(fb_hook, token_store, sim, cli_env,
                                                                           capsys):
    registry = AccountRegistry(token_store)
    first, second = (a for a in sim.accounts() if a["login"] == "facebook")
    assert cli.main(["accounts", "revoke", first["id"], "--reason", "left the agency"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "revoked at Meta" in out and f"same Facebook user: {second['id']}" in out
    assert [e["path"] for e in sim.requests(method="DELETE")] == [f"/{sim.facebook_user()['id']}/permissions"]
    infos = {i.account_id: i for i in registry.list_accounts()}
    for account in (first, second):
        assert (infos[account["id"]].status, infos[account["id"]].enabled) == ("revoked", False)
    assert all(i.enabled for i in infos.values() if i.login == "instagram")
    assert not any(a["revoked"] for a in sim.accounts() if a["login"] == "instagram")


def test_key_rotation_re_encrypts_the_facebook_users_too(token_store, sim, schema):
    from cryptography.fernet import Fernet

    old = token_store._keys
    rotated = TokenStore(conn_factory=lambda: psycopg2.connect(schema), keys=f"{Fernet.generate_key().decode()},{old}")
    assert rotated.rotate() == len(sim.accounts()) + 1
    new_only = TokenStore(conn_factory=lambda: psycopg2.connect(schema), keys=rotated._keys.split(",")[0])
    assert new_only.get_facebook_user(sim.facebook_user()["id"]).token == sim.facebook_user()["long_lived_token"]
