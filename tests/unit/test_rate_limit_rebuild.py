"""A platform window Redis lost is noticed and rebuilt from the durable record (real Redis and Postgres).

"Losing" a window here is what a restart without persistence, an eviction or a failover
does to one account: its sorted set is gone (DEL). The multi-process version with a real
restart is tests/integration/test_rate_limit_redis_loss.py.
"""

from __future__ import annotations

import itertools
import threading
import time

import psycopg2
import pytest

from instagram_graph.admission_record import AdmissionRecord
from instagram_graph.rate_limit import SENTINEL, CallBudgets, RedisRateLimiter, SlotLeases, UsageThrottle
from instagram_graph.warehouse_link import WarehouseLink

ACCOUNT = "17841400000000001"


@pytest.fixture
def link(schema):
    made = WarehouseLink(lambda: psycopg2.connect(schema))
    yield made
    made.close()


def guarded(redis_client, link, *, limit=5, window=60.0) -> RedisRateLimiter:
    return RedisRateLimiter(
        redis_client, limit=limit, window_seconds=window, record=AdmissionRecord(link, window_seconds=window)
    )


def recorded(warehouse, account=ACCOUNT) -> list[tuple[int, int]]:
    return [(int(m), c) for m, c in warehouse(
        "SELECT extract(epoch FROM minute), calls FROM instagram.rate_limit_admissions "
        "WHERE account_id = %s AND budget = 'platform' ORDER BY minute", (account,))]


def redis_now(redis_client) -> float:
    seconds, micros = redis_client.time()
    return seconds + micros / 1e6


# --- detection ---------------------------------------------------------------------------------


def test_a_guarded_window_holds_a_sentinel_that_never_counts(redis_client, link) -> None:
    limiter = guarded(redis_client, link)
    for _ in range(3):
        assert limiter.acquire(ACCOUNT) == 0.0

    assert limiter.usage(ACCOUNT) == 3
    assert redis_client.zcard(limiter.key(ACCOUNT)) == 4
    assert redis_client.zscore(limiter.key(ACCOUNT), SENTINEL) == float("inf")
    assert [limiter.acquire(ACCOUNT) for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire(ACCOUNT) > 59, "the limit is 5 calls, the sentinel is not one of them"
    # the key outlives the window by a minute, so an idle account's rebuild finds nothing
    assert 60_000 < redis_client.pttl(limiter.key(ACCOUNT)) <= 120_000


def test_a_lost_window_is_rebuilt_from_the_record_not_trusted_empty(redis_client, link, warehouse) -> None:
    limiter = guarded(redis_client, link)
    assert [limiter.acquire(ACCOUNT) for _ in range(5)] == [0.0] * 5
    assert sum(calls for _, calls in recorded(warehouse)) == 5, "written before the slots were used"

    redis_client.delete(limiter.key(ACCOUNT))  # Redis lost it
    wait = limiter.acquire(ACCOUNT)

    assert wait > 0, "an empty window it did not build is not trusted"
    assert limiter.usage(ACCOUNT) == 5
    assert redis_client.zscore(limiter.key(ACCOUNT), SENTINEL) is not None
    # each call counts from the end of its minute (capped at now): the wait is a full window or
    # up to a minute more, never less than what is left of the true window
    assert 59 < wait <= 120
    assert sum(calls for _, calls in recorded(warehouse)) == 5, "a refusal records nothing"


def test_a_flushed_redis_loses_every_window_and_each_is_rebuilt(redis_client, link) -> None:
    limiter = guarded(redis_client, link, limit=3)
    for account in ("1001", "1002"):
        for _ in range(3):
            limiter.acquire(account)
    redis_client.flushdb()  # a restart without persistence

    assert limiter.acquire("1001") > 0
    assert limiter.acquire("1002") > 0
    assert limiter.acquire("1003") == 0.0, "an account with no recorded calls starts empty"


def test_an_unguarded_window_trusts_an_empty_key(redis_client) -> None:
    """The messaging budgets (and the limiter without a record) keep the old behaviour."""
    limiter = RedisRateLimiter(redis_client, limit=2, window_seconds=60)
    limiter.acquire(ACCOUNT)
    limiter.acquire(ACCOUNT)
    redis_client.delete(limiter.key(ACCOUNT))
    assert limiter.acquire(ACCOUNT) == 0.0
    assert redis_client.zscore(limiter.key(ACCOUNT), SENTINEL) is None


# --- rebuild -----------------------------------------------------------------------------------


def test_recorded_minutes_count_at_their_end_and_never_in_the_future(redis_client, link, warehouse) -> None:
    window = 300
    now = redis_now(redis_client)
    this_minute = int(now // 60) * 60
    rows = [
        (this_minute - 600, 7),  # left the window long ago: not seeded
        (this_minute - 120, 2),  # ended 60 s before this minute began: counted at its end
        (this_minute, 3),  # still running: counted now, not at its end
    ]
    warehouse(
        "INSERT INTO instagram.rate_limit_admissions (account_id, budget, minute, calls) "
        "SELECT %s, 'platform', to_timestamp(m), c FROM unnest(%s::bigint[], %s::int[]) AS r(m, c)",
        (ACCOUNT, [m for m, _ in rows], [c for _, c in rows]),
    )
    limiter = guarded(redis_client, link, limit=100, window=window)

    assert limiter.acquire(ACCOUNT) == 0.0
    entries = redis_client.zrange(limiter.key(ACCOUNT), 0, -1, withscores=True)
    seeded = sorted(score / 1e6 for member, score in entries if member.startswith(b"seed:"))
    assert len(seeded) == 5
    assert seeded[:2] == [this_minute - 60, this_minute - 60]
    after = redis_now(redis_client)
    assert all(now - 0.5 <= s <= after for s in seeded[2:]), "capped at Redis's now, never ahead of it"
    assert limiter.usage(ACCOUNT) == 6


def test_the_window_is_seeded_once_however_many_workers_find_it_lost(redis_client, schema, warehouse) -> None:
    """8 workers (own Redis clients, own warehouse links) find the same lost window at once.

    They read the record one after another, the later ones after the first has seeded the
    window and recorded a call in it: only the first seed counts, or that call (recorded,
    and in the window as its own slot) would be counted again.
    """
    import redis as redis_lib

    first = guarded(redis_client, WarehouseLink(lambda: psycopg2.connect(schema)), limit=50)
    for _ in range(20):
        first.acquire(ACCOUNT)
    redis_client.delete(first.key(ACCOUNT))
    url = redis_client.connection_pool.connection_kwargs
    start = threading.Barrier(8)
    results: list[float] = []

    def worker(index: int) -> None:
        client = redis_lib.Redis(host=url["host"], port=url["port"], db=url["db"])
        limiter = guarded(client, WarehouseLink(lambda: psycopg2.connect(schema)), limit=50)
        read = limiter.record.read

        def late_read(*args, **kwargs):  # all 8 found the window missing; they read in turn
            time.sleep(0.1 + 0.1 * index)
            return read(*args, **kwargs)

        limiter.record.read = late_read
        start.wait(timeout=10)
        results.append(limiter.acquire(ACCOUNT))
        limiter.record.link.close()
        client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results == [0.0] * 8
    members = redis_client.zrange(first.key(ACCOUNT), 0, -1)
    assert len([m for m in members if m.startswith(b"seed:")]) == 20, "seeded once"
    assert first.usage(ACCOUNT) == 20 + 8
    assert sum(calls for _, calls in recorded(warehouse)) == 20 + 8


def test_leases_are_recorded_once_per_lease_not_per_call(redis_client, link, warehouse) -> None:
    limiter = guarded(redis_client, link, limit=1000)
    writes = 0
    run = link.run

    def counting_run(work):
        nonlocal writes
        writes += 1
        return run(work)

    link.run = counting_run
    slots = SlotLeases(limiter, max_lease=8)
    for _ in range(30):
        assert slots.take(ACCOUNT).wait == 0.0

    # one read (the first call finds no window and builds it), then one upsert per lease of
    # 1, 2, 4, 8, 8 and 8 slots
    assert writes == 1 + 6
    assert sum(calls for _, calls in recorded(warehouse)) == 31, "every leased slot, used or not"


def test_old_rows_are_pruned_by_the_writers(redis_client, link, warehouse) -> None:
    now = int(redis_now(redis_client))
    warehouse(
        "INSERT INTO instagram.rate_limit_admissions VALUES (%s, 'platform', to_timestamp(%s), 4), "
        "(%s, 'platform', to_timestamp(%s), 9), ('other', 'platform', to_timestamp(%s), 1)",
        (ACCOUNT, (now // 60 - 30) * 60, ACCOUNT, (now // 60 - 5) * 60, (now // 60 - 30) * 60),
    )
    limiter = guarded(redis_client, link, window=60)  # retention: 3 windows, at least 10 minutes
    limiter.acquire(ACCOUNT)

    minutes = [m for m, _ in recorded(warehouse)]
    assert (now // 60 - 30) * 60 not in minutes, "older than the retention: deleted"
    assert (now // 60 - 5) * 60 in minutes
    assert recorded(warehouse, "other"), "only the writing account's rows are pruned"


# --- no record to read: a conservative pace until a full window has passed -------------------------


@pytest.mark.parametrize("missing", ["no_table", "unreachable"])
def test_without_a_record_the_lost_window_is_taken_as_full(redis_client, schema, warehouse, missing) -> None:
    if missing == "no_table":  # migration 010 not applied: Postgres holds no record
        warehouse("DROP TABLE instagram.rate_limit_admissions")
        link = WarehouseLink(lambda: psycopg2.connect(schema))
    else:
        link = WarehouseLink(lambda: psycopg2.connect("postgresql://postgres@127.0.0.1:1/x", connect_timeout=1))
    limiter = guarded(redis_client, link, limit=10, window=2.0)

    admitted = []
    started = time.monotonic()
    while time.monotonic() - started < 1.9:
        wait = limiter.acquire(ACCOUNT)
        if wait == 0.0:
            admitted.append(time.monotonic() - started)
        else:
            assert wait <= 0.2 + 0.01, "a slot frees every window / limit seconds"
            time.sleep(wait)
    # one slot every 0.2 s, never the whole budget at once: 9 or 10 in the first window
    assert 8 <= len(admitted) <= 10
    assert all(b - a > 0.15 for a, b in itertools.pairwise(admitted))
    time.sleep(2.05)  # a full window has passed: the whole budget is back
    assert [limiter.acquire(ACCOUNT) for _ in range(10)] == [0.0] * 10
    assert limiter.record.pending > 0, "kept to write once the record can take it"
    link.close()


def test_slots_the_warehouse_could_not_take_are_written_later(redis_client, schema, warehouse) -> None:
    up = {"value": True}

    def connect():
        if not up["value"]:
            raise psycopg2.OperationalError("connection refused")
        return psycopg2.connect(schema)

    link = WarehouseLink(connect, retry_seconds=0.0)
    limiter = guarded(redis_client, link, limit=100)
    assert limiter.acquire(ACCOUNT) == 0.0
    link.close()
    up["value"] = False  # the warehouse goes away
    assert limiter.acquire(ACCOUNT) == 0.0, "the call goes on: Redis still holds the limit"
    assert limiter.acquire(ACCOUNT) == 0.0
    assert limiter.record.pending == 2
    assert sum(calls for _, calls in recorded(warehouse)) == 1

    up["value"] = True
    assert limiter.acquire(ACCOUNT) == 0.0
    assert limiter.record.pending == 0
    assert sum(calls for _, calls in recorded(warehouse)) == 4
    link.close()


def test_messaging_budgets_keep_no_record(redis_client, link) -> None:
    budgets = CallBudgets(guarded(redis_client, link), UsageThrottle(redis_client), app_id="app")
    assert budgets.platform.guarded
    assert not budgets.messaging["send"].guarded and not budgets.messaging["conversations"].guarded
