"""Our own call budget per account, and Meta's feedback on it, shared by every worker through Redis.

Both live in Redis so that any number of Airflow workers (Celery, local processes,
triggerers) see one state, and time always comes from Redis, never from the worker's clock:

* :mod:`~instagram_graph.rate_limit.limiter` - our budget: :class:`RedisRateLimiter`, a
  sliding window per account checked and recorded in ONE Lua script, and
  :class:`SlotLeases`, which takes its slots a few at a time.
* :mod:`~instagram_graph.rate_limit.usage` - Meta's feedback: :func:`parse_usage_headers`
  reads ``X-App-Usage`` and ``X-Business-Use-Case-Usage``; :class:`UsageThrottle` turns them
  into pauses every worker of the account (or app) waits out.
* :mod:`~instagram_graph.rate_limit.budgets` - :class:`CallBudgets`: which window and which
  pauses guard a call (the platform budget, or the messaging budgets Meta counts apart).
* :mod:`~instagram_graph.rate_limit.redis_client` - builds the Redis client and a hook's
  limiters from its settings; :mod:`~instagram_graph.rate_limit.unavailable` - fail closed
  when that Redis cannot be reached.
"""

from instagram_graph.rate_limit.budgets import (
    BUDGETS,
    MESSAGING_THROTTLE_PAUSE,
    PLATFORM_THROTTLE_PAUSE,
    Budget,
    CallBudgets,
    pace_window,
)
from instagram_graph.rate_limit.limiter import SENTINEL, Admission, RedisRateLimiter, SlotLeases
from instagram_graph.rate_limit.unavailable import redis_location
from instagram_graph.rate_limit.usage import UsageReport, UsageThrottle, parse_usage_headers

__all__ = [
    "BUDGETS",
    "MESSAGING_THROTTLE_PAUSE",
    "PLATFORM_THROTTLE_PAUSE",
    "SENTINEL",
    "Admission",
    "Budget",
    "CallBudgets",
    "RedisRateLimiter",
    "SlotLeases",
    "UsageReport",
    "UsageThrottle",
    "pace_window",
    "parse_usage_headers",
    "redis_location",
]
