"""Outbound DMs against the simulator, real Postgres and Redis.

"Exactly once" is checked against the simulator's record (truth/sent_messages) and its
request log: how many send requests left, not what our table believes.
"""

from __future__ import annotations

import time

import pytest

from instagram_graph.errors import MessagingWindowClosedError
from instagram_graph.jobs import RequestRefused
from instagram_graph.messaging import MessageFailed, MessageRequest, Messenger, SendOutcomeUnknown

from .conftest import when_settled

SEND_PATH = r"^/\d+/messages$"


@pytest.fixture
def messenger(hook, connect) -> Messenger:
    return Messenger(hook, connect())


def conversation(sim, account_id: str, *, inside: bool) -> dict:
    for item in sim.truth("conversations", account_id=account_id):
        if item["inside_window"] == inside:
            return item
    pytest.fail(f"the simulator seeds no conversation {'inside' if inside else 'outside'} the window")


def sent(sim, account_id: str) -> list[dict]:
    return sim.truth("sent_messages", account_id=account_id)


def send_calls(sim) -> list[dict]:
    return sim.requests(method="POST", path=SEND_PATH)


def rows(connect, sql: str, params: tuple = ()) -> list[tuple]:
    with connect().cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_a_message_over_1000_bytes_is_refused_before_any_call_or_record(messenger, sim, account, connect) -> None:
    to = conversation(sim, account["id"], inside=True)
    text = "é" * 201 + "x" * 798
    sim.clear_requests()
    with pytest.raises(RequestRefused, match=r"1200 bytes in UTF-8 \(999 characters\)"):
        messenger.register(MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text=text), "big")
    assert sim.requests() == []
    assert rows(connect, "SELECT count(*) FROM instagram.outbound_messages") == [(0,)]


def test_a_human_agent_reply_goes_out_after_24_hours_within_7_days(make_hook, sim, account, connect) -> None:
    """Outside the 24-hour window, inside 7 days: refused untagged, sent with HUMAN_AGENT."""
    sim.configure(human_agent_approved=True)
    messenger = Messenger(make_hook(human_agent_enabled=True), connect())
    to = conversation(sim, account["id"], inside=True)
    sim.customer_writes(to["id"], "Can someone call me back?")
    sim.advance_clock(2 * 24 * 3600)

    plain = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Our agent Ana here")
    with pytest.raises(MessageFailed, match="in the last 24 hours"):
        messenger.send(messenger.register(plain, "agent-reply"))
    assert sent(sim, account["id"]) == []

    tagged = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Our agent Ana here",
                                  tag="HUMAN_AGENT", human_agent_enabled=True)
    sim.clear_requests()
    message = messenger.send(messenger.register(tagged, "agent-reply"))  # the failed key starts over, tagged
    (call,) = send_calls(sim)
    assert (call["params"]["tag"], call["params"]["messaging_type"]) == ("HUMAN_AGENT", "MESSAGE_TAG")
    assert [m["message_id"] for m in sent(sim, account["id"])] == [message.message_id]
    assert rows(connect, "SELECT state, tag FROM instagram.outbound_messages") == [("sent", "HUMAN_AGENT")]

    sim.advance_clock(6 * 24 * 3600)  # 8 days after the person's message: not even a human agent may write
    late = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Still there?",
                                tag="HUMAN_AGENT", human_agent_enabled=True)
    with pytest.raises(MessageFailed):
        messenger.send(messenger.register(late, "agent-late"))
    assert len(sent(sim, account["id"])) == 1


def test_a_tagged_message_keeps_its_tag_on_a_retry_and_its_key(make_hook, sim, account, connect) -> None:
    sim.configure(human_agent_approved=True)
    messenger = Messenger(make_hook(human_agent_enabled=True), connect())
    to = conversation(sim, account["id"], inside=True)
    tagged = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Following up",
                                  tag="HUMAN_AGENT", human_agent_enabled=True)
    sim.add_fault(method="POST", path=SEND_PATH, kind="reset", times=1)
    sim.clear_requests()
    with pytest.raises(SendOutcomeUnknown):
        messenger.send(messenger.register(tagged, "tagged-retry"))

    retried = Messenger(make_hook(human_agent_enabled=True), connect())  # another worker: the row knows the tag
    message = when_settled(lambda: retried.send(retried.load("tagged-retry")))
    assert message.state == "sent" and message.tag == "HUMAN_AGENT"
    assert [c["params"].get("tag") for c in send_calls(sim)] == ["HUMAN_AGENT", "HUMAN_AGENT"]

    plain = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Following up")
    with pytest.raises(RequestRefused, match=r"already used for a different message .*tag HUMAN_AGENT"):
        retried.register(plain, "tagged-retry")


def test_a_message_inside_the_window_is_sent_once_and_the_key_never_sends_again(
    messenger, sim, account, connect
) -> None:
    to = conversation(sim, account["id"], inside=True)
    request = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Thanks for writing!")
    message = messenger.send(messenger.register(request, "dm-1", "run-1"))
    (delivered,) = sent(sim, account["id"])
    assert (delivered["message_id"], delivered["recipient_id"], delivered["text"]) == (
        message.message_id, to["user_id"], "Thanks for writing!")
    assert rows(connect, "SELECT state, attempts, text_hash, sent_at IS NOT NULL FROM instagram.outbound_messages") == [
        ("sent", 1, request.text_hash, True)]

    sim.clear_requests()
    again = messenger.send(messenger.register(request, "dm-1", "run-2"))
    assert again.message_id == message.message_id
    assert sim.requests() == [] and len(sent(sim, account["id"])) == 1


def test_outside_the_window_fails_at_once_saying_so(messenger, sim, account, connect) -> None:
    to = conversation(sim, account["id"], inside=False)
    request = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Too late?")
    sim.clear_requests()
    with pytest.raises(MessageFailed) as failed:
        messenger.send(messenger.register(request, "late"))
    assert isinstance(failed.value.error, MessagingWindowClosedError)
    assert "has not written to account" in str(failed.value) and "within 24 hours" in str(failed.value)
    assert len(send_calls(sim)) == 1, "no retry: the window does not reopen by retrying"
    assert sent(sim, account["id"]) == []
    assert rows(connect, "SELECT state, error_code, error_subcode FROM instagram.outbound_messages") == [
        ("failed", 10, 2534022)]

    # The person writes again: the same key starts over and is sent.
    sim.customer_writes(to["id"], "Still there?")
    message = messenger.send(messenger.register(request, "late"))
    assert [m["message_id"] for m in sent(sim, account["id"])] == [message.message_id]


def test_a_lost_answer_is_found_in_the_conversation_by_the_next_worker(
    messenger, make_hook, sim, account, connect
) -> None:
    to = conversation(sim, account["id"], inside=True)
    request = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Your order shipped")
    message = messenger.register(request, "lost")
    sim.add_fault(method="POST", path=SEND_PATH, kind="commit_then_drop", times=1)
    sim.clear_requests()
    with pytest.raises(SendOutcomeUnknown) as unknown:
        messenger.send(message)
    assert 1.0 < unknown.value.wait_seconds <= 2.0, "looked up only after settle_seconds"
    assert rows(connect, "SELECT state, answer_lost_at IS NOT NULL FROM instagram.outbound_messages") == [
        ("sending", True)]
    (delivered,) = sent(sim, account["id"])

    fresh = Messenger(make_hook(), connect())  # another worker
    message = when_settled(lambda: fresh.send(fresh.register(request, "lost")))
    assert message.state == "sent" and message.message_id == delivered["message_id"]
    assert len(send_calls(sim)) == 1, "the retry looked in the conversation and did not send again"
    assert len(sent(sim, account["id"])) == 1
    assert rows(connect, "SELECT conversation_id FROM instagram.outbound_messages") == [(to["id"],)]


def test_a_request_that_never_arrived_is_sent_on_the_retry(messenger, sim, account) -> None:
    to = conversation(sim, account["id"], inside=True)
    request = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Hello again")
    message = messenger.register(request, "never-arrived")
    sim.add_fault(method="POST", path=SEND_PATH, kind="reset", times=1)
    sim.clear_requests()
    with pytest.raises(SendOutcomeUnknown):
        messenger.send(message)
    assert sent(sim, account["id"]) == []
    message = when_settled(lambda: messenger.send(messenger.load("never-arrived")))
    assert [m["message_id"] for m in sent(sim, account["id"])] == [message.message_id]
    assert len(send_calls(sim)) == 2 and message.attempts == 2


def test_the_same_text_under_two_keys_is_two_messages_and_never_confused(messenger, sim, account) -> None:
    to = conversation(sim, account["id"], inside=True)
    request = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="See you soon")
    first = messenger.send(messenger.register(request, "twice-a"))
    sim.add_fault(method="POST", path=SEND_PATH, kind="commit_then_drop", times=1)
    with pytest.raises(SendOutcomeUnknown):
        messenger.send(messenger.register(request, "twice-b"))
    second = when_settled(lambda: messenger.send(messenger.load("twice-b")))
    ids = [m["message_id"] for m in sent(sim, account["id"])]
    assert len(ids) == 2 and second.message_id == ids[1] != first.message_id


def test_the_same_key_with_another_text_or_recipient_is_refused(messenger, sim, account) -> None:
    to = conversation(sim, account["id"], inside=True)
    messenger.send(messenger.register(
        MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="One"), "dup"))
    sim.clear_requests()
    for other in (
        MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Two"),
        MessageRequest.build(account_id=account["id"], recipient_id="123456", text="One"),
    ):
        with pytest.raises(RequestRefused, match="was already used for a different message"):
            messenger.register(other, "dup")
    assert sim.requests() == []


def test_an_unknown_recipient_fails_without_retry(messenger, sim, account) -> None:
    request = MessageRequest.build(account_id=account["id"], recipient_id="1234567890", text="Hi")
    sim.clear_requests()
    with pytest.raises(MessageFailed, match=r"must have written to account .* first"):
        messenger.send(messenger.register(request, "stranger"))
    assert len(send_calls(sim)) == 1


def test_a_revoked_token_is_refused_before_any_call(messenger, sim, account, token_store) -> None:
    token_store.mark(account["id"], "revoked", error="revoked by test")
    sim.clear_requests()
    request = MessageRequest.build(account_id=account["id"], recipient_id="123", text="Hi")
    with pytest.raises(RequestRefused, match=r"is revoked.*Reconnect the account"):
        messenger.register(request, "revoked")
    assert sim.requests() == []


def test_the_same_text_sent_by_hand_just_before_is_not_taken_for_ours(messenger, hook, sim, account) -> None:
    to = conversation(sim, account["id"], inside=True)
    by_hand = hook.send_message(account["id"], to["user_id"], "On it!")["message_id"]
    time.sleep(1.1)  # Meta's timestamps have whole seconds
    request = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="On it!")
    sim.add_fault(method="POST", path=SEND_PATH, kind="commit_then_drop", times=1)
    with pytest.raises(SendOutcomeUnknown):
        messenger.send(messenger.register(request, "after-agent"))
    message = when_settled(lambda: messenger.send(messenger.load("after-agent")))
    ids = [m["message_id"] for m in sent(sim, account["id"])]
    assert ids[0] == by_hand and message.message_id == ids[1] and len(ids) == 2


# --- unknown outcomes wait until they can no longer change -------------------------------------


def test_a_late_answer_is_delivered_once_also_when_retried_and_re_triggered_during_the_settle_time(
    make_hook, sim, account, connect
) -> None:
    """Meta writes the message 2 s after the request arrived and answers then; the client
    gave up after 1 s. A lookup at once would find nothing and send it again."""
    timing = {"timeout": 1.0, "settle_seconds": 3.0}
    to = conversation(sim, account["id"], inside=True)
    request = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Your table is ready")
    sim.add_fault(method="POST", path=SEND_PATH, kind="delay", seconds=2.0, times=1)
    first = Messenger(make_hook(**timing), connect())
    sim.clear_requests()
    with pytest.raises(SendOutcomeUnknown, match="looked up in the conversation with the recipient in 3 s"):
        first.send(first.register(request, "late", "run-1"))
    assert sent(sim, account["id"]) == [], "not written yet: Meta is still working on it"

    retry = Messenger(make_hook(**timing), connect())  # a task retry, another worker
    with pytest.raises(SendOutcomeUnknown) as unknown:
        retry.send(retry.load("late"))
    again = Messenger(make_hook(**timing), connect())  # a re-trigger of the same key, a new run
    with pytest.raises(SendOutcomeUnknown):
        again.send(again.register(request, "late", "run-2"))
    assert len(sim.requests()) == 1, "the send only: nothing looked up, nothing resent"
    assert 0 < unknown.value.wait_seconds < 3.0

    time.sleep(unknown.value.wait_seconds + 0.05)
    message = again.send(again.load("late"))
    (delivered,) = sent(sim, account["id"])
    assert message.state == "sent" and message.message_id == delivered["message_id"]
    assert len(send_calls(sim)) == 1, "the settled lookup found it: not sent again"
    assert rows(connect, "SELECT state, attempts, answer_lost_at IS NOT NULL FROM instagram.outbound_messages") == [
        ("sent", 1, True)], "the row keeps when the answer was lost"


def test_a_send_whose_worker_died_is_looked_up_only_a_settle_time_after_it_was_found(
    messenger, sim, account, connect
) -> None:
    """A row left in 'sending' with no answer recorded: the worker died mid-request. The next
    one (holding the key's lock) takes the moment it found it as the answer's loss."""
    to = conversation(sim, account["id"], inside=True)
    request = MessageRequest.build(account_id=account["id"], recipient_id=to["user_id"], text="Back in stock")
    messenger.register(request, "orphan")
    rows(connect, "UPDATE instagram.outbound_messages SET state = 'sending', send_started_at = now() - interval "
                  "'1 hour', attempts = 1 WHERE idempotency_key = 'orphan' RETURNING 1")
    sim.clear_requests()
    with pytest.raises(SendOutcomeUnknown) as unknown:
        messenger.send(messenger.load("orphan"))
    assert unknown.value.wait_seconds > 1.5, "from when it was found, not from the old attempt"
    assert sim.requests() == []
    message = when_settled(lambda: messenger.send(messenger.load("orphan")))
    assert [m["message_id"] for m in sent(sim, account["id"])] == [message.message_id]
    assert message.attempts == 2 and message.answer_lost_at is None
