"""Publishing, messaging and token calls of the hook against the simulator."""

from __future__ import annotations

import time

import pytest

from instagram_graph.errors import MessagingWindowClosedError, TransientError


def _wait_finished(hook, account_id: str, container_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = hook.get_container_status(account_id, container_id)
        if status["status_code"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_image_publish_lifecycle(hook, sim, account) -> None:
    container = hook.create_container(account["id"], image_url="https://example.com/a.jpg", caption="Hello")
    assert _wait_finished(hook, account["id"], container)["status_code"] == "FINISHED"

    media_id = hook.publish_container(account["id"], container)

    published = sim.truth("published", account_id=account["id"])
    assert [p["media_id"] for p in published] == [media_id]
    assert hook.get_container_status(account["id"], container)["status_code"] == "PUBLISHED"
    assert hook.get_publishing_limit(account["id"])["quota_usage"] == 1


def test_carousel_children_then_parent(hook, sim, account) -> None:
    children = [
        hook.create_container(account["id"], image_url=f"https://example.com/{i}.jpg", is_carousel_item=True)
        for i in range(3)
    ]
    for child in children:
        assert _wait_finished(hook, account["id"], child)["status_code"] == "FINISHED"
    parent = hook.create_container(account["id"], media_type="CAROUSEL", children=children, caption="Three")
    assert _wait_finished(hook, account["id"], parent)["status_code"] == "FINISHED"
    media_id = hook.publish_container(account["id"], parent)
    assert media_id in {p["media_id"] for p in sim.truth("published", account_id=account["id"])}


def test_publish_is_never_retried_blindly(hook, sim, account) -> None:
    container = hook.create_container(account["id"], image_url="https://example.com/b.jpg")
    _wait_finished(hook, account["id"], container)
    sim.add_fault(method="POST", path=r"/media_publish$", kind="http_500", times=1)
    sim.clear_requests()

    with pytest.raises(TransientError):
        hook.publish_container(account["id"], container)

    assert len(sim.requests(method="POST")) == 1


def _conversation_by_window(sim, account_id: str, inside: bool) -> dict:
    conversations = sim.truth("conversations", account_id=account_id)
    for conversation in conversations:
        if conversation["inside_window"] == inside:
            return conversation
    pytest.fail(f"the simulator seeds no conversation {'inside' if inside else 'outside'} the 24 h window")


def test_send_message_inside_and_outside_the_window(hook, sim, account) -> None:
    inside = _conversation_by_window(sim, account["id"], inside=True)
    sent = hook.send_message(account["id"], inside["user_id"], "Thanks for writing!")
    assert sent["message_id"]
    assert [m["message_id"] for m in sim.truth("sent_messages", account_id=account["id"])] == [sent["message_id"]]

    outside = _conversation_by_window(sim, account["id"], inside=False)
    sim.clear_requests()
    with pytest.raises(MessagingWindowClosedError) as caught:
        hook.send_message(account["id"], outside["user_id"], "Too late")
    assert caught.value.subcode == 2534022
    assert len(sim.requests(method="POST")) == 1, "outside the window is final: no retry"


def test_refresh_token_then_revoke(hook, sim, account) -> None:
    sim.advance_clock(2 * 24 * 3600)  # a token must be at least 24 h old to refresh
    refreshed = hook.refresh_token(account["id"])
    assert refreshed["access_token"] and refreshed["access_token"] != account["token"]
    assert refreshed["expires_in"] > 50 * 24 * 3600

    assert hook.revoke(account["id"]) is True
