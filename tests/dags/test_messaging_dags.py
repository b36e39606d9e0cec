"""instagram_send_message, run with `airflow dags test` against the simulator.

Counted against the simulator's record of sent messages and its request log.
"""

from __future__ import annotations

import json

import pytest

from instagram_graph.jobs import MAX_IDEMPOTENCY_KEY_LENGTH
from instagram_graph.messaging import HUMAN_AGENT, MESSAGE_MAX_BYTES
from instagram_graph.validation import INSTAGRAM_ID_MAX_DIGITS

from ..integration.conftest import sim_hosts
from .conftest import secrets_of

SEND_PATH = r"^/\d+/messages$"
DEFERRED = "[DAG TEST] running trigger in line"
# Counts the attempts of the send task (the DAG's first task checks the pool).
SEND_TASK_RUNS = "[DAG TEST] running task <TaskInstance: instagram_send_message.send_message "


def conversation(sim, account_id: str, *, inside: bool) -> dict:
    for item in sim.truth("conversations", account_id=account_id):
        if item["inside_window"] == inside:
            return item
    pytest.fail("the simulator seeds conversations inside and outside the 24-hour window")


def send(run_dag, env: dict[str, str] | None = None, **conf):
    return run_dag("instagram_send_message", conf=json.dumps(conf), env=env)


def outbound(warehouse) -> list[tuple]:
    return warehouse(
        "SELECT idempotency_key, state, message_id, error_code, error_subcode, error_message, attempts "
        "FROM instagram.outbound_messages ORDER BY created_at"
    )


def assert_no_token(output: str, sim) -> None:
    for secret in secrets_of(sim):
        assert secret not in output, "a token or an app secret reached a task log"


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
    assert result.output.count(SEND_TASK_RUNS) == 1
    assert sim.truth("sent_messages", account_id=account["id"]) == []
    ((_, state, message_id, code, subcode, _, _),) = outbound(warehouse)
    assert (state, message_id, code, subcode) == ("failed", None, 10, 2534022)
    assert_no_token(result.output, sim)


@pytest.mark.slow
def test_a_dm_whose_answer_was_lost_is_sent_once(run_dag, graph_connection, sim, warehouse, account):
    to = conversation(sim, account["id"], inside=True)
    sim.add_fault(method="POST", path=SEND_PATH, kind="commit_then_drop", times=1)
    sim.clear_requests()
    conf = {"account_id": account["id"], "recipient_id": to["user_id"], "text": "Your parcel is on its way",
            "idempotency_key": "order-1001/shipped"}
    result = send(run_dag, env=graph_connection(timeout=2, settle_seconds=3), **conf)
    assert result.returncode == 0, result.output[-4000:]
    assert "looked up in the conversation with the recipient in 3 s" in result.output
    assert result.output.count(DEFERRED) == 1, "the settle time was waited out deferred"
    (message,) = sim.truth("sent_messages", account_id=account["id"])
    assert outbound(warehouse)[0][:3] == ("order-1001/shipped", "sent", message["message_id"])
    assert len(sim.requests(method="POST", path=SEND_PATH)) == 1, "the retry looked, it did not send again"
    assert_no_token(result.output, sim)


@pytest.mark.slow
def test_a_text_over_1000_bytes_is_refused_before_any_call(run_dag, sim, warehouse, instagram_account):
    account = instagram_account
    to = conversation(sim, account["id"], inside=True)
    sim.clear_requests()
    result = send(run_dag, account_id=account["id"], recipient_id=to["user_id"], text="é" * 201 + "x" * 798)
    assert result.returncode != 0
    assert "The message is 1200 bytes in UTF-8 (999 characters); Instagram takes at most 1000 bytes" in result.output
    assert sim.requests() == [] and outbound(warehouse) == []
    assert result.output.count(SEND_TASK_RUNS) == 1, "no retry"




@pytest.mark.slow
def test_a_human_agent_reply_needs_the_connection_to_allow_it(run_dag, graph_connection, sim, warehouse, account):
    """Two days after the person wrote: outside 24 hours, inside the 7 days of HUMAN_AGENT."""
    sim.configure(human_agent_approved=True)
    to = conversation(sim, account["id"], inside=True)
    sim.customer_writes(to["id"], "Is anyone there?")
    sim.advance_clock(2 * 24 * 3600)
    conf = {"account_id": account["id"], "recipient_id": to["user_id"], "text": "Ana from support here",
            "tag": "HUMAN_AGENT", "idempotency_key": "ticket-7/reply"}
    sim.clear_requests()
    refused = send(run_dag, **conf)
    assert refused.returncode != 0
    assert "set the connection's extra field human_agent_enabled to true" in refused.output
    assert sim.requests() == [] and outbound(warehouse) == [], "refused before any call or record"

    result = send(run_dag, env=graph_connection(human_agent_enabled=True), **conf)
    assert result.returncode == 0, result.output[-4000:]
    (message,) = sim.truth("sent_messages", account_id=account["id"])
    (call,) = sim.requests(method="POST", path=SEND_PATH)
    assert (call["params"]["tag"], call["params"]["messaging_type"]) == ("HUMAN_AGENT", "MESSAGE_TAG")
    assert outbound(warehouse)[0][:3] == ("ticket-7/reply", "sent", message["message_id"])
    assert_no_token(refused.output + result.output, sim)


@pytest.mark.slow
def test_a_re_trigger_during_the_settle_time_of_a_late_answer_defers_and_sends_nothing_twice(
    run_dag, graph_connection, sim, warehouse, facebook_account, token_store
):
    """The first attempt's send is answered (and written) by Meta 3 s after it arrived; its
    client gave up after 1 s. The same key, triggered again at once, must not look before
    the settle time is over: it defers, then finds the message and sends nothing.

    The settle time (45 s) must outlast the start of the re-triggered run: on a loaded
    2-core machine under coverage, `airflow dags test` once took more than 20 s to reach
    the task, the settle time was over, and the run rightly looked at once.

    A Facebook Login account's only (the test takes a minute): the lost answer of a DM on
    either road is in test_a_dm_whose_answer_was_lost_is_sent_once."""
    account = facebook_account
    from instagram_graph.hooks.graph_api import InstagramGraphHook
    from instagram_graph.jobs import open_warehouse
    from instagram_graph.messaging import MessageRequest, Messenger, SendOutcomeUnknown
    from instagram_graph.settings import GraphApiSettings

    timing = {"timeout": 1, "settle_seconds": 45}
    to = conversation(sim, account["id"], inside=True)
    conf = {"account_id": account["id"], "recipient_id": to["user_id"], "text": "Your table is ready",
            "idempotency_key": "booking-77/ready"}
    sim.add_fault(method="POST", path=SEND_PATH, kind="delay", seconds=3, times=1)
    sim.clear_requests()
    hook = InstagramGraphHook(settings=GraphApiSettings(**sim_hosts(sim), **timing), token_store=token_store)
    conn = open_warehouse()
    try:
        first = Messenger(hook, conn)
        request = MessageRequest.build(account_id=conf["account_id"], recipient_id=conf["recipient_id"],
                                       text=conf["text"])
        with pytest.raises(SendOutcomeUnknown):
            first.send(first.register(request, conf["idempotency_key"]))
    finally:
        conn.close()
        hook.close()

    result = send(run_dag, env=graph_connection(**timing), **conf)
    assert result.returncode == 0, result.output[-4000:]
    assert "The outcome of the earlier send of message 'booking-77/ready'" in result.output
    assert result.output.count(DEFERRED) == 1, "the re-triggered run waited deferred, holding no worker"
    assert "not sending it again" in result.output and "sending again" not in result.output
    (message,) = sim.truth("sent_messages", account_id=account["id"])
    assert outbound(warehouse)[0][:3] == ("booking-77/ready", "sent", message["message_id"])
    assert len(sim.requests(method="POST", path=SEND_PATH)) == 1, "sent once, by the first attempt"
    assert_no_token(result.output, sim)


# --- the form: bad conf never starts a run ------------------------------------------------------


@pytest.fixture(scope="module")
def send_message_dag():
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "instagram_send_message.py"))
    assert bag.import_errors == {}
    return bag.dags["instagram_send_message"]


def _validate(dag, conf: dict) -> None:
    """What creating a run does with its conf (UI form, REST API, `airflow dags test -c`)."""
    from airflow.serialization.serialized_objects import DagSerialization

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    scheduler_dag.params.deep_merge(conf).validate()


GOOD = {"account_id": "17841400000000001", "recipient_id": "1234567890", "text": "Hi"}


@pytest.mark.parametrize(
    "conf",
    [
        {"recipient_id": "1234567890", "text": "Hi"},  # no account
        {"account_id": "17841400000000001", "text": "Hi"},  # no recipient
        {**GOOD, "recipient_id": ""},
        {**GOOD, "account_id": "1" * (INSTAGRAM_ID_MAX_DIGITS + 1)},
        {**GOOD, "recipient_id": "1" * (INSTAGRAM_ID_MAX_DIGITS + 1)},
        {**GOOD, "text": ""},
        {**GOOD, "text": "x" * (MESSAGE_MAX_BYTES + 1)},
        {**GOOD, "tag": "UPDATE"},
        {**GOOD, "idempotency_key": "k" * (MAX_IDEMPOTENCY_KEY_LENGTH + 1)},
    ],
    ids=["no-account", "no-recipient", "empty-recipient", "long-account-id", "long-recipient-id", "empty-text",
         "long-text", "unknown-tag", "long-idempotency-key"],
)
def test_the_form_refuses_bad_conf_before_a_run_exists(send_message_dag, conf):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError) as refused:
        _validate(send_message_dag, conf)
    assert "'pattern'" not in str(refused.value)


@pytest.mark.parametrize(
    "conf",
    [{**GOOD, "account_id": "abc"}, {**GOOD, "recipient_id": "user-42"}],
    ids=["account-not-digits", "recipient-not-digits"],
)
def test_the_form_leaves_rules_written_in_words_to_the_task(send_message_dag, conf):
    """No regex reaches the user: the task refuses these in words, before any call
    (tests/integration/test_write_operator_input.py)."""
    _validate(send_message_dag, conf)


def test_optional_fields_admit_null_so_the_form_does_not_require_them(send_message_dag):
    for name in ("tag", "idempotency_key"):
        assert "null" in send_message_dag.params.get_param(name).schema["type"], name
    _validate(send_message_dag, {**GOOD, "tag": None, "idempotency_key": None})
    _validate(send_message_dag, {**GOOD, "tag": HUMAN_AGENT, "text": "é" * (MESSAGE_MAX_BYTES // 2)})


def test_the_form_limits_are_the_limits_the_code_enforces(send_message_dag):
    def param(name: str):
        return send_message_dag.params.get_param(name)

    assert param("account_id").schema["maxLength"] == INSTAGRAM_ID_MAX_DIGITS
    assert param("recipient_id").schema["maxLength"] == INSTAGRAM_ID_MAX_DIGITS
    assert param("text").schema["maxLength"] == MESSAGE_MAX_BYTES  # bytes are checked by the task
    assert f"At most {MESSAGE_MAX_BYTES} bytes in UTF-8" in param("text").description
    assert param("tag").schema["enum"] == [None, HUMAN_AGENT]
    assert param("idempotency_key").schema["maxLength"] == MAX_IDEMPOTENCY_KEY_LENGTH


# --- bad input from the trigger form's conf: refused before any call or row, no retry ----------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # One run through `airflow dags test`; every other refusal is checked on the operator
        # (tests/integration/test_write_operator_input.py).
        ({"text": "Thanks\u0000!"}, "text contains a control character (NUL) at position 7"),
    ],
    ids=["nul-in-text"],
)
def test_bad_input_from_the_conf_is_refused_before_any_call_naming_the_field(
    run_dag, sim, warehouse, instagram_account, fields, expected
):
    account = instagram_account
    to = conversation(sim, account["id"], inside=True)
    sim.clear_requests()
    result = send(run_dag, **{"account_id": account["id"], "recipient_id": to["user_id"], "text": "Hi", **fields})
    assert result.returncode != 0
    assert expected in result.output, result.output[-3000:]
    assert sim.requests() == [] and outbound(warehouse) == [], "refused before any call or row"
    assert result.output.count(SEND_TASK_RUNS) <= 1, "no retry"
    assert "UntranslatableCharacter" not in result.output
