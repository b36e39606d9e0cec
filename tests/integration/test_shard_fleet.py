"""Shards in the warehouse (ordinals handed out and kept) and a shard's accounts synced together:
one account never stops another, each ending is recorded, and a retry of the run leaves alone
what synced and what only the account's owner can fix."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from instagram_graph.shards import accounts_in, shards_of_enabled_accounts
from instagram_graph.sync.fleet import FAILED, REFUSED, SYNCED, Fleet
from instagram_graph.sync_record import settled_in_run


@pytest.fixture
def conn(schema):
    connection = psycopg2.connect(schema)
    yield connection
    connection.close()


def _ordinals(warehouse) -> dict[str, int]:
    return dict(warehouse("SELECT account_id, ordinal FROM instagram.accounts"))


def test_ordinals_are_handed_out_once_and_a_newcomer_takes_the_smallest_free_one(
    conn, warehouse, sim, token_store
) -> None:
    first = shards_of_enabled_accounts(conn, 1)
    ordinals = _ordinals(warehouse)
    assert sorted(ordinals.values()) == [0, 1, 2]
    assert [s.label for s in first] == [
        f"{a['username']} ({a['id']})" for a in sorted(sim.accounts(), key=lambda a: ordinals[a["id"]])
    ], "a shard of one account is named after it"

    middle = next(a for a, o in ordinals.items() if o == 1)
    warehouse("DELETE FROM instagram.accounts WHERE account_id = %s", (middle,))
    warehouse("INSERT INTO instagram.accounts (account_id, username) VALUES ('999', 'newcomer'), ('998', 'late')")
    shards_of_enabled_accounts(conn, 1)
    after = _ordinals(warehouse)
    assert {a: o for a, o in after.items() if a in ordinals} == {a: o for a, o in ordinals.items() if a != middle}
    assert sorted([after["999"], after["998"]]) == [1, 3], "the freed ordinal first, then the next"

    warehouse("UPDATE instagram.accounts SET enabled = false WHERE account_id = '999'")
    shards = shards_of_enabled_accounts(conn, 50)
    assert len(shards) == 1 and shards[0].accounts == 3 and shards[0].label == "accounts 1-50 (3)"
    assert "999" not in accounts_in(conn, shards[0])


def test_one_account_never_stops_another_and_a_retry_runs_only_the_failed_one(
    conn, schema, sim, make_hook, warehouse, token_store
) -> None:
    synced, expired, flaky = (a["id"] for a in sim.accounts())
    sim.set_token(expired, expires_at=int(time.time()) - 60)
    sim.add_fault(path=rf"^/{flaky}$", kind="http_500", times=20)
    shard = shards_of_enabled_accounts(conn, 50)[0]
    context = {"run_id": "scheduled__shard_test"}
    now = datetime.now(UTC)

    def fleet() -> Fleet:
        return Fleet("profile", make_hook=make_hook, connect=lambda: psycopg2.connect(schema), context=context,
                     interval=(now - timedelta(hours=1), now), threads=3)

    outcomes = {o.account_id: o for o in fleet().run(accounts_in(conn, shard))}
    assert {a: o.status for a, o in outcomes.items()} == {synced: SYNCED, expired: REFUSED, flaky: FAILED}
    assert "Reconnect account" in outcomes[expired].advice
    assert warehouse("SELECT account_id FROM instagram.profiles") == [(synced,)]
    assert warehouse("SELECT status FROM instagram.oauth_tokens WHERE account_id = %s", (expired,)) == [("expired",)]
    recorded = dict(warehouse("SELECT account_id, status FROM instagram.sync_runs"))
    assert recorded == {synced: "success", expired: "failed", flaky: "failed"}

    settled = settled_in_run(conn, [synced, expired, flaky], "profile", context["run_id"])
    assert settled == {synced, expired}, "the retry runs only the account that failed for a passing reason"
    sim.clear_faults()
    sim.clear_requests()
    retried = fleet().run([a for a in (synced, expired, flaky) if a not in settled])
    assert [(o.account_id, o.status) for o in retried] == [(flaky, SYNCED)]
    assert {r["account_id"] for r in sim.requests()} == {flaky}

    token_store.put(expired, "a-new-token", expires_at=now + timedelta(days=60))  # the owner reconnected
    assert settled_in_run(conn, [expired], "profile", context["run_id"]) == set(), "a new token: worth a retry"


def test_accounts_run_on_several_threads_each_with_its_own_counts(conn, schema, sim, make_hook, warehouse) -> None:
    shard = shards_of_enabled_accounts(conn, 50)[0]
    now = datetime.now(UTC)
    outcomes = Fleet("media", make_hook=make_hook, connect=lambda: psycopg2.connect(schema),
                     context={"run_id": "threads"}, interval=(now - timedelta(hours=1), now), threads=3
                     ).run(accounts_in(conn, shard))
    assert all(o.status == SYNCED for o in outcomes)
    for outcome in outcomes:
        own = [r for r in sim.requests() if r["account_id"] == outcome.account_id]
        assert outcome.summary["calls"] == len(own), "each account's calls are its own"
        truth = {m["id"] for m in sim.truth("media", account_id=outcome.account_id)}
        loaded = {r[0] for r in warehouse("SELECT media_id FROM instagram.media WHERE account_id = %s",
                                          (outcome.account_id,))}
        assert loaded == truth


def test_a_big_fleet_logs_progress_and_failures_not_a_line_per_account(
    conn, schema, sim, make_hook, caplog, monkeypatch
) -> None:
    from instagram_graph.sync import fleet as fleet_module

    monkeypatch.setattr(fleet_module, "LOG_EACH_ACCOUNT_UP_TO", 2)  # three accounts count as "many"
    refused, *others = (a["id"] for a in sim.accounts())
    sim.set_token(refused, expires_at=int(time.time()) - 60)
    now = datetime.now(UTC)
    caplog.set_level(logging.INFO, logger="instagram_graph.sync.fleet")
    Fleet("profile", make_hook=make_hook, connect=lambda: psycopg2.connect(schema), context={"run_id": "logs"},
          interval=(now - timedelta(hours=1), now), threads=1).run(accounts_in(conn, shards_of_enabled_accounts(conn, 50)[0]))
    lines = [r.getMessage() for r in caplog.records if r.name == "instagram_graph.sync.fleet"]
    assert not any(f"Account {a}, stream profile: 1 calls" in line for line in lines for a in others), (
        "no line per synced account"
    )
    assert any(line.startswith(f"Account {refused}, stream profile: TokenExpiredError") for line in lines)
    assert lines[-1] == "Stream profile: 3 of 3 accounts done (1 refused, 2 synced)"
    assert len([line for line in lines if line.startswith("Stream profile:")]) == 3, "one per tenth (here: each)"


@pytest.fixture
def graph_connection(sim, monkeypatch) -> None:
    import json

    monkeypatch.setenv("AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT", json.dumps({
        "conn_type": "instagram_graph", "host": sim.base_url,
        "extra": {"calls_per_hour": 10_000, "retry_base_delay": 0.02, "max_inline_wait": 1},
    }))


def test_a_throttled_account_is_put_aside_and_the_shard_defers_only_when_all_that_is_left_waits(
    graph_connection, token_store, sim, conn, warehouse, redis_client
) -> None:
    from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
    from airflow.sdk.exceptions import TaskDeferred

    from instagram_graph.operators.shard_sync import InstagramShardSyncOperator

    throttled, *others = (a["id"] for a in sim.accounts())
    sim.add_fault(path=rf"^/{throttled}$", kind="throttle", regain_minutes=2, times=1)
    shard = shards_of_enabled_accounts(conn, 50)[0]
    operator = InstagramShardSyncOperator(task_id="sync_profile", stream="profile", shard=shard.as_arg())
    context = {"run_id": "scheduled__throttled"}
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert deferred.value.method_name == "execute" and isinstance(deferred.value.trigger, TimeDeltaTrigger)
    assert {r[0] for r in warehouse("SELECT account_id FROM instagram.profiles")} == set(others), (
        "the others synced before the shard deferred"
    )

    for key in redis_client.scan_iter("ig:throttle:*"):  # the two minutes have passed
        redis_client.delete(key)
    sim.clear_requests()
    summary = operator.execute(context, event={"status": "success"})
    assert {r["account_id"] for r in sim.requests()} == {throttled}, "after the wait, only the throttled account"
    assert summary["synced"] == 1 and summary["settled_earlier"] == 2
    assert {r[0] for r in warehouse("SELECT account_id FROM instagram.profiles")} == {throttled, *others}
