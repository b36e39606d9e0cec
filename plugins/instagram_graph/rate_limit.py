"""Our own call budget per account, shared by every worker through Redis.

Two parts, both living in Redis so that any number of Airflow workers (Celery, local
processes, triggerers) see one state:

* :class:`RedisRateLimiter` - a sliding window of call timestamps per account. The
  check ("is there a free slot?") and the record ("this call takes it") run as ONE Lua
  script, so two workers can never both see the last free slot. A separate check then
  record, as the seed did, lets concurrent workers overshoot the limit.
* :class:`UsageThrottle` - what Meta tells us in ``X-App-Usage`` and
  ``X-Business-Use-Case-Usage``. When usage nears 100 % or Meta gives a regain time,
  a pause key is set and every worker of that account (or app) waits it out.
* :class:`CallBudgets` - which window and which pauses guard a call: the platform
  budget (``calls_per_hour`` per ``window_seconds``) or one of the two messaging budgets
  (Conversations API reads, Send API sends), which Meta counts apart.

Time always comes from Redis (``TIME`` inside Lua, ``PTTL`` for pauses), never from the
worker's clock: workers on different hosts drift, Redis is the one clock they share.

When Redis cannot be reached we fail closed with :class:`RateLimiterUnavailableError`:
no Graph API call is made without a slot.

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

import json
import logging
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, NoReturn, get_args

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from instagram_graph.admission_record import AdmissionRecord, RecordUnavailable
from instagram_graph.errors import RateLimiterUnavailableError

log = logging.getLogger(__name__)

APP_USAGE_HEADER = "X-App-Usage"
BUC_USAGE_HEADER = "X-Business-Use-Case-Usage"
# Percent fields Meta reports in both headers; the highest one is what throttles us.
USAGE_FIELDS = ("call_count", "total_time", "total_cputime")
# Meta reports this in MINUTES (not seconds): a 60x-too-short pause is the classic bug.
REGAIN_FIELD = "estimated_time_to_regain_access"

# Redis errors that mean "the limiter is not there", as opposed to a bug in our commands.
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)
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
ACQUIRE_LUA = """
local key = KEYS[1]
if #ARGV > 5 then
  redis.call('ZREM', key, unpack(ARGV, 6))
end
local guarded = ARGV[5] == '1'
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
if guarded and not redis.call('ZSCORE', key, '%(sentinel)s') then
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
  if guarded then ttl_ms = ttl_ms + %(extra)d end
  redis.call('PEXPIRE', key, ttl_ms)
  return {0, grant, now_us}
end
-- The slot frees when the entry that puts us at the limit leaves the window. That is
-- the oldest one unless the limit was lowered since the entries were recorded.
local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
local wait_us = tonumber(entry[2]) + window_us - now_us
return {1, math.max(1, math.ceil(wait_us / 1000)), now_us}
""" % {"sentinel": SENTINEL, "extra": GUARDED_TTL_EXTRA_MS}

# Rebuilds a guarded window Redis lost, atomically: only if the sentinel is still missing
# (the first worker seeds; the others find its window and seed nothing).
# KEYS[1] = the account's window; ARGV = window in us, limit, mode, then for mode 'record'
# pairs of (end of a recorded minute in us, calls admitted in that minute). Each minute's
# calls are entered at the END of their minute, or now if that is later than now (never in
# the future), and only if still inside the window. Mode 'guess' (no record to read): the
# window is taken as full, `limit` calls spread evenly over it, the newest one now.
# Entries already in the key stay (written by an unguarded writer: they count too).
# Returns {1, entries seeded} or {0, 0} when the window was already rebuilt.
SEED_LUA = """
local key = KEYS[1]
if redis.call('ZSCORE', key, '%(sentinel)s') then
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
redis.call('ZADD', key, 'inf', '%(sentinel)s')
redis.call('PEXPIRE', key, math.ceil(window_us / 1000) + %(extra)d)
return {1, seeded}
""" % {"sentinel": SENTINEL, "extra": GUARDED_TTL_EXTRA_MS}

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
PAUSE_LUA = """
local n = #KEYS
for i = 1, n do
  local ms = tonumber(ARGV[i])
  if ms > 0 and redis.call('PTTL', KEYS[i]) < ms then
    redis.call('SET', KEYS[i], ARGV[n + i], 'PX', ms)
  end
end
return n
"""


# --- helpers -----------------------------------------------------------------------------------


def redis_location(client: redis.Redis) -> str:
    """The client's Redis URL without the password, for error messages and logs."""
    kwargs = client.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={db}"
    scheme = "rediss" if "SSL" in client.connection_pool.connection_class.__name__ else "redis"
    user = f"{kwargs['username']}@" if kwargs.get("username") else ""
    return f"{scheme}://{user}{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


def _unavailable(client: redis.Redis, exc: Exception) -> NoReturn:
    raise RateLimiterUnavailableError(
        f"Rate limiter Redis at {redis_location(client)} cannot be reached "
        f"({type(exc).__name__}: {exc}). No Graph API call is made without a rate-limit slot "
        "(fail closed): check that Redis is running and reachable from this worker, and that "
        "the Redis connection configured for the Instagram hook points at it."
    ) from exc


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
        args = [self.limit, self._window_us, lease, max(1, int(want)), int(self.guarded), *release]
        for _ in range(_REBUILD_TRIES):
            try:
                kind, value, now_us = self._acquire(keys=[self.key(account_id), *pause_keys], args=args)
            except _UNAVAILABLE as exc:
                _unavailable(self.redis, exc)
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
        except _UNAVAILABLE as exc:
            _unavailable(self.redis, exc)
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
        except _UNAVAILABLE as exc:
            _unavailable(self.redis, exc)

    def usage(self, account_id: str) -> int:
        """Calls of this account currently in the window."""
        try:
            return int(self._usage(keys=[self.key(account_id)], args=[self._window_us]))
        except _UNAVAILABLE as exc:
            _unavailable(self.redis, exc)


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
    sees at once: :meth:`drop`); and a worker killed outright (no ``hook.close()``) leaves
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

    def drop(self, account_id: str) -> None:
        """Forget this account's lease (a pause was heard); its unused slots go back now."""
        self._size[account_id] = 1
        members = self._unused(account_id)
        self._leases.pop(account_id, None)
        self.limiter.release(account_id, members)

    def release_all(self) -> int:
        """Give back every unused slot (when the hook closes); return how many."""
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


# --- usage headers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageReport:
    """What one response's usage headers say. Empty means "no information", not 0 %.

    :param app_pct: highest of X-App-Usage call_count / total_time / total_cputime,
        None when the header is absent or unreadable.
    :param account_pct: per object id of X-Business-Use-Case-Usage, the highest percent
        over its entries and fields.
    :param regain_seconds: per object id, ``estimated_time_to_regain_access`` (minutes)
        times 60; only ids with a regain time above zero.
    """

    app_pct: float | None = None
    account_pct: dict[str, float] = field(default_factory=dict)
    regain_seconds: dict[str, float] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _max_pct(entry: Mapping[str, Any]) -> float | None:
    values = [v for v in (_number(entry.get(f)) for f in USAGE_FIELDS) if v is not None]
    return max(values) if values else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts too."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    return value


def _load_json_object(name: str, raw: str) -> Mapping[str, Any] | None:
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        log.warning("Ignoring malformed %s header (not JSON): %.200r", name, raw)
        return None
    if not isinstance(data, Mapping):
        log.warning("Ignoring malformed %s header (not a JSON object): %.200r", name, raw)
        return None
    return data


def parse_usage_headers(headers: Mapping[str, str]) -> UsageReport:
    """Read Meta's usage headers. Never raises: anything unreadable is "no information"."""
    app_pct: float | None = None
    raw_app = _header(headers, APP_USAGE_HEADER)
    if raw_app is not None:
        app = _load_json_object(APP_USAGE_HEADER, raw_app)
        if app is not None:
            app_pct = _max_pct(app)

    account_pct: dict[str, float] = {}
    regain_seconds: dict[str, float] = {}
    raw_buc = _header(headers, BUC_USAGE_HEADER)
    buc = _load_json_object(BUC_USAGE_HEADER, raw_buc) if raw_buc is not None else None
    for object_id, entries in (buc or {}).items():
        # Meta nests a list of entries (one per use-case type) under each object id.
        if isinstance(entries, Mapping):
            entries = [entries]
        if not isinstance(entries, list):
            log.warning("Ignoring %s entry for %s: expected a list, got %.200r",
                        BUC_USAGE_HEADER, object_id, entries)
            continue
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            pct = _max_pct(entry)
            if pct is not None:
                account_pct[str(object_id)] = max(pct, account_pct.get(str(object_id), pct))
            minutes = _number(entry.get(REGAIN_FIELD))
            if minutes is not None and minutes > 0:
                seconds = minutes * 60.0
                regain_seconds[str(object_id)] = max(seconds, regain_seconds.get(str(object_id), 0.0))
    return UsageReport(app_pct=app_pct, account_pct=account_pct, regain_seconds=regain_seconds)


# --- the shared throttle --------------------------------------------------------------------------


class UsageThrottle:
    """Shared pause state in Redis fed by usage headers.

    When usage passes ``threshold_pct`` or Meta reports a regain time, every worker of
    that account (or, for X-App-Usage, of that app) pauses. A pause is a key with an
    expiry; its remaining PTTL is the time left, measured by Redis.

    :param redis_client: a ``redis.Redis`` client shared in meaning by all workers.
    :param threshold_pct: usage percent at or above which we pause before Meta throttles
        (Meta throttles at 100).
    :param prefix: key prefix; pauses live at ``prefix + "app:" + app_id`` and
        ``prefix + "account:" + object_id``.
    :param high_usage_pause_seconds: how long to pause on high usage when Meta gives no
        regain time (X-App-Usage never does).
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        threshold_pct: float = 95.0,
        prefix: str = "ig:throttle:",
        high_usage_pause_seconds: float = 60.0,
    ) -> None:
        self.redis = redis_client
        self.threshold_pct = float(threshold_pct)
        self.prefix = prefix
        self.high_usage_pause_seconds = float(high_usage_pause_seconds)
        self._pause = redis_client.register_script(PAUSE_LUA)

    def app_key(self, app_id: str) -> str:
        return f"{self.prefix}app:{app_id}"

    def account_key(self, account_id: str) -> str:
        return f"{self.prefix}account:{account_id}"

    def messaging_key(self, budget: str, account_id: str) -> str:
        """The pause of one account's messaging budget (``conversations`` or ``send``)."""
        return f"{self.prefix}{budget}:{account_id}"

    def keys(self, app_id: str, account_id: str) -> tuple[str, str]:
        """The pause keys that guard one account's platform calls (for RedisRateLimiter.admit)."""
        return (self.app_key(app_id), self.account_key(account_id))

    def record(self, app_id: str, account_id: str, report: UsageReport) -> float:
        """Turn one response's usage into pauses; return the pause (s) set for this account.

        The return value is the longest pause this report puts on ``account_id``'s calls,
        through its own key or its app's key; 0.0 if none. BUC entries for other object
        ids pause those ids' keys. Existing longer pauses are kept.
        """
        pauses: dict[str, tuple[float, str]] = {}
        if report.app_pct is not None and report.app_pct >= self.threshold_pct:
            pauses[self.app_key(app_id)] = (
                self.high_usage_pause_seconds, f"app usage {report.app_pct:g}%")
        for object_id in report.account_pct.keys() | report.regain_seconds.keys():
            pct = report.account_pct.get(object_id)
            seconds = report.regain_seconds.get(object_id, 0.0)
            reason = f"Meta regain time {seconds:g}s"
            if pct is not None and pct >= self.threshold_pct and self.high_usage_pause_seconds > seconds:
                seconds, reason = self.high_usage_pause_seconds, f"account usage {pct:g}%"
            if seconds > 0:
                pauses[self.account_key(object_id)] = (seconds, reason)
        if not pauses:
            return 0.0

        for key, (seconds, reason) in pauses.items():
            log.warning("Pausing Graph API calls on %s for %.0f s (%s)", key, seconds, reason)
        self._set_pauses(pauses)
        return max(
            pauses.get(self.app_key(app_id), (0.0, ""))[0],
            pauses.get(self.account_key(account_id), (0.0, ""))[0],
        )

    def pause(
        self, app_id: str, account_id: str, seconds: float, *, app_wide: bool = False, budget: str = "platform"
    ) -> None:
        """Pause an account (or, with ``app_wide``, the whole app) for ``seconds``.

        For the hook when Meta answers with a throttle error and a regain time. Never
        shortens a longer pause already in place. ``budget`` ``conversations`` or ``send``
        pauses only that messaging budget of the account (see :class:`CallBudgets`).
        """
        if seconds <= 0:
            return
        if app_wide:
            key = self.app_key(app_id)
        elif budget == "platform":
            key = self.account_key(account_id)
        else:
            key = self.messaging_key(budget, account_id)
        log.warning("Pausing Graph API calls on %s for %.0f s (throttled by Meta)", key, seconds)
        self._set_pauses({key: (seconds, "throttled by Meta")})

    def pause_remaining(self, app_id: str, account_id: str) -> float:
        """Seconds left of the longer of the app's and the account's pause (0.0 if none)."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.pttl(self.app_key(app_id))
            pipe.pttl(self.account_key(account_id))
            app_ms, account_ms = pipe.execute()
        except _UNAVAILABLE as exc:
            _unavailable(self.redis, exc)
        # PTTL is -2 for no key and -1 for a key without expiry (never set by us).
        return max(0, int(app_ms), int(account_ms)) / 1000.0

    def _set_pauses(self, pauses: Mapping[str, tuple[float, str]]) -> None:
        keys = list(pauses)
        ms = [math.ceil(pauses[k][0] * 1000) for k in keys]
        reasons = [pauses[k][1] for k in keys]
        try:
            self._pause(keys=keys, args=[*ms, *reasons])
        except _UNAVAILABLE as exc:
            _unavailable(self.redis, exc)


# --- budgets ------------------------------------------------------------------------------------

Budget = Literal["platform", "conversations", "send"]
BUDGETS: tuple[str, ...] = get_args(Budget)

# Meta's Send API allows 100 calls/s per account for text (10/s for audio and video, which
# the hook does not send).
SEND_CALLS_PER_SECOND = 100.0
# Meta counts a per-second limit when a request ARRIVES, we when it is admitted; the two
# differ by the request's trip, which varies (a busy worker, a slow connect). Each
# messaging window is this much longer than the pace asks, so two calls admitted a
# window apart still arrive more than a second apart.
ARRIVAL_MARGIN_SECONDS = 0.1
# How long to pause when Meta throttles without saying for how long.
PLATFORM_THROTTLE_PAUSE = 300.0  # the platform window is an hour or a day
MESSAGING_THROTTLE_PAUSE = 10.0  # messaging limits are per second: a few seconds, not minutes


def pace_window(calls_per_second: float, margin: float = ARRIVAL_MARGIN_SECONDS) -> tuple[int, float]:
    """``(limit, window_seconds)`` of a sliding window that paces calls at ``calls_per_second``.

    At least one call per window; 2/s is 2 calls per 1.1 s, 0.5/s 1 call per 2.1 s, 2.5/s
    2 calls per 0.9 s (with the default margin).
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

    def limiter(self, budget: str) -> RedisRateLimiter:
        """The window of one budget (``usage(account)`` counts its calls)."""
        _check(budget)
        return self.platform if budget == "platform" else self.messaging[budget]

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
