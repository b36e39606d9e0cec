"""The preload plugin: with plugins loaded at start, a process Airflow forks from has the
project's task modules already, so task processes and DAG parses do not import them again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from scripts import local_airflow

ROOT = Path(__file__).resolve().parents[2]
TASK_MODULES = ("instagram_graph.operators.shard_sync", "instagram_graph.hooks.graph_api", "redis")

PROBE = """
import json, sys
import airflow
modules = {m: m in sys.modules for m in sys.argv[1:]}  # what `import airflow` alone loaded
from airflow import plugins_manager
plugins, errors = plugins_manager._get_plugins()
print(json.dumps({"modules": modules, "plugins": [p.name for p in plugins], "errors": errors}))
"""


def _probe(lazy: str) -> dict:
    env = {**local_airflow.inherited_env(), "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": lazy}
    done = subprocess.run([sys.executable, "-c", PROBE, *TASK_MODULES], env=env, cwd="/tmp",
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loading_plugins_at_start_imports_the_task_modules_without_errors() -> None:
    loaded = _probe("False")
    assert "instagram_graph_preload" in loaded["plugins"]
    assert not loaded["errors"]
    assert all(loaded["modules"].values()), loaded["modules"]


def test_lazy_loading_leaves_a_bare_airflow_import_light() -> None:
    """Airflow's default: `import airflow` (a CLI call, a test) does not pay for the project."""
    assert not any(_probe("True")["modules"].values())


def test_make_airflow_and_compose_load_plugins_at_start(tmp_path) -> None:
    settings = local_airflow.Settings(state_dir=tmp_path)
    assert local_airflow.airflow_env(settings)["AIRFLOW__CORE__LAZY_LOAD_PLUGINS"] == "False"
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    common = compose["x-airflow-common"]["environment"]
    assert str(common["AIRFLOW__CORE__LAZY_LOAD_PLUGINS"]).lower() == "false"



def test_compose_checks_the_execution_api_so_no_task_builds_it() -> None:
    """Its first request builds its routes (seconds of CPU): the health check makes it, not a task."""
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    assert "http://localhost:8080/execution/health" in compose["services"]["airflow-apiserver"]["healthcheck"]["test"]
