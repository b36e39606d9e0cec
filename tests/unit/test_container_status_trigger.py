"""ContainerStatusTrigger's poll schedule: quick checks first, then about one a minute
(Meta's guidance), a wait after "not ready", and what it serializes.

The trigger's own loop runs here with a stand-in hook and a clock that the recorded
sleeps move forward; tests/integration/test_publishing.py runs it against the simulator.
"""

from __future__ import annotations

import asyncio
import json
from itertools import islice

import pytest
from airflow.sdk.exceptions import TaskDeferred

from instagram_graph.errors import InvalidRequestError, RateLimitError
from instagram_graph.operators.publish import InstagramPublishOperator
from instagram_graph.publishing import WaitFor
from instagram_graph.settings import GraphApiSettings
from instagram_graph.triggers import container_status
from instagram_graph.triggers.container_status import DEFAULT_POLL_INTERVALS, ContainerStatusTrigger, poll_pauses
from instagram_graph.triggers.events import ContainerStatusEvent

START = 1_000_000.0


class Clock:
    """time.time() for the trigger module; asyncio.sleep moves it instead of waiting."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


class Statuses:
    """A hook whose container answers the given status codes in turn (then the last one)."""

    def __init__(self, clock: Clock, *answers: str | Exception) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.checked_at: list[float] = []

    def get_container_status(self, account_id: str, container_id: str) -> dict:
        self.checked_at.append(self.clock.now - START)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return {"id": container_id, "status_code": answer}

    def close(self) -> None:
        pass


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(container_status, "time", clock)
    monkeypatch.setattr(container_status.asyncio, "sleep", clock.sleep)
    return clock


def run(trigger: ContainerStatusTrigger, hook: Statuses) -> dict:
    trigger._hook = lambda: hook  # type: ignore[method-assign]

    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    return asyncio.run(first_event())


def trigger(**kwargs) -> ContainerStatusTrigger:
    return ContainerStatusTrigger(account_id="1784", container_ids=kwargs.pop("container_ids", ["182"]), **kwargs)


def test_the_pauses_follow_the_schedule_and_the_last_one_repeats() -> None:
    assert list(islice(poll_pauses((5, 10, 20, 30, 60)), 8)) == [5, 10, 20, 30, 60, 60, 60, 60]
    assert DEFAULT_POLL_INTERVALS == GraphApiSettings().status_poll_intervals == (5.0, 10.0, 20.0, 30.0, 60.0)


def test_the_trigger_checks_quickly_first_then_once_a_minute(clock) -> None:
    hook = Statuses(clock, *["IN_PROGRESS"] * 7, "FINISHED")
    event = run(trigger(deadline=START + 3600, poll_intervals=(5, 10, 20, 30, 60)), hook)
    assert event == {"status": "FINISHED", "statuses": {"182": "FINISHED"}}
    assert clock.sleeps == [5, 10, 20, 30, 60, 60, 60, 60]
    assert hook.checked_at == [5, 15, 35, 65, 125, 185, 245, 305]


def test_the_default_schedule_is_the_connections(clock) -> None:
    hook = Statuses(clock, "IN_PROGRESS", "IN_PROGRESS", "FINISHED")
    run(trigger(deadline=START + 3600), hook)
    assert clock.sleeps == [5, 10, 20]


def test_not_before_holds_the_first_check_back_then_the_schedule_goes_on(clock) -> None:
    hook = Statuses(clock, "IN_PROGRESS", "FINISHED")
    run(trigger(deadline=START + 3600, poll_intervals=(5, 10, 60), not_before=START + 30), hook)
    assert hook.checked_at == [30, 40], "nothing before not_before; then the schedule's next pause"


def test_a_deadline_before_not_before_times_out_without_a_check(clock) -> None:
    hook = Statuses(clock, "FINISHED")
    event = run(trigger(deadline=START + 20, not_before=START + 30), hook)
    assert event["status"] == "TIMEOUT" and event["pending"] == ["182"]
    assert hook.checked_at == [] and clock.sleeps == [20]


def test_nothing_to_check_waits_for_not_before_only(clock) -> None:
    hook = Statuses(clock, "FINISHED")
    event = run(trigger(container_ids=[], deadline=START + 600, not_before=START + 30), hook)
    assert event == {"status": "FINISHED", "statuses": {}}
    assert clock.sleeps == [30] and hook.checked_at == []


def test_the_last_pause_is_cut_at_the_deadline(clock) -> None:
    hook = Statuses(clock, "IN_PROGRESS")
    event = run(trigger(deadline=START + 100, poll_intervals=(5, 60)), hook)
    assert event["status"] == "TIMEOUT" and event["waited_seconds"] == 100
    assert hook.checked_at == [5, 65, 100]


def test_a_throttle_stretches_the_next_pause_to_the_regain_time(clock) -> None:
    hook = Statuses(clock, RateLimitError("throttled", retry_after=90), "FINISHED")
    run(trigger(deadline=START + 3600, poll_intervals=(5, 10)), hook)
    assert hook.checked_at == [5, 95]


def test_a_failed_check_is_reported_with_metas_code(clock) -> None:
    hook = Statuses(clock, InvalidRequestError("gone", code=100, subcode=33))
    event = run(trigger(deadline=START + 3600), hook)
    assert (event["status"], event["code"], event["subcode"]) == ("FAILED", 100, 33)


def test_it_serializes_ids_and_the_schedule_and_reads_older_kwargs() -> None:
    current = trigger(deadline=START, poll_intervals=(5, 60), not_before=START + 30)
    classpath, kwargs = current.serialize()
    assert kwargs == {"account_id": "1784", "container_ids": ["182"], "deadline": START,
                      "instagram_graph_conn_id": "instagram_graph_default", "redis_conn_id": "instagram_redis",
                      "poll_intervals": [5.0, 60.0], "not_before": START + 30}
    assert ContainerStatusTrigger(**kwargs).serialize() == (classpath, kwargs)
    # A trigger deferred by an earlier version (poll_interval/first_interval) still loads.
    older = ContainerStatusTrigger(account_id="1784", container_ids=["182"], deadline=START,
                                   poll_interval=30.0, first_interval=1.0)
    assert older.poll_intervals[0] == 1.0 and older.poll_intervals[-1] == 30.0 and older.not_before is None
    with pytest.raises(ValueError, match="positive"):
        trigger(deadline=START, poll_intervals=(5, 0))


def test_the_operator_defers_with_the_connections_schedule_and_one_deadline() -> None:
    operator = InstagramPublishOperator(task_id="publish", account_id="1784", media_type="IMAGE",
                                        wait_timeout_minutes=10)
    wait = WaitFor(("182",), "container", not_before=START + 30)
    with pytest.raises(TaskDeferred) as deferred:
        operator._defer_for(wait, (5.0, 10.0, 60.0), START + 300)
    _, kwargs = deferred.value.trigger.serialize()
    assert (kwargs["poll_intervals"], kwargs["not_before"], kwargs["deadline"]) == ([5.0, 10.0, 60.0], START + 30,
                                                                                  START + 300)
    assert deferred.value.method_name == "resume"
    assert deferred.value.kwargs == {"wait_deadline": START + 300}, "the next wait keeps this deadline"


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "FINISHED", "statuses": {"182": "FINISHED", "183": "PUBLISHED"}},
        {"status": "ERROR", "container_id": "182", "reason": "Error: bad file (2207052)", "statuses": {}},
        {"status": "EXPIRED", "container_id": "182", "reason": "EXPIRED", "statuses": {"181": "FINISHED"}},
        {"status": "TIMEOUT", "pending": ["182"], "waited_seconds": 100.0, "statuses": {}},
        {"status": "FAILED", "container_id": "182", "error": "InvalidRequestError", "message": "gone", "code": 100,
         "subcode": 33},
    ],
)
def test_an_event_reads_back_from_its_json_payload_unchanged(payload: dict) -> None:
    """The payload keeps its shape, so a task deferred by an older version resumes with it."""
    event = ContainerStatusEvent.from_payload(json.loads(json.dumps(payload)))
    assert event.to_payload() == payload
    assert ContainerStatusEvent.from_payload(event.to_payload()) == event


def test_the_trigger_sends_the_typed_event(clock) -> None:
    hook = Statuses(clock, "IN_PROGRESS")
    event = ContainerStatusEvent.from_payload(run(trigger(deadline=START + 100, poll_intervals=(5, 60)), hook))
    assert (event.status, event.pending, event.waited_seconds) == ("TIMEOUT", ("182",), 100.0)
