"""What the accounts page shows, gathered from the warehouse and Redis; no HTML here.

Each part comes from where the workers keep it, built the way they build it:

* accounts and token health: :meth:`AccountRegistry.list_accounts` (never a token);
* the last success and failure of each stream: :func:`instagram_graph.sync_record.latest`;
* calls in the current limiter window and pauses: an :class:`InstagramGraphHook` on the
  ``instagram_graph_default`` connection, whose ``rate_limiter`` and ``throttle`` are the
  ones every worker uses (same Redis connection, same keys, same limit and window).

Connections come through Airflow's normal lookup. In the api-server that includes the
metadata database: ``airflow.api_fastapi.main`` marks the process as a server
(``_AIRFLOW_PROCESS_CONTEXT=server``), so ``BaseHook.get_connection`` searches env
variables, any secrets backend and then the metastore (checked on Airflow 3.3.2). Outside a
server (a script) only env variables and secrets backends are searched.

A part that cannot be read (warehouse down, Redis down, a connection missing) is named in
:attr:`AccountsPage.unavailable` and the rest of the page is still shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from instagram_graph import db
from instagram_graph.accounts import AccountRegistry, AccountTokenInfo
from instagram_graph.sync_record import StreamHistory, latest
from instagram_graph.token_store import TokenStoreError

log = logging.getLogger(__name__)

GRAPH_CONN_ID = "instagram_graph_default"
# How the account is reached: "instagram" (Instagram Login) or "facebook" (Facebook Login, through its Page).
INSTAGRAM_LOGIN = "instagram"

# The parts of the page that can be unavailable on their own.
WAREHOUSE = "warehouse"
TOKEN_KEYS = "token keys"
SYNC_RECORD = "sync record"
RATE_LIMITER = "rate limiter"


@dataclass(frozen=True)
class CallWindow:
    """Calls of one account in the limiter's current sliding window, against the limit."""

    used: int
    limit: int
    window_seconds: float


@dataclass(frozen=True)
class AccountRow:
    """One row of the page. ``calls`` and ``paused_until`` are None when Redis could not be read."""

    account_id: str
    username: str | None
    flavour: str
    enabled: bool
    token_status: str | None
    token_expires_at: datetime | None
    days_left: int | None
    calls: CallWindow | None = None
    paused_until: datetime | None = None
    streams: tuple[StreamHistory, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "username": self.username,
            "flavour": self.flavour,
            "enabled": self.enabled,
            "token": {
                "status": self.token_status,
                "expires_at": _iso(self.token_expires_at),
                "days_left": self.days_left,
            },
            "calls": None if self.calls is None else {
                "used": self.calls.used, "limit": self.calls.limit, "window_seconds": self.calls.window_seconds,
            },
            "paused_until": _iso(self.paused_until),
            "streams": {
                history.stream: {
                    "last_success": history.last_success and history.last_success.as_dict(),
                    "last_failure": history.last_failure and history.last_failure.as_dict(),
                    "failing": history.failing,
                }
                for history in self.streams
            },
        }


@dataclass(frozen=True)
class AccountsPage:
    """Everything the page shows; ``unavailable`` maps a part that could not be read to why."""

    generated_at: datetime
    accounts: tuple[AccountRow, ...] = ()
    unavailable: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": _iso(self.generated_at),
            "unavailable": dict(self.unavailable),
            "accounts": [account.as_dict() for account in self.accounts],
        }


@dataclass(frozen=True)
class LimiterState:
    """What Redis says about one account."""

    calls: CallWindow
    paused_until: datetime | None


def gather(
    *,
    accounts: Callable[[], AccountRegistry] = AccountRegistry,
    connect: Callable[[], Any] | None = None,
    limiter_state: Callable[[list[str]], dict[str, LimiterState]] | None = None,
    streams: Iterable[str] | None = None,
) -> AccountsPage:
    """Read every part of the page; a part that fails is named in ``unavailable``, never raised.

    The defaults are the production wiring; tests and tools may pass their own.
    """
    now = datetime.now(UTC)
    try:
        infos = accounts().list_accounts()
    except TokenStoreError as exc:  # tokens are stored but this process has no key that checks them
        return AccountsPage(now, (), _unavailable(TOKEN_KEYS, exc))
    except Exception as exc:
        return AccountsPage(now, (), _unavailable(WAREHOUSE, exc))
    account_ids = [info.account_id for info in infos]
    unavailable: dict[str, str] = {}

    histories: dict[str, dict[str, StreamHistory]] = {}
    try:
        with closing((connect or db.connect)()) as conn, conn:
            histories = latest(conn, account_ids, streams or _known_streams())
    except Exception as exc:  # e.g. migration 013 not applied yet
        unavailable.update(_unavailable(SYNC_RECORD, exc))

    states: dict[str, LimiterState] = {}
    try:
        states = (limiter_state or redis_limiter_state)(account_ids)
    except Exception as exc:
        unavailable.update(_unavailable(RATE_LIMITER, exc))

    rows = tuple(_row(info, states.get(info.account_id), histories.get(info.account_id, {})) for info in infos)
    return AccountsPage(now, rows, unavailable)


def redis_limiter_state(account_ids: list[str], conn_id: str = GRAPH_CONN_ID) -> dict[str, LimiterState]:
    """Calls in the platform window and the pause left, per account, from the hook's own
    limiter and throttle (so the keys, the limit and the window are the workers')."""
    from instagram_graph.hooks.graph_api import InstagramGraphHook

    hook = InstagramGraphHook(conn_id)
    limiter = None
    try:
        limiter, throttle, settings = hook.rate_limiter, hook.throttle, hook.settings
        states = {}
        for account_id in account_ids:
            used = limiter.usage(account_id)
            paused = throttle.pause_remaining(settings.app_id, account_id)
            states[account_id] = LimiterState(
                calls=CallWindow(used=used, limit=limiter.limit, window_seconds=limiter.window_seconds),
                paused_until=datetime.now(UTC) + timedelta(seconds=paused) if paused > 0 else None,
            )
        return states
    finally:
        hook.close()
        if limiter is not None:  # hook.close() leaves its Redis client open; the page is done with it
            limiter.redis.close()


def _row(info: AccountTokenInfo, state: LimiterState | None, histories: Mapping[str, StreamHistory]) -> AccountRow:
    return AccountRow(
        account_id=info.account_id,
        username=info.username,
        flavour=info.login or INSTAGRAM_LOGIN,
        enabled=info.enabled,
        token_status=info.status,
        token_expires_at=info.expires_at,
        days_left=info.days_left,
        calls=state.calls if state else None,
        paused_until=state.paused_until if state else None,
        streams=tuple(histories.values()),
    )


def _known_streams() -> list[str]:
    from instagram_graph.sync import STREAMS

    return sorted(STREAMS)


def _unavailable(part: str, exc: BaseException) -> dict[str, str]:
    """``{part: reason}``, the reason being the error's class and the first line of its message.

    The messages of these failures name hosts, databases, connection ids and environment
    variables, never a password or a token (psycopg2, redis-py, Airflow's connection lookup
    and this project's errors leave them out).
    """
    log.warning("Accounts page: the %s cannot be read: %s: %s", part, type(exc).__name__, exc)
    lines = str(exc).strip().splitlines()
    return {part: f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
