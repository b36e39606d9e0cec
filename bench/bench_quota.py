"""Quota benchmark: Graph API calls per synced record, ours vs the one-call-per-item way.

Media, against the simulator (127.0.0.1) with one account of N media:
- ours, full: the media stream's first run (pages of 100, children by field expansion);
- ours, incremental: the next run (stops at the look-back window);
- baseline: what many connectors do - list ids page by page (default page size), then
  one call per media for its details and one per carousel child.
Goal: a full sync of N media costs at most ceil(N/100) + 1 calls.

Media insights, one account of 1,000 media over two years (mixed kinds, the oldest 15 %
posted before the business conversion, ``saved`` refused for reels): the first read of
everything (``max_age_days`` 730; the type-specific metrics of media in their windows),
then a daily run a day later, by our road (field expansion on the media edge) and by the
per-media baseline asking the same metrics of the same media, one call per media.
Goals: the first read at most 80 calls, the daily run at most 10, rows equal.

Calls are counted by the simulator's request log.

    AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING .venv/bin/python bench/bench_quota.py [--media 2000] [--insights-media 1000]

(``make bench`` sets the log level: the refused pages the ladder walks through are logged at INFO.)
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import requests

from graph_api_sim.testing import SimulatorProcess
from instagram_graph.errors import InsightsUnavailableError, InvalidRequestError
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.metrics import media_metrics
from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
from instagram_graph.settings import GraphApiSettings
from instagram_graph.sync import SyncRun
from instagram_graph.sync.media import sync_media
from instagram_graph.sync.media_insights import insights_of, sync_media_insights

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


Answers = dict[tuple[str, str], Any]  # (media id, metric) -> the value Meta gave


class RecordingHook(InstagramGraphHook):
    """Our hook, noting every insights value Meta answers: what a run read."""

    answers: Answers

    def get_insights_page(self, *args: Any, **kwargs: Any) -> Any:
        page = super().get_insights_page(*args, **kwargs)
        for media in page.data:
            for insight in insights_of(media):
                self.answers[(str(media["id"]), insight["name"])] = insight["values"][0]["value"]
        return page

    def get_media_insights(self, account_id: str, media_id: str, metrics: Any, **kwargs: Any) -> Any:
        insights = super().get_media_insights(account_id, media_id, metrics, **kwargs)
        for insight in insights:
            self.answers[(media_id, insight["name"])] = insight["values"][0]["value"]
        return insights


def _hook(sim: SimulatorProcess, client: redis.Redis, token: str) -> RecordingHook:
    settings = GraphApiSettings(base_url=sim.base_url, access_token=token, calls_per_hour=10**6, audit_calls=False)
    hook = RecordingHook(
        settings=settings, rate_limiter=RedisRateLimiter(client, limit=10**6), throttle=UsageThrottle(client)
    )
    hook.answers = {}
    return hook


def _stored(conn: Any) -> Answers:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT media_id, metric, value FROM instagram.media_insights")
        return {(m, metric): value for m, metric, value in cur.fetchall()}


def _baseline(hook: RecordingHook, account_id: str, media: list[tuple[str, str, str]], plan: dict[str, list[str]],
              unavailable: set[str], refused: dict[tuple[str, str], set[str]]) -> None:
    """One call per media: the metrics ours read for it, or (not read by ours) its whole set
    less the metrics Meta refused for its kind (learnt as it goes, as a careful connector does)."""
    for media_id, media_type, product_type in media:
        if media_id in unavailable:
            continue
        kind = (product_type, media_type)
        metrics = plan.get(media_id) or [m for m in media_metrics(product_type, media_type)
                                         if m not in refused.get(kind, set())]
        while metrics:
            try:
                hook.get_media_insights(account_id, media_id, metrics)
                break
            except InsightsUnavailableError:
                unavailable.add(media_id)
                break
            except InvalidRequestError as exc:
                named = [m for m in metrics if f"metric {m} " in exc.api_message]
                if not named:
                    raise
                refused.setdefault(kind, set()).update(named)
                metrics = [m for m in metrics if m not in named]


def bench_media_insights(media_count: int, client: redis.Redis) -> list[str]:
    """The first read and the daily run a day later, ours and the per-media baseline."""
    options = {"max_age_days": 730}
    lines = []
    with SimulatorProcess(accounts=1, media_per_account=media_count, seed=11, calls_per_hour=10**6,
                          extra_args=["--pre-business-share", "0.15"]) as sim:
        account = sim.accounts()[0]
        conn = fresh_warehouse()
        client.flushdb()
        sim.configure(refused_media_metrics={"REELS": ["saved"]})
        hook = _hook(sim, client, account["token"])
        now = datetime.now(UTC)
        sync_media(SyncRun(hook=hook, conn=conn, account_id=account["id"], interval_start=now, interval_end=now))
        with conn, conn.cursor() as cur:
            cur.execute("SELECT media_id, media_type, media_product_type FROM instagram.media "
                        "WHERE media_product_type IS DISTINCT FROM 'STORY' ORDER BY \"timestamp\" DESC")
            feed = cur.fetchall()

        ours = []
        for label, at in (("first read", now), ("daily run a day later", now + timedelta(days=1))):
            if at != now:
                sim.advance_clock(86_400)
            sim.clear_requests()
            hook.answers = {}
            started = time.perf_counter()
            sync_media_insights(SyncRun(hook=hook, conn=conn, account_id=account["id"],
                                                 interval_start=at - timedelta(days=1), interval_end=at,
                                                 options=options))
            wall = time.perf_counter() - started
            requests_ = sim.requests()
            expanded = sum("insights.metric" in str(r["params"].get("fields", "")) for r in requests_)
            alone = sum(r["path"].endswith("/insights") for r in requests_)
            split = f"{expanded} expanded pages, {len(requests_) - expanded - alone} plain, {alone} per media"
            ours.append((label, len(requests_), wall, dict(hook.answers), split))
        stored = _stored(conn)
        conn.close()

        sim.reset()
        sim.configure(refused_media_metrics={"REELS": ["saved"]})
        baseline_hook = _hook(sim, client, account["token"])
        unavailable: set[str] = set()
        refused: dict[tuple[str, str], set[str]] = {}
        for index, (label, calls, wall, answers, split) in enumerate(ours):
            if index:
                sim.advance_clock(86_400)
            plan: dict[str, list[str]] = {}
            for media_id, metric in answers:
                plan.setdefault(media_id, []).append(metric)
            # The first read asks every media; the daily run the media ours read (the same rules made them due).
            media = feed if index == 0 else [m for m in feed if m[0] in plan]
            sim.clear_requests()
            baseline_hook.answers = {}
            started = time.perf_counter()
            _baseline(baseline_hook, account["id"], media, plan, unavailable, refused)
            baseline_calls, baseline_wall = len(sim.requests()), time.perf_counter() - started
            equal = baseline_hook.answers == answers and all(
                float(stored[key]) == float(value) for key, value in answers.items())
            lines.append(
                f"media insights ({label}): {media_count} media, ours {calls} calls, per-media baseline "
                f"{baseline_calls} calls, rows equal: {'yes' if equal else 'NO'} "
                f"(ours {wall:.2f} s, baseline {baseline_wall:.2f} s; {len(answers)} values of "
                f"{len({m for m, _ in answers})} media; ours: {split})"
            )
        first, daily = ours[0][1], ours[1][1]
        lines.append(
            f"goals: first read <= 80 calls: {'met' if first <= 80 else 'NOT met'} ({first}); "
            f"daily run <= 10 calls: {'met' if daily <= 10 else 'NOT met'} ({daily})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=int, default=2000)
    parser.add_argument("--insights-media", type=int, default=1000)
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
    print()
    for line in bench_media_insights(args.insights_media, client):
        print(line)


if __name__ == "__main__":
    main()
