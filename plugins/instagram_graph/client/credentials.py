"""Which token an account's calls carry, kept in memory with its expiry between calls."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from instagram_graph.errors import TokenError, TokenExpiredError
from instagram_graph.settings import LOGIN_INSTAGRAM

if TYPE_CHECKING:
    from airflow.sdk.types import Logger  # the task log (self.log of a hook)
from instagram_graph.masking import mask_token


class AccountTokens:
    """Per-account tokens from the encrypted token store, or the connection's single token.

    :param connection_token: the token kept in the connection (a single-account setup); used
        as long as no token store is in use.
    :param store: a :class:`~instagram_graph.token_store.TokenStore`; built on first use (from the
        ``instagram_warehouse`` connection) when omitted.
    :param log: where a failure to record a token's status is logged.
    """

    def __init__(self, connection_token: str | None, store: Any | None, log: logging.Logger | Logger) -> None:
        self.connection_token = connection_token
        self._store = store
        self._own_store = False
        self.log = log
        self._cached: dict[str, Any] = {}

    def close(self) -> None:
        """Close the connection of a store built here (a store handed in is its owner's)."""
        if self._own_store and self._store is not None:
            self._store.close()

    @property
    def store(self) -> Any:
        """The token store (per-account tokens, encrypted in the warehouse)."""
        if self._store is None:
            from instagram_graph.token_store import TokenStore

            self._store = TokenStore(keep_connection=True)
            self._own_store = True
        return self._store

    @property
    def _single(self) -> bool:
        return bool(self.connection_token) and self._store is None

    def token(self, account_id: str) -> str:
        """The account's token, refused before any HTTP call when it has expired."""
        if self._single:
            return str(self.connection_token)
        return str(self._stored(account_id).token)

    def login(self, account_id: str) -> str:
        """How the account is reached: ``instagram`` (graph.instagram.com) or ``facebook``
        (graph.facebook.com, with its Page token). The connection's single token is Instagram Login's."""
        if self._single:
            return LOGIN_INSTAGRAM
        return str(getattr(self._stored(account_id), "login", LOGIN_INSTAGRAM))

    def inbox(self, account_id: str) -> str:
        """The node whose conversations and messages are the account's: the account itself, or
        with Facebook Login its Page."""
        if self._single:
            return account_id
        return str(getattr(self._stored(account_id), "page_id", None) or account_id)

    def _stored(self, account_id: str) -> Any:
        cached = self._cached.get(account_id)
        if cached is None or _expired(cached):
            cached = self.store.get(account_id)  # raises TokenExpiredError when expired
            self._cached[account_id] = cached
            mask_token(cached.token)
        return cached

    def refused(self, account_id: str, error: TokenError) -> None:
        """Meta refused the account's token: forget it, and record why in the token store."""
        self._cached.pop(account_id, None)
        if self._single:
            return
        status = "expired" if isinstance(error, TokenExpiredError) else "invalid"
        try:
            self.store.mark(account_id, status, error=str(error))
        except Exception:  # recording the failure must not hide the failure itself
            self.log.exception("Could not record token status %s for account %s", status, account_id)


def _expired(token: Any) -> bool:
    expires_at = getattr(token, "expires_at", None)
    return expires_at is not None and expires_at.timestamp() <= time.time()
