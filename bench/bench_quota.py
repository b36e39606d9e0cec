"""Quota benchmark: Graph API calls per synced record, ours vs the one-call-per-item way.

Against the simulator (127.0.0.1) with one account of N media:
- ours, full: the media stream's first run (pages of 100, children by field expansion);
- ours, incremental: the next run (stops at the look-back window);
- baseline: what many connectors do - list ids page by page (default page size), then
  one call per media for its details and one per carousel child.
Calls are counted by the simulator's request log. Goal: a full sync of N media costs at
most ceil(N/100) + 1 calls.

    .venv/bin/python bench/bench_quota.py [--media 2000]
"""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime

import redis
import requests

from graph_api_sim.testing import SimulatorProcess
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
from instagram_graph.settings import GraphApiSettings
from instagram_graph.sync import SyncRun
from instagram_graph.sync.media import sync_media

from bench_support import fresh_warehouse


def naive_sync(base_url: str, account_id: str, token: str) -> int:
    """List ids, then fetch every media and every carousel child with its own call."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    records = 0
    after = None
    while True:
        params = {"fields": "id", **({"after": after} if after else {})}
        page = session.get(f"{base_url}/v24.0/{account_id}/media", params=params, headers=headers, timeout=30).json()
        for item in page["data"]:
            media = session.get(
                f"{base_url}/v24.0/{item['id']}",
                params={"fields": "id,caption,media_type,media_url,permalink,timestamp,like_count,comments_count,children"},
                headers=headers,
                timeout=30,
            ).json()
            records += 1
            for child in (media.get("children") or {}).get("data", []):
                session.get(f"{base_url}/v24.0/{child['id']}", params={"fields": "id,media_type,media_url"},
                            headers=headers, timeout=30).json()
                records += 1
        if not page.get("paging", {}).get("next"):
            return records
        after = page["paging"]["cursors"]["after"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=int, default=2000)
    args = parser.parse_args()

    conn = fresh_warehouse()
    client = redis.Redis.from_url("redis://127.0.0.1:6379/14")
    client.flushdb()
    rows = []
    with SimulatorProcess(accounts=1, media_per_account=args.media, seed=11, calls_per_hour=10**6) as sim:
        account = sim.accounts()[0]
        settings = GraphApiSettings(base_url=sim.base_url, access_token=account["token"], calls_per_hour=10**6)
        hook = InstagramGraphHook(
            settings=settings, rate_limiter=RedisRateLimiter(client, limit=10**6), throttle=UsageThrottle(client)
        )
        now = datetime.now(UTC)
        for label in ("ours: full sync (first run)", "ours: incremental sync (next run)"):
            sim.clear_requests()
            result = sync_media(SyncRun(hook=hook, conn=conn, account_id=account["id"], interval_start=now, interval_end=now))
            records = result.rows_received["media"] + result.rows_received["media_children"]
            rows.append((label, len(sim.requests()), records))

        sim.clear_requests()
        records = naive_sync(sim.base_url, account["id"], account["token"])
        rows.append(("baseline: ids, then one call per media/child", len(sim.requests()), records))
    conn.close()

    media = args.media
    print(f"Media sync of one account with {media:,} media (simulator on 127.0.0.1)")
    print(f"{'approach':<48}{'calls':>8}{'records':>10}{'calls/record':>14}")
    for label, calls, records in rows:
        print(f"{label:<48}{calls:>8,}{records:>10,}{calls / max(records, 1):>14.4f}")
    goal = math.ceil(media / 100) + 1
    print(f"full sync: {rows[0][1]} calls for {media:,} media; goal ceil(N/100)+1 = {goal}: "
          f"{'met' if rows[0][1] <= goal else 'NOT met'}; baseline used {rows[2][1] / rows[0][1]:.0f}x the calls")


if __name__ == "__main__":
    main()
