"""The simulator's clock: wall time plus an offset that tests can move forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache


class SimClock:
    """Wall clock shifted by ``offset`` seconds.

    Windows that matter to clients (24 h messaging, token age, rolling quotas, story
    and container expiry) all read this clock, so ``POST /__sim__/clock`` can cross
    them in a test without sleeping.
    """

    __slots__ = ("offset",)

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds


def iso(ts: float) -> str:
    """Meta's timestamp format: ``2026-01-11T08:00:00+0000``."""
    return _iso(int(ts))


@lru_cache(maxsize=65536)  # media timestamps repeat on every page read
def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


def http_date(ts: float) -> str:
    """The wording Meta uses in token-expiry messages, e.g. ``Wednesday, 15-Jan-26 10:00:00 UTC``."""
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
