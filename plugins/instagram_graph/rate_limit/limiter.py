"""Our own call budget per account: a sliding window in Redis, atomic across workers.

:class:`RedisRateLimiter` keeps a sliding window of call timestamps per account. The
check ("is there a free slot?") and the record ("this call takes it") run as ONE Lua
script, so two workers can never both see the last free slot. A separate check then
record, as the seed did, lets concurrent workers overshoot the limit.
:class:`SlotLeases` takes slots a few at a time when calls come fast.

Time always comes from Redis (``TIME`` inside Lua), never from the worker's clock:
workers on different hosts drift, Redis is the one clock they share.

When Redis LOSES its data (a restart without persistence, an eviction, a failover to an
empty replica) an empty window must not be trusted: it would hand out a fresh ``limit`` at
once. A limiter built with a durable ``record`` (the hook's platform window; see
:mod:`instagram_graph.admission_record`) keeps a sentinel member INSIDE each window's own
sorted set (so whatever loses the key loses the sentinel too), and admits nothing from a
window without it. The first worker to find it missing rebuilds the window from the
record in Postgres, atomically (:data:`SEED_LUA`: one worker seeds, the others find the
seeded window); each recorded minute's calls count at the END of their minute (never in
the future), which keeps them in the window at least as long as they really are. Where
the record cannot be read (warehouse unreachable or not configured, migration 010 not
applied) the window is rebuilt as if it had been FULL, its ``limit`` calls spread evenly
over the last window: calls resume at the average pace (one every ``window / limit``
seconds) and the whole budget is back once a full window has passed.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from string import Template
from typing import Any, NamedTuple

import redis

from instagram_graph.admission_record import AdmissionRecord, RecordUnavailable
from instagram_graph.errors import RateLimiterUnavailableError
from instagram_graph.rate_limit.unavailable import UNAVAILABLE, fail_closed, redis_location

log = logging.getLogger(__name__)

# The admission script's answer for a guarded window whose sentinel is gone; how often a
# call rebuilds before it gives up (the window vanishing again and again: a flush loop).
_LOST = 3
_REBUILD_TRIES = 3

# --- Lua ------------------------------------------------------------------------------------

# The member that marks a window as built by us (score +inf: never trimmed, never counted).
SENTINEL = "~built"
# A guarded window's key outlives its newest entry by a minute, so an account that went
# quiet is rebuilt only after its last recorded minute has left the window (empty rebuild).
GUARDED_TTL_EXTRA_MS = 60_000

# KEYS[1] = the account's window (sorted set: score = call time in us, member unique);
# KEYS[2..] = optional pause keys (see UsageThrottle), checked first in the same round trip.
# ARGV = limit, window in us, a random nonce, slots wanted, guarded (1 or 0), then members
# to release (slots of an earlier lease that were never used: removed first, so they count
# no more). Up to `wanted` slots are recorded as `nonce:1`, `nonce:2`, ... (the random nonce
# keeps two workers' members apart; the client can name them to release them). Near the
# limit a lease shrinks to a quarter of what is free, so the last slots spread over the
# workers. A guarded window admits nothing without its sentinel (Redis lost it: rebuild).
# Returns {0, slots granted, now}, {1, ms until a slot frees, now}, {2, ms left of a pause,
# now} or {3, 0, now} (guarded and the sentinel is missing); now = Redis time in us.
# Only a grant records anything.
ACQUIRE_LUA = Template("""
local key = KEYS[1]
if #ARGV > 5 then
  redis.call('ZREM', key, unpack(ARGV, 6))
end
local guarded = ARGV[5] == '1'
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
if guarded and not redis.call('ZSCORE', key, '$sentinel') then
  return {3, 0, now_us}
end
local paused = 0
for i = 2, #KEYS do
  local pttl = redis.call('PTTL', KEYS[i])
  if pttl > paused then paused = pttl end
end
if paused > 0 then
  return {2, paused, now_us}
end
local limit = tonumber(ARGV[1])
local window_us = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now_us - window_us)
local count = redis.call('ZCARD', key)
if guarded then count = count - 1 end
if count < limit then
  local grant = math.min(tonumber(ARGV[4]), math.max(1, math.floor((limit - count) / 4)))
  local entries = {}
  for i = 1, grant do
    entries[2 * i - 1] = now_us
    entries[2 * i] = ARGV[3] .. ':' .. i
  end
  redis.call('ZADD', key, unpack(entries))
  local ttl_ms = math.ceil(window_us / 1000)
  if guarded then ttl_ms = ttl_ms + $extra end
  redis.call('PEXPIRE', key, ttl_ms)
  return {0, grant, now_us}
end
-- The slot frees when the entry that puts us at the limit leaves the window. That is
-- the oldest one unless the limit was lowered since the entries were recorded.
local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
local wait_us = tonumber(entry[2]) + window_us - now_us
return {1, math.max(1, math.ceil(wait_us / 1000)), now_us}
""").substitute(sentinel=SENTINEL, extra=GUARDED_TTL_EXTRA_MS)

# Rebuilds a guarded window Redis lost, atomically: only if the sentinel is still missing
# (the first worker seeds; the others find its window and seed nothing).
# KEYS[1] = the account's window; ARGV = window in us, limit, mode, then for mode 'record'
# pairs of (end of a recorded minute in us, calls admitted in that minute). Each minute's
# calls are entered at the END of their minute, or now if that is later than now (never in
# the future), and only if still inside the window. Mode 'guess' (no record to read): the
# window is taken as full, `limit` calls spread evenly over it, the newest one now.
# Entries already in the key stay (written by an unguarded writer: they count too).
# Returns {1, entries seeded} or {0, 0} when the window was already rebuilt.
SEED_LUA = Template("""
local key = KEYS[1]
if redis.call('ZSCORE', key, '$sentinel') then
  return {0, 0}
end
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window_us = tonumber(ARGV[1])
local oldest = now_us - window_us
local batch, seeded = {}, 0
local function add(score, member)
  batch[#batch + 1] = score
  batch[#batch + 1] = member
  seeded = seeded + 1
  if #batch >= 1000 then
    redis.call('ZADD', key, unpack(batch))
    batch = {}
  end
end
if ARGV[3] == 'guess' then
  local limit = tonumber(ARGV[2])
  for k = 1, limit do
    add(oldest + k * window_us / limit, 'guess:' .. k)
  end
else
  for i = 4, #ARGV - 1, 2 do
    local score = math.min(tonumber(ARGV[i]), now_us)
    if score > oldest then
      for c = 1, tonumber(ARGV[i + 1]) do
        add(score, 'seed:' .. ARGV[i] .. ':' .. c)
      end
    end
  end
end
if #batch > 0 then
  redis.call('ZADD', key, unpack(batch))
end
redis.call('ZADD', key, 'inf', '$sentinel')
redis.call('PEXPIRE', key, math.ceil(window_us / 1000) + $extra)
return {1, seeded}
""").substitute(sentinel=SENTINEL, extra=GUARDED_TTL_EXTRA_MS)

# KEYS[1] = the account's window; ARGV[1] = window in us. Counts live entries by Redis time
# (not the sentinel, whose score is +inf). (Scores go to Redis as numbers, never via Lua
# string concatenation, which keeps only 14 significant digits: a microsecond timestamp has 16.)
USAGE_LUA = """
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
return redis.call('ZCOUNT', KEYS[1], now_us - tonumber(ARGV[1]) + 1, '(+inf')
"""

# KEYS = pause keys; ARGV[i] = pause in ms for KEYS[i], ARGV[#KEYS + i] = the reason stored
# as the value (for whoever inspects Redis). A key is only (re)set when the new pause is
# longer than what is left of the current one: a short pause never cuts a long one.


# --- the limiter ------------------------------------------------------------------------------


class Admission(NamedTuple):
    """The limiter's answer: ``wait`` 0.0 means admitted (and recorded).

    ``paused`` says why a call must wait: True for a usage or throttle pause, False for
    a full sliding window. ``granted`` is how many slots were recorded (a lease can take
    several at once) and ``lease`` the nonce that names them (``lease:1`` ... ``lease:n``).
    """

    wait: float
    paused: bool
    granted: int = 0
    lease: str = ""


class RedisRateLimiter:
    """Sliding-window call limit per account, atomic across workers.

    :param redis_client: a ``redis.Redis`` client; every worker must point at the same
        Redis and database to share one budget.
    :param limit: calls allowed per account within ``window_seconds``.
    :param window_seconds: length of the sliding window.
    :param prefix: key prefix; the window of an account lives at ``prefix + account_id``.
    :param record: a durable record of admitted slots
        (:class:`~instagram_graph.admission_record.AdmissionRecord`). With one, the window is
        GUARDED: every grant is written to the record before it is used, and a window Redis
        lost is rebuilt from the record before anything is admitted (see the module
        docstring). Without one (the messaging budgets, tools, tests) an empty window is
        trusted.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        limit: int = 200,
        window_seconds: float = 3600,
        prefix: str = "ig:rate_limit:",
        record: AdmissionRecord | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {window_seconds}")
        self.redis = redis_client
        self.limit = int(limit)
        self.window_seconds = float(window_seconds)
        self.prefix = prefix
        self.record = record
        self._window_us = round(self.window_seconds * 1_000_000)
        # register_script runs EVALSHA and reloads the script by itself on NOSCRIPT
        # (after a Redis restart or SCRIPT FLUSH).
        self._acquire = redis_client.register_script(ACQUIRE_LUA)
        self._usage = redis_client.register_script(USAGE_LUA)
        self._seed = redis_client.register_script(SEED_LUA)

    @property
    def guarded(self) -> bool:
        """True when a window Redis lost is rebuilt from the durable record."""
        return self.record is not None

    def key(self, account_id: str) -> str:
        return f"{self.prefix}{account_id}"

    def acquire(self, account_id: str) -> float:
        """0.0 when the call is admitted and recorded; else seconds until a slot frees (nothing recorded)."""
        return self.admit(account_id).wait

    def admit(
        self,
        account_id: str,
        pause_keys: tuple[str, ...] = (),
        *,
        want: int = 1,
        release: tuple[str, ...] = (),
    ) -> Admission:
        """Check the pause keys, then the window, in ONE round trip; record only an admission.

        The hook passes :meth:`UsageThrottle.keys` here, so a call costs one Redis round
        trip however many throttles guard it. ``want`` > 1 asks for a lease of several
        slots (see :class:`SlotLeases`); ``release`` names unused slots of an earlier lease.
        """
        lease = secrets.token_hex(8)
        args: list[str | int] = [self.limit, self._window_us, lease, max(1, int(want)), int(self.guarded), *release]
        for _ in range(_REBUILD_TRIES):
            try:
                kind, value, now_us = self._acquire(keys=[self.key(account_id), *pause_keys], args=args)
            except UNAVAILABLE as exc:
                fail_closed(self.redis, exc)
            kind, value, now_us = int(kind), int(value), int(now_us)
            if kind != _LOST:
                break
            self._rebuild(account_id, now_us)
        else:
            raise RateLimiterUnavailableError(
                f"The rate-limit window of account {account_id} in Redis at {redis_location(self.redis)} "
                f"vanished {_REBUILD_TRIES} times while it was being rebuilt; no call is made without a slot. "
                "Check Redis's maxmemory-policy (noeviction) and whether something flushes it."
            )
        if kind == 0:
            if self.record is not None:  # before any of the slots is used
                self.record.add(account_id, value, now_us)
            return Admission(wait=0.0, paused=False, granted=value, lease=lease)
        if kind == 1:
            log.debug("Rate limit %s/%ss reached for account %s; next slot in %s ms",
                      self.limit, self.window_seconds, account_id, value)
        return Admission(wait=value / 1000.0, paused=kind == 2)

    def _rebuild(self, account_id: str, now_us: int) -> None:
        """Seed the account's lost window from the record (or as full, without one), atomically."""
        assert self.record is not None
        args: list[Any] = [self._window_us, self.limit]
        try:
            minutes = self.record.read(account_id, now_us - self._window_us - 60_000_000)
        except RecordUnavailable as exc:
            minutes, reason = None, str(exc)
        if minutes is None:
            args.append("guess")
        else:
            args.append("record")
            for minute, calls in minutes:
                args += [(minute + 60) * 1_000_000, calls]  # counted at the end of its minute
        try:
            seeded, entries = self._seed(keys=[self.key(account_id)], args=args)
        except UNAVAILABLE as exc:
            fail_closed(self.redis, exc)
        if not int(seeded):
            log.debug("Rate-limit window of account %s was rebuilt by another worker", account_id)
        elif minutes is None:
            log.warning(
                "Rate-limit window of account %s was missing in Redis and the record of admitted calls cannot "
                "be read (%s): taken as full (%d calls spread over the last %gs), so calls resume at one per "
                "%.1fs and the whole budget is back after one window",
                account_id, reason, self.limit, self.window_seconds, self.window_seconds / self.limit,
            )
        elif int(entries):
            log.warning(
                "Rate-limit window of account %s was missing in Redis (a restart, an eviction or a failover): "
                "rebuilt from the record of admitted calls, %d of them still in the window",
                account_id, int(entries),
            )
        else:
            log.debug("Rate-limit window of account %s rebuilt empty (no calls recorded in it)", account_id)

    def release(self, account_id: str, members: tuple[str, ...]) -> None:
        """Give back leased slots that were never used."""
        if not members:
            return
        try:
            self.redis.zrem(self.key(account_id), *members)
        except UNAVAILABLE as exc:
            fail_closed(self.redis, exc)

    def usage(self, account_id: str) -> int:
        """Calls of this account currently in the window."""
        try:
            return int(self._usage(keys=[self.key(account_id)], args=[self._window_us]))
        except UNAVAILABLE as exc:
            fail_closed(self.redis, exc)


class SlotLeases:
    """Takes window slots a few at a time, so most calls need no Redis round trip.

    Each Redis round trip costs a context switch on a busy worker; when calls come fast
    (a simulator, a burst of small reads) it was most of the hook's overhead. A lease
    records ``n`` slots at once (they count against the window from that moment, so the
    limit still holds across workers exactly) and the next ``n - 1`` calls use them
    locally. Leases grow (doubling up to ``max_lease``) while they are used up within
    ``lease_seconds``; a lease that goes stale is given back, so slow callers (real Meta
    calls take 100+ ms) end up leasing one slot per call, as without leases.

    What a lease trades: a pause set by ANOTHER worker is seen at the next lease, at most
    ``lease_seconds`` or ``max_lease - 1`` calls later (a pause this worker hears of, it
    sees at once: :meth:`release_all`); and a worker killed outright (no ``hook.close()``) leaves
    at most ``max_lease - 1`` unused slots counted until they leave the window.
    ``max_lease=1`` turns leasing off.
    """

    def __init__(self, limiter: RedisRateLimiter, *, max_lease: int = 8, lease_seconds: float = 1.0) -> None:
        self.limiter = limiter
        self.max_lease = max(1, int(max_lease))
        self.lease_seconds = float(lease_seconds)
        self._leases: dict[str, _Lease] = {}
        self._size: dict[str, int] = {}

    def take(self, account_id: str, pause_keys: tuple[str, ...] = ()) -> Admission:
        """A slot for one call: from this worker's lease, else from Redis."""
        lease = self._leases.get(account_id)
        now = time.monotonic()
        if lease is not None and lease.used < lease.granted and now < lease.expires:
            lease.used += 1
            return Admission(wait=0.0, paused=False, granted=1, lease=lease.nonce)
        size = self._size.get(account_id, 1)
        if lease is not None:  # spent or stale: the next one is bigger or smaller
            size = min(size * 2, self.max_lease) if lease.used == lease.granted else max(1, size // 2)
            self._size[account_id] = size
        admission = self.limiter.admit(
            account_id, pause_keys, want=size, release=self._unused(account_id)
        )
        self._leases.pop(account_id, None)
        if admission.wait <= 0:
            self._leases[account_id] = _Lease(admission.lease, admission.granted, 1, now + self.lease_seconds)
        return admission

    def release_all(self) -> int:
        """Give back every unused slot (a pause was heard, or the hook closes); return how many."""
        released = 0
        for account_id in list(self._leases):
            members = self._unused(account_id)
            del self._leases[account_id]
            self.limiter.release(account_id, members)
            released += len(members)
        return released

    def _unused(self, account_id: str) -> tuple[str, ...]:
        lease = self._leases.get(account_id)
        if lease is None:
            return ()
        return tuple(f"{lease.nonce}:{i}" for i in range(lease.used + 1, lease.granted + 1))


@dataclass
class _Lease:
    nonce: str
    granted: int
    used: int
    expires: float  # time.monotonic()
