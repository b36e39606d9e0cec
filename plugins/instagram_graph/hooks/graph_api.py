"""InstagramGraphHook: the one road from Airflow to the Instagram Graph API.

The hook is the Airflow side: it parses its connection once into
:class:`~instagram_graph.settings.GraphApiSettings`, keeps one pooled session, builds the
rate limiter from the ``instagram_redis`` connection, answers the UI's Test button and
closes what it opened. The calls themselves go through :class:`~instagram_graph.client.GraphApiClient`
(slot, auth, send, usage feed, classify, retry, audit); the endpoints the rest of the code
calls (``hook.get_profile(...)``, ``hook.send_message(...)``) come from the endpoint groups
in :mod:`instagram_graph.endpoints`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
import requests
from airflow.sdk import BaseHook

from instagram_graph import CONNECTION_TYPE
from instagram_graph.call_audit import CallAudit
from instagram_graph.client import AccountTokens, GraphApiClient, GraphAuth
from instagram_graph.client.wire import new_session, read_answer, send
from instagram_graph.endpoints.facebook_login import FacebookLoginEndpoints
from instagram_graph.endpoints.insights import InsightEndpoints
from instagram_graph.endpoints.messaging import MessagingEndpoints
from instagram_graph.endpoints.publishing import PublishingEndpoints
from instagram_graph.endpoints.reads import ReadEndpoints
from instagram_graph.endpoints.tokens import TokenEndpoints
from instagram_graph.errors import GraphApiError, RateLimiterUnavailableError, redact
from instagram_graph.masking import mask_secret
from instagram_graph.rate_limit import CallBudgets, RedisRateLimiter, UsageThrottle
from instagram_graph.rate_limit.page_sizes import PageSizes
from instagram_graph.rate_limit.redis_client import (
    call_budgets,
    platform_limiter,
    redis_from_connection,
    usage_throttle,
)
from instagram_graph.settings import GraphApiSettings
from instagram_graph.warehouse_link import WarehouseLink

_ME = "GET /me"


class InstagramGraphHook(
    ReadEndpoints, InsightEndpoints, PublishingEndpoints, MessagingEndpoints, TokenEndpoints, FacebookLoginEndpoints,
    BaseHook,
):
    """Talk to the Instagram Graph API for any number of accounts.

    :param instagram_graph_conn_id: connection of type ``instagram_graph`` (host, API
        version, app id, app secret, limiter settings in extras).
    :param redis_conn_id: Redis connection shared by all workers for the rate limiter.
    :param token_store: where per-account tokens live; built on first use from the
        ``instagram_warehouse`` connection unless the connection holds one token.
    :param rate_limiter: a :class:`~instagram_graph.rate_limit.RedisRateLimiter`, the
        platform window; built from ``redis_conn_id``, ``calls_per_hour`` and
        ``window_seconds`` when omitted. The messaging budgets live on its Redis.
    :param throttle: a :class:`~instagram_graph.rate_limit.UsageThrottle`; same.
    :param settings: overrides the connection entirely (tests, scripts).
    :param session: a ``requests.Session`` to share; one is made per hook otherwise.
    :param warehouse: returns a new warehouse connection, for the hook's bookkeeping (the
        durable record of admitted rate-limit slots, the audit trail of calls); default
        :func:`instagram_graph.db.connect` (``instagram_warehouse`` or
        ``INSTAGRAM_WAREHOUSE_DSN``), opened on first use and kept until :meth:`close`.
    :param redis_client: the limiter's Redis client; built from ``redis_conn_id`` when omitted.
    """

    conn_name_attr = "instagram_graph_conn_id"
    default_conn_name = "instagram_graph_default"
    conn_type = CONNECTION_TYPE
    hook_name = "Instagram Graph API"

    def __init__(
        self,
        instagram_graph_conn_id: str = default_conn_name,
        *,
        redis_conn_id: str = "instagram_redis",
        token_store: Any | None = None,
        rate_limiter: RedisRateLimiter | None = None,
        throttle: UsageThrottle | None = None,
        settings: GraphApiSettings | None = None,
        session: requests.Session | None = None,
        warehouse: Callable[[], Any] | None = None,
        redis_client: redis.Redis | None = None,
    ) -> None:
        super().__init__()
        self.instagram_graph_conn_id = instagram_graph_conn_id
        self.redis_conn_id = redis_conn_id
        self._settings = settings
        self._token_store = token_store
        self._rate_limiter = rate_limiter
        self._throttle = throttle
        self._budgets: CallBudgets | None = None
        self._page_sizes: PageSizes | None = None
        self._session = session
        self._redis_client = redis_client
        self._tokens: AccountTokens | None = None
        self._warehouse_link = WarehouseLink(warehouse)
        self._audit: CallAudit | None = None
        self._client: GraphApiClient | None = None
        self._shares_link = False  # siblings share their link; its owner closes it

    @property
    def settings(self) -> GraphApiSettings:
        if self._settings is None:
            conn = self.get_connection(self.instagram_graph_conn_id)
            self._settings = GraphApiSettings.from_connection(conn)
            for secret in (self._settings.app_secret, self._settings.facebook_app_secret, self._settings.access_token):
                if secret:
                    mask_secret(secret)
        return self._settings

    def get_conn(self) -> requests.Session:
        """The pooled session, made once per hook."""
        if self._session is None:
            self._session = new_session(self.settings.base_url)
        return self._session

    @property
    def tokens(self) -> AccountTokens:
        """The accounts' tokens: the token store's, or the one the connection holds."""
        if self._tokens is None:
            self._tokens = AccountTokens(self.settings.access_token, self._token_store, self.log)
        return self._tokens

    @property
    def token_store(self) -> Any:
        """The :class:`~instagram_graph.token_store.TokenStore` (per-account tokens, encrypted)."""
        return self.tokens.store

    # --- the rate limiter, on the instagram_redis connection ------------------------------

    def _redis(self) -> redis.Redis:
        """A client for the ``instagram_redis`` connection, made once per hook."""
        if self._redis_client is None:
            self._redis_client = redis_from_connection(self.get_connection(self.redis_conn_id))
        return self._redis_client

    @property
    def rate_limiter(self) -> RedisRateLimiter:
        """The platform window, guarded by a durable record of what it admits (a window Redis
        loses is rebuilt from it: see ``instagram_graph.admission_record``)."""
        if self._rate_limiter is None:
            self._rate_limiter = platform_limiter(self._redis(), self.settings, self._warehouse_link)
        return self._rate_limiter

    @property
    def throttle(self) -> UsageThrottle:
        if self._throttle is None:
            self._throttle = usage_throttle(self._redis(), self.settings)
        return self._throttle

    @property
    def budgets(self) -> CallBudgets:
        """The call budgets (platform, conversations, send) and this hook's leased slots."""
        if self._budgets is None:
            self._budgets = call_budgets(self.rate_limiter, self.throttle, self.settings)
        return self._budgets

    @contextmanager
    def siblings(self, connect: Callable[[], Any]) -> Iterator[Callable[[], InstagramGraphHook]]:
        """Make hooks for a pool of threads (see :class:`~instagram_graph.sync.fleet.Fleet`).

        Each sibling has the same connection settings (parsed once, here), Redis client and
        token keys, and its own HTTP session, call counter and slot leases. All of them share
        one bookkeeping connection (audit trail, admission record) and one token-store
        connection, so a hundred threads cost two Postgres sessions, not two hundred. No
        Airflow connection is looked up from the other threads. Closed when the block ends.

        :param connect: returns a new warehouse connection (see :func:`instagram_graph.db.connector`).
        """
        from instagram_graph.token_store import TokenStore

        settings, redis_client = self.settings, self.throttle.redis
        link = WarehouseLink(connect)
        own_store = None
        if self._token_store is None:
            own_store = TokenStore(conn_factory=connect, keep_connection=True)
        store = self._token_store if own_store is None else own_store

        def make() -> InstagramGraphHook:
            hook = type(self)(
                self.instagram_graph_conn_id,
                redis_conn_id=self.redis_conn_id,
                settings=settings,
                token_store=store,
                redis_client=redis_client,
            )
            hook._warehouse_link, hook._shares_link = link, True
            return hook

        try:
            yield make
        finally:
            link.close()
            if own_store is not None:
                own_store.close()

    @property
    def page_sizes(self) -> PageSizes:
        """Page sizes of expanded insights Meta refused lately, shared on the throttle's Redis."""
        if self._page_sizes is None:
            self._page_sizes = PageSizes(self.throttle.redis, self.settings.app_id)
        return self._page_sizes

    # --- the call path ----------------------------------------------------------------------

    @property
    def audit(self) -> CallAudit:
        """The audit trail of this hook's call attempts (DEBUG lines; warehouse rows unless
        the connection's ``audit_calls`` is false); see ``instagram_graph.call_audit``."""
        if self._audit is None:
            self._audit = CallAudit(
                self._warehouse_link if self.settings.audit_calls else None,
                log=self.log,
                retention_days=self.settings.audit_retention_days,
            )
        return self._audit

    @property
    def client(self) -> GraphApiClient:
        """The call path every endpoint of this hook takes; its budgets are built at the first slot."""
        if self._client is None:
            self._client = GraphApiClient(
                self.settings, self.get_conn(), self.tokens, lambda: self.budgets, self.audit, self.log
            )
        return self._client

    @property
    def calls_made(self) -> int:
        """Requests this hook has sent (each attempt counts)."""
        return self._client.calls_made if self._client is not None else 0

    def close(self) -> None:
        """Give back unused leased slots, write what the record and the audit trail still
        hold, close the warehouse link and the HTTP session."""
        if self._budgets is not None:
            try:
                self._budgets.release_all()
            except RateLimiterUnavailableError as exc:  # they leave the window within the hour
                self.log.warning("Unused rate-limit slots not given back: %s", exc)
        record = getattr(self._rate_limiter, "record", None)
        if record is not None and not record.flush():
            self.log.warning("%d admitted rate-limit slot(s) never reached the record", record.pending)
        if self._audit is not None:
            self._audit.close()
        if not self._shares_link:
            self._warehouse_link.close()
        if self._tokens is not None:
            self._tokens.close()
        if self._session is not None:
            self._session.close()

    # --- Airflow UI ---------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: reach the host, and try the connection's token if it has one.

        The token goes the way every call's does (same auth, same send, same classification),
        so the button fails where real calls would (a missing or wrong ``appsecret_proof``).
        """
        try:
            settings = self.settings
            me = settings.url("me")
            if not settings.access_token:
                status = send(self.get_conn(), "GET", me, label=_ME, auth=None, timeout=settings.timeout).status_code
                return True, f"Reached {settings.base_url} (HTTP {status}); tokens live in the token store"
            auth = GraphAuth(settings.access_token, settings.app_secret)
            response = send(
                self.get_conn(), "GET", me, label=_ME, auth=auth, timeout=settings.timeout,
                params={"fields": "id,username"},
            )
            return True, f"Connected as {read_answer(response, label=_ME).get('username', '?')}"
        except (requests.RequestException, GraphApiError, ValueError) as exc:
            return False, redact(f"{type(exc).__name__}: {exc}")
