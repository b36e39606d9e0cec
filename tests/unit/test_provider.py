"""The connection type is discoverable by Airflow itself, not just importable."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import airflow
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


def _settings_extras() -> set[str]:
    """Every extra GraphApiSettings.from_connection reads: its fields, less the two that come
    from the connection's own fields (host -> base_url, password -> app_secret)."""
    from instagram_graph.settings import GraphApiSettings

    return {f.name for f in dataclasses.fields(GraphApiSettings)} - {"base_url", "app_secret"}


def _conn_type() -> dict:
    from instagram_graph import get_provider_info

    (conn_type,) = get_provider_info()["connection-types"]
    return conn_type


def test_connection_form_declares_its_fields(airflow_home: Path) -> None:
    widgets = json.loads(_airflow("providers", "widgets", "-o", "json", tmp_path=airflow_home))
    names = {w["connection_parameter_name"] for w in widgets if w["package_name"] == "instagram-graph-airflow"}
    assert names == {f"extra__instagram_graph__{name}" for name in _settings_extras()}


def test_the_form_has_a_field_for_every_setting() -> None:
    """A new GraphApiSettings field without a form field (or a form field nothing reads) fails here."""
    conn_type = _conn_type()
    assert set(conn_type["conn-fields"]) == _settings_extras()
    assert _settings_extras() >= {
        "window_seconds", "messaging_calls_per_second", "human_agent_enabled", "status_poll_intervals",
        "slot_lease_max", "max_inline_wait", "retry_base_delay", "retry_max_delay", "max_attempts",
    }
    behaviour = conn_type["ui-field-behaviour"]
    assert not {"host", "password"} & set(behaviour["hidden-fields"])
    assert set(behaviour["relabeling"]) == {"host", "password"}


def test_form_fields_are_valid_admit_null_and_default_to_the_settings_defaults() -> None:
    import jsonschema
    from airflow.sdk import Connection

    from instagram_graph.settings import GraphApiSettings

    schema = json.loads((Path(airflow.__file__).parent / "provider.yaml.schema.json").read_text())
    conn_fields_schema = schema["properties"]["connection-types"]["items"]["properties"]["conn-fields"]
    fields = _conn_type()["conn-fields"]
    jsonschema.validate(fields, conn_fields_schema)

    defaults = GraphApiSettings()
    for name, field in fields.items():
        field_schema = field["schema"]
        assert "null" in field_schema["type"], f"{name}: an empty field must be allowed (the default applies)"
        jsonschema.validate(None, field_schema)
        assert field.get("description"), f"{name} has no description"
        if "default" not in field_schema:
            continue
        jsonschema.validate(field_schema["default"], field_schema)
        # What the form saves by default reads back as the dataclass default.
        conn = Connection(conn_id="c", conn_type="instagram_graph", extra=json.dumps({name: field_schema["default"]}))
        parsed = getattr(GraphApiSettings.from_connection(conn), name)
        assert parsed == getattr(defaults, name), name


def test_token_and_secret_fields_are_password_fields() -> None:
    conn_type = _conn_type()
    for secret in ("access_token", "facebook_app_secret"):
        assert conn_type["conn-fields"][secret]["schema"]["format"] == "password"
    assert conn_type["ui-field-behaviour"]["relabeling"]["password"] == "App secret (Instagram app)"
