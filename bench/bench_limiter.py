"""Benchmark: our atomic Lua limiter against the seed's check-then-record, under contention.

N processes start together (a barrier) and hammer ONE account as fast as they can.
For each limiter we measure how many calls were admitted against the limit (anything
above it is over-admission: calls Meta would refuse or count against us), the latency
of one ``acquire`` (p50 / p99, ms) and the total throughput (acquires per second).

The baseline is the seed project's way: trim, ``ZCARD`` to check, then ``ZADD`` to
record, each a separate round trip, with the clock taken from the worker's
``time.time()``. Between the check and the record another worker can check too, so
both take "the last slot".

Three setups: 16 processes in a tight loop (the worst case: 16 runnable processes on
this machine's cores), the same processes paced like workers that make an API call after
each slot, and one process alone (the limiter's own latency). A third row, a bare Redis
PING per "acquire", is the floor any limiter that asks Redis pays in the same setup.

Uses Redis database 14 at 127.0.0.1:6379 by default and FLUSHES THAT DATABASE ONLY
(before each round). Run::

    .venv/bin/python bench/bench_limiter.py [--processes 16 --attempts-per-process 200 --limit 200]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
import uuid
from dataclasses import dataclass

import redis

from instagram_graph.rate_limit import RedisRateLimiter

ACCOUNT = "bench-account"


class CheckThenRecordLimiter:
    """The seed's limiter, kept as the baseline: check and record are separate round trips."""

    def __init__(self, redis_client: redis.Redis, limit: int, window_seconds: float,
                 prefix: str = "ig:naive_rate_limit:") -> None:
        self.redis = redis_client
        self.limit = limit
        self.window_seconds = window_seconds
        self.prefix = prefix

    def acquire(self, account_id: str) -> float:
        key = self.prefix + account_id
        now = time.time()  # the worker's clock, not Redis's
        self.redis.zremrangebyscore(key, "-inf", now - self.window_seconds)
        if self.redis.zcard(key) >= self.limit:  # check ...
            oldest = self.redis.zrange(key, 0, 0, withscores=True)
            return max(0.001, oldest[0][1] + self.window_seconds - now) if oldest else 0.001
        self.redis.zadd(key, {f"{now}:{uuid.uuid4().hex}": now})  # ... then record
        self.redis.expire(key, int(self.window_seconds) + 1)
        return 0.0

    def usage(self, account_id: str) -> int:
        return self.redis.zcount(self.prefix + account_id, time.time() - self.window_seconds, "+inf")


class PingFloor:
    """Not a limiter: one Redis PING per "acquire", the floor any round trip pays here.

    On a small VM an idle process already waits ~0.5 ms for Redis to answer a PING (CPU
    wake-up), and 16 busy processes on 2 cores wait for a core: no limiter that asks
    Redis can be faster than this row.
    """

    def __init__(self, redis_client: redis.Redis, **_: object) -> None:
        self.redis = redis_client

    def acquire(self, account_id: str) -> float:
        self.redis.ping()
        return 0.0

    def usage(self, account_id: str) -> int:
        return 0


LIMITERS = {
    "ours (Lua)": RedisRateLimiter,
    "baseline (check, then record)": CheckThenRecordLimiter,
    "floor: Redis PING, no limiter": PingFloor,
}


def worker(name: str, url: str, limit: int, window: float, attempts: int, pace_ms: float,
           barrier, results) -> None:
    client = redis.Redis.from_url(url)
    limiter = LIMITERS[name](client, limit=limit, window_seconds=window)
    limiter.acquire(f"warm-up-{mp.current_process().pid}")  # connect and load the script first
    latencies_ns = []
    admitted = 0
    barrier.wait()
    for _ in range(attempts):
        start = time.perf_counter_ns()
        wait = limiter.acquire(ACCOUNT)
        latencies_ns.append(time.perf_counter_ns() - start)
        admitted += wait == 0.0
        if pace_ms:
            time.sleep(pace_ms / 1000)  # the Graph API call a worker makes after a slot
    results.put((admitted, latencies_ns))
    client.close()


@dataclass
class RoundResult:
    admitted: int
    recorded: int
    latencies_ms: list[float]
    seconds: float


def run_round(name: str, args: argparse.Namespace) -> RoundResult:
    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()  # database 14 (or --redis-url's) only
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(args.processes + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(name, args.redis_url, args.limit, args.window,
                                         args.attempts_per_process, args.pace_ms, barrier, results))
        for _ in range(args.processes)
    ]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    collected = [results.get(timeout=300) for _ in procs]
    seconds = time.perf_counter() - start
    for proc in procs:
        proc.join()
    limiter = LIMITERS[name](client, limit=args.limit, window_seconds=args.window)
    recorded = limiter.usage(ACCOUNT)
    client.close()
    return RoundResult(
        admitted=sum(a for a, _ in collected),
        recorded=recorded,
        latencies_ms=[ns / 1e6 for _, lat in collected for ns in lat],
        seconds=seconds,
    )


def percentile(values: list[float], pct: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(pct * 10) - 1]


def summarize(name: str, setup: str, rounds: list[RoundResult], limit: int) -> tuple[str, ...]:
    latencies = [ms for r in rounds for ms in r.latencies_ms]
    attempts = sum(len(r.latencies_ms) for r in rounds)
    over = [r.admitted - limit for r in rounds]
    if LIMITERS[name] is PingFloor:
        return (name, setup, "-", "-", f"{percentile(latencies, 50):.3f}",
                f"{percentile(latencies, 99):.3f}", f"{attempts / sum(r.seconds for r in rounds):,.0f}")
    if any(r.recorded != r.admitted for r in rounds):
        print(f"note: {name}, {setup}: recorded in Redis "
              f"{'/'.join(str(r.recorded) for r in rounds)} vs admitted")
    return (
        name,
        setup,
        "/".join(str(r.admitted) for r in rounds),
        f"{max(over):+d} worst, {sum(o > 0 for o in over)}/{len(over)} rounds over",
        f"{percentile(latencies, 50):.3f}",
        f"{percentile(latencies, 99):.3f}",
        f"{attempts / sum(r.seconds for r in rounds):,.0f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("--attempts-per-process", type=int, default=200)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--window", type=float, default=3600.0, help="window in seconds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--single-attempts", type=int, default=2000,
                        help="acquires of the one-process run that measures the limiter's own "
                             "latency without CPU contention (0 to skip)")
    parser.add_argument("--paced-ms", type=float, default=20.0,
                        help="the paced setup: each process sleeps this long after an acquire, "
                             "as a worker waits for its Graph API call (Meta answers in 50-500 ms; "
                             "0 to skip)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    cpus = os.cpu_count()
    print(f"Redis {args.redis_url} (this database is FLUSHED before each round; no other is touched)")
    print(f"{cpus} CPUs, load average {os.getloadavg()[0]:.1f}: with more processes than CPUs, "
          "contended latency is mostly waiting for a CPU, not for Redis")
    print(f"contended: {args.processes} processes x {args.attempts_per_process} acquires on one "
          f"account, limit {args.limit} per {args.window:g} s, {args.rounds} rounds")
    if args.paced_ms:
        print(f"paced: the same, but each process waits {args.paced_ms:g} ms after every acquire "
              "(its API call): workers as they run, not a tight loop")
    if args.single_attempts:
        print(f"1 process: {args.single_attempts} acquires, limit {args.single_attempts // 2} "
              "(half admitted, half refused), 1 round")
    print()

    hammer = argparse.Namespace(**{**vars(args), "pace_ms": 0.0})
    paced = argparse.Namespace(**{**vars(args), "pace_ms": args.paced_ms})
    single = argparse.Namespace(**{**vars(args), "processes": 1, "pace_ms": 0.0,
                                   "attempts_per_process": args.single_attempts,
                                   "limit": max(1, args.single_attempts // 2)})
    rows = []
    for name in LIMITERS:
        rounds = [run_round(name, hammer) for _ in range(args.rounds)]
        rows.append(summarize(name, f"{args.processes} processes", rounds, args.limit))
        if args.paced_ms:
            rounds = [run_round(name, paced) for _ in range(args.rounds)]
            rows.append(summarize(name, f"{args.processes} processes, paced", rounds, args.limit))
        if args.single_attempts:
            rows.append(summarize(name, "1 process", [run_round(name, single)], single.limit))

    header = ("limiter", "setup", "admitted", "over-admission", "p50 ms", "p99 ms", "acquires/s")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
