"""Hook overhead: InstagramGraphHook.get_profile vs a plain requests.Session GET.

Both hit the same simulator endpoint on 127.0.0.1 with a keep-alive session. The hook
adds what every call pays: the shared pause check and the sliding-window admission in
Redis (127.0.0.1:6379, db 14, flushed), usage-header parsing, error classification and
the tenacity wrapper. Its calls come fast here, so it leases rate-limit slots up to 8
per Redis round trip (SlotLeases); the row with ``slot_lease_max=1`` shows the cost of
one round trip per call. Rounds alternate between the clients so drift hits all alike.
Goal: under 10 % more time per call.

The hook as deployed also writes its bookkeeping to the warehouse (database
``instagram_bench`` on the local Postgres, dropped and re-created): one upsert of the
durable rate-limit record per lease of slots, and the audit trail of its calls, one COPY
per 500 attempts. The row "no record, no audit" is the hook without either (its shape
before they came), measured in the same run.

    .venv/bin/python bench/bench_hook.py [--calls 2000 --rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg2
import redis
import requests

from graph_api_sim.testing import SimulatorProcess
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
from instagram_graph.settings import GraphApiSettings

from bench_support import BENCH_DSN, fresh_warehouse

FIELDS = "id,username,followers_count"
REDIS_URL = "redis://127.0.0.1:6379/14"


def plain(session: requests.Session, url: str, token: str, calls: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    for _ in range(calls):
        response = session.get(url, params={"fields": FIELDS}, headers=headers, timeout=30)
        response.raise_for_status()
        response.json()
    return (time.perf_counter() - t0) / calls


def hooked(hook: InstagramGraphHook, account_id: str, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        hook.get_profile(account_id, fields=FIELDS)
    return (time.perf_counter() - t0) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    os.environ["AIRFLOW_CONN_INSTAGRAM_REDIS"] = REDIS_URL
    fresh_warehouse().close()
    with SimulatorProcess(accounts=1, media_per_account=10, seed=7, calls_per_hour=10**9) as sim:
        account = sim.accounts()[0]
        settings = GraphApiSettings(base_url=sim.base_url, access_token=account["token"], calls_per_hour=10**9)

        def deployed(settings: GraphApiSettings) -> InstagramGraphHook:
            """As the hook builds itself (Redis from the instagram_redis connection): a guarded
            window with its record, and the audit trail."""
            return InstagramGraphHook(settings=settings, warehouse=lambda: psycopg2.connect(BENCH_DSN))

        hook = deployed(settings)
        unleased = deployed(settings.with_overrides(slot_lease_max=1))
        bare = InstagramGraphHook(
            settings=settings.with_overrides(audit_calls=False),
            rate_limiter=RedisRateLimiter(client, limit=10**9),
            throttle=UsageThrottle(client),
        )
        session = requests.Session()
        lean = requests.Session()
        lean.trust_env = False  # what the hook's session does: environment read once
        url = settings.url(account["id"])
        plain(session, url, account["token"], 50)  # warm up every path
        plain(lean, url, account["token"], 50)
        hooked(hook, account["id"], 50)
        hooked(unleased, account["id"], 50)
        hooked(bare, account["id"], 50)

        baseline, lean_baseline, ours, ours_unleased, ours_bare = [], [], [], [], []
        for _ in range(args.rounds):
            baseline.append(plain(session, url, account["token"], args.calls))
            lean_baseline.append(plain(lean, url, account["token"], args.calls))
            ours.append(hooked(hook, account["id"], args.calls))
            ours_unleased.append(hooked(unleased, account["id"], args.calls))
            ours_bare.append(hooked(bare, account["id"], args.calls))
            # (no FLUSHDB between rounds: to a guarded window that is Redis losing its data,
            # and every round would measure a rebuild of tens of thousands of entries)
        for closing in (hook, unleased, bare):
            closing.close()
        check = psycopg2.connect(BENCH_DSN)
        with check.cursor() as cur:
            cur.execute("SELECT count(*) FROM instagram.api_calls")
            (audited,) = cur.fetchone()
            cur.execute("SELECT coalesce(sum(calls), 0) FROM instagram.rate_limit_admissions")
            (recorded,) = cur.fetchone()
        check.close()

    b, lb = statistics.median(baseline), statistics.median(lean_baseline)
    o, ou, ob = statistics.median(ours), statistics.median(ours_unleased), statistics.median(ours_bare)
    print(f"GET profile on the simulator, {args.calls} calls x {args.rounds} rounds (median of rounds)")
    print(f"{'client':<52}{'ms/call':>10}{'calls/s':>10}")
    print(f"{'baseline: requests.Session(), same endpoint':<52}{b * 1000:>10.3f}{1 / b:>10.0f}")
    print(f"{'baseline: requests.Session(trust_env=False)':<52}{lb * 1000:>10.3f}{1 / lb:>10.0f}")
    print(f"{'ours: InstagramGraphHook (limiter, record, audit)':<52}{o * 1000:>10.3f}{1 / o:>10.0f}")
    print(f"{'ours, slot_lease_max=1 (Redis + Postgres per call)':<52}{ou * 1000:>10.3f}{1 / ou:>10.0f}")
    print(f"{'ours, no record, no audit (limiter + throttle only)':<52}{ob * 1000:>10.3f}{1 / ob:>10.0f}")
    print(f"overhead vs plain requests: {(o - b) / b * 100:+.1f}% per call (goal: under 10%)")
    print(f"overhead vs the same lean session: {(o - lb) / lb * 100:+.1f}% ({(o - lb) * 1e6:.0f} us: leased slots,")
    print("  their record, the audit trail, usage headers, classification, retry wrapper)")
    print(f"record + audit trail: {(o - ob) * 1e6:+.0f} us per call ({(o - ob) / ob * 100:+.1f}%) vs the hook without")
    print(f"without leases: {(ou - b) / b * 100:+.1f}% vs plain, {(ou - lb) / lb * 100:+.1f}% vs lean")
    print(f"warehouse: {audited} audit rows, {recorded} slots in the rate-limit record")


if __name__ == "__main__":
    main()
