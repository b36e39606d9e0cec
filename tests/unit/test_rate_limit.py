"""RedisRateLimiter, parse_usage_headers and UsageThrottle against the real Redis (the session's test db)."""

from __future__ import annotations

import json
import logging
import time

import pytest
import redis

from instagram_graph.errors import RateLimiterUnavailableError
from instagram_graph.rate_limit import (
    RedisRateLimiter,
    UsageReport,
    UsageThrottle,
    parse_usage_headers,
    redis_location,
)

BUC = "X-Business-Use-Case-Usage"
APP = "X-App-Usage"


def buc_entry(call_count=10, cputime=1, total_time=1, regain_minutes=0, kind="instagram"):
    return {
        "type": kind,
        "call_count": call_count,
        "total_cputime": cputime,
        "total_time": total_time,
        "estimated_time_to_regain_access": regain_minutes,
    }


def buc_header(entries_by_id):
    return json.dumps(entries_by_id)


@pytest.fixture
def down_client():
    """A client pointed at a closed loopback port, with a password that must never leak."""
    client = redis.Redis.from_url("redis://:s3cret-pw@127.0.0.1:1/0", socket_connect_timeout=1)
    yield client
    client.close()


# --- RedisRateLimiter ------------------------------------------------------------------------


def test_admits_up_to_the_limit_then_refuses_without_recording(redis_client):
    limiter = RedisRateLimiter(redis_client, limit=5, window_seconds=60)

    assert [limiter.acquire("acct") for _ in range(5)] == [0.0] * 5
    wait = limiter.acquire("acct")

    assert 0 < wait <= 60
    assert wait > 59  # the oldest call was made a moment ago: almost a full window to go
    assert limiter.usage("acct") == 5
    for _ in range(3):
        assert limiter.acquire("acct") > 0
    assert limiter.usage("acct") == 5
    assert redis_client.zcard(limiter.key("acct")) == 5


def test_window_slides_and_the_returned_wait_is_right(redis_client):
    limiter = RedisRateLimiter(redis_client, limit=2, window_seconds=1)
    assert limiter.acquire("acct") == 0.0
    assert limiter.acquire("acct") == 0.0

    wait = limiter.acquire("acct")
    assert 0.8 < wait <= 1.0
    time.sleep(wait / 2)
    assert limiter.acquire("acct") > 0  # half way there: still full

    time.sleep(wait / 2 + 0.05)
    assert limiter.acquire("acct") == 0.0
    assert limiter.usage("acct") == 1  # both old calls have left, only the new one counts
    time.sleep(1.05)
    assert limiter.usage("acct") == 0


def test_old_calls_leave_the_window_while_newer_ones_stay(redis_client):
    """The key outlives the first call here, so only trimming can free its slot."""
    limiter = RedisRateLimiter(redis_client, limit=2, window_seconds=1.5)
    assert limiter.acquire("acct") == 0.0
    time.sleep(0.8)
    assert limiter.acquire("acct") == 0.0

    wait = limiter.acquire("acct")
    assert 0.5 < wait <= 0.7  # until the FIRST call leaves, not a whole window
    time.sleep(wait + 0.05)

    assert limiter.usage("acct") == 1  # the first call no longer counts, though still stored
    assert limiter.acquire("acct") == 0.0
    assert limiter.usage("acct") == 2
    assert redis_client.zcard(limiter.key("acct")) == 2  # the first call was trimmed away


def test_accounts_are_independent(redis_client):
    limiter = RedisRateLimiter(redis_client, limit=3, window_seconds=60)
    for _ in range(3):
        assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0

    assert [limiter.acquire("b") for _ in range(3)] == [0.0] * 3
    assert limiter.acquire("b") > 0
    assert limiter.usage("a") == 3
    assert limiter.usage("b") == 3
    assert limiter.usage("c") == 0


def test_window_key_expires_with_the_window(redis_client):
    limiter = RedisRateLimiter(redis_client, limit=3, window_seconds=1)
    limiter.acquire("acct")
    key = limiter.key("acct")

    assert key == "ig:rate_limit:acct"
    assert 0 < redis_client.pttl(key) <= 1000
    time.sleep(1.1)
    assert redis_client.exists(key) == 0


def test_default_limit_refuses_call_201_for_almost_an_hour(redis_client):
    limiter = RedisRateLimiter(redis_client)
    assert (limiter.limit, limiter.window_seconds) == (200, 3600)

    assert all(limiter.acquire("acct") == 0.0 for _ in range(200))
    wait = limiter.acquire("acct")

    assert 3590 < wait <= 3600
    assert limiter.usage("acct") == 200
    assert 3590_000 < redis_client.pttl(limiter.key("acct")) <= 3600_000


def test_lowered_limit_waits_for_the_entry_that_frees_a_slot(redis_client):
    """With 4 calls recorded and the limit lowered to 2, one old call leaving is not enough."""
    key = "ig:rate_limit:acct"
    now = redis_client.time()
    now_us = now[0] * 1_000_000 + now[1]
    # Four calls made 50, 40, 30 and 20 s ago in a 60 s window.
    redis_client.zadd(key, {f"m{i}": now_us - age * 1_000_000 for i, age in enumerate((50, 40, 30, 20))})

    wait = RedisRateLimiter(redis_client, limit=2, window_seconds=60).acquire("acct")

    assert 29 < wait <= 30  # the call made 30 s ago must leave, not the one made 50 s ago


def test_each_call_is_its_own_member(redis_client):
    """Members are named by a random nonce, so calls in the same microsecond both count."""
    limiter = RedisRateLimiter(redis_client, limit=50, window_seconds=60)
    for _ in range(20):
        limiter.acquire("acct")

    members = [m.decode() for m in redis_client.zrange(limiter.key("acct"), 0, -1)]
    assert len(members) == 20
    assert len({m.split(":", 1)[0] for m in members}) == 20


def test_script_is_reloaded_after_script_flush(redis_client):
    limiter = RedisRateLimiter(redis_client, limit=5, window_seconds=60)
    assert limiter.acquire("acct") == 0.0
    redis_client.script_flush()
    assert limiter.acquire("acct") == 0.0
    assert limiter.usage("acct") == 2


def test_invalid_settings_are_refused(redis_client):
    with pytest.raises(ValueError):
        RedisRateLimiter(redis_client, limit=0)
    with pytest.raises(ValueError):
        RedisRateLimiter(redis_client, window_seconds=0)


def test_redis_down_fails_closed_without_leaking_the_password(down_client):
    limiter = RedisRateLimiter(down_client, limit=5)

    with pytest.raises(RateLimiterUnavailableError) as raised:
        limiter.acquire("acct")
    message = str(raised.value)
    assert "redis://127.0.0.1:1/0" in message
    assert "s3cret-pw" not in message
    assert "Redis is running" in message

    with pytest.raises(RateLimiterUnavailableError):
        limiter.usage("acct")


def test_redis_location_never_shows_the_password():
    client = redis.Redis.from_url("redis://worker:pw123@127.0.0.1:6380/3")
    assert redis_location(client) == "redis://worker@127.0.0.1:6380/3"
    unix = redis.Redis(unix_socket_path="/tmp/redis.sock", password="pw123", db=2)
    assert redis_location(unix) == "unix:///tmp/redis.sock?db=2"


# --- parse_usage_headers ------------------------------------------------------------------------


def test_absent_headers_mean_no_information():
    report = parse_usage_headers({"Content-Type": "application/json"})
    assert report == UsageReport(app_pct=None, account_pct={}, regain_seconds={})


def test_malformed_json_means_no_information_and_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="instagram_graph.rate_limit"):
        report = parse_usage_headers({APP: "{call_count: 28", BUC: "[not, json"})
    assert report == UsageReport()
    assert APP in caplog.text and BUC in caplog.text


def test_json_of_the_wrong_shape_means_no_information():
    report = parse_usage_headers({APP: "[1, 2]", BUC: '"text"'})
    assert report == UsageReport()
    report = parse_usage_headers({BUC: '{"17841": "oops", "17842": [42, {"call_count": "x"}]}'})
    assert report == UsageReport()


def test_app_usage_is_the_highest_of_its_fields():
    report = parse_usage_headers({APP: '{"call_count":28,"total_time":25,"total_cputime":97}'})
    assert report.app_pct == 97.0
    assert report.account_pct == {}


def test_header_names_are_case_insensitive_on_plain_dicts():
    report = parse_usage_headers({
        "x-app-usage": '{"call_count":5}',
        "x-business-use-case-usage": buc_header({"1": [buc_entry(call_count=7)]}),
    })
    assert report.app_pct == 5.0
    assert report.account_pct == {"1": 7.0}


def test_nested_buc_regain_time_is_minutes_converted_to_seconds():
    headers = {BUC: buc_header({"17841400": [buc_entry(call_count=100, cputime=20, total_time=20,
                                                       regain_minutes=12)]})}
    report = parse_usage_headers(headers)

    assert report.account_pct == {"17841400": 100.0}
    assert report.regain_seconds == {"17841400": 720.0}  # 12 minutes, not 12 seconds
    assert report.app_pct is None


def test_buc_with_several_object_ids_and_entries():
    headers = {BUC: buc_header({
        "111": [buc_entry(call_count=10, cputime=40, total_time=5),
                buc_entry(call_count=60, regain_minutes=0, kind="instagram_content_publish")],
        "222": [buc_entry(call_count=99, regain_minutes=2), buc_entry(call_count=3, regain_minutes=5)],
        "333": [buc_entry(call_count=1)],
    })}
    report = parse_usage_headers(headers)

    assert report.account_pct == {"111": 60.0, "222": 99.0, "333": 1.0}
    assert report.regain_seconds == {"222": 300.0}  # max over entries; zero regain omitted


def test_flat_buc_entry_is_tolerated():
    report = parse_usage_headers({BUC: buc_header({"9": buc_entry(call_count=50, regain_minutes=1)})})
    assert report.account_pct == {"9": 50.0}
    assert report.regain_seconds == {"9": 60.0}


# --- UsageThrottle ------------------------------------------------------------------------------


def test_usage_above_threshold_pauses_every_worker_of_the_account(redis_client):
    worker_a = UsageThrottle(redis_client, threshold_pct=95, high_usage_pause_seconds=60)
    worker_b = UsageThrottle(redis.Redis(connection_pool=redis_client.connection_pool))
    report = parse_usage_headers({BUC: buc_header({"acct": [buc_entry(call_count=96)]})})

    assert worker_a.record("app", "acct", report) == 60.0

    assert 59 < worker_b.pause_remaining("app", "acct") <= 60
    assert worker_b.pause_remaining("app", "other-acct") == 0.0


def test_usage_below_threshold_sets_no_pause(redis_client):
    throttle = UsageThrottle(redis_client, threshold_pct=95)
    report = parse_usage_headers({
        APP: '{"call_count":94,"total_time":10,"total_cputime":10}',
        BUC: buc_header({"acct": [buc_entry(call_count=94.9)]}),
    })
    assert throttle.record("app", "acct", report) == 0.0
    assert throttle.pause_remaining("app", "acct") == 0.0
    assert redis_client.keys("ig:throttle:*") == []


def test_regain_time_pauses_for_minutes_times_sixty(redis_client):
    throttle = UsageThrottle(redis_client, high_usage_pause_seconds=60)
    report = parse_usage_headers({BUC: buc_header({"acct": [buc_entry(call_count=100, regain_minutes=7)]})})

    assert throttle.record("app", "acct", report) == 420.0
    assert 419 < UsageThrottle(redis_client).pause_remaining("app", "acct") <= 420
    assert 419_000 < redis_client.pttl("ig:throttle:account:acct") <= 420_000


def test_regain_time_below_threshold_still_pauses(redis_client):
    throttle = UsageThrottle(redis_client)
    report = parse_usage_headers({BUC: buc_header({"acct": [buc_entry(call_count=20, regain_minutes=1)]})})
    assert throttle.record("app", "acct", report) == 60.0
    assert 59 < throttle.pause_remaining("app", "acct") <= 60


def test_buc_entry_of_another_object_pauses_that_object(redis_client):
    throttle = UsageThrottle(redis_client)
    report = parse_usage_headers({BUC: buc_header({"page-9": [buc_entry(call_count=10, regain_minutes=3)]})})

    assert throttle.record("app", "acct", report) == 0.0
    assert throttle.pause_remaining("app", "acct") == 0.0
    assert 179 < throttle.pause_remaining("app", "page-9") <= 180


def test_app_usage_pauses_all_accounts_of_that_app_only(redis_client):
    throttle = UsageThrottle(redis_client, threshold_pct=95, high_usage_pause_seconds=30)
    report = parse_usage_headers({APP: '{"call_count":98,"total_time":10,"total_cputime":10}'})

    assert throttle.record("app-1", "acct-a", report) == 30.0

    other_worker = UsageThrottle(redis_client)
    assert 29 < other_worker.pause_remaining("app-1", "acct-b") <= 30
    assert 29 < other_worker.pause_remaining("app-1", "acct-a") <= 30
    assert other_worker.pause_remaining("app-2", "acct-b") == 0.0


def test_a_shorter_pause_never_shortens_a_longer_one(redis_client):
    throttle = UsageThrottle(redis_client, high_usage_pause_seconds=60)
    long_report = parse_usage_headers({BUC: buc_header({"acct": [buc_entry(regain_minutes=10)]})})
    short_report = parse_usage_headers({BUC: buc_header({"acct": [buc_entry(call_count=99)]})})

    throttle.record("app", "acct", long_report)
    throttle.record("app", "acct", short_report)
    throttle.pause("app", "acct", 5)

    assert 599 < throttle.pause_remaining("app", "acct") <= 600

    throttle.pause("app", "acct", 900)  # a longer one does extend it
    assert 899 < throttle.pause_remaining("app", "acct") <= 900


def test_pause_by_hand_for_account_and_app(redis_client):
    throttle = UsageThrottle(redis_client)
    throttle.pause("app", "acct", 45)
    assert 44 < throttle.pause_remaining("app", "acct") <= 45
    assert throttle.pause_remaining("app", "acct-2") == 0.0

    throttle.pause("app", "acct", 90, app_wide=True)
    assert 89 < throttle.pause_remaining("app", "acct-2") <= 90

    throttle.pause("app", "acct-3", 0)
    assert redis_client.exists("ig:throttle:account:acct-3") == 0


def test_throttle_fails_closed_when_redis_is_down(down_client):
    throttle = UsageThrottle(down_client)
    with pytest.raises(RateLimiterUnavailableError, match=r"127\.0\.0\.1:1"):
        throttle.pause_remaining("app", "acct")
    with pytest.raises(RateLimiterUnavailableError):
        throttle.pause("app", "acct", 10)
    report = parse_usage_headers({BUC: buc_header({"acct": [buc_entry(regain_minutes=1)]})})
    with pytest.raises(RateLimiterUnavailableError):
        throttle.record("app", "acct", report)


def test_admit_checks_pause_keys_and_window_in_one_call(redis_client) -> None:
    from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle

    limiter = RedisRateLimiter(redis_client, limit=2, window_seconds=60)
    throttle = UsageThrottle(redis_client)
    keys = throttle.keys("app", "acct")

    assert limiter.admit("acct", keys)[:2] == (0.0, False)
    throttle.pause("app", "acct", 30)
    wait, paused, _, _ = limiter.admit("acct", keys)
    assert paused and 29 < wait <= 30
    assert limiter.usage("acct") == 1, "a paused call records nothing"

    redis_client.delete(*keys)
    assert limiter.admit("acct", keys)[:2] == (0.0, False)
    wait, paused, _, _ = limiter.admit("acct", keys)
    assert not paused and 59 < wait <= 60
    assert limiter.usage("acct") == 2


# --- SlotLeases ------------------------------------------------------------------------------


def test_a_lease_records_several_slots_in_one_round_trip(redis_client) -> None:
    from instagram_graph.rate_limit import RedisRateLimiter

    limiter = RedisRateLimiter(redis_client, limit=100, window_seconds=60)
    admission = limiter.admit("acct", want=8)
    assert admission.wait == 0.0 and admission.granted == 8
    assert limiter.usage("acct") == 8
    assert set(redis_client.zrange(limiter.key("acct"), 0, -1)) == {
        f"{admission.lease}:{i}".encode() for i in range(1, 9)
    }


def test_near_the_limit_a_lease_shrinks_and_never_passes_it(redis_client) -> None:
    from instagram_graph.rate_limit import RedisRateLimiter

    limiter = RedisRateLimiter(redis_client, limit=10, window_seconds=60)
    grants = []
    while (admission := limiter.admit("acct", want=8)).wait == 0.0:
        grants.append(admission.granted)
    assert grants == [2, 2, 1, 1, 1, 1, 1, 1]  # a quarter of what is free, at least one
    assert sum(grants) == 10 == limiter.usage("acct")
    assert 59 < admission.wait <= 60


def test_leases_grow_while_used_up_and_cut_round_trips(redis_client) -> None:
    from instagram_graph.rate_limit import RedisRateLimiter, SlotLeases

    limiter = RedisRateLimiter(redis_client, limit=1000, window_seconds=60)
    round_trips = 0
    admit = limiter.admit

    def counting_admit(*args, **kwargs):
        nonlocal round_trips
        round_trips += 1
        return admit(*args, **kwargs)

    limiter.admit = counting_admit
    slots = SlotLeases(limiter, max_lease=8)
    for _ in range(100):
        assert slots.take("acct").wait == 0.0
    # leases of 1, 2 and 4, then of 8: 3 + ceil(93 / 8) = 15 round trips instead of 100
    assert round_trips == 15
    assert limiter.usage("acct") == 1 + 2 + 4 + 12 * 8  # the last lease has 3 slots left over
    slots.release_all()
    assert limiter.usage("acct") == 100, "unused leased slots are given back"


def test_a_stale_lease_gives_its_unused_slots_back_with_the_next_admission(redis_client) -> None:
    from instagram_graph.rate_limit import RedisRateLimiter, SlotLeases

    limiter = RedisRateLimiter(redis_client, limit=1000, window_seconds=60)
    slots = SlotLeases(limiter, max_lease=8, lease_seconds=0.2)
    for _ in range(1 + 2 + 1):  # leases of 1 and 2 used up, then one slot of a lease of 4
        slots.take("acct")
    assert limiter.usage("acct") == 1 + 2 + 4
    time.sleep(0.25)
    slots.take("acct")  # stale: 3 slots go back, a smaller lease (2) is taken
    assert limiter.usage("acct") == 4 + 2


def test_max_lease_one_is_one_round_trip_per_call(redis_client) -> None:
    from instagram_graph.rate_limit import RedisRateLimiter, SlotLeases

    limiter = RedisRateLimiter(redis_client, limit=1000, window_seconds=60)
    slots = SlotLeases(limiter, max_lease=1)
    for n in range(1, 6):
        slots.take("acct")
        assert limiter.usage("acct") == n


def test_a_pause_set_by_another_worker_is_seen_when_the_lease_ends(redis_client) -> None:
    from instagram_graph.rate_limit import RedisRateLimiter, SlotLeases, UsageThrottle

    limiter = RedisRateLimiter(redis_client, limit=1000, window_seconds=60)
    throttle = UsageThrottle(redis_client)
    keys = throttle.keys("app", "acct")
    slots = SlotLeases(limiter, max_lease=4, lease_seconds=0.3)
    for _ in range(1 + 2 + 1):
        slots.take("acct", keys)  # now holding a lease of 4 with 3 slots left
    throttle.pause("app", "acct", 30)  # another worker hears Meta throttle us
    for _ in range(3):
        assert slots.take("acct", keys).wait == 0.0  # the lease in hand: at most 3 more calls
    refused = slots.take("acct", keys)
    assert refused.paused and 29 < refused.wait <= 30
    assert limiter.usage("acct") == 1 + 2 + 4


# --- window length and call budgets ------------------------------------------------------------


def test_a_two_second_window_admits_three_refuses_the_fourth_and_admits_after_it(redis_client) -> None:
    limiter = RedisRateLimiter(redis_client, limit=3, window_seconds=2)

    assert [limiter.acquire("acct") for _ in range(3)] == [0.0] * 3
    wait = limiter.acquire("acct")
    assert 1.8 < wait <= 2.0, "the 4th waits for the first call to leave a 2 s window, not an hour"
    assert limiter.usage("acct") == 3
    time.sleep(wait + 0.05)
    assert limiter.acquire("acct") == 0.0
    assert limiter.usage("acct") == 1


@pytest.mark.parametrize(
    ("rate", "limit", "window"),
    [(2, 2, 1.25), (100, 100, 1.25), (0.5, 1, 2.25), (2.5, 2, 1.05), (1, 1, 1.25)],
)
def test_pace_window_keeps_the_rate_with_a_margin_for_the_trip(rate, limit, window) -> None:
    from instagram_graph.rate_limit import pace_window

    assert pace_window(rate) == (limit, pytest.approx(window))
    assert pace_window(rate, margin=0)[0] / pace_window(rate, margin=0)[1] == pytest.approx(rate)
    with pytest.raises(ValueError):
        pace_window(0)


def _budgets(redis_client, **kwargs):
    from instagram_graph.rate_limit import CallBudgets

    return CallBudgets(
        RedisRateLimiter(redis_client, limit=kwargs.pop("limit", 100), window_seconds=3600),
        UsageThrottle(redis_client),
        app_id="app",
        **kwargs,
    )


def test_messaging_budgets_leave_the_platform_window_untouched(redis_client) -> None:
    budgets = _budgets(redis_client, slot_lease_max=1, messaging_calls_per_second=50)
    assert budgets.take("platform", "acct").wait == 0.0
    for _ in range(20):
        assert budgets.take("send", "acct").wait == 0.0
    for _ in range(20):
        assert budgets.take("conversations", "acct").wait == 0.0

    assert budgets.platform.usage("acct") == 1
    assert budgets.messaging["send"].usage("acct") == 20
    assert budgets.messaging["conversations"].usage("acct") == 20
    assert redis_client.exists("ig:rate_limit:send:acct", "ig:rate_limit:conversations:acct") == 2


def test_conversations_are_paced_at_two_per_second_and_the_wait_is_inline(redis_client) -> None:
    budgets = _budgets(redis_client)  # messaging_calls_per_second defaults to Meta's 2
    assert [budgets.take("conversations", "acct").wait for _ in range(2)] == [0.0, 0.0]

    refused = budgets.take("conversations", "acct")
    assert not refused.paused and 1.0 < refused.wait <= 1.25
    assert budgets.waits_inline("conversations", refused), "pacing never defers"
    assert "paced at 2/s" in budgets.describe("conversations", refused)
    assert budgets.take("conversations", "other-acct").wait == 0.0, "per account"
    assert budgets.take("platform", "acct").wait == 0.0, "platform calls are not paced"
    time.sleep(refused.wait + 0.02)
    assert budgets.take("conversations", "acct").wait == 0.0


def test_a_messaging_throttle_pauses_that_budget_only(redis_client) -> None:
    from instagram_graph.rate_limit import MESSAGING_THROTTLE_PAUSE

    budgets = _budgets(redis_client)
    assert budgets.pause("conversations", "acct", None) == MESSAGING_THROTTLE_PAUSE

    paused = budgets.take("conversations", "acct")
    assert paused.paused and MESSAGING_THROTTLE_PAUSE - 1 < paused.wait <= MESSAGING_THROTTLE_PAUSE
    assert not budgets.waits_inline("conversations", paused), "a throttle pause may defer"
    assert budgets.take("platform", "acct").wait == 0.0
    assert budgets.take("send", "acct").wait == 0.0, "Meta limits sends apart from reads"
    assert budgets.take("conversations", "other-acct").wait == 0.0
    assert budgets.throttle.pause_remaining("app", "acct") == 0.0


def test_a_platform_pause_leaves_messaging_alone(redis_client) -> None:
    from instagram_graph.rate_limit import PLATFORM_THROTTLE_PAUSE

    budgets = _budgets(redis_client, slot_lease_max=8)
    for _ in range(4):
        budgets.take("platform", "acct")  # holding a lease of 4 with 3 slots unused
    assert budgets.pause("platform", "acct", None) == PLATFORM_THROTTLE_PAUSE
    assert budgets.platform.usage("acct") == 4, "the unused leased slots went back"
    budgets.throttle.pause("app", "acct", 60, app_wide=True)  # and app usage at 100 %

    assert budgets.take("platform", "acct").paused
    assert budgets.take("conversations", "acct").wait == 0.0
    assert budgets.take("send", "acct").wait == 0.0


def test_a_regain_time_from_meta_wins_over_the_default_pause(redis_client) -> None:
    budgets = _budgets(redis_client)
    assert budgets.pause("send", "acct", 42.0) == 42.0
    assert 41 < budgets.take("send", "acct").wait <= 42


def test_an_unknown_budget_is_refused(redis_client) -> None:
    budgets = _budgets(redis_client)
    with pytest.raises(ValueError, match="unknown call budget 'dm'; one of platform, conversations, send"):
        budgets.take("dm", "acct")
    with pytest.raises(ValueError, match="unknown call budget"):
        budgets.pause("dm", "acct", 1.0)


def test_page_sizes_are_lowered_shared_and_forgotten_after_their_ttl(redis_client):
    import time

    from instagram_graph.rate_limit.page_sizes import PageSizes

    sizes = PageSizes(redis_client, "app1", ttl_seconds=1)
    assert sizes.size("media", 50) == 50
    assert sizes.refused("media", 50) == 25
    assert sizes.refused("media", 40) == 20 and sizes.refused("media", 100) == 20, "never raised by a refusal"
    other_worker = PageSizes(redis_client, "app1", ttl_seconds=1)
    assert other_worker.size("media", 50) == 20 and other_worker.size("media", 10) == 10
    assert other_worker.size("stories", 50) == 50, "per edge"
    assert PageSizes(redis_client, "app2").size("media", 50) == 50, "per app"
    assert sizes.refused("media", 1) == 1, "never below one"
    time.sleep(1.1)
    assert PageSizes(redis_client, "app1").size("media", 50) == 50, "after the TTL Meta's line is tried again"


def test_page_sizes_live_in_the_worker_when_redis_is_away():
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from instagram_graph.rate_limit.page_sizes import PageSizes

    away = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    sizes = PageSizes(away, "app1")
    assert sizes.refused("media", 50) == 25
    assert sizes.size("media", 50) == 25
