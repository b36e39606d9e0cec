"""Stream options are checked before any call: a bad value names the option, its range and the fix."""

from __future__ import annotations

import pytest

from instagram_graph.sync.base import OPTION_LIMITS, SyncOptionError, validate_options


def test_values_in_range_pass_and_the_budget_becomes_an_int() -> None:
    assert validate_options({"comment_days": "7", "lookback_days": 3, "full_refresh": "True"}, "150") == 150
    assert validate_options({}, None) is None


@pytest.mark.parametrize(
    ("options", "budget", "names"),
    [
        ({"comment_days": 10**12}, None, "comment_days"),
        ({"lookback_days": "0"}, None, "lookback_days"),
        ({"max_age_days": "lots"}, None, "max_age_days"),
        ({"recent_days": "inf"}, None, "recent_days"),
        ({}, "1e9", "call_budget"),
        ({}, "-1", "call_budget"),
    ],
)
def test_bad_values_are_refused_naming_the_option(options, budget, names) -> None:
    with pytest.raises(SyncOptionError, match=names) as excinfo:
        validate_options(options, budget)
    assert "between" in str(excinfo.value) or "not a" in str(excinfo.value)


def test_the_dag_params_use_the_same_bounds() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.conftest import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    checked = 0
    for dag in bag.dags.values():
        for name, param in dag.params.items():
            if name in OPTION_LIMITS:
                low, high = OPTION_LIMITS[name]
                assert (param.schema["minimum"], param.schema["maximum"]) == (low, high), f"{dag.dag_id}.{name}"
                checked += 1
    assert checked >= 5


def test_the_operator_fails_at_once_without_a_call_or_a_connection(monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from instagram_graph import db
    from instagram_graph.operators import sync as sync_operators

    def no_connection(*args, **kwargs):
        raise AssertionError("a bad option must be refused before any connection is made")

    monkeypatch.setattr(db, "connect", no_connection)
    monkeypatch.setattr(sync_operators.InstagramSyncOperator, "hook_class", no_connection)
    operator = sync_operators.InstagramSyncOperator(
        task_id="sync_comments", stream="comments", account_id="1", options={"comment_days": "1000000000000"}
    )
    with pytest.raises(AirflowFailException, match="comment_days=1000000000000 is out of range"):
        operator.execute({})
