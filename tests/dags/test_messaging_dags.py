"""instagram_send_message, run with `airflow dags test` against the simulator.

Counted against the simulator's record of sent messages and its request log.
"""

from __future__ import annotations

import json

import pytest

SEND_PATH = r"^/\d+/messages$"


@pytest.fixture
def account(sim) -> dict:
    return sim.accounts()[0]


def conversation(sim, account_id: str, *, inside: bool) -> dict:
    for item in sim.truth("conversations", account_id=account_id):
        if item["inside_window"] == inside:
            return item
    pytest.fail("the simulator seeds conversations inside and outside the 24-hour window")


def send(run_dag, **conf):
    return run_dag("instagram_send_message", conf=json.dumps(conf))


def outbound(warehouse) -> list[tuple]:
    return warehouse(
        "SELECT idempotency_key, state, message_id, error_code, error_subcode, error_message, attempts "
        "FROM instagram.outbound_messages ORDER BY created_at"
    )


def assert_no_token(output: str, sim) -> None:
    for account in sim.accounts():
        assert account["token"] not in output, f"the token of account {account['id']} reached a task log"


@pytest.mark.slow
def test_a_dm_inside_the_window_is_sent_once(run_dag, sim, warehouse, account):
    to = conversation(sim, account["id"], inside=True)
    sim.clear_requests()
    result = send(run_dag, account_id=account["id"], recipient_id=to["user_id"], text="Thanks for your order!")
    assert result.returncode == 0, result.output[-4000:]
    (message,) = sim.truth("sent_messages", account_id=account["id"])
    assert (message["recipient_id"], message["text"]) == (to["user_id"], "Thanks for your order!")
    ((key, state, message_id, *_rest, attempts),) = outbound(warehouse)
    assert (state, message_id, attempts) == ("sent", message["message_id"], 1)
    assert key.startswith("instagram_send_message:manual__")
    assert len(sim.requests(method="POST", path=SEND_PATH)) == 1
    assert_no_token(result.output, sim)


@pytest.mark.slow
def test_outside_the_window_the_run_fails_at_once_without_retry(run_dag, sim, warehouse, account):
    to = conversation(sim, account["id"], inside=False)
    sim.clear_requests()
    result = send(run_dag, account_id=account["id"], recipient_id=to["user_id"], text="Are you still interested?")
    assert result.returncode != 0
    assert "has not written to account" in result.output and "within 24 hours" in result.output
    assert len(sim.requests(method="POST", path=SEND_PATH)) == 1, "one send request: no retry"
    assert result.output.count("[DAG TEST] running task") == 1
    assert sim.truth("sent_messages", account_id=account["id"]) == []
    ((_, state, message_id, code, subcode, _, _),) = outbound(warehouse)
    assert (state, message_id, code, subcode) == ("failed", None, 10, 2534022)
    assert_no_token(result.output, sim)


@pytest.mark.slow
def test_a_dm_whose_answer_was_lost_is_sent_once(run_dag, sim, warehouse, account):
    to = conversation(sim, account["id"], inside=True)
    sim.add_fault(method="POST", path=SEND_PATH, kind="commit_then_drop", times=1)
    sim.clear_requests()
    conf = {"account_id": account["id"], "recipient_id": to["user_id"], "text": "Your parcel is on its way",
            "idempotency_key": "order-1001/shipped"}
    result = send(run_dag, **conf)
    assert result.returncode == 0, result.output[-4000:]
    assert "looking in the conversation before sending again" in result.output
    (message,) = sim.truth("sent_messages", account_id=account["id"])
    assert outbound(warehouse)[0][:3] == ("order-1001/shipped", "sent", message["message_id"])
    assert len(sim.requests(method="POST", path=SEND_PATH)) == 1, "the retry looked, it did not send again"
    assert_no_token(result.output, sim)
