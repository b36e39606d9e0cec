"""The largest page of expanded insights Meta answers for an app, shared by every worker.

Meta refuses a call that asks it to compute too much with code 1, "Please reduce the
amount of data you're asking for" (:class:`~instagram_graph.errors.TooMuchDataError`),
and does not say where its line is. When a page size is refused, half of it is
remembered here, per app and edge, for ``ttl_seconds``: every worker of the connection
starts from the smaller size instead of being refused again, and after the expiry one
walk tries the configured size once more (Meta's line may have moved).
"""

from __future__ import annotations

import logging

import redis

from instagram_graph.rate_limit.unavailable import UNAVAILABLE

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 86_400

# Lower the stored size, never raise it: SET when absent or larger; keep the expiry fresh.
_LOWER_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]))
local wanted = tonumber(ARGV[1])
if current == nil or wanted < current then
  redis.call('SET', KEYS[1], wanted, 'EX', ARGV[2])
  return wanted
end
return current
"""


class PageSizes:
    """Per app and edge, the page size Meta last accepted after refusing a larger one.

    Redis being away is no reason to fail a sync: the sizes then live in this object only
    (the worse outcome is one more refused call in another worker).
    """

    def __init__(
        self, redis_client: redis.Redis, app_id: str, *, prefix: str = "ig:page_size:", ttl_seconds: int = DEFAULT_TTL_SECONDS
    ) -> None:
        self.redis = redis_client
        self.app_id = app_id
        self.prefix = prefix
        self.ttl_seconds = int(ttl_seconds)
        self._local: dict[str, int] = {}
        self._lower = redis_client.register_script(_LOWER_LUA)

    def key(self, edge: str) -> str:
        return f"{self.prefix}{self.app_id}:{edge}"

    def size(self, edge: str, wanted: int) -> int:
        """``wanted``, or less when Meta refused pages that large lately."""
        try:
            stored = self.redis.get(self.key(edge))
        except UNAVAILABLE as exc:
            log.warning("Page sizes not shared (Redis: %s); using this worker's", exc)
            stored = None
        limits = [wanted, self._local.get(edge, wanted)]
        if stored is not None:
            limits.append(int(stored))
        return max(1, min(limits))

    def refused(self, edge: str, size: int) -> int:
        """Meta refused ``size``: remember half of it (at least 1) and return it."""
        smaller = max(1, size // 2)
        self._local[edge] = min(smaller, self._local.get(edge, smaller))
        try:
            return max(1, int(self._lower(keys=[self.key(edge)], args=[smaller, self.ttl_seconds])))
        except UNAVAILABLE as exc:
            log.warning("Page size %d not shared (Redis: %s)", smaller, exc)
            return self._local[edge]
