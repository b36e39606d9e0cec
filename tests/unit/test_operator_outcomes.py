"""graph_api_outcomes: the Graph API failures every Instagram operator treats alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from instagram_graph.errors import PermissionDeniedError, RateLimitError, TokenExpiredError
from instagram_graph.operators.policy import graph_api_outcomes


@pytest.fixture
def task() -> BaseOperator:
    return BaseOperator(task_id="some_instagram_task")


def test_a_throttle_with_a_regain_time_defers_to_the_resume_method(task) -> None:
    before = datetime.now(UTC)
    with pytest.raises(TaskDeferred) as deferred, graph_api_outcomes(task, "1784", resume="resume"):
        raise RateLimitError("throttled", retry_after=120)

    assert deferred.value.method_name == "resume"
    assert isinstance(deferred.value.trigger, TimeDeltaTrigger)
    _, kwargs = deferred.value.trigger.serialize()
    assert before + timedelta(seconds=120) <= kwargs["moment"] <= datetime.now(UTC) + timedelta(seconds=120)


def test_a_throttle_without_a_regain_time_is_left_to_task_retries(task) -> None:
    with pytest.raises(RateLimitError, match="no regain time"), graph_api_outcomes(task, "1784", resume="execute"):
        raise RateLimitError("no regain time")


@pytest.mark.parametrize("error", [TokenExpiredError("token expired"), PermissionDeniedError("missing scope")])
def test_token_and_permission_problems_fail_at_once_naming_account_and_fix(task, error) -> None:
    with (
        pytest.raises(AirflowFailException) as failed,
        graph_api_outcomes(task, "1784", resume="execute", consequence="Nothing was sent for key 'k'."),
    ):
        raise error

    message = str(failed.value)
    assert message.startswith(f"account 1784: {type(error).__name__}: {error}. Nothing was sent for key 'k'. ")
    assert ("instagram-graph accounts add 1784" in message) or ("grant the missing permission" in message)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_other_errors_pass_through_untouched(task) -> None:
    with pytest.raises(ValueError, match="not a Graph API problem"), graph_api_outcomes(task, "1784", resume="execute"):
        raise ValueError("not a Graph API problem")


def test_an_unknown_outcome_defers_until_it_settles_then_resumes_counting_the_waits(task) -> None:
    from instagram_graph.jobs import OutcomeUnsettled
    from instagram_graph.operators.policy import defer_until_settled

    unknown = OutcomeUnsettled("The send request got no usable answer.", wait_seconds=40)
    before = datetime.now(UTC)
    with pytest.raises(TaskDeferred) as deferred:
        defer_until_settled(task, unknown, resume="resume", waits=1, max_waits=3, kwargs={"wait_deadline": 5.0})
    assert deferred.value.method_name == "resume"
    assert deferred.value.kwargs == {"wait_deadline": 5.0, "settle_waits": 2}
    _, trigger_kwargs = deferred.value.trigger.serialize()
    assert before + timedelta(seconds=40) < trigger_kwargs["moment"] < before + timedelta(seconds=45)

    from airflow.sdk.exceptions import AirflowException

    with pytest.raises(AirflowException, match=r"waited for 3 unknown outcome.*the task retries") as retried:
        defer_until_settled(task, unknown, resume="resume", waits=3, max_waits=3)
    assert not isinstance(retried.value, AirflowFailException), "a retry, not a failure"
