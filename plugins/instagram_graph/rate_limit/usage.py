"""Meta's feedback: the usage headers of each response, and the pauses they set for every worker.

:class:`UsageThrottle` turns what Meta tells us in ``X-App-Usage`` and
``X-Business-Use-Case-Usage`` into shared pauses: when usage nears 100 % or Meta gives a
regain time, a pause key is set in Redis and every worker of that account (or app) waits
it out. Pauses are measured by Redis (``PTTL``), never by the worker's clock.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from instagram_graph.rate_limit.unavailable import UNAVAILABLE, fail_closed

log = logging.getLogger(__name__)

APP_USAGE_HEADER = "X-App-Usage"
BUC_USAGE_HEADER = "X-Business-Use-Case-Usage"
# Percent fields Meta reports in both headers; the highest one is what throttles us.
USAGE_FIELDS = ("call_count", "total_time", "total_cputime")
# Meta reports this in MINUTES (not seconds): a 60x-too-short pause is the classic bug.
REGAIN_FIELD = "estimated_time_to_regain_access"

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
        except UNAVAILABLE as exc:
            fail_closed(self.redis, exc)
        # PTTL is -2 for no key and -1 for a key without expiry (never set by us).
        return max(0, int(app_ms), int(account_ms)) / 1000.0

    def _set_pauses(self, pauses: Mapping[str, tuple[float, str]]) -> None:
        keys = list(pauses)
        ms = [math.ceil(pauses[k][0] * 1000) for k in keys]
        reasons = [pauses[k][1] for k in keys]
        try:
            self._pause(keys=keys, args=[*ms, *reasons])
        except UNAVAILABLE as exc:
            fail_closed(self.redis, exc)
