"""Everything the hook needs to know about the remote end, parsed once from the Connection.

Airflow's HttpHook pops connection extras one by one wherever it needs them; here the
connection becomes one frozen object at construction, so a bad value fails early with
a message that names the field and the fix, and tests can build settings directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

DEFAULT_HOST = "https://graph.instagram.com"
DEFAULT_FACEBOOK_HOST = "https://graph.facebook.com"
LOGIN_INSTAGRAM, LOGIN_FACEBOOK = "instagram", "facebook"
DEFAULT_API_VERSION = "v24.0"


MAX_SLOT_LEASE = 256  # one Lua call returns the leased members; thousands overflow its stack
SETTLE_MARGIN = 30.0  # settle_seconds' default: the request timeout plus this
MAX_SETTLE_SECONDS = 3600.0
MAX_AUDIT_RETENTION_DAYS = 3650


class SettingsError(ValueError):
    """The ``instagram_graph`` connection holds a value we cannot use."""


@dataclass(frozen=True)
class GraphApiSettings:
    """How to reach the Graph API and how politely.

    :param base_url: scheme://host[:port] of the Graph API (or the simulator).
    :param api_version: path prefix such as ``v24.0``; never hard-coded in calls.
    :param app_id: the Meta app id; keys the app-wide usage throttle.
    :param app_secret: signs each call with ``appsecret_proof`` when set.
    :param access_token: a single account's token kept in the connection (optional).
    :param facebook_base_url: scheme://host[:port][/path] of graph.facebook.com, where accounts
        connected with Facebook Login are called (through their Page).
    :param facebook_app_id: the Facebook app of Facebook Login (``fb_exchange_token``'s client_id).
    :param facebook_app_secret: that app's secret: the token exchange, and ``appsecret_proof`` on
        graph.facebook.com (``app_secret`` is the Instagram app's, for graph.instagram.com).
    :param calls_per_hour: our own sliding-window limit per account, shared via Redis:
        at most this many calls per ``window_seconds``. (Named for the default window of
        an hour; the name stays because it is the extra every existing connection sets.)
    :param window_seconds: the length of that window (3600: the task card's "200 calls
        per hour"; 86400 models Meta's rolling 24-hour Business Use Case budget).
    :param messaging_calls_per_second: pace of Conversations API calls per account
        (Meta allows 2/s; messaging has its own budget, outside the platform limit).
    :param human_agent_enabled: the app was granted Meta's Human Agent feature, so a DM
        may carry ``tag=HUMAN_AGENT`` (replies up to 7 days after the person's message).
    :param status_poll_intervals: seconds between container status checks, in order;
        the last one repeats (Meta asks for about one check a minute).
    :param timeout: seconds for connect and for read, per request.
    :param settle_seconds: after the answer to a publish or a send was lost, how long the
        request may still take effect at Meta: whether it did is looked up (and it is
        repeated) only this long after the answer was found lost. None: ``timeout`` plus
        30 s (see :attr:`outcome_settle_seconds`); never shorter than ``timeout``.
    :param usage_threshold_pct: pause all workers when Meta's usage headers pass this.
    :param max_inline_wait: waits up to this long happen in the worker; longer ones are
        raised as :class:`RateLimitError` so the operator can defer or retry later.
    :param retry_base_delay: first backoff delay in seconds (doubles per retry).
    :param retry_max_delay: cap of one backoff delay.
    :param max_attempts: attempts per call, the first one included (3 retries).
    :param slot_lease_max: most rate-limit slots a worker takes in one Redis round trip
        when its calls come fast (1 = one round trip per call; see ``SlotLeases``).
    :param audit_calls: keep the audit trail of every call attempt in the warehouse
        (``instagram.api_calls``); the DEBUG log line of each attempt is written either way.
    :param audit_retention_days: days of audit trail kept; older days are dropped whole.
    """

    base_url: str = DEFAULT_HOST
    api_version: str = DEFAULT_API_VERSION
    app_id: str = "default"
    app_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    facebook_base_url: str = DEFAULT_FACEBOOK_HOST
    facebook_app_id: str | None = None
    facebook_app_secret: str | None = field(default=None, repr=False)
    calls_per_hour: int = 200
    window_seconds: int = 3600
    messaging_calls_per_second: float = 2.0
    human_agent_enabled: bool = False
    status_poll_intervals: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0, 60.0)
    timeout: float = 30.0
    settle_seconds: float | None = None
    usage_threshold_pct: float = 95.0
    max_inline_wait: float = 60.0
    retry_base_delay: float = 1.0
    retry_max_delay: float = 30.0
    max_attempts: int = 4
    slot_lease_max: int = 8
    audit_calls: bool = True
    audit_retention_days: int = 7

    def __post_init__(self) -> None:
        if not self.api_version.startswith("v"):
            raise SettingsError(
                f"api_version {self.api_version!r} is not a Graph API version; use the form v24.0"
            )
        if not self.facebook_base_url.startswith(("https://", "http://")):
            raise SettingsError(
                f"facebook_base_url {self.facebook_base_url!r} is not a URL; use the form https://graph.facebook.com"
            )
        if self.calls_per_hour < 1:
            raise SettingsError("calls_per_hour must be at least 1")
        if self.window_seconds < 1:
            raise SettingsError("window_seconds must be at least 1 (3600 = calls_per_hour per hour)")
        if self.messaging_calls_per_second <= 0:
            raise SettingsError("messaging_calls_per_second must be positive (Meta allows 2)")
        if not self.status_poll_intervals or min(self.status_poll_intervals) <= 0:
            raise SettingsError(
                "status_poll_intervals must list positive seconds, e.g. 5,10,20,30,60 (the last one repeats)"
            )
        if self.timeout <= 0:
            raise SettingsError("timeout must be a positive number of seconds")
        if self.settle_seconds is not None and not self.timeout <= self.settle_seconds <= MAX_SETTLE_SECONDS:
            raise SettingsError(
                f"settle_seconds is {self.settle_seconds:g}: it must be at least timeout ({self.timeout:g} s; a "
                "request Meta received just before the client gave up may still take effect that long after) and "
                f"at most {MAX_SETTLE_SECONDS:g}. Leave it empty for timeout + {SETTLE_MARGIN:g} s."
            )
        if self.max_attempts < 1:
            raise SettingsError("max_attempts must be at least 1")
        if not 1 <= self.slot_lease_max <= MAX_SLOT_LEASE:
            raise SettingsError(
                f"slot_lease_max must be between 1 (slot leases off) and {MAX_SLOT_LEASE}; the default 8 suits most"
            )
        if not 1 <= self.audit_retention_days <= MAX_AUDIT_RETENTION_DAYS:
            raise SettingsError(
                f"audit_retention_days must be between 1 and {MAX_AUDIT_RETENTION_DAYS}; "
                "to keep no audit trail at all, set audit_calls to false"
            )

    @classmethod
    def from_connection(cls, conn: Any) -> GraphApiSettings:
        """Build settings from an Airflow ``Connection`` of type ``instagram_graph``."""
        extra = _extra_dict(conn)
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(extra) - known - {"app_secret"})
        if unknown:
            raise SettingsError(
                f"connection {conn.conn_id!r} has unknown extra field(s) {unknown}; "
                f"known fields are {sorted(known - {'base_url'})}"
            )
        values: dict[str, Any] = {"base_url": _base_url(conn.host, conn.port)}
        if extra.get("facebook_base_url"):
            extra["facebook_base_url"] = str(extra["facebook_base_url"]).rstrip("/")
        if conn.password:
            values["app_secret"] = conn.password
        for name, value in extra.items():
            if value in (None, ""):
                continue
            values[name] = _coerce(name, value, conn.conn_id)
        return cls(**values)

    @property
    def outcome_settle_seconds(self) -> float:
        """``settle_seconds``, or its default: the request timeout plus a 30 s margin."""
        return self.settle_seconds if self.settle_seconds is not None else self.timeout + SETTLE_MARGIN

    def with_overrides(self, **changes: Any) -> GraphApiSettings:
        return replace(self, **changes)

    def host_url(self, login: str = LOGIN_INSTAGRAM) -> str:
        """The host the accounts of ``login`` are called on: graph.instagram.com or graph.facebook.com."""
        return self.facebook_base_url if login == LOGIN_FACEBOOK else self.base_url

    def app_secret_for(self, login: str = LOGIN_INSTAGRAM) -> str | None:
        """The secret of the app that issued a token of ``login`` (for ``appsecret_proof``)."""
        return self.facebook_app_secret if login == LOGIN_FACEBOOK else self.app_secret

    def url(self, path: str, login: str = LOGIN_INSTAGRAM) -> str:
        """Versioned URL for a Graph API path such as ``me/media``, on the host of ``login``."""
        return f"{self.host_url(login)}/{self.api_version}/{path.lstrip('/')}"

    def unversioned_url(self, path: str) -> str:
        """URL without the version prefix (``refresh_access_token`` lives there)."""
        return f"{self.base_url}/{path.lstrip('/')}"


_NUMERIC = {
    "calls_per_hour": int,
    "window_seconds": int,
    "messaging_calls_per_second": float,
    "max_attempts": int,
    "slot_lease_max": int,
    "audit_retention_days": int,
    "timeout": float,
    "settle_seconds": float,
    "usage_threshold_pct": float,
    "max_inline_wait": float,
    "retry_base_delay": float,
    "retry_max_delay": float,
}


def _coerce(name: str, value: Any, conn_id: str) -> Any:
    if name in _BOOLEAN:
        return _as_bool(name, value, conn_id)
    if name in _NUMBER_LISTS:
        return _as_number_list(name, value, conn_id)
    kind = _NUMERIC.get(name)
    if kind is None:
        return str(value)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"connection {conn_id!r}: extra field {name!r} must be a number, got {value!r}"
        ) from None


_BOOLEAN = {"human_agent_enabled", "audit_calls"}
_NUMBER_LISTS = {"status_poll_intervals"}


def _as_bool(name: str, value: Any, conn_id: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise SettingsError(f"connection {conn_id!r}: extra field {name!r} must be true or false, got {value!r}")


def _as_number_list(name: str, value: Any, conn_id: str) -> tuple[float, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).replace(" ", "").split(",")
    try:
        return tuple(float(item) for item in items if str(item) != "")
    except (TypeError, ValueError):
        raise SettingsError(
            f"connection {conn_id!r}: extra field {name!r} must be seconds separated by commas, "
            f"e.g. 5,10,20,30,60; got {value!r}"
        ) from None


def _extra_dict(conn: Any) -> dict[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    if extra is None and getattr(conn, "extra", None):
        extra = json.loads(conn.extra)
    # Older connection forms saved custom fields as extra__<conn_type>__<name>.
    return {key.removeprefix(_FORM_PREFIX): value for key, value in (extra or {}).items()}


_FORM_PREFIX = "extra__instagram_graph__"


def _base_url(host: str | None, port: int | None) -> str:
    if not host:
        return DEFAULT_HOST
    host = host.rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    parts = urlsplit(host)
    netloc = parts.netloc
    if port and ":" not in netloc:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}"
