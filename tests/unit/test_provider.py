"""The connection type is discoverable by Airflow itself, not just importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _airflow(*args: str, tmp_path: Path) -> str:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("airflow_home")


def test_airflow_lists_the_connection_type(airflow_home: Path) -> None:
    hooks = json.loads(_airflow("providers", "hooks", "-o", "json", tmp_path=airflow_home))
    ours = [h for h in hooks if h["connection_type"] == "instagram_graph"]
    assert ours == [
        {
            "connection_type": "instagram_graph",
            "class": "instagram_graph.hooks.graph_api.InstagramGraphHook",
            "conn_id_attribute_name": "instagram_graph_conn_id",
            "package_name": "instagram-graph-airflow",
            "hook_name": "Instagram Graph API",
        }
    ]


def test_connection_form_declares_its_fields(airflow_home: Path) -> None:
    widgets = json.loads(_airflow("providers", "widgets", "-o", "json", tmp_path=airflow_home))
    names = {w["connection_parameter_name"] for w in widgets if w["package_name"] == "instagram-graph-airflow"}
    assert names == {
        f"extra__instagram_graph__{name}"
        for name in ("api_version", "app_id", "calls_per_hour", "timeout", "usage_threshold_pct", "access_token")
    }


def test_token_field_is_a_password_field() -> None:
    from instagram_graph import get_provider_info

    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["conn-fields"]["access_token"]["schema"]["format"] == "password"
    assert conn_type["ui-field-behaviour"]["relabeling"]["password"] == "App secret"
