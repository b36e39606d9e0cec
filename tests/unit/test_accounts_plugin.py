"""The accounts page plugin is found by Airflow itself (the package's entry point), and costs a
task process nothing: every task loads plugins, only the api-server serves this one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_airflow_lists_the_app_and_the_nav_entry(tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "plugins", "-o", "json"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

    (ours,) = [plugin for plugin in json.loads(done.stdout) if plugin["name"] == "instagram_accounts"]
    assert ours["source"].startswith("instagram-graph-airflow==")
    assert ours["fastapi_apps"] == [
        {"app": "instagram_graph.ui.plugin.BuiltOnFirstRequest", "url_prefix": "/instagram",
         "name": "Instagram accounts"},
        {"app": "instagram_graph.ui.plugin.BuiltOnFirstRequest", "url_prefix": "/instagram-pools",
         "name": "Instagram Graph API pool status"},
    ]
    assert ours["external_views"] == [
        {"name": "Instagram accounts", "href": "instagram/accounts", "destination": "nav",
         "url_route": "instagram-accounts"}
    ]


def test_loading_the_plugin_imports_no_web_framework() -> None:
    probe = (
        "import sys, instagram_graph.ui.plugin as p; "
        "print(sorted(m for m in ('fastapi', 'airflow.api_fastapi') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
