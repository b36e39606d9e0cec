"""Call counting and throttling: the platform's hourly limit and the messaging APIs' per-second ones.

Each account has a rolling one-hour window of calls (Business Use Case limits are kept
per app and account); the app as a whole is limited to ``calls_per_hour`` times the
number of accounts. The shares go out in Meta's usage headers (``usage_headers.py``).

Messaging calls are not counted there: they have per-second limits of their own
(``BurstLimiter``) and answer 613/2534040 beyond them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from . import catalog
from .clock import SimClock
from .config import Settings
from .errors import GraphError


class UsageMeter:
    def __init__(self, clock: SimClock, settings: Settings, account_ids: list[str]) -> None:
        self._clock = clock
        self._settings = settings
        self._calls: dict[str, deque[float]] = {account_id: deque() for account_id in account_ids}
        self._app_calls: deque[float] = deque()

    def _prune(self, window: deque[float], now: float) -> None:
        horizon = now - catalog.USAGE_WINDOW_SECONDS
        while window and window[0] <= horizon:
            window.popleft()

    def admit(self, account_id: str) -> None:
        """Count one call, or raise the configured throttle error when the account is at its limit."""
        now = self._clock.now()
        window = self._calls[account_id]
        self._prune(window, now)
        limit = self._settings.calls_per_hour
        if len(window) >= limit:
            raise throttle_error(self._settings.throttle_code)
        window.append(now)
        self._app_calls.append(now)

    def charge(self, account_id: str, count: int) -> None:
        """Count ``count`` more calls of an answer already admitted (a heavy call weighs more), never refusing:
        the calls after it are the ones throttled."""
        if count <= 0:
            return
        now = self._clock.now()
        self._calls[account_id].extend([now] * count)
        self._app_calls.extend([now] * count)

    def regain_minutes(self, account_id: str) -> int:
        """Minutes until the account may call again (0 while it is under its limit)."""
        now = self._clock.now()
        window = self._calls[account_id]
        self._prune(window, now)
        excess = len(window) - self._settings.calls_per_hour
        if excess < 0:
            return 0
        frees_at = window[excess] + catalog.USAGE_WINDOW_SECONDS
        return max(1, math.ceil((frees_at - now) / 60))

    def app_share(self) -> int:
        """The app's calls in the last hour, in percent of what all its accounts may make together."""
        self._prune(self._app_calls, self._clock.now())
        return 100 * len(self._app_calls) // (self._settings.calls_per_hour * max(1, len(self._calls)))

    def account_share(self, account_id: str) -> int | None:
        """The account's calls in the last hour, in percent of its limit (None: not an account of the app)."""
        window = self._calls.get(account_id)
        if window is None:
            return None
        self._prune(window, self._clock.now())
        return min(100, 100 * len(window) // self._settings.calls_per_hour)


class BurstLimiter:
    """At most ``limit()`` calls per account in any one second (0: unlimited); refused calls do not count."""

    def __init__(self, clock: SimClock, limit: Callable[[], int]) -> None:
        self._clock = clock
        self._limit = limit
        self._calls: dict[str, deque[float]] = {}

    def admit(self, account_id: str) -> None:
        limit = self._limit()
        if limit <= 0:
            return
        now = self._clock.now()
        window = self._calls.setdefault(account_id, deque())
        while window and window[0] <= now - 1:
            window.popleft()
        if len(window) >= limit:
            raise GraphError("messaging_throttle")
        window.append(now)


def throttle_error(code: int, http_status: int | None = None) -> GraphError:
    error = GraphError(f"throttle_{code}")
    if http_status is not None:
        error.spec = replace(error.spec, http_status=http_status)
    return error
