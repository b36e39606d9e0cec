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


def redis_from_connection(conn: Any) -> redis.Redis:
    """A client for an Airflow Redis connection (``instagram_redis``).

    Built here rather than by RedisHook, which ignores the database number in a URI
    (``redis://host:6379/2``) and would silently share database 0 with everything else.
    Short socket timeouts: an unreachable Redis must fail the call fast (closed), not hang.
    """
    extra = conn.extra_dejson
    db = extra.get("db", conn.schema or 0)
    return redis.Redis(
        host=conn.host or "127.0.0.1",
        port=conn.port or 6379,
        db=int(db),
        username=conn.login or None,
        password=conn.password or None,
        ssl=bool(extra.get("ssl", False)),
        socket_timeout=5,
        socket_connect_timeout=5,
    )


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
