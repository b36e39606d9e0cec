"""Hook overhead: InstagramGraphHook.get_profile vs a plain requests.Session GET.

Both hit the same simulator endpoint on 127.0.0.1 with a keep-alive session. The hook
adds what every call pays: the shared pause check and the sliding-window admission in
Redis (127.0.0.1:6379, db 14, flushed), usage-header parsing, error classification and
the tenacity wrapper. Its calls come fast here, so it leases rate-limit slots up to 8
per Redis round trip (SlotLeases); the row with ``slot_lease_max=1`` shows the cost of
one round trip per call. Rounds alternate between the clients so drift hits all alike.
Goal: under 10 % more time per call.

    .venv/bin/python bench/bench_hook.py [--calls 2000 --rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import redis
import requests

from graph_api_sim.testing import SimulatorProcess
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
from instagram_graph.settings import GraphApiSettings

FIELDS = "id,username,followers_count"


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

    client = redis.Redis.from_url("redis://127.0.0.1:6379/14")
    client.flushdb()
    with SimulatorProcess(accounts=1, media_per_account=10, seed=7, calls_per_hour=10**9) as sim:
        account = sim.accounts()[0]
        settings = GraphApiSettings(base_url=sim.base_url, access_token=account["token"], calls_per_hour=10**9)
        hook = InstagramGraphHook(
            settings=settings,
            rate_limiter=RedisRateLimiter(client, limit=10**9),
            throttle=UsageThrottle(client),
        )
        unleased = InstagramGraphHook(
            settings=settings.with_overrides(slot_lease_max=1),
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

        baseline, lean_baseline, ours, ours_unleased = [], [], [], []
        for _ in range(args.rounds):
            baseline.append(plain(session, url, account["token"], args.calls))
            lean_baseline.append(plain(lean, url, account["token"], args.calls))
            ours.append(hooked(hook, account["id"], args.calls))
            ours_unleased.append(hooked(unleased, account["id"], args.calls))
            client.flushdb()

    b, lb = statistics.median(baseline), statistics.median(lean_baseline)
    o, ou = statistics.median(ours), statistics.median(ours_unleased)
    print(f"GET profile on the simulator, {args.calls} calls x {args.rounds} rounds (median of rounds)")
    print(f"{'client':<52}{'ms/call':>10}{'calls/s':>10}")
    print(f"{'baseline: requests.Session(), same endpoint':<52}{b * 1000:>10.3f}{1 / b:>10.0f}")
    print(f"{'baseline: requests.Session(trust_env=False)':<52}{lb * 1000:>10.3f}{1 / lb:>10.0f}")
    print(f"{'ours: InstagramGraphHook (limiter + throttle)':<52}{o * 1000:>10.3f}{1 / o:>10.0f}")
    print(f"{'ours, slot_lease_max=1 (Redis round trip per call)':<52}{ou * 1000:>10.3f}{1 / ou:>10.0f}")
    print(f"overhead vs plain requests: {(o - b) / b * 100:+.1f}% per call (goal: under 10%)")
    print(f"overhead vs the same lean session: {(o - lb) / lb * 100:+.1f}% ({(o - lb) * 1e6:.0f} us: leased slots,")
    print("  usage headers, classification, retry wrapper)")
    print(f"without leases: {(ou - b) / b * 100:+.1f}% vs plain, {(ou - lb) / lb * 100:+.1f}% vs lean")


if __name__ == "__main__":
    main()
