"""Fixtures for hook tests: a hook wired to the simulator, real Postgres and real Redis."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest

from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.settings import GraphApiSettings

# settle_seconds: after a lost answer, publish and DM jobs look it up this long after (the
# request timeout at least); short here so tests with lost answers stay quick.
FAST_RETRIES = {"retry_base_delay": 0.02, "retry_max_delay": 0.2, "max_inline_wait": 2.0, "timeout": 2.0,
                "settle_seconds": 2.0}


def sim_hosts(sim) -> dict[str, Any]:
    """Settings that point both Graph API hosts (and the Facebook app) at the simulator: no
    test may reach graph.facebook.com, whatever login its accounts use."""
    return {"base_url": sim.base_url, **sim.facebook_extra()}


def when_settled(step: Callable[[], Any], *, waits: int = 5) -> Any:
    """Run ``step`` (advancing a publish or DM job); after each unknown outcome wait the
    time it names and run it again, as the operators do after their deferral."""
    from instagram_graph.jobs import OutcomeUnsettled

    for _ in range(waits):
        try:
            return step()
        except OutcomeUnsettled as exc:
            time.sleep(exc.wait_seconds + 0.05)
    return step()


@pytest.fixture
def make_hook(sim, token_store, redis_client) -> Iterator[Callable[..., InstagramGraphHook]]:
    """Build hooks on the simulator; each shares Redis (like workers do) but not memory."""
    from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle

    hooks: list[InstagramGraphHook] = []

    def build(calls_per_hour: int = 10_000, **overrides) -> InstagramGraphHook:
        settings = GraphApiSettings(calls_per_hour=calls_per_hour, **{**sim_hosts(sim), **FAST_RETRIES, **overrides})
        hook = InstagramGraphHook(
            settings=settings,
            token_store=token_store,
            rate_limiter=RedisRateLimiter(redis_client, limit=calls_per_hour, window_seconds=settings.window_seconds),
            throttle=UsageThrottle(redis_client, threshold_pct=settings.usage_threshold_pct),
        )
        hooks.append(hook)
        return hook

    yield build
    for hook in hooks:
        hook.close()


@pytest.fixture
def hook(make_hook) -> InstagramGraphHook:
    return make_hook()


@pytest.fixture
def connect(schema) -> Iterator[Callable[[], psycopg2.extensions.connection]]:
    """Open autocommit warehouse connections (as jobs.open_warehouse does); all closed after."""
    conns = []

    def new():
        conn = psycopg2.connect(schema)
        conn.autocommit = True
        conns.append(conn)
        return conn

    yield new
    for conn in conns:
        conn.close()


@pytest.fixture
def account(sim) -> dict:
    """The first simulator account (its id, token and truth)."""
    return sim.accounts()[0]


@pytest.fixture
def task_logs(caplog, capsys):
    """Everything logged so far: stdlib records and Airflow's structlog output on stdout/stderr."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def read() -> str:
        out, err = capsys.readouterr()
        seen.extend([out, err])
        return caplog.text + "".join(seen)

    return read


@pytest.fixture
def run_stream(hook, schema, account):
    """``run_stream(stream, start=, end=, hook=, **options) -> SyncResult``: one stream for the
    first account, in-process, on its own warehouse connection."""
    from datetime import UTC, datetime, timedelta

    from instagram_graph.sync import STREAMS, SyncRun

    conns = []
    default_hook = hook

    def run(stream: str, *, start=None, end=None, hook=None, **options):
        conn = psycopg2.connect(schema)
        conns.append(conn)
        end = end or datetime.now(UTC)
        sync = SyncRun(hook=hook or default_hook, conn=conn, account_id=account["id"],
                       interval_start=start or end - timedelta(days=1), interval_end=end, options=options)
        return STREAMS[stream](sync)

    yield run
    for conn in conns:
        conn.close()

