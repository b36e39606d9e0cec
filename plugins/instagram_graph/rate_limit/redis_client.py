"""Builds the rate limiter's Redis client and a hook's limiters from its settings.

One Redis (the ``instagram_redis`` connection) holds every budget: the platform window, the
messaging windows and the usage pauses.
"""

from __future__ import annotations

from typing import Any

import redis

from instagram_graph.admission_record import AdmissionRecord
from instagram_graph.rate_limit.budgets import CallBudgets
from instagram_graph.rate_limit.limiter import RedisRateLimiter
from instagram_graph.rate_limit.usage import UsageThrottle
from instagram_graph.settings import GraphApiSettings
from instagram_graph.warehouse_link import WarehouseLink

MAX_CONNECTIONS = 32  # per client, i.e. per task process
POOL_WAIT_SECONDS = 5  # a thread waits this long for a free connection, then the call fails closed


def redis_from_connection(conn: Any) -> redis.Redis:
    """A client for an Airflow Redis connection (``instagram_redis``).

    Built here rather than by RedisHook, which ignores the database number in a URI
    (``redis://host:6379/2``) and would silently share database 0 with everything else.
    Short socket timeouts: an unreachable Redis must fail the call fast (closed), not hang.

    One client serves every thread of a shard task (up to 128): a blocking pool of
    :data:`MAX_CONNECTIONS` lets a thread wait a moment for a free connection (a round trip
    takes well under a millisecond) where redis-py's default pool of 100 raised "Too many
    connections" and failed the account.
    """
    extra = conn.extra_dejson
    db = extra.get("db", conn.schema or 0)
    ssl = bool(extra.get("ssl", False))
    pool = redis.BlockingConnectionPool(
        connection_class=redis.SSLConnection if ssl else redis.Connection,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        host=conn.host or "127.0.0.1",
        port=conn.port or 6379,
        db=int(db),
        username=conn.login or None,
        password=conn.password or None,
        socket_timeout=5,
        socket_connect_timeout=5,
    )
    return redis.Redis(connection_pool=pool)


def platform_limiter(client: redis.Redis, settings: GraphApiSettings, warehouse: WarehouseLink) -> RedisRateLimiter:
    """The platform window, guarded by a durable record of what it admits (a window Redis
    loses is rebuilt from it: see ``instagram_graph.admission_record``)."""
    window = settings.window_seconds
    return RedisRateLimiter(
        client,
        limit=settings.calls_per_hour,
        window_seconds=window,
        record=AdmissionRecord(warehouse, window_seconds=window),
    )


def usage_throttle(client: redis.Redis, settings: GraphApiSettings) -> UsageThrottle:
    """The shared pauses that Meta's usage headers set."""
    return UsageThrottle(client, threshold_pct=settings.usage_threshold_pct)


def call_budgets(platform: RedisRateLimiter, throttle: UsageThrottle, settings: GraphApiSettings) -> CallBudgets:
    """The call budgets (platform, conversations, send) of one hook, with its leased slots."""
    return CallBudgets(
        platform,
        throttle,
        app_id=settings.app_id,
        slot_lease_max=settings.slot_lease_max,
        messaging_calls_per_second=settings.messaging_calls_per_second,
    )
