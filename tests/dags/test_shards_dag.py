"""120 accounts in shards of 50, through `airflow dags test`: rows equal the simulator's truth,
failing accounts are named and only the transiently failed one is tried again, and Airflow's
`max_map_length` (10 here) never caps the number of accounts."""

from __future__ import annotations

import json
import time
from collections import Counter

import psycopg2
import pytest

from graph_api_sim.testing import SimulatorProcess

ACCOUNTS = 120


@pytest.fixture(scope="module")
def fleet_sim():
    with SimulatorProcess(accounts=ACCOUNTS, media_per_account=4, seed=23) as server:
        yield server


@pytest.fixture
def fleet(fleet_sim, schema, warehouse, graph_connection, token_store):
    """Only the 120 accounts of ``fleet_sim`` are registered; the runs' environment points at it."""
    from instagram_graph.token_store import TokenStore

    fleet_sim.reset()
    warehouse("DELETE FROM instagram.accounts")
    fleet_sim.register_accounts(TokenStore(conn_factory=lambda: psycopg2.connect(schema)))
    conn = json.loads(graph_connection()["AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT"])
    conn["host"] = fleet_sim.base_url  # both logins: half the accounts are Facebook Login's
    conn["extra"].update(fleet_sim.facebook_extra())
    return {"AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT": json.dumps(conn), "AIRFLOW__CORE__MAX_MAP_LENGTH": "10"}


def test_120_accounts_in_shards_of_50_two_expired_and_one_flaky(run_dag, fleet_sim, fleet, warehouse) -> None:
    accounts = [a["id"] for a in fleet_sim.accounts()]
    assert len(accounts) == ACCOUNTS
    expired = accounts[7], accounts[88]
    flaky = accounts[61]
    for account in expired:
        fleet_sim.set_token(account, expires_at=int(time.time()) - 60)
    # Every attempt of the first try fails (the connection's max_attempts is 4); the task's retry succeeds.
    fleet_sim.add_fault(path=rf"^/{flaky}$", kind="http_500", times=4)
    fleet_sim.clear_requests()

    result = run_dag("instagram_profiles", conf=json.dumps({"accounts_per_task": 50}), env=fleet)
    assert result.returncode != 0, "two accounts need their owner: the run ends failed"
    output = result.output
    for account in (*expired, flaky):
        assert f"account {account}:" in output, f"{account} is named"
    assert f"account {expired[0]}: TokenExpiredError" in output
    assert f"Reconnect account {expired[0]}" in output, "with the catalogue's advice"
    assert "accounts 1-50 (50)" in output and "accounts 101-150 (20)" in output, "shards named by their range"

    loaded = dict(warehouse("SELECT account_id, followers_count FROM instagram.profiles"))
    truth = {a["id"]: a["followers_count"] for a in fleet_sim.accounts() if a["id"] not in expired}
    assert loaded == truth, "every other account, the flaky one on the task's retry, equal to the truth"
    calls = Counter(r["account_id"] for r in fleet_sim.requests())
    assert calls[flaky] == 5, "four failed attempts, then the retry's one call"
    assert all(calls[a] == 1 for a in accounts if a != flaky), "the retry called no other account"
    assert warehouse("SELECT account_id, status FROM instagram.oauth_tokens WHERE status <> 'active' ORDER BY 1") == [
        (a, "expired") for a in sorted(expired)
    ]
    runs = Counter(warehouse("SELECT status FROM instagram.sync_runs WHERE stream = 'profile'"))
    assert runs == Counter({("success",): ACCOUNTS - 2, ("failed",): 2})


def test_one_task_per_account_is_raised_to_fit_max_map_length(run_dag, fleet_sim, fleet, warehouse) -> None:
    result = run_dag("instagram_profiles", conf=json.dumps({"accounts_per_task": 1}), env=fleet)
    assert result.returncode == 0, result.output[-3000:]
    assert "120 enabled account(s) in 8 shard(s)" in result.output
    synced = {r[0] for r in warehouse("SELECT DISTINCT account_id FROM instagram.sync_runs WHERE status = 'success'")}
    assert synced == {a["id"] for a in fleet_sim.accounts()}
