"""The "Instagram accounts" page: the sync record it reads, the data it shows, and who may see it.

Real Postgres and Redis throughout. The page's content is read through FastAPI's TestClient
on the plugin's app; who may see it is asked of a real ``airflow api-server`` (the plugin
found through its entry point, mounted by Airflow, tokens checked by the simple auth manager).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import requests
from airflow.sdk.exceptions import AirflowFailException
from fastapi.testclient import TestClient

from instagram_graph import sync_record
from instagram_graph.accounts import AccountRegistry
from instagram_graph.errors import TokenExpiredError, TransientError
from instagram_graph.token_store import TokenStore

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
JWT_SECRET = "accounts-page-test-secret-" + "0123456789abcdef" * 3  # 74 bytes: HS512 wants 64+
TOKEN = "IGQVJtest-token-never-shown-0123456789"
CALL_LIMIT = 150


# --- the sync record ------------------------------------------------------------------------


def _failure(error: BaseException) -> BaseException:
    """``error`` as the operator raises it: a token problem becomes AirflowFailException."""
    try:
        try:
            raise error
        except TokenExpiredError as exc:
            raise AirflowFailException(f"account 1784: {exc}") from None
    except Exception as raised:
        return raised


def _latest(dsn: str, accounts=("1784", "2001"), streams=("media", "profile")) -> dict:
    with psycopg2.connect(dsn) as conn:
        return sync_record.latest(conn, list(accounts), list(streams))


def test_a_success_then_a_failure_of_a_stream_are_both_shown(schema, warehouse) -> None:
    sync_record.SyncAttempt.begin("1784", "media", {"run_id": "scheduled__1"}).succeeded(
        {"calls": 4, "rows_written": {"media": 10, "media_children": 2}}
    )
    failed = sync_record.SyncAttempt.begin("1784", "media", {"run_id": "scheduled__2"})
    assert failed.failed(_failure(TokenExpiredError("Session has expired, access_token=EAAsecret", code=190)),
                         calls=1)

    media = _latest(schema)["1784"]["media"]
    assert (media.last_success.run_id, media.last_success.calls, media.last_success.rows) == ("scheduled__1", 4, 12)
    assert media.last_success.rows_by_table == {"media": 10, "media_children": 2}
    assert media.last_failure.error_class == "TokenExpiredError", "the Graph API error behind AirflowFailException"
    assert media.last_failure.advice.startswith("Reconnect account 1784")
    assert media.failing
    rows = warehouse("SELECT * FROM instagram.sync_runs")
    assert "EAAsecret" not in repr(rows) and "Session has expired" not in repr(rows), "no message, no token"


def test_other_errors_are_recorded_by_class_only(schema) -> None:
    attempt = sync_record.SyncAttempt.begin("1784", "profile", {"run_id": "manual__1"})
    attempt.failed(ValueError("something with a secret in it"), calls=0)
    attempt = sync_record.SyncAttempt.begin("1784", "media", {"run_id": "manual__1"})
    attempt.failed(TransientError("Please retry", code=2), calls=3)

    latest = _latest(schema)["1784"]
    assert (latest["profile"].last_failure.error_class, latest["profile"].last_failure.advice) == ("ValueError", None)
    assert latest["media"].last_failure.error_class == "TransientError"
    assert latest["media"].last_failure.advice == TransientError.default_advice


def test_a_retry_overwrites_the_row_of_its_run(schema, warehouse) -> None:
    class TaskInstance:
        def __init__(self, try_number: int) -> None:
            self.try_number = try_number

    first = sync_record.SyncAttempt.begin("1784", "media", {"run_id": "scheduled__1", "ti": TaskInstance(1)})
    first.failed(TransientError("Please retry"), calls=2)
    second = sync_record.SyncAttempt.begin("1784", "media", {"run_id": "scheduled__1", "ti": TaskInstance(2)})
    second.succeeded({"calls": 5, "rows_written": {"media": 3}})

    assert warehouse("SELECT status, try_number, calls, rows, error_class, advice FROM instagram.sync_runs") == [
        ("success", 2, 5, 3, None, None)
    ]
    media = _latest(schema)["1784"]["media"]
    assert media.last_failure is None and not media.failing


def test_the_latest_try_counts_per_account_and_stream(schema) -> None:
    for run_id, rows in (("scheduled__1", 1), ("scheduled__2", 2)):
        sync_record.SyncAttempt.begin("1784", "media", {"run_id": run_id}).succeeded(
            {"calls": 1, "rows_written": {"media": rows}}
        )
    sync_record.SyncAttempt.begin("1784", "profile", {"run_id": "scheduled__1"}).succeeded({"calls": 1})
    sync_record.SyncAttempt.begin("2001", "media", {"run_id": "scheduled__1"}).failed(ValueError(), calls=0)
    sync_record.SyncAttempt.begin("1784", "media", {}).succeeded({"calls": 9})  # outside a DAG run: a row of its own

    latest = _latest(schema)
    assert latest["1784"]["media"].last_success.calls == 9
    assert latest["1784"]["media"].last_success.run_id.startswith("adhoc__")
    assert latest["1784"]["profile"].last_success.rows == 0
    assert latest["2001"]["media"].last_success is None and latest["2001"]["media"].failing
    assert set(latest) == {"1784", "2001"} and "profile" not in latest["2001"]


def test_a_record_that_cannot_be_written_only_warns(schema, monkeypatch, caplog) -> None:
    def warehouse_down():
        raise psycopg2.OperationalError("connection refused")

    monkeypatch.setattr(sync_record.db, "connect", warehouse_down)
    attempt = sync_record.SyncAttempt.begin("1784", "media", {"run_id": "scheduled__1"})
    assert attempt.succeeded({"calls": 1}) is False
    assert "sync record of account 1784, stream media (success) was not written" in caplog.text


@pytest.fixture
def graph_connection(sim, monkeypatch, redis_client) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT", json.dumps({
        "conn_type": "instagram_graph", "host": sim.base_url,
        "extra": {"calls_per_hour": CALL_LIMIT, "retry_base_delay": 0.02, "max_attempts": 1},
    }))


def test_the_sync_operator_records_its_success_and_its_failure(graph_connection, token_store, account,
                                                              schema) -> None:
    from instagram_graph.operators.sync import InstagramSyncOperator

    operator = InstagramSyncOperator(task_id="sync_profile", stream="profile", account_id=account["id"])
    summary = operator.execute({"run_id": "scheduled__ok"})
    token_store.mark(account["id"], "expired", error="expired in the test")
    with pytest.raises(AirflowFailException):
        operator.execute({"run_id": "scheduled__expired"})

    profile = _latest(schema, accounts=[account["id"]], streams=["profile"])[account["id"]]["profile"]
    assert profile.last_success.run_id == "scheduled__ok"
    assert (profile.last_success.calls, profile.last_success.rows) == (summary["calls"],
                                                                        sum(summary["rows_written"].values()))
    assert profile.last_success.calls >= 1 and profile.last_success.rows >= 1
    assert profile.last_failure.run_id == "scheduled__expired"
    assert profile.last_failure.error_class == "TokenExpiredError"
    assert f"Reconnect account {account['id']}" in profile.last_failure.advice


# --- the page's data --------------------------------------------------------------------------


@pytest.fixture
def store(schema) -> TokenStore:
    return TokenStore(conn_factory=lambda: psycopg2.connect(schema))


@pytest.fixture
def limiter_connection(monkeypatch, redis_client) -> None:
    """The instagram_graph_default connection the page (and every worker) builds the limiter from."""
    monkeypatch.setenv("AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT", json.dumps({
        "conn_type": "instagram_graph", "host": "http://127.0.0.1:9", "extra": {"calls_per_hour": CALL_LIMIT},
    }))


def _add(store: TokenStore, account_id: str, username: str, expires_in: timedelta) -> None:
    store.put(account_id, TOKEN, expires_at=datetime.now(UTC) + expires_in, username=username)


def _reader():
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return SimpleAuthManagerUser(username="viewer", role="VIEWER")


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The plugin's app, mounted at /instagram as the api-server mounts it; who may see it is
    tested against a real api-server below, so here the reader is given."""
    from fastapi import FastAPI

    from instagram_graph.ui.accounts_app import create_app
    from instagram_graph.ui.auth import sync_run_reader

    app = create_app()
    app.dependency_overrides[sync_run_reader] = _reader
    root = FastAPI()
    root.mount("/instagram", app)
    with TestClient(root) as test_client:
        yield test_client


def test_the_page_shows_token_days_calls_and_pauses(store, limiter_connection, client) -> None:
    from instagram_graph.hooks.graph_api import InstagramGraphHook

    _add(store, "1784", "first", timedelta(days=12, hours=3))
    _add(store, "2001", "second", timedelta(days=40, hours=3))
    AccountRegistry(store).disable("2001", "paused by the test")
    worker = InstagramGraphHook("instagram_graph_default")  # records calls and pauses as a worker does
    for _ in range(3):
        assert worker.rate_limiter.acquire("1784") == 0.0
    worker.throttle.pause(worker.settings.app_id, "2001", 600)
    worker.close()

    data = client.get("/instagram/api/accounts").json()
    assert data["unavailable"] == {}
    first, second = data["accounts"]
    assert (first["account_id"], first["username"], first["flavour"], first["enabled"]) == ("1784", "first",
                                                                                             "instagram", True)
    assert first["token"]["status"] == "active" and first["token"]["days_left"] == 12
    assert first["calls"] == {"used": 3, "limit": CALL_LIMIT, "window_seconds": 3600.0}
    assert first["paused_until"] is None
    assert (second["enabled"], second["token"]["days_left"], second["calls"]["used"]) == (False, 40, 0)
    paused_until = datetime.fromisoformat(second["paused_until"])
    assert timedelta(seconds=590) < paused_until - datetime.now(UTC) <= timedelta(seconds=600)

    page = client.get("/instagram/accounts").text
    assert '<tr data-account-id="1784">' in page
    assert '<td class="days-left">12</td>' in page
    assert f'<td class="calls">3 / {CALL_LIMIT} per 1 h</td>' in page
    assert '<td class="paused-until"><time datetime="' in page


def test_the_page_shows_each_streams_last_success_and_failure(store, limiter_connection, client) -> None:
    _add(store, "1784", "first", timedelta(days=30))
    sync_record.SyncAttempt.begin("1784", "media", {"run_id": "scheduled__1"}).succeeded(
        {"calls": 7, "rows_written": {"media": 20}}
    )
    sync_record.SyncAttempt.begin("1784", "media", {"run_id": "scheduled__2"}).failed(
        _failure(TokenExpiredError("expired", account_id="1784")), calls=1
    )

    streams = client.get("/instagram/api/accounts").json()["accounts"][0]["streams"]
    assert list(streams) == ["media"]
    assert (streams["media"]["last_success"]["rows"], streams["media"]["last_success"]["calls"]) == (20, 7)
    assert streams["media"]["last_failure"]["error_class"] == "TokenExpiredError"
    assert streams["media"]["failing"] is True

    page = client.get("/instagram/accounts").text
    assert '<tr data-stream="media" class="failing">' in page
    assert "20 rows, 7 calls" in page
    assert '<span class="error-class">TokenExpiredError</span>' in page
    assert "instagram-graph accounts add 1784 &lt; token-file" in page, "the advice, escaped"


def test_the_page_escapes_what_it_shows_and_never_shows_a_token(store, limiter_connection, client,
                                                                warehouse) -> None:
    _add(store, "1784", "<script>alert('x')</script>", timedelta(days=5, hours=1))
    (ciphertext,) = warehouse("SELECT ciphertext FROM instagram.oauth_tokens WHERE account_id = '1784'")[0]

    page = client.get("/instagram/accounts")
    body = client.get("/instagram/api/accounts").text
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text
    assert '<td class="username">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</td>' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for shown in (page.text, body):
        assert TOKEN not in shown
        assert bytes(ciphertext).decode() not in shown


def test_the_page_says_which_part_is_unavailable(store, limiter_connection, client, monkeypatch) -> None:
    _add(store, "1784", "first", timedelta(days=30))
    monkeypatch.setenv("AIRFLOW_CONN_INSTAGRAM_REDIS", "redis://127.0.0.1:1/0")

    data = client.get("/instagram/api/accounts").json()
    assert list(data["unavailable"]) == ["rate limiter"]
    assert "RateLimiterUnavailableError" in data["unavailable"]["rate limiter"]
    assert data["accounts"][0]["account_id"] == "1784" and data["accounts"][0]["calls"] is None
    page = client.get("/instagram/accounts").text
    assert '<p class="unavailable" data-part="rate limiter">' in page
    assert '<td class="calls"><span class="muted">unknown</span></td>' in page

    monkeypatch.setenv("AIRFLOW_CONN_INSTAGRAM_WAREHOUSE", "postgres://postgres@127.0.0.1:1/nowhere")
    page = client.get("/instagram/accounts")
    assert page.status_code == 200
    assert '<p class="unavailable" data-part="warehouse">' in page.text
    assert "No accounts to show." in page.text


def test_the_index_leads_to_the_page(client) -> None:
    answer = client.get("/instagram/", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "/instagram/accounts"


# --- who may see it: a real api-server ----------------------------------------------------------


@pytest.fixture(scope="module")
def api_server(tmp_path_factory, pg_dsn, redis_url, token_keys) -> Iterator[dict]:
    """``airflow api-server`` on a fresh AIRFLOW_HOME, user ``viewer`` (simple auth manager).

    instagram_graph_default is in the metadata DB (not the environment), so a limit shown on
    the page proves the api-server's connection lookup reaches the metastore.
    """
    from graph_api_sim.testing import free_port

    home = tmp_path_factory.mktemp("airflow_api_home")
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "viewer:viewer",
        "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
        "AIRFLOW_CONN_INSTAGRAM_WAREHOUSE": pg_dsn.replace("postgresql://", "postgres://", 1),
        "AIRFLOW_CONN_INSTAGRAM_REDIS": redis_url,
        "INSTAGRAM_TOKEN_KEYS": token_keys,
    }
    for name in ("AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT", "INSTAGRAM_WAREHOUSE_DSN"):
        env.pop(name, None)
    graph = {"conn_type": "instagram_graph", "host": "http://127.0.0.1:9", "extra": {"calls_per_hour": CALL_LIMIT}}
    add_graph = ["connections", "add", "instagram_graph_default", "--conn-json", json.dumps(graph)]
    for args in (["db", "migrate"], add_graph):
        done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    log = (home / "api-server.log").open("w")
    server = subprocess.Popen([AIRFLOW, "api-server", "--port", str(port)], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/api/v2/monitor/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, (home / "api-server.log").read_text()[-3000:]
            time.sleep(0.3)
        else:
            pytest.fail("the api-server did not answer within 90 s: " + (home / "api-server.log").read_text()[-3000:])
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        yield {"base": base, "password": passwords["viewer"]}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _jwt(role: str | None, *, seconds: int = 600) -> str:
    """A JWT made as the simple auth manager makes it (its own generate_jwt, the server's secret)."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = JWT_SECRET  # read by the signer when it is first made
    return SimpleAuthManager().generate_jwt(SimpleAuthManagerUser(username="viewer", role=role),
                                            expiration_time_in_seconds=seconds)


@pytest.fixture
def viewer_account(store) -> None:
    _add(store, "1784", "<b>first</b>", timedelta(days=9, hours=2))


def test_without_a_login_the_json_is_refused_and_the_page_sends_to_the_login(api_server) -> None:
    base = api_server["base"]
    answer = requests.get(f"{base}/instagram/api/accounts", timeout=10)
    assert (answer.status_code, answer.json()) == (401, {"detail": "Not authenticated"})

    page = requests.get(f"{base}/instagram/accounts", allow_redirects=False, timeout=10)
    assert page.status_code == 307
    assert page.headers["location"] == "/auth/login?next=" + requests.utils.quote(f"{base}/instagram/accounts", "")

    expired = _jwt("VIEWER", seconds=-120)
    answer = requests.get(f"{base}/instagram/api/accounts", headers={"Authorization": f"Bearer {expired}"}, timeout=10)
    assert (answer.status_code, answer.json()) == (401, {"detail": "Token Expired"})
    page = requests.get(f"{base}/instagram/accounts", cookies={"_token": expired}, allow_redirects=False, timeout=10)
    assert page.status_code == 307 and page.headers["location"].startswith("/auth/login?next=")

    forged = requests.get(f"{base}/instagram/api/accounts", headers={"Authorization": "Bearer not.a.jwt"}, timeout=10)
    assert (forged.status_code, forged.json()) == (403, {"detail": "Invalid JWT token"})


def test_a_viewer_sees_the_page_with_a_header_or_the_uis_cookie(api_server, viewer_account, redis_client) -> None:
    base = api_server["base"]
    token = _jwt("VIEWER")

    data = requests.get(f"{base}/instagram/api/accounts", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert data.status_code == 200, data.text
    (account,) = data.json()["accounts"]
    assert account["account_id"] == "1784" and account["token"]["days_left"] == 9
    assert account["calls"]["limit"] == CALL_LIMIT, "instagram_graph_default read from the metadata DB"

    page = requests.get(f"{base}/instagram/accounts", cookies={"_token": token}, timeout=10)
    assert page.status_code == 200
    assert '<tr data-account-id="1784">' in page.text and "&lt;b&gt;first&lt;/b&gt;" in page.text
    assert TOKEN not in page.text

    login = requests.post(f"{base}/auth/token", json={"username": "viewer", "password": api_server["password"]},
                          timeout=10)
    assert login.status_code == 201
    answer = requests.get(f"{base}/instagram/api/accounts",
                          headers={"Authorization": f"Bearer {login.json()['access_token']}"}, timeout=10)
    assert answer.status_code == 200


def test_a_user_without_a_role_is_forbidden(api_server) -> None:
    answer = requests.get(f"{api_server['base']}/instagram/api/accounts",
                          headers={"Authorization": f"Bearer {_jwt(None)}"}, timeout=10)
    assert answer.status_code == 403
    assert answer.json() == {"detail": "Forbidden: reading all DAG runs is required"}


def test_the_api_server_lists_the_app_and_the_nav_entry(api_server) -> None:
    plugins = requests.get(f"{api_server['base']}/api/v2/plugins",
                           headers={"Authorization": f"Bearer {_jwt('VIEWER')}"}, timeout=10).json()["plugins"]
    (ours,) = [plugin for plugin in plugins if plugin["name"] == "instagram_accounts"]
    assert [(app["url_prefix"], app["name"]) for app in ours["fastapi_apps"]] == [
        ("/instagram", "Instagram accounts"), ("/instagram-pools", "Instagram Graph API pool status")]
    (view,) = ours["external_views"]
    assert (view["name"], view["href"], view["destination"]) == ("Instagram accounts", "instagram/accounts", "nav")
