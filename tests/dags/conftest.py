"""Running DAGs the way users do: `airflow dags test` in a subprocess.

Each session gets its own AIRFLOW_HOME (SQLite metadata DB, migrated once, with the
Graph API pool), pointed by environment connections at the test warehouse, the test
Redis database and the session's simulator.
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


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory, pg_dsn, redis_url, sim_server) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_CONN_INSTAGRAM_WAREHOUSE": pg_dsn.replace("postgresql://", "postgres://", 1),
        "AIRFLOW_CONN_INSTAGRAM_REDIS": redis_url,
        "AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT": json.dumps(
            {
                "conn_type": "instagram_graph",
                "host": sim_server.base_url,
                "extra": {"retry_base_delay": 0.05, "calls_per_hour": 2000},
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
