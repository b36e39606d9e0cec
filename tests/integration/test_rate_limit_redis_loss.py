"""The platform limit holds when Redis loses its data mid-window.

16 processes (as 16 Celery worker slots would), each with its own hook, hammer one account
whose limit is 200 calls per 20 s window, through real HTTP to the simulator. Halfway
through the window the limiter's Redis, a private ``redis-server`` without persistence
started by this test, is killed and started again empty. The limiter must notice that the
window is gone and rebuild it from the durable record in Postgres: at most 200 calls may
reach the simulator in any rolling 20 s, counted from the simulator's own request log.
(Without the rebuild the restarted Redis hands out a fresh 200 at once: 400 in a window.)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import time

import pytest
import redis

from graph_api_sim.testing import free_port

PROCESSES = 16
LIMIT = 200
WINDOW = 20  # seconds: short, to keep the test fast; the rule is the same for an hour
RUN_SECONDS = 1.5 * WINDOW + 4  # past the moment the rebuilt window frees its slots
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

pytestmark = pytest.mark.slow


class PrivateRedis:
    """A redis-server of our own on a free loopback port, without any persistence."""

    def __init__(self, workdir) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


def _worker(env: dict[str, str], account_id: str, base_url: str, token: str, barrier, results) -> None:
    """One worker: its own hook (Redis and warehouse from the environment), calls until the end."""
    os.environ.update(env)
    from instagram_graph.errors import RateLimitError, RateLimiterUnavailableError, TransientError
    from instagram_graph.hooks.graph_api import InstagramGraphHook
    from instagram_graph.settings import GraphApiSettings

    settings = GraphApiSettings(
        base_url=base_url, access_token=token, calls_per_hour=LIMIT, window_seconds=WINDOW,
        max_inline_wait=0, timeout=5, max_attempts=1,
    )
    hook = InstagramGraphHook(settings=settings)
    made = refused = unavailable = 0
    barrier.wait(timeout=120)
    deadline = time.time() + RUN_SECONDS
    while (left := deadline - time.time()) > 0:
        try:
            hook.get_profile(account_id, fields="id")
            made += 1
        except RateLimitError as exc:
            refused += 1
            time.sleep(min(exc.retry_after or 0.1, 0.25, left))
        except RateLimiterUnavailableError:  # Redis is down: fail closed, try again shortly
            unavailable += 1
            time.sleep(0.05)
        except TransientError:
            time.sleep(0.05)
    hook.close()
    results.put({"made": made, "refused": refused, "unavailable": unavailable})


def most_in_any_window(times: list[float], window: float) -> int:
    """The most entries of ``times`` inside any rolling ``window`` (half-open, [t, t + window))."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_most_in_any_window_counts_rolling_windows() -> None:
    assert most_in_any_window([0, 1, 2, 10, 10.5, 11, 11.9, 12], 2) == 4
    assert most_in_any_window([0, 1.99, 2], 2) == 2
    assert most_in_any_window([], 2) == 0


def test_redis_restarted_empty_mid_window_lets_no_more_than_the_limit_through(
    private_redis, sim, schema, warehouse, account
) -> None:
    sim.configure(calls_per_hour=10**7)  # the simulator's own limit stays out of the way
    env = {
        "AIRFLOW_CONN_INSTAGRAM_REDIS": private_redis.url,
        "INSTAGRAM_WAREHOUSE_DSN": schema,
    }
    ctx = mp.get_context("fork")  # the parent has imported Airflow already: forks start at once
    barrier = ctx.Barrier(PROCESSES + 1)
    results = ctx.Queue()
    sim.clear_requests()
    procs = [
        ctx.Process(target=_worker, args=(env, account["id"], sim.base_url, account["token"], barrier, results))
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=120)
        started = time.time()
        time.sleep(WINDOW / 2)
        private_redis.kill()  # no persistence: every window, sentinel and pause is gone
        private_redis.start()
        restarted = time.time()
        per_worker = [results.get(timeout=RUN_SECONDS + 60) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
    assert all(proc.exitcode == 0 for proc in procs)

    made = sim.requests(account_id=account["id"])
    times = [r["time"] for r in made]
    most = most_in_any_window(times, WINDOW)
    print(f"\ncalls that reached the simulator: {len(times)}; most in any rolling {WINDOW}s: {most} "
          f"(limit {LIMIT}); Redis restarted {restarted - started:.1f}s into the run")
    assert sum(w["made"] for w in per_worker) == len(times)
    assert len([t for t in times if t < restarted]) == LIMIT, "the first window was used up before the loss"
    assert len([t for t in times if t > restarted]) > 0, "calls went on after the restart"
    assert most <= LIMIT
    # every admitted slot was recorded (leased ones that went unused too), through the hook's
    # own warehouse connection (INSTAGRAM_WAREHOUSE_DSN, as db.connect reads it)
    (recorded,) = warehouse(
        "SELECT sum(calls) FROM instagram.rate_limit_admissions WHERE account_id = %s", (account["id"],))[0]
    assert recorded >= len(times)
