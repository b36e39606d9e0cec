"""Call counting, usage headers and throttling.

Each account has a rolling one-hour window of calls (Business Use Case limits are kept
per app and account); the app as a whole is limited to ``calls_per_hour`` times the
number of accounts. Percentages go out in ``X-Business-Use-Case-Usage`` (nested by
account id, regain time in minutes) and ``X-App-Usage``; a header is left out while its
call share rounds down to 0 %, because Meta sends them only after some calls.

Messaging calls are not counted there: they have per-second limits of their own
(``BurstLimiter``) and answer 613/2534040 beyond them.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from . import catalog
from .clock import SimClock
from .config import Settings
from .errors import GraphError

_COMPACT = (",", ":")


class UsageMeter:
    def __init__(self, clock: SimClock, settings: Settings, account_ids: list[str]) -> None:
        self._clock = clock
        self._settings = settings
        self._calls: dict[str, deque[float]] = {account_id: deque() for account_id in account_ids}
        self._app_calls: deque[float] = deque()
        self._regain_override: dict[str, int] = {}

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

    def headers(self, account_id: str | None, *, regain_minutes: int | None = None) -> list[tuple[bytes, bytes]]:
        if not self._settings.usage_headers:
            return []
        now = self._clock.now()
        limit = self._settings.calls_per_hour
        out: list[tuple[bytes, bytes]] = []
        self._prune(self._app_calls, now)
        app_pct = 100 * len(self._app_calls) // (limit * max(1, len(self._calls)))
        if app_pct > 0:
            out.append((b"x-app-usage", _json(_shares(app_pct))))
        if account_id is not None and account_id in self._calls:
            window = self._calls[account_id]
            self._prune(window, now)
            pct = min(100, 100 * len(window) // limit)
            regain = self.regain_minutes(account_id) if regain_minutes is None else regain_minutes
            if regain:
                pct = 100
            if pct > 0:
                entry = {"type": "instagram", **_shares(pct), "estimated_time_to_regain_access": regain}
                out.append((b"x-business-use-case-usage", _json({account_id: [entry]})))
        return out


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


def _shares(call_pct: int) -> dict[str, int]:
    # CPU and total time are not simulated; they follow the call share at a lower level.
    return {"call_count": call_pct, "total_cputime": call_pct * 3 // 5, "total_time": call_pct * 4 // 5}


def _json(value: object) -> bytes:
    return json.dumps(value, separators=_COMPACT).encode()


def throttle_error(code: int, http_status: int | None = None) -> GraphError:
    error = GraphError(f"throttle_{code}")
    if http_status is not None:
        error.spec = replace(error.spec, http_status=http_status)
    return error
