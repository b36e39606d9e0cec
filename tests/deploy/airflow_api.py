"""A small client of Airflow 3's REST API, as an operator or a script uses it."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

FINISHED = {"success", "failed"}


class AirflowApi:
    """Logs in through the simple auth manager (``POST /auth/token``) and calls ``/api/v2``."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        answer = self.session.post(f"{self.base_url}/auth/token", json={"username": username, "password": password},
                                   timeout=30)
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=60, **kwargs)
        assert answer.status_code in expect, f"{method} {path}: HTTP {answer.status_code} {answer.text[:500]}"
        return answer.json() if answer.content else None

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None) -> str:
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf or {}})
        return run["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def wait(self, dag_id: str, run_id: str, timeout: float = 300, seen: set[str] | None = None) -> str:
        """Wait until the run finishes; return its state. ``seen`` collects every task state observed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if seen is not None:
                seen.update(ti["state"] for ti in self.task_instances(dag_id, run_id) if ti["state"])
            state = self.run(dag_id, run_id)["state"]
            if state in FINISHED:
                return state
            time.sleep(0.5)
        raise AssertionError(f"{dag_id} run {run_id} still not finished after {timeout:.0f} s: "
                             f"{[(ti['task_id'], ti['state']) for ti in self.task_instances(dag_id, run_id)]}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        answer = self.call(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"map_index": map_index, "full_content": True}, headers={"Accept": "application/json"},
        )
        content = answer.get("content", "")
        if isinstance(content, list):  # structured lines: the event and, on failure, the error's details
            return "\n".join(json.dumps(line) if isinstance(line, dict) else str(line) for line in content)
        return str(content)
