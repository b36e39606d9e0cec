"""The first retry delay of Graph API tasks: a minute, or the deployment's [instagram] setting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from instagram_graph.operators.policy import GRAPH_TASK_DEFAULTS, _first_retry_delay


def test_a_minute_unless_the_deployment_says_otherwise(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW__INSTAGRAM__TASK_RETRY_DELAY_SECONDS", raising=False)
    assert _first_retry_delay() == timedelta(minutes=1)
    monkeypatch.setenv("AIRFLOW__INSTAGRAM__TASK_RETRY_DELAY_SECONDS", "5")
    assert _first_retry_delay() == timedelta(seconds=5)
    assert GRAPH_TASK_DEFAULTS["retry_exponential_backoff"] == 2.0  # doubled per retry, whatever the first


def test_a_negative_delay_is_refused_naming_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__INSTAGRAM__TASK_RETRY_DELAY_SECONDS", "-1")
    with pytest.raises(ValueError, match=r"\[instagram\] task_retry_delay_seconds is -1"):
        _first_retry_delay()
