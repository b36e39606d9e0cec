"""The audit trail of Graph API calls against the simulator, real Redis and real Postgres.

What reached "Meta" comes from the simulator's request log; what the hook says it did comes
from ``instagram.api_calls``. They must hold the same attempts, one for one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from instagram_graph.errors import GraphApiError, InvalidRequestError, TransientError
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
from instagram_graph.settings import GraphApiSettings
from instagram_graph.sync import STREAMS, SyncRun

from .conftest import FAST_RETRIES

APP_SECRET = "audit-test-app-secret"
COLUMNS = "method, path, status, attempt, fbtrace_id, error, duration_ms, dag_id, run_id, task_id, map_index, try_number"


@pytest.fixture
def audited(sim, token_store, redis_client, schema):
    """Hooks whose bookkeeping goes to the test warehouse through an injected connection."""
    hooks = []

    def build(*, warehouse=None, **overrides) -> InstagramGraphHook:
        settings = GraphApiSettings(base_url=sim.base_url, calls_per_hour=10_000, **{**FAST_RETRIES, **overrides})
        hook = InstagramGraphHook(
            settings=settings,
            token_store=token_store,
            rate_limiter=RedisRateLimiter(redis_client, limit=10_000),
            throttle=UsageThrottle(redis_client),
            warehouse=warehouse or (lambda: psycopg2.connect(schema)),
        )
        hooks.append(hook)
        return hook

    yield build
    for hook in hooks:
        hook.close()


def trail(warehouse) -> list[tuple]:
    return warehouse(f"SELECT {COLUMNS} FROM instagram.api_calls ORDER BY called_at, attempt")


def as_sent(entry: dict) -> str:
    """The simulator logs the path without its version; the trail keeps the path as sent."""
    return f"/{entry['version']}{entry['path']}" if entry["version"] else entry["path"]


def test_the_trail_of_a_sync_run_is_the_simulators_request_log(audited, sim, account, schema, warehouse,
                                                                task_logs) -> None:
    sim.set_app_secret(APP_SECRET)
    hook = audited(app_secret=APP_SECRET, timeout=1.0)
    media = rf"^/{account['id']}/media$"
    sim.add_fault(method="GET", path=media, kind="http_500", times=1)  # a status and a retry
    sim.add_fault(method="GET", path=media, kind="reset", times=1)  # no answer at all
    sim.add_fault(method="GET", path=media, kind="error", code=2, is_transient=True, http_status=503, times=1)
    sim.add_fault(method="GET", path=r"/comments$", kind="error", code=1, http_status=500, times=2)
    sim.clear_requests()

    conn = psycopg2.connect(schema)
    end = datetime.now(UTC)
    run = SyncRun(hook=hook, conn=conn, account_id=account["id"], interval_start=end - timedelta(days=1),
                  interval_end=end, options={"comment_days": 365})
    calls = sum(STREAMS[stream](run).calls for stream in ("media", "comments"))
    conn.close()
    hook.close()

    made = sim.requests()
    rows = trail(warehouse)
    assert calls > 20 and len(made) == len(rows) == hook.calls_made
    assert [(r[0], r[1], r[2]) for r in rows] == [(e["method"], as_sent(e), e["status"]) for e in made]
    assert {r[2] for r in rows} >= {200, 500, 503, None}, "answers, errors and a lost answer"

    # retries are attempts of their own, numbered, with the error they ended in
    first_media = [r for r in rows if r[1].endswith(f"/{account['id']}/media")][:4]
    assert [(r[2], r[3], r[5]) for r in first_media] == [
        (500, 1, "TransientError"), (None, 2, "TransientError"), (503, 3, "TransientError"), (200, 4, None)]
    # Meta's trace id of every error answer: the one the retry log line names
    json_errors = [r for r in rows if r[2] == 503 or (r[1].endswith("/comments") and r[2] == 500)]
    assert len(json_errors) == 3 and all(r[4] for r in json_errors)
    logs = task_logs()
    for r in json_errors:
        assert f"fbtrace_id {r[4]}" in logs
    # every answer's x-fb-trace-id (Meta's, as the simulator logged it); a lost answer has none
    assert [r[4] for r in rows] == [e["trace_id"] for e in made]
    assert all(r[6] >= 0 for r in rows)
    assert {r[7:] for r in rows} == {(None, None, None, None, None)}, "no Airflow task: no correlation"


def test_no_token_or_query_string_anywhere_in_the_trail(audited, sim, account, warehouse) -> None:
    sim.set_app_secret(APP_SECRET)
    hook = audited(app_secret=APP_SECRET)
    hook.get_profile(account["id"])
    list(hook.iter_media(account["id"]))
    sim.add_fault(method="GET", path=r"^/\d+$", kind="error", code=100, times=1)
    with pytest.raises(InvalidRequestError):
        hook.get_profile(account["id"])
    with contextlib.suppress(GraphApiError):  # Meta may refuse a refresh; the attempt is in the trail either way
        hook.refresh_token(account["id"])  # the one call with the token in its query string
    hook.close()

    proof = hmac.new(APP_SECRET.encode(), account["token"].encode(), hashlib.sha256).hexdigest()
    every_column = [row[0] for row in warehouse("SELECT t::text FROM instagram.api_calls t")]
    assert len(every_column) == len(sim.requests()) >= 4
    for text in every_column:
        for secret in (account["token"], proof, APP_SECRET, "access_token=", "appsecret_proof", "?", "fields="):
            assert secret not in text


def test_each_attempt_is_a_debug_line_and_audit_calls_false_keeps_no_rows(audited, sim, account, warehouse,
                                                                          task_logs) -> None:
    hook = audited(audit_calls=False)
    # The hook logs through Airflow's task logger, at DEBUG only when Airflow's logging_level
    # says so (the DAG test turns it on); here a stdlib logger at DEBUG stands in for it.
    hook.audit.log = logging.getLogger("instagram_graph.test_call_audit")
    hook.get_profile(account["id"])
    hook.close()

    assert warehouse("SELECT count(*) FROM instagram.api_calls") == [(0,)]
    line = next(line for line in task_logs().splitlines() if "graph_api_call" in line)
    for field in (f"account={account['id']}", "method=GET", f"path=/v24.0/{account['id']} ", "status=200",
                  "attempt=1", "duration_ms=", "dag_id=None"):
        assert field in line
    assert account["token"] not in task_logs()


def test_rows_are_written_in_batches_and_at_close(audited, account, warehouse) -> None:
    hook = audited()
    hook.audit.batch_rows = 5
    hook.audit.flush_seconds = 3600
    for _ in range(7):
        hook.get_profile(account["id"])
    assert warehouse("SELECT count(*) FROM instagram.api_calls") == [(5,)], "one batch of 5; 2 still buffered"

    hook.audit.flush_seconds = 0.2
    time.sleep(0.25)
    hook.get_profile(account["id"])
    assert warehouse("SELECT count(*) FROM instagram.api_calls") == [(8,)], "the oldest waited long enough"

    hook.get_profile(account["id"])
    hook.close()
    assert warehouse("SELECT count(*) FROM instagram.api_calls") == [(9,)]


def test_calls_go_on_while_the_warehouse_is_away_and_the_trail_catches_up(audited, sim, account, schema,
                                                                          warehouse) -> None:
    up = {"value": True}

    def connect():
        if not up["value"]:
            raise psycopg2.OperationalError("the warehouse is restarting")
        return psycopg2.connect(schema)

    hook = audited(warehouse=connect)
    hook.audit.batch_rows = 1
    hook._warehouse_link.retry_seconds = 0
    hook.get_profile(account["id"])
    hook._warehouse_link.close()
    up["value"] = False
    for _ in range(3):
        hook.get_profile(account["id"])
    assert hook.audit.pending == 3
    up["value"] = True
    hook.get_profile(account["id"])
    assert hook.audit.pending == 0
    assert warehouse("SELECT count(*) FROM instagram.api_calls") == [(5,)] == [(len(sim.requests()),)]


def test_days_past_the_retention_are_dropped_whole(audited, account, warehouse) -> None:
    old = (datetime.now(UTC) - timedelta(days=10)).date()
    kept = (datetime.now(UTC) - timedelta(days=3)).date()
    for day in (old, kept):
        warehouse("SELECT instagram.api_calls_partition(%s)", (day,))
        warehouse("INSERT INTO instagram.api_calls (called_at, account_id, method, path, duration_ms, attempt) "
                  "VALUES (%s::date + interval '12 hours', 'x', 'GET', '/v24.0/x', 1, 1)", (day,))
    hook = audited(audit_retention_days=7)
    hook.get_profile(account["id"])
    hook.close()

    partitions = {r[0] for r in warehouse(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'instagram.api_calls'::regclass")}
    today = datetime.now(UTC).date()
    assert f"api_calls_{old:%Y%m%d}" not in partitions
    assert {f"api_calls_{kept:%Y%m%d}", f"api_calls_{today:%Y%m%d}",
            f"api_calls_{today + timedelta(days=1):%Y%m%d}"} <= partitions, "tomorrow's is ready before midnight"
    assert warehouse("SELECT count(*) FROM instagram.api_calls") == [(2,)]


def test_a_timeout_is_an_attempt_without_status(audited, sim, account, warehouse) -> None:
    sim.add_fault(method="GET", path=r"^/\d+$", kind="delay", seconds=1.5, times=4)
    hook = audited(timeout=0.5)
    with pytest.raises(TransientError):
        hook.get_profile(account["id"])
    hook.close()
    rows = trail(warehouse)
    assert [(r[2], r[3], r[5]) for r in rows] == [(None, n, "TransientError") for n in range(1, 5)]
    assert all(400 <= r[6] < 1500 for r in rows), "each waited about the timeout"
