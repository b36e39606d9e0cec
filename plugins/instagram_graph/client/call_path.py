"""The one call path to the Graph API: slot, auth, send, usage feed, classify, retry, audit.

:meth:`GraphApiClient.call` makes every call, in order:

1. takes the account's token (from the encrypted token store, expiry checked in memory:
   :class:`~instagram_graph.client.credentials.AccountTokens`),
2. waits for a slot of the call's budget: its pauses, then its Redis sliding window
   (``platform`` for most calls, ``conversations`` and ``send`` for messaging, which Meta
   counts apart: see ``CallBudgets``; platform slots are leased a few at a time when
   calls come fast: see ``SlotLeases``; each platform lease is written to a durable
   record in the warehouse, from which a window Redis lost is rebuilt: see
   ``instagram_graph.admission_record``),
3. sends one request on a pooled session with a timeout, signed by
   :class:`~instagram_graph.client.auth.GraphAuth` (token in the Authorization header,
   so it never appears in a URL that urllib3 or a proxy might log),
4. feeds the usage headers to the shared throttle,
5. turns an error body into a typed :class:`~instagram_graph.errors.GraphApiError`,
   retried by the tenacity policy in :mod:`instagram_graph.retries` when that is safe, and
6. records each attempt that sent a request in the audit trail (a DEBUG line, and a row of
   ``instagram.api_calls`` written in batches: see ``instagram_graph.call_audit``).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import requests

from instagram_graph.call_audit import TRACE_HEADER, CallAudit
from instagram_graph.client.auth import GraphAuth
from instagram_graph.client.credentials import AccountTokens
from instagram_graph.client.wire import read_answer, send
from instagram_graph.errors import GraphApiError, RateLimitError, RateLimiterUnavailableError, TokenError
from instagram_graph.rate_limit import Budget, CallBudgets, parse_usage_headers
from instagram_graph.retries import build_retrying
from instagram_graph.settings import GraphApiSettings

if TYPE_CHECKING:
    from airflow.sdk.types import Logger  # the task log (self.log of a hook)


class GraphApiClient:
    """Makes Graph API calls for any number of accounts, within their budgets.

    :param settings: the connection's settings.
    :param session: the pooled HTTP session.
    :param tokens: the accounts' tokens.
    :param budgets: returns the call budgets (built on the first call that needs a slot).
    :param audit: the audit trail of call attempts.
    :param log: where retries, waits and failures are logged (the hook's task log).
    """

    def __init__(
        self,
        settings: GraphApiSettings,
        session: requests.Session,
        tokens: AccountTokens,
        budgets: Callable[[], CallBudgets],
        audit: CallAudit,
        log: logging.Logger | Logger,
    ) -> None:
        self.settings = settings
        self.session = session
        self.tokens = tokens
        self._budgets = budgets
        self.audit = audit
        self.log = log
        self.calls_made = 0

    def call(
        self,
        account_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        budget: Budget = "platform",
    ) -> dict[str, Any]:
        """Make one call to a versioned Graph API path for ``account_id``; return the decoded JSON object.

        :param path: path after the version, such as ``17841400000/media``.
        :param idempotent: whether retrying after an ambiguous failure is safe; defaults
            to True for GET and DELETE and False for POST.
        :param budget: which of the account's budgets the call spends: ``platform``
            (default), ``conversations`` (Conversations API reads, paced at
            ``messaging_calls_per_second``) or ``send`` (Send API, 100/s). Set by the
            messaging endpoints; see :class:`~instagram_graph.rate_limit.CallBudgets`.
        :raises GraphApiError: the classified failure, after the retry policy gave up.
        """
        return self.request(
            account_id, method, self.settings.url(path, self.tokens.login(account_id)), params=params, json=json,
            idempotent=idempotent, budget=budget,
        )

    def request(
        self,
        account_id: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        budget: Budget = "platform",
        auth: type[GraphAuth] | None = GraphAuth,
        as_token: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """:meth:`call` for any URL of either Graph API host, signed by ``auth`` (for the
        endpoints outside the versioned API: see ``instagram_graph.endpoints.tokens``; None:
        unsigned, for the token exchange whose query carries the app's credentials).

        :param as_token: ``(token, login)`` to call with instead of ``account_id``'s stored token
            (a Facebook user's own calls); ``account_id`` then only keys the budget and the audit.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "DELETE")
        label = f"{method} {self._path_of(url)}"
        retrying = build_retrying(self.settings, idempotent=idempotent, log=self.log, describe=lambda: label)
        attempts = itertools.count(1)  # numbers each attempt in the audit trail
        return retrying(
            self._attempt, account_id, method, url, label, params, json, budget, auth, as_token, attempts
        )

    def _host_of(self, url: str) -> str:
        """The base URL (either host) that ``url`` starts with."""
        facebook = self.settings.facebook_base_url
        return facebook if url.startswith(facebook + "/") else self.settings.base_url

    def _path_of(self, url: str) -> str:
        """The path a log line names: after the version for versioned URLs, else after the host."""
        relative = url[len(self._host_of(url)):]
        version = f"/{self.settings.api_version}/"
        return "/" + relative[len(version):] if relative.startswith(version) else relative

    def _attempt(
        self,
        account_id: str,
        method: str,
        url: str,
        label: str,
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None,
        budget: Budget,
        auth: type[GraphAuth] | None,
        as_token: tuple[str, str] | None,
        attempts: Iterator[int],
    ) -> dict[str, Any]:
        attempt = next(attempts)
        token, login = as_token if as_token is not None else (self.tokens.token(account_id), self.tokens.login(account_id))
        signer = auth(token, self.settings.app_secret_for(login)) if auth is not None else None
        self._wait_for_slot(account_id, budget)
        self.calls_made += 1
        sent_at, started = time.time(), time.perf_counter()
        elapsed = 0.0  # set once the request is sent (or failed to be)
        status = trace = failure = None
        try:
            try:
                response = send(
                    self.session, method, url, label=label, auth=signer,
                    timeout=self.settings.timeout, params=params, json=json, account_id=account_id,
                )
            finally:
                elapsed = time.perf_counter() - started
            status, trace = response.status_code, response.headers.get(TRACE_HEADER)
            return self._read(account_id, label, response, budget, own_token=as_token is None)
        except Exception as error:
            trace, failure = trace or getattr(error, "fbtrace_id", None), type(error).__name__
            raise
        finally:
            # One audit record per attempt that sent a request: the URL's path only, never its query.
            self.audit.record(
                account_id, method, url[len(self._host_of(url)):].split("?", 1)[0], called_at=sent_at,
                duration=elapsed, attempt=attempt, status=status, fbtrace_id=trace, error=failure,
            )

    def _read(
        self, account_id: str, label: str, response: requests.Response, budget: Budget, *, own_token: bool = True
    ) -> dict[str, Any]:
        """Feed the usage headers to the throttle, then decode the answer or raise its error
        (a refused token of the account's own is recorded in the token store)."""
        budgets = self._budgets()
        report = parse_usage_headers(response.headers)
        try:
            if budgets.throttle.record(self.settings.app_id, account_id, report) > 0:
                budgets.release_all()  # paused: leased slots must not outlive the pause
        except RateLimiterUnavailableError as exc:
            # The call already happened (perhaps a publish): losing its answer because
            # Redis blinked would be worse than missing one usage report.
            self.log.warning("Usage headers of %s not recorded: %s", label, exc)
        regain = None
        if budget == "platform":  # usage headers time the platform budget, never messaging's
            regain = report.regain_seconds.get(account_id) or max(report.regain_seconds.values(), default=None)
        try:
            return read_answer(response, label=label, account_id=account_id, retry_after=regain)
        except GraphApiError as error:
            if isinstance(error, RateLimitError):
                error.retry_after = budgets.pause(budget, account_id, error.retry_after)
            elif isinstance(error, TokenError) and own_token:
                self.tokens.refused(account_id, error)
            if not response.ok:
                self.log.debug("%s for account %s failed: %s", label, account_id, type(error).__name__)
            raise

    def _wait_for_slot(self, account_id: str, budget: Budget) -> None:
        """Block until both the budget's pauses and its sliding window admit a call.

        One Redis round trip per attempt (pause keys and window in one Lua script). Short
        waits happen here; a wait past ``max_inline_wait`` is raised as a RateLimitError
        carrying ``retry_after`` so the operator can defer instead of holding a worker.
        Messaging pacing (a full one-second window) is always waited here.
        """
        budgets = self._budgets()
        deadline = time.monotonic() + self.settings.max_inline_wait
        while True:
            admission = budgets.take(budget, account_id)
            wait = admission.wait
            if wait <= 0:
                return
            reason = budgets.describe(budget, admission)
            if time.monotonic() + wait > deadline and not budgets.waits_inline(budget, admission):
                raise RateLimitError(
                    f"account {account_id}: {reason}; next slot in {wait:.0f}s",
                    retry_after=wait,
                    account_id=account_id,
                )
            # Pacing (a messaging window of about a second) is the normal course of a
            # conversations sync, ten times per account: not worth an INFO line each.
            paced = budgets.waits_inline(budget, admission)
            (self.log.debug if paced else self.log.info)("Account %s waits %.2fs: %s", account_id, wait, reason)
            time.sleep(wait)
