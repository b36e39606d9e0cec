"""Which window and which pauses guard a call: the platform budget or one of the messaging budgets."""

from __future__ import annotations

import math
from typing import Literal, get_args

from instagram_graph.rate_limit.limiter import Admission, RedisRateLimiter, SlotLeases
from instagram_graph.rate_limit.usage import UsageThrottle

Budget = Literal["platform", "conversations", "send"]
BUDGETS: tuple[str, ...] = get_args(Budget)

# Meta's Send API allows 100 calls/s per account for text (10/s for audio and video, which
# the hook does not send).
SEND_CALLS_PER_SECOND = 100.0
# Meta counts a per-second limit when a request ARRIVES, we when it is admitted; the two
# differ by the request's trip, which varies (a busy worker, a slow connect). Each
# messaging window is this much longer than the pace asks, so two calls admitted a
# window apart still arrive more than a second apart. 0.1 s was not enough on a busy
# worker: shard tasks running 64 threads each on a saturated 2-core machine had about 1 %
# of their conversations calls refused (60 to 110 of 11,000; each pauses the account for
# 10 s); with 0.25 s, a handful. Each account still reads 1.6 times a second.
ARRIVAL_MARGIN_SECONDS = 0.25
# How long to pause when Meta throttles without saying for how long.
PLATFORM_THROTTLE_PAUSE = 300.0  # the platform window is an hour or a day
MESSAGING_THROTTLE_PAUSE = 10.0  # messaging limits are per second: a few seconds, not minutes


def pace_window(calls_per_second: float, margin: float = ARRIVAL_MARGIN_SECONDS) -> tuple[int, float]:
    """``(limit, window_seconds)`` of a sliding window that paces calls at ``calls_per_second``.

    At least one call per window; 2/s is 2 calls per 1.25 s, 0.5/s 1 call per 2.25 s, 2.5/s
    2 calls per 1.05 s (with the default margin).
    """
    if calls_per_second <= 0:
        raise ValueError(f"calls_per_second must be positive, got {calls_per_second}")
    limit = max(1, math.floor(calls_per_second))
    return limit, limit / calls_per_second + margin


class CallBudgets:
    """The budgets a call can spend, each with its own window and its own pauses in Redis.

    * ``platform`` (every call but messaging): ``limit`` calls per ``window_seconds`` per
      account (the platform limiter passed in), slots leased a few at a time
      (:class:`SlotLeases`), paused by the usage headers (app and account keys) and by a
      throttle Meta answers to a platform call.
    * ``conversations`` (listing conversations, reading a conversation and its
      messages): ``messaging_calls_per_second`` per account, Meta's Conversations API
      limit (2/s).
    * ``send`` (``POST /messages``): ``send_calls_per_second`` per account, Meta's Send
      API limit for text (100/s).

    Why the budgets do not pause each other (shared/GRAPH_API.md, "Messaging" and "Rate
    limits and usage headers"): Meta counts messaging apart - "Messaging calls do not
    count against the platform limit", the BUC budget is "messaging excluded" - and
    gives messaging its own per-second limits and its own throttle, 613/2534040. So the
    usage headers and a platform throttle (4, 17, 80002 ...) speak of a budget messaging
    does not spend: pausing DMs for them would delay replies without sparing a single
    platform call. A throttle answered to a messaging call pauses only that account's
    budget of that kind (a read throttle does not hold back sends, which Meta limits
    separately at 100/s); the account's platform calls go on. Every budget is checked
    in one Lua round trip with its own pause keys.

    Messaging slots are not leased: a leased slot is recorded when it is leased, up to a
    second before its call is made. Within an hour that is noise; within a second it
    would let calls bunch at Meta. Each messaging window is ``ARRIVAL_MARGIN_SECONDS``
    longer than the pace asks for the same reason (see :func:`pace_window`).

    Only the platform window keeps a durable record (``platform.record``) and is rebuilt
    when Redis loses it. The messaging windows are not, on purpose: a window of about a
    second rebuilds itself within that second - every call it held has left it by then -
    so losing it can let through at most one window's worth (2 reads, or 100 sends) more,
    once, and Redis takes longer than that to come back anyway. Meta answers such an
    overshoot with 613/2534040, which pauses that budget (above); no call is lost. A
    Postgres write per DM or read (they are not leased) would cost more than it could save.
    """

    def __init__(
        self,
        platform: RedisRateLimiter,
        throttle: UsageThrottle,
        *,
        app_id: str,
        slot_lease_max: int = 8,
        messaging_calls_per_second: float = 2.0,
        send_calls_per_second: float = SEND_CALLS_PER_SECOND,
    ) -> None:
        self.platform = platform
        self.throttle = throttle
        self.app_id = app_id
        self.leases = SlotLeases(platform, max_lease=slot_lease_max)
        self.rates = {"conversations": float(messaging_calls_per_second), "send": float(send_calls_per_second)}
        # On the platform limiter's Redis and below its prefix: one Redis holds every budget.
        self.messaging = {
            budget: RedisRateLimiter(
                platform.redis, *pace_window(rate), prefix=f"{platform.prefix}{budget}:"
            )
            for budget, rate in self.rates.items()
        }

    def pause_keys(self, budget: str, account_id: str) -> tuple[str, ...]:
        _check(budget)
        if budget == "platform":
            return self.throttle.keys(self.app_id, account_id)
        return (self.throttle.messaging_key(budget, account_id),)

    def take(self, budget: str, account_id: str) -> Admission:
        """A slot of ``budget`` for one call of ``account_id``, or how long to wait (nothing recorded)."""
        keys = self.pause_keys(budget, account_id)
        if budget == "platform":
            return self.leases.take(account_id, keys)
        return self.messaging[budget].admit(account_id, keys)

    def waits_inline(self, budget: str, admission: Admission) -> bool:
        """True for the wait of a full messaging window: pacing of at most about a second,
        always waited in the worker (never a deferral), whatever ``max_inline_wait`` says."""
        return budget != "platform" and not admission.paused

    def describe(self, budget: str, admission: Admission) -> str:
        """Why a call of this budget waits, for log lines and errors."""
        if admission.paused:
            if budget == "platform":
                return "Meta's usage headers or a throttle asked for a pause"
            return f"Meta throttled this account's {budget} calls (messaging)"
        if budget == "platform":
            return f"the window of {self.platform.limit} calls per {self.platform.window_seconds:g}s is full"
        return f"{budget} calls are paced at {self.rates[budget]:g}/s"

    def pause(self, budget: str, account_id: str, seconds: float | None) -> float:
        """Meta throttled a call of ``budget``: pause that budget of the account; return the pause.

        ``seconds`` None (Meta gave no regain time) pauses for the budget's default.
        A platform pause also gives back this worker's leased slots.
        """
        _check(budget)
        if not seconds or seconds <= 0:
            seconds = PLATFORM_THROTTLE_PAUSE if budget == "platform" else MESSAGING_THROTTLE_PAUSE
        self.throttle.pause(self.app_id, account_id, seconds, budget=budget)
        if budget == "platform":
            self.leases.release_all()
        return seconds

    def release_all(self) -> int:
        """Give back every unused leased slot (a pause was heard, or the hook closes)."""
        return self.leases.release_all()


def _check(budget: str) -> None:
    if budget not in BUDGETS:
        raise ValueError(f"unknown call budget {budget!r}; one of {', '.join(BUDGETS)}")
