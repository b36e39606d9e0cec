"""Running DAGs the way users do: `airflow dags test` in a subprocess.

Each session gets its own AIRFLOW_HOME (SQLite metadata DB, migrated once, with the
Graph API pool), pointed by environment connections at the test warehouse, the test
Redis database and the session's simulator.

The simulator here serves both logins (``--login both``: accounts 0 and 2 use Instagram
Login, account 1 Facebook Login), so every sync DAG run loads accounts of both in the same
run, and the tests about one account take it of each login in turn (``account``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@dataclass
class DagRun:
    returncode: int
    output: str


LOGINS = ("instagram", "facebook")


@pytest.fixture(scope="session")
def sim_server():
    """The DAG tests' simulator: the session's world (same seed and size), both logins."""
    from graph_api_sim.testing import SimulatorProcess

    from ..conftest import SIM_SEED

    with SimulatorProcess(accounts=3, media_per_account=120, seed=SIM_SEED, login="both") as server:
        yield server


def first_of(sim, login: str) -> dict:
    return next(a for a in sim.accounts() if a["login"] == login)


@pytest.fixture(params=LOGINS)
def account(request, sim) -> dict:
    """The first account of each login in turn: for what a login's road could change."""
    return first_of(sim, request.param)


@pytest.fixture
def instagram_account(sim) -> dict:
    """One Instagram Login account: for what no road changes (input refused before any call)."""
    return first_of(sim, "instagram")


@pytest.fixture
def facebook_account(sim) -> dict:
    """One Facebook Login account."""
    return first_of(sim, "facebook")


def secrets_of(sim) -> list[str]:
    """Every token the simulator knows of (accounts, Page and Facebook user tokens) and both app secrets."""
    config = sim.config()
    found = [config["app_secret"], config["facebook_app_secret"]]
    for account in sim.accounts():
        found += [account["token"], *([account["user_token"]] if account.get("user_token") else [])]
    if any(a["login"] == "facebook" for a in sim.accounts()):
        found.append(sim.facebook_user()["long_lived_token"])
    return found


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory, pg_dsn, redis_url, sim_server) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # A retried Graph API task waits 2 s, not a minute: `airflow dags test` sleeps it out.
        "AIRFLOW__INSTAGRAM__TASK_RETRY_DELAY_SECONDS": "2",
        "AIRFLOW_CONN_INSTAGRAM_WAREHOUSE": pg_dsn.replace("postgresql://", "postgres://", 1),
        "AIRFLOW_CONN_INSTAGRAM_REDIS": redis_url,
        "AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT": json.dumps(
            {
                "conn_type": "instagram_graph",
                "host": sim_server.base_url,
                "extra": {"retry_base_delay": 0.05, "calls_per_hour": 2000, **sim_server.facebook_extra()},
            }
        ),
    }
    env.pop("INSTAGRAM_WAREHOUSE_DSN", None)
    for args in (["db", "migrate"], ["pools", "set", "instagram_graph_api", "8", "Instagram Graph API calls"]):
        result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return env


@pytest.fixture
def graph_connection(airflow_env):
    """``graph_connection(timeout=2, ...)``: the environment that gives a run the session's
    instagram_graph connection with these extra fields (pass it as ``run_dag(env=...)``)."""

    def with_extra(**extra) -> dict[str, str]:
        conn = json.loads(airflow_env["AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT"])
        conn["extra"].update(extra)
        return {"AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT": json.dumps(conn)}

    return with_extra


@pytest.fixture
def run_dag(airflow_env, token_store, redis_client):
    """Run one DAG with `airflow dags test`; returns its exit code and output."""

    def run(
        dag_id: str, logical_date: str | None = None, conf: str | None = None, env: dict[str, str] | None = None
    ) -> DagRun:
        """``env``: variables to set or replace for this run only (e.g. another connection)."""
        args = [AIRFLOW, "dags", "test", dag_id]
        if logical_date:
            args.append(logical_date)
        if conf:
            args += ["-c", conf]
        result = subprocess.run(
            args, env={**airflow_env, **(env or {})}, capture_output=True, text=True, timeout=600, cwd=ROOT
        )
        return DagRun(result.returncode, result.stdout + result.stderr)

    return run
