"""Fail closed: what the limiter does when its Redis cannot be reached.

Every worker (Celery, local processes, triggerers) must point at the same Redis and database
to share one budget per account. When that Redis cannot be reached the limiter raises
:class:`~instagram_graph.errors.RateLimiterUnavailableError`: no Graph API call is made
without a slot.
"""

from __future__ import annotations

from typing import NoReturn

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from instagram_graph.errors import RateLimiterUnavailableError

# Redis errors that mean "the limiter is not there", as opposed to a bug in our commands.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)


def redis_location(client: redis.Redis) -> str:
    """The client's Redis URL without the password, for error messages and logs."""
    kwargs = client.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={db}"
    scheme = "rediss" if "SSL" in client.connection_pool.connection_class.__name__ else "redis"
    user = f"{kwargs['username']}@" if kwargs.get("username") else ""
    return f"{scheme}://{user}{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


def fail_closed(client: redis.Redis, exc: Exception) -> NoReturn:
    """Raise the limiter's "Redis cannot be reached" error for ``exc`` (one of :data:`UNAVAILABLE`)."""
    raise RateLimiterUnavailableError(
        f"Rate limiter Redis at {redis_location(client)} cannot be reached "
        f"({type(exc).__name__}: {exc}). No Graph API call is made without a rate-limit slot "
        "(fail closed): check that Redis is running and reachable from this worker, and that "
        "the Redis connection configured for the Instagram hook points at it."
    ) from exc
