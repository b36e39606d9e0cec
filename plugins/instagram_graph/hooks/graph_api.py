"""InstagramGraphHook: the one road from Airflow to the Instagram Graph API.

Every call goes through :meth:`InstagramGraphHook.call`, which in order
1. takes the account's token (from the encrypted token store, expiry checked in memory),
2. waits for a slot of the call's budget: its pauses, then its Redis sliding window
   (``platform`` for most calls, ``conversations`` and ``send`` for messaging, which Meta
   counts apart: see ``CallBudgets``; platform slots are leased a few at a time when
   calls come fast: see ``SlotLeases``; each platform lease is written to a durable
   record in the warehouse, from which a window Redis lost is rebuilt: see
   ``instagram_graph.admission_record``),
3. sends one request on a pooled session with a timeout (token in the Authorization
   header, so it never appears in a URL that urllib3 or a proxy might log),
4. feeds the usage headers to the shared throttle,
5. turns an error body into a typed :class:`~instagram_graph.errors.GraphApiError`,
   retried by the tenacity policy in :mod:`instagram_graph.retries` when that is safe, and
6. records each attempt that sent a request in the audit trail (a DEBUG line, and a row of
   ``instagram.api_calls`` written in batches: see ``instagram_graph.call_audit``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from json import dumps as json_dumps
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

import requests

from airflow.sdk import BaseHook
from instagram_graph.masking import mask_secret
from instagram_graph import CONNECTION_TYPE
from instagram_graph.errors import (
    GraphApiError,
    InvalidRequestError,
    ObjectNotFoundError,
    RateLimiterUnavailableError,
    RateLimitError,
    TokenError,
    TokenExpiredError,
    TransientError,
    classify,
    redact,
)
from instagram_graph.models import (
    Comment,
    ContainerStatus,
    Conversation,
    Insight,
    Media,
    MediaChild,
    Message,
    Page,
    Profile,
    PublishingLimit,
    RefreshedToken,
    SentMessage,
)
from instagram_graph.rate_limit.redis_client import call_budgets, platform_limiter, redis_from_connection, usage_throttle
from instagram_graph.retries import build_retrying
from instagram_graph.call_audit import TRACE_HEADER, CallAudit
from instagram_graph.settings import GraphApiSettings
from instagram_graph.warehouse_link import WarehouseLink

if TYPE_CHECKING:
    from instagram_graph.rate_limit import Budget

PROFILE_FIELDS = (
    "id,username,name,biography,website,profile_picture_url,followers_count,follows_count,media_count"
)
CHILD_FIELDS = "id,media_type,media_url,thumbnail_url,timestamp"
# Children come by field expansion in the same call: no request per carousel slide.
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,permalink,thumbnail_url,shortcode,"
    f"timestamp,like_count,comments_count,is_comment_enabled,children{{{CHILD_FIELDS}}}"
)
STORY_FIELDS = "id,caption,media_type,media_product_type,media_url,permalink,thumbnail_url,timestamp"
REPLY_FIELDS = "id,text,username,timestamp,like_count"
COMMENT_FIELDS = f"id,text,username,timestamp,like_count,replies{{{REPLY_FIELDS}}}"
MESSAGE_FIELDS = "id,created_time,from,to,message"
MAX_PAGE_SIZE = 100


def _unix(value: datetime | int | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


class InstagramGraphHook(BaseHook):
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
        rate_limiter: Any | None = None,
        throttle: Any | None = None,
        settings: GraphApiSettings | None = None,
        session: requests.Session | None = None,
        warehouse: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.instagram_graph_conn_id = instagram_graph_conn_id
        self.redis_conn_id = redis_conn_id
        self._settings = settings
        self._token_store = token_store
        self._rate_limiter = rate_limiter
        self._throttle = throttle
        self._budgets: Any = None
        self._session = session
        self._redis_client: Any = None
        self._tokens: dict[str, Any] = {}
        self._warehouse_link = WarehouseLink(warehouse)
        self._audit: CallAudit | None = None
        self.calls_made = 0

    # --- wiring ------------------------------------------------------------------------

    @property
    def settings(self) -> GraphApiSettings:
        if self._settings is None:
            conn = self.get_connection(self.instagram_graph_conn_id)
            self._settings = GraphApiSettings.from_connection(conn)
            for secret in (self._settings.app_secret, self._settings.access_token):
                if secret:
                    mask_secret(secret)
        return self._settings

    def get_conn(self) -> requests.Session:
        """The pooled session, made once per hook."""
        if self._session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "instagram-graph-airflow"
            # requests re-reads proxy settings from the environment on every request (a
            # scan of os.environ each time); read them once here instead. This also keeps
            # ~/.netrc credentials out of Graph API calls, which carry their own token.
            session.trust_env = False
            session.proxies.update(requests.utils.get_environ_proxies(self.settings.base_url))
            ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if ca_bundle:
                session.verify = ca_bundle
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._session = session
        return self._session

    @property
    def token_store(self) -> Any:
        if self._token_store is None:
            from instagram_graph.token_store import TokenStore

            self._token_store = TokenStore()
        return self._token_store

    def _redis(self) -> Any:
        """A client for the ``instagram_redis`` connection, made once per hook."""
        if self._redis_client is None:
            self._redis_client = redis_from_connection(self.get_connection(self.redis_conn_id))
        return self._redis_client

    @property
    def rate_limiter(self) -> Any:
        """The platform window, guarded by a durable record of what it admits (a window Redis
        loses is rebuilt from it: see ``instagram_graph.admission_record``)."""
        if self._rate_limiter is None:
            self._rate_limiter = platform_limiter(self._redis(), self.settings, self._warehouse_link)
        return self._rate_limiter

    @property
    def throttle(self) -> Any:
        if self._throttle is None:
            self._throttle = usage_throttle(self._redis(), self.settings)
        return self._throttle

    @property
    def budgets(self) -> Any:
        """The call budgets (platform, conversations, send) and this hook's leased slots."""
        if self._budgets is None:
            self._budgets = call_budgets(self.rate_limiter, self.throttle, self.settings)
        return self._budgets

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
        self._warehouse_link.close()
        if self._session is not None:
            self._session.close()

    # --- tokens ----------------------------------------------------------------------------

    def _access_token(self, account_id: str) -> str:
        """The account's token, refused before any HTTP call when it has expired."""
        if self.settings.access_token and self._token_store is None:
            return self.settings.access_token
        cached = self._tokens.get(account_id)
        if cached is None or _expired(cached):
            cached = self.token_store.get(account_id)  # raises TokenExpiredError when expired
            self._tokens[account_id] = cached
            mask_secret(cached.token)
        return cached.token

    def _note_token_failure(self, account_id: str, error: TokenError) -> None:
        self._tokens.pop(account_id, None)
        if self._token_store is None and self.settings.access_token:
            return
        status = "expired" if isinstance(error, TokenExpiredError) else "invalid"
        try:
            self.token_store.mark(account_id, status, error=str(error))
        except Exception:  # recording the failure must not hide the failure itself
            self.log.exception("Could not record token status %s for account %s", status, account_id)

    # --- the one call path -----------------------------------------------------------------

    def call(
        self,
        account_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        versioned: bool = True,
        token_in_query: bool = False,
        budget: Budget = "platform",
    ) -> dict[str, Any]:
        """Make one Graph API call for ``account_id`` and return the decoded JSON object.

        :param path: path after the version, such as ``17841400000/media``.
        :param idempotent: whether retrying after an ambiguous failure is safe; defaults
            to True for GET and DELETE and False for POST.
        :param budget: which of the account's budgets the call spends: ``platform``
            (default), ``conversations`` (Conversations API reads, paced at
            ``messaging_calls_per_second``) or ``send`` (Send API, 100/s). Set by the
            messaging methods; see :class:`~instagram_graph.rate_limit.CallBudgets`.
        :raises GraphApiError: the classified failure, after the retry policy gave up.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "DELETE")
        retrying = build_retrying(
            self.settings, idempotent=idempotent, log=self.log, describe=lambda: f"{method} /{path}"
        )
        attempts = itertools.count(1)  # numbers each attempt in the audit trail
        return retrying(
            self._attempt, account_id, method, path, params, json, versioned, token_in_query, budget, attempts
        )

    def _attempt(
        self,
        account_id: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None,
        versioned: bool,
        token_in_query: bool,
        budget: Budget = "platform",
        attempts: Iterator[int] | None = None,
    ) -> dict[str, Any]:
        attempt = next(attempts) if attempts is not None else 1
        token = self._access_token(account_id)
        self._wait_for_slot(account_id, budget)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        headers = {}
        if token_in_query:
            query["access_token"] = token
        else:
            headers["Authorization"] = f"Bearer {token}"
        if self.settings.app_secret:
            query["appsecret_proof"] = hmac.new(
                self.settings.app_secret.encode(), token.encode(), hashlib.sha256
            ).hexdigest()
        url = self.settings.url(path) if versioned else self.settings.unversioned_url(path)
        self.calls_made += 1
        sent_at, started = time.time(), time.perf_counter()
        elapsed: float | None = None
        status = trace = failure = None
        try:
            try:
                response = self.get_conn().request(
                    method, url, params=query, json=json, headers=headers, timeout=self.settings.timeout
                )
            except requests.Timeout:
                raise TransientError(
                    f"{method} /{path} got no answer within {self.settings.timeout:g}s", account_id=account_id
                ) from None
            except requests.RequestException as exc:
                # `from None`: requests' own message repeats the URL, query string included.
                raise TransientError(f"{method} /{path} failed: {type(exc).__name__}", account_id=account_id) from None
            finally:
                elapsed = time.perf_counter() - started
            status, trace = response.status_code, response.headers.get(TRACE_HEADER)
            return self._read(account_id, method, path, response, budget)
        except Exception as error:
            trace, failure = trace or getattr(error, "fbtrace_id", None), type(error).__name__
            raise
        finally:
            # One audit record per attempt that sent a request: the URL's path only, never its query.
            self.audit.record(
                account_id, method, url[len(self.settings.base_url):].split("?", 1)[0], called_at=sent_at,
                duration=elapsed, attempt=attempt, status=status, fbtrace_id=trace, error=failure,
            )

    def _read(
        self, account_id: str, method: str, path: str, response: requests.Response, budget: Budget = "platform"
    ) -> dict[str, Any]:
        from instagram_graph.rate_limit import parse_usage_headers

        report = parse_usage_headers(response.headers)
        try:
            if self.throttle.record(self.settings.app_id, account_id, report) > 0:
                self.budgets.release_all()  # paused: leased slots must not outlive the pause
        except RateLimiterUnavailableError as exc:
            # The call already happened (perhaps a publish): losing its answer because
            # Redis blinked would be worse than missing one usage report.
            self.log.warning("Usage headers of %s /%s not recorded: %s", method, path, exc)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.ok and isinstance(payload, dict) and "error" not in payload:
            return payload
        if response.ok:
            raise TransientError(
                f"{method} /{path} answered HTTP {response.status_code} with a body that is not a JSON object",
                http_status=response.status_code,
                account_id=account_id,
            )
        regain = None
        if budget == "platform":  # usage headers time the platform budget, never messaging's
            regain = report.regain_seconds.get(account_id) or max(report.regain_seconds.values(), default=None)
        error = classify(payload, response.status_code, retry_after=regain, account_id=account_id)
        if isinstance(error, RateLimitError):
            error.retry_after = self.budgets.pause(budget, account_id, error.retry_after)
        elif isinstance(error, TokenError):
            self._note_token_failure(account_id, error)
        self.log.info(
            "%s /%s for account %s failed: %s", method, path, account_id, type(error).__name__
        )
        raise error

    def _wait_for_slot(self, account_id: str, budget: Budget = "platform") -> None:
        """Block until both the budget's pauses and its sliding window admit a call.

        One Redis round trip per attempt (pause keys and window in one Lua script). Short
        waits happen here; a wait past ``max_inline_wait`` is raised as a RateLimitError
        carrying ``retry_after`` so the operator can defer instead of holding a worker.
        Messaging pacing (a full one-second window) is always waited here.
        """
        deadline = time.monotonic() + self.settings.max_inline_wait
        while True:
            admission = self.budgets.take(budget, account_id)
            wait = admission.wait
            if wait <= 0:
                return
            reason = self.budgets.describe(budget, admission)
            if time.monotonic() + wait > deadline and not self.budgets.waits_inline(budget, admission):
                raise RateLimitError(
                    f"account {account_id}: {reason}; next slot in {wait:.0f}s",
                    retry_after=wait,
                    account_id=account_id,
                )
            self.log.info("Account %s waits %.2fs: %s", account_id, wait, reason)
            time.sleep(wait)

    # --- pagination ----------------------------------------------------------------------

    def get_page(
        self,
        account_id: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        after: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        budget: Budget = "platform",
    ) -> Page[dict[str, Any]]:
        """One page of an edge. The next request is rebuilt from ``cursors.after``."""
        query = dict(params or {})
        query["limit"] = max(1, min(limit, MAX_PAGE_SIZE))
        if after:
            query["after"] = after
        payload = self.call(account_id, "GET", path, params=query, budget=budget)
        return _page_of(payload)

    def paginate(
        self,
        account_id: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        limit: int = MAX_PAGE_SIZE,
        budget: Budget = "platform",
    ) -> Iterator[dict[str, Any]]:
        """Every item of an edge, exactly once. Stops only when ``paging.next`` is absent.

        Stop iterating early and no further page is fetched (incremental syncs rely on it).
        """
        after: str | None = None
        seen: set[str] = set()
        while True:
            page = self.get_page(account_id, path, params=params, after=after, limit=limit, budget=budget)
            yield from page.data
            if page.after is None:
                return
            if page.after in seen:
                raise InvalidRequestError(
                    f"/{path} returned a cursor it had already returned; stopping instead of looping"
                )
            seen.add(page.after)
            after = page.after

    # --- reads ------------------------------------------------------------------------------

    def get_profile(self, account_id: str, *, fields: str = PROFILE_FIELDS) -> Profile:
        return cast(Profile, self.call(account_id, "GET", account_id, params={"fields": fields}))

    def get_media_page(
        self, account_id: str, *, after: str | None = None, limit: int = MAX_PAGE_SIZE, fields: str = MEDIA_FIELDS
    ) -> Page[Media]:
        """Newest first; carousel children arrive expanded in ``children.data``."""
        page = self.get_page(account_id, f"{account_id}/media", params={"fields": fields}, after=after, limit=limit)
        return cast(Page[Media], page)

    def iter_media(
        self, account_id: str, *, limit: int = MAX_PAGE_SIZE, fields: str = MEDIA_FIELDS
    ) -> Iterator[Media]:
        """All media, newest first, paged lazily (about the newest 10,000 on the real API)."""
        return cast(
            Iterator[Media],
            self.paginate(account_id, f"{account_id}/media", params={"fields": fields}, limit=limit),
        )

    def get_media(self, account_id: str, media_id: str, *, fields: str = MEDIA_FIELDS) -> Media:
        return cast(Media, self.call(account_id, "GET", media_id, params={"fields": fields}))

    def get_children(self, account_id: str, media_id: str, *, fields: str = CHILD_FIELDS) -> list[MediaChild]:
        """Children of one carousel, for when the expansion was not asked for."""
        return cast(
            list[MediaChild], list(self.paginate(account_id, f"{media_id}/children", params={"fields": fields}))
        )

    def get_stories(self, account_id: str, *, fields: str = STORY_FIELDS) -> list[Media]:
        """Stories live for 24 hours; only the live ones are served."""
        return cast(list[Media], list(self.paginate(account_id, f"{account_id}/stories", params={"fields": fields})))

    def get_comments(self, account_id: str, media_id: str, *, fields: str = COMMENT_FIELDS) -> list[Comment]:
        """Top-level comments with all their replies.

        Replies come expanded in the same call; only a comment whose expansion holds more
        than one page of replies costs a further call for the rest.
        """
        comments = list(self.paginate(account_id, f"{media_id}/comments", params={"fields": fields}))
        kept = []
        for comment in comments:
            replies = comment.get("replies") or {}
            if (replies.get("paging") or {}).get("next"):
                try:
                    comment["replies"] = {"data": self.get_replies(account_id, comment["id"])}
                except ObjectNotFoundError:  # deleted while we read: it is not among the comments
                    continue
            kept.append(comment)
        return cast(list[Comment], kept)

    def get_replies(self, account_id: str, comment_id: str, *, fields: str = REPLY_FIELDS) -> list[Comment]:
        return cast(list[Comment], list(self.paginate(account_id, f"{comment_id}/replies", params={"fields": fields})))

    def get_account_insights(
        self,
        account_id: str,
        metrics: Sequence[str],
        *,
        period: str = "day",
        metric_type: str | None = None,
        since: datetime | int | None = None,
        until: datetime | int | None = None,
        breakdown: str | None = None,
        timeframe: str | None = None,
    ) -> list[Insight]:
        """Account insights; ``since``/``until`` may span at most 30 days per call."""
        params = {
            "metric": ",".join(metrics),
            "period": period,
            "metric_type": metric_type,
            "since": _unix(since),
            "until": _unix(until),
            "breakdown": breakdown,
            "timeframe": timeframe,
        }
        payload = self.call(account_id, "GET", f"{account_id}/insights", params=params)
        return cast(list[Insight], payload.get("data", []))

    def get_media_insights(
        self, account_id: str, media_id: str, metrics: Sequence[str], *, period: str | None = None
    ) -> list[Insight]:
        """Insights of one media; the valid metric set depends on its type (see API docs)."""
        params = {"metric": ",".join(metrics), "period": period}
        payload = self.call(account_id, "GET", f"{media_id}/insights", params=params)
        return cast(list[Insight], payload.get("data", []))

    # --- publishing ---------------------------------------------------------------------------

    def create_container(
        self,
        account_id: str,
        *,
        image_url: str | None = None,
        video_url: str | None = None,
        media_type: str | None = None,
        caption: str | None = None,
        alt_text: str | None = None,
        is_carousel_item: bool = False,
        children: Sequence[str] | None = None,
        share_to_feed: bool | None = None,
        cover_url: str | None = None,
        thumb_offset: int | None = None,
        audio_name: str | None = None,
        user_tags: Sequence[Mapping[str, Any]] | None = None,
        location_id: str | None = None,
    ) -> str:
        """Create a media container and return its id. Parameters left None are not sent.

        Reels take ``share_to_feed``, ``cover_url``, ``thumb_offset`` (ms) and
        ``audio_name``; ``user_tags`` is a list of ``{"username", "x", "y"}`` (sent as the
        JSON array Meta expects); ``location_id`` is a location Page's id. Which media type
        takes which is checked before this call (see ``instagram_graph.publishing``).

        Retried like a read: a duplicate container is harmless (it expires unpublished
        after 24 hours), unlike a duplicate post.
        """
        params = {
            "image_url": image_url,
            "video_url": video_url,
            "media_type": media_type,
            "caption": caption,
            "alt_text": alt_text,
            "is_carousel_item": "true" if is_carousel_item else None,
            "children": ",".join(children) if children else None,
            "share_to_feed": None if share_to_feed is None else ("true" if share_to_feed else "false"),
            "cover_url": cover_url,
            "thumb_offset": None if thumb_offset is None else str(int(thumb_offset)),
            "audio_name": audio_name,
            "user_tags": json_dumps(list(user_tags), separators=(",", ":")) if user_tags else None,
            "location_id": location_id,
        }
        payload = self.call(account_id, "POST", f"{account_id}/media", params=params, idempotent=True)
        return str(payload["id"])

    def get_container_status(self, account_id: str, container_id: str) -> ContainerStatus:
        return cast(
            ContainerStatus,
            self.call(account_id, "GET", container_id, params={"fields": "id,status_code,status"}),
        )

    def publish_container(self, account_id: str, container_id: str) -> str:
        """Publish a FINISHED container; returns the media id. Never retried blindly."""
        payload = self.call(
            account_id, "POST", f"{account_id}/media_publish", params={"creation_id": container_id}, idempotent=False
        )
        return str(payload["id"])

    def get_publishing_limit(self, account_id: str) -> PublishingLimit:
        payload = self.call(
            account_id, "GET", f"{account_id}/content_publishing_limit", params={"fields": "quota_usage,config"}
        )
        data = payload.get("data") or [{}]
        return cast(PublishingLimit, data[0])

    # --- messaging -----------------------------------------------------------------------------

    def iter_conversations(self, account_id: str, *, user_id: str | None = None) -> Iterator[Conversation]:
        """Conversations, most recently updated first; ``user_id`` (an IGSID) keeps only
        the conversation with that person, so finding it costs one call."""
        params = {"platform": "instagram", "fields": "id,updated_time", "user_id": user_id}
        return cast(
            Iterator[Conversation],
            self.paginate(account_id, f"{account_id}/conversations", params=params, limit=50, budget="conversations"),
        )

    def get_messages(self, account_id: str, conversation_id: str) -> list[Message]:
        """Every message of a conversation (first page by expansion, the rest by edge)."""
        payload = self.call(
            account_id, "GET", conversation_id, params={"fields": f"messages{{{MESSAGE_FIELDS}}}"},
            budget="conversations",
        )
        first = _page_of(payload.get("messages") or {})
        messages = list(first.data)
        if first.after:
            edge = self.paginate(
                account_id, f"{conversation_id}/messages", params={"fields": MESSAGE_FIELDS, "after": first.after},
                budget="conversations",
            )
            messages.extend(edge)
        return cast(list[Message], messages)

    def send_message(self, account_id: str, recipient_id: str, text: str, *, tag: str | None = None) -> SentMessage:
        """Send a text DM. Never retried blindly: a lost answer may mean it was sent.

        :param tag: ``HUMAN_AGENT`` for a person's reply up to 7 days after the recipient's
            last message (Meta must have granted the app the Human Agent feature); sent as
            ``"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"``. None: a plain reply,
            within 24 hours.
        """
        body: dict[str, Any] = {"recipient": {"id": recipient_id}, "message": {"text": text}}
        if tag:
            body.update(messaging_type="MESSAGE_TAG", tag=tag)
        payload = self.call(account_id, "POST", f"{account_id}/messages", json=body, idempotent=False, budget="send")
        return cast(SentMessage, payload)

    # --- tokens ---------------------------------------------------------------------------------

    def refresh_token(self, account_id: str) -> RefreshedToken:
        """Exchange the account's long-lived token for a fresh one (60 more days).

        The caller stores the result; the old token keeps working until it expires.
        """
        payload = self.call(
            account_id,
            "GET",
            "refresh_access_token",
            params={"grant_type": "ig_refresh_token"},
            versioned=False,
            token_in_query=True,
        )
        token = payload.get("access_token")
        if token:
            mask_secret(token)
        return cast(RefreshedToken, payload)

    def revoke(self, account_id: str) -> bool:
        """Revoke the app's permissions for this account's token."""
        payload = self.call(account_id, "DELETE", "me/permissions")
        return bool(payload.get("success", False))

    # --- Airflow UI ---------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: reach the host, and try the token if the connection has one."""
        try:
            settings = self.settings
            if not settings.access_token:
                response = self.get_conn().get(settings.url("me"), timeout=settings.timeout)
                return True, f"Reached {settings.base_url} (HTTP {response.status_code}); tokens live in the token store"
            headers = {"Authorization": f"Bearer {settings.access_token}"}
            response = self.get_conn().get(
                settings.url("me"), params={"fields": "id,username"}, headers=headers, timeout=settings.timeout
            )
            if response.ok:
                return True, f"Connected as {response.json().get('username', '?')}"
            return False, str(classify(_json_or_none(response), response.status_code))
        except (requests.RequestException, GraphApiError, ValueError) as exc:
            return False, redact(f"{type(exc).__name__}: {exc}")


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _page_of(payload: Mapping[str, Any]) -> Page[dict[str, Any]]:
    """A Page from an edge payload; ``after`` is None unless ``paging.next`` is present."""
    paging = payload.get("paging") or {}
    cursors = paging.get("cursors") or {}
    after = None
    if paging.get("next"):
        after = cursors.get("after")
        if not after:  # some edges omit cursors: read `after` out of the URL, keep nothing else
            after = (parse_qs(urlsplit(paging["next"]).query).get("after") or [None])[0]
    return Page(data=list(payload.get("data") or []), after=after)


def _expired(token: Any) -> bool:
    expires_at = getattr(token, "expires_at", None)
    return expires_at is not None and expires_at.timestamp() <= time.time()
