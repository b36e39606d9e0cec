"""scripts/local_airflow.py (make airflow): what its processes are given, without starting them."""

from __future__ import annotations

import stat
from pathlib import Path

from scripts import local_airflow

ROOT = Path(__file__).resolve().parents[2]


def test_the_callers_airflow_and_project_variables_never_reach_the_processes(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_INSTAGRAM_WAREHOUSE", "postgres://elsewhere/db")
    monkeypatch.setenv("INSTAGRAM_TOKEN_KEYS", "another-key")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor")
    monkeypatch.setenv("PATH", "/usr/bin")
    inherited = local_airflow.inherited_env()
    assert inherited["PATH"] == "/usr/bin"
    assert not [name for name in inherited if name.startswith(("AIRFLOW", "INSTAGRAM_"))]


def test_secrets_are_made_once_and_kept_private(tmp_path) -> None:
    settings = local_airflow.Settings(state_dir=tmp_path)
    env = local_airflow.airflow_env(settings)
    local_airflow.write_env_file(settings.env_file, env)
    assert stat.S_IMODE(settings.env_file.stat().st_mode) == 0o600
    again = local_airflow.airflow_env(settings)
    for name in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "INSTAGRAM_TOKEN_KEYS"):
        assert again[name] == env[name], f"{name} must not change between starts (stored tokens stay readable)"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    celery = local_airflow.airflow_env(local_airflow.Settings(state_dir=tmp_path, executor="celery"))
    assert celery["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor" and celery["AIRFLOW__CELERY__BROKER_URL"]


def test_a_recycled_pid_is_never_taken_for_ours(tmp_path) -> None:
    settings = local_airflow.Settings(state_dir=tmp_path)
    settings.pid_dir.mkdir(parents=True)
    (settings.pid_dir / "scheduler.pid").write_text('{"pid": 1, "started": "not-its-start-time", "command": []}')
    assert local_airflow.running(settings) == {}
    assert local_airflow.stop(settings, quiet=True) == []


def test_pool_slots_are_two_per_core_from_4_to_8(monkeypatch, tmp_path) -> None:
    for cores, slots in ((None, 4), (1, 4), (2, 4), (3, 6), (4, 8), (64, 8)):
        monkeypatch.setattr(local_airflow.os, "cpu_count", lambda cores=cores: cores)
        assert local_airflow.default_pool_slots() == slots
        assert local_airflow.Settings(state_dir=tmp_path).pool_slots == slots
