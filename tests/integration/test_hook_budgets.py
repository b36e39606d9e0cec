"""The hook's call budgets against the simulator, real Redis and real HTTP.

The platform window (``calls_per_hour`` per ``window_seconds``) and the two messaging
budgets (Conversations API reads at ``messaging_calls_per_second``, sends at 100/s) are
kept apart, as Meta keeps them apart. What reached "Meta" is read from the simulator's
request log, with the simulator's own timestamps.
"""

from __future__ import annotations

import threading
import time

import pytest

from instagram_graph.errors import RateLimitError
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.rate_limit import MESSAGING_THROTTLE_PAUSE, UsageThrottle
from instagram_graph.settings import GraphApiSettings


def inside_window(sim, account_id: str) -> dict:
    return next(c for c in sim.truth("conversations", account_id=account_id) if c["inside_window"])


def test_the_window_length_setting_is_the_limiters_window(sim, token_store, redis_client, account) -> None:
    """3 calls per 2 s, built by the hook from its settings alone (no limiter handed in)."""
    hook = InstagramGraphHook(
        settings=GraphApiSettings(
            base_url=sim.base_url, calls_per_hour=3, window_seconds=2, max_inline_wait=0.5, retry_base_delay=0.01
        ),
        token_store=token_store,
    )
    try:
        for _ in range(3):
            hook.get_profile(account["id"])
        sim.clear_requests()
        with pytest.raises(RateLimitError, match="3 calls per 2s") as caught:
            hook.get_profile(account["id"])
        assert 1.5 < caught.value.retry_after <= 2.0, "the 4th waits for a 2 s window, not an hour"
        assert sim.requests() == []

        time.sleep(caught.value.retry_after + 0.05)
        assert hook.get_profile(account["id"])["id"] == account["id"]
        assert len(sim.requests()) == 1
    finally:
        hook.close()


def test_messaging_calls_leave_the_platform_window_untouched(make_hook, sim, account) -> None:
    hook = make_hook(slot_lease_max=1)
    platform = hook.budgets.platform
    hook.get_profile(account["id"])
    assert platform.usage(account["id"]) == 1
    to = inside_window(sim, account["id"])
    sim.clear_requests()

    conversations = list(hook.iter_conversations(account["id"]))
    for conversation in conversations[:3]:
        hook.get_messages(account["id"], conversation["id"])
    reads = len(sim.requests())
    for i in range(20 - reads):
        hook.send_message(account["id"], to["user_id"], f"Thanks, noted ({i})")

    made = sim.requests()
    assert len(made) == 20 and {r["status"] for r in made} == {200}
    assert platform.usage(account["id"]) == 1, "20 messaging calls took no platform slot"
    assert hook.budgets.messaging["send"].usage(account["id"]) > 0, "sends spent the send budget"
    hook.get_profile(account["id"])
    assert platform.usage(account["id"]) == 2, "while a platform call does"


def test_conversation_reads_of_two_workers_never_pass_two_per_second(make_hook, sim, account) -> None:
    """Two hooks (two workers: no memory shared, one Redis) read one account's inbox at once."""
    conversation_ids = [c["id"] for c in sim.truth("conversations", account_id=account["id"])][:8]
    hooks = [make_hook(), make_hook()]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def read(hook: InstagramGraphHook, ids: list[str]) -> None:
        try:
            start.wait(timeout=10)
            next(iter(hook.iter_conversations(account["id"])))
            for conversation_id in ids:
                hook.get_messages(account["id"], conversation_id)
        except BaseException as exc:
            errors.append(exc)

    sim.clear_requests()
    threads = [threading.Thread(target=read, args=(hook, conversation_ids[i::2])) for i, hook in enumerate(hooks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    made = sim.requests(account_id=account["id"])  # conversation listings and message reads only
    assert len(made) >= 10
    assert {r["status"] for r in made} == {200}, "the simulator answered no 613"
    times = sorted(r["time"] for r in made)
    # At Meta's end: any three reads span at least a second.
    assert min(b - a for a, b in zip(times, times[2:], strict=False)) >= 1.0
    assert times[-1] - times[0] >= (len(times) - 2) / 2


def test_a_messaging_throttle_pauses_messaging_only(make_hook, sim, account, redis_client) -> None:
    first, second = make_hook(), make_hook()
    sim.add_fault(method="GET", path=r"/conversations$", kind="error", code=613, subcode=2534040,
                  http_status=400, times=1)
    with pytest.raises(RateLimitError) as caught:
        list(first.iter_conversations(account["id"]))
    assert (caught.value.code, caught.value.subcode) == (613, 2534040)
    assert caught.value.retry_after == MESSAGING_THROTTLE_PAUSE

    sim.clear_requests()
    started = time.monotonic()
    assert second.get_profile(account["id"])["id"] == account["id"]
    assert time.monotonic() - started < 0.5, "a profile read of the same account goes on at once"
    assert UsageThrottle(redis_client).pause_remaining("app", account["id"]) == 0.0
    second.send_message(account["id"], inside_window(sim, account["id"])["user_id"], "Sends are limited apart")

    with pytest.raises(RateLimitError, match="throttled this account's conversations calls") as paused:
        list(second.iter_conversations(account["id"]))  # another worker: paused through Redis
    assert MESSAGING_THROTTLE_PAUSE - 1 < paused.value.retry_after <= MESSAGING_THROTTLE_PAUSE
    assert [r["method"] for r in sim.requests()] == ["GET", "POST"], "no conversations read was made"


def test_a_platform_throttle_does_not_pause_messaging(make_hook, sim, account) -> None:
    hook = make_hook()
    sim.add_fault(method="GET", path=r"^/\d+$", kind="throttle", regain_minutes=5, times=1)
    with pytest.raises(RateLimitError) as caught:
        hook.get_profile(account["id"])
    assert caught.value.retry_after == pytest.approx(300, abs=5)

    started = time.monotonic()
    assert list(hook.iter_conversations(account["id"]))
    hook.send_message(account["id"], inside_window(sim, account["id"])["user_id"], "Still here")
    assert time.monotonic() - started < 1.0
    with pytest.raises(RateLimitError):
        hook.get_profile(account["id"])  # the platform stays paused
