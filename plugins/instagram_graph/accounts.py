"""Account administration: which Instagram accounts exist, are enabled, and whose token is due.

Rows of ``instagram.accounts`` with their token's health, read and changed here; the
tokens themselves (encrypted) are :mod:`instagram_graph.token_store`'s, whose keys tell
whether a stored token can still be decrypted. No listing of this module contains a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from instagram_graph.errors import reconnect_hint
from instagram_graph.token_store import TokenStore, TokenStoreError

_DISABLE = "UPDATE instagram.accounts SET enabled = false, disabled_reason = %s WHERE account_id = %s"
_ENABLE = "UPDATE instagram.accounts SET enabled = true, disabled_reason = NULL WHERE account_id = %s"
_ENABLED_ACCOUNTS = "SELECT account_id FROM instagram.accounts WHERE enabled ORDER BY account_id"
_ACCOUNT_IDS = "SELECT account_id FROM instagram.accounts ORDER BY account_id"
_LIST_ACCOUNTS = """
SELECT a.account_id, a.username, a.enabled, a.disabled_reason, a.login, a.page_id,
       t.account_id IS NOT NULL AS has_token, t.expires_at, t.status, t.last_error,
       t.expires_at IS NOT NULL AND t.expires_at <= now() AS past_expiry,
       floor(extract(epoch FROM t.expires_at - now()) / 86400)::integer AS days_left,
       t.ciphertext
  FROM instagram.accounts a
  LEFT JOIN instagram.oauth_tokens t USING (account_id)
 ORDER BY a.account_id
"""
_REFRESH_CANDIDATES = """
SELECT t.account_id
  FROM instagram.oauth_tokens t
  JOIN instagram.accounts a USING (account_id)
 WHERE a.enabled AND t.status <> 'revoked'
   AND t.expires_at IS NOT NULL AND t.expires_at <= now() + %s
   AND t.issued_at <= now() - %s
 ORDER BY t.expires_at, t.account_id
"""
_USERNAME = "SELECT username FROM instagram.accounts WHERE account_id = %s"
# Facebook users whose long-lived token expires soon and who still stand behind an enabled account.
_FACEBOOK_USERS_DUE = """
SELECT u.user_id
  FROM instagram.facebook_users u
 WHERE u.status <> 'revoked' AND u.expires_at IS NOT NULL AND u.expires_at <= now() + %s
   AND EXISTS (SELECT 1 FROM instagram.accounts a WHERE a.facebook_user_id = u.user_id AND a.enabled)
 ORDER BY u.expires_at, u.user_id
"""
_LOGIN_OF = "SELECT login FROM instagram.accounts WHERE account_id = %s"
_FACEBOOK_USER_OF = "SELECT facebook_user_id FROM instagram.accounts WHERE account_id = %s"
_ACCOUNTS_OF_FACEBOOK_USER = "SELECT account_id FROM instagram.accounts WHERE facebook_user_id = %s ORDER BY account_id"


class UnknownAccount(TokenStoreError):
    """No such account in ``instagram.accounts``; the message says how to add it."""


@dataclass(frozen=True)
class AccountTokenInfo:
    """One row of :meth:`AccountRegistry.list_accounts`: an account and its token's health.

    ``status`` is None when the account has no token, ``"expired"`` once ``expires_at``
    has passed even if nothing marked it yet, and ``"undecryptable"`` when no key in
    ``INSTAGRAM_TOKEN_KEYS`` decrypts the stored token (it cannot be used as it is).
    ``days_left`` is whole days until expiry (negative once expired; None without expiry
    or token).
    """

    account_id: str
    username: str | None
    enabled: bool
    expires_at: datetime | None
    status: str | None
    days_left: int | None
    disabled_reason: str | None = None
    last_error: str | None = None
    login: str = "instagram"  # or "facebook": reached through the Facebook Page ``page_id``
    page_id: str | None = None


class AccountRegistry:
    """The Instagram accounts in the warehouse: list, enable and disable them, and pick the
    ones to sync or to refresh.

    :param token_store: the store whose warehouse and keys are used (default: a new
        :class:`~instagram_graph.token_store.TokenStore`); listing and disabling accounts
        work without keys.
    """

    def __init__(self, token_store: TokenStore | None = None) -> None:
        self.token_store = token_store if token_store is not None else TokenStore()

    def list_accounts(self) -> list[AccountTokenInfo]:
        """Every account with its token's status and expiry (never the token)."""
        with self.token_store.transaction() as cur:
            cur.execute(_LIST_ACCOUNTS)
            rows = cur.fetchall()
        infos = []
        if any(row[6] for row in rows):
            self.token_store.check_keys()
        for (account_id, username, enabled, disabled_reason, login, page_id, has_token, expires_at, status, last_error,
             past, days, ciphertext) in rows:
            if has_token and status == "active" and past:
                status = "expired"
            if has_token and status == "active" and not self.token_store.decrypts(ciphertext):
                status = "undecryptable"
            infos.append(
                AccountTokenInfo(
                    account_id=account_id,
                    username=username,
                    enabled=enabled,
                    expires_at=expires_at,
                    status=status,
                    days_left=days,
                    disabled_reason=disabled_reason,
                    last_error=last_error,
                    login=login,
                    page_id=page_id,
                )
            )
        return infos

    def disable(self, account_id: str, reason: str) -> None:
        """Stop scheduled syncs for the account (its token stays; :meth:`TokenStore.get` still works)."""
        if not reason or not reason.strip():
            raise ValueError("A reason is required to disable an account")
        with self.token_store.transaction() as cur:
            cur.execute(_DISABLE, (reason.strip(), account_id))
            _require_account(cur, account_id)

    def enable(self, account_id: str) -> None:
        """Undo :meth:`disable`."""
        with self.token_store.transaction() as cur:
            cur.execute(_ENABLE, (account_id,))
            _require_account(cur, account_id)

    def account_ids(self) -> list[str]:
        """Ids of every registered account, enabled or not: no token is read or decrypted."""
        with self.token_store.transaction() as cur:
            cur.execute(_ACCOUNT_IDS)
            return [account_id for (account_id,) in cur.fetchall()]

    def enabled_accounts(self) -> list[str]:
        """Ids of the enabled accounts, sorted: what scheduled syncs map over."""
        with self.token_store.transaction() as cur:
            cur.execute(_ENABLED_ACCOUNTS)
            return [account_id for (account_id,) in cur.fetchall()]

    def refresh_candidates(self, *, expiring_within: timedelta, min_age: timedelta) -> list[str]:
        """Enabled accounts whose token expires within ``expiring_within`` and was issued at
        least ``min_age`` ago (Meta refreshes only tokens 24 h old), soonest expiry first.
        Revoked tokens are left out; expired or invalid ones are not (they need a reconnect)."""
        with self.token_store.transaction() as cur:
            cur.execute(_REFRESH_CANDIDATES, (expiring_within, min_age))
            return [account_id for (account_id,) in cur.fetchall()]


    def facebook_users_due(self, *, expiring_within: timedelta) -> list[str]:
        """Facebook users whose long-lived token expires within ``expiring_within`` and who stand
        behind an enabled account (their Page tokens never expire; their own token renews and
        revokes them)."""
        with self.token_store.transaction() as cur:
            cur.execute(_FACEBOOK_USERS_DUE, (expiring_within,))
            return [user_id for (user_id,) in cur.fetchall()]

    def login_of(self, account_id: str) -> str:
        """``instagram`` or ``facebook``: how the account is reached (read without its token)."""
        with self.token_store.transaction() as cur:
            cur.execute(_LOGIN_OF, (account_id,))
            row = cur.fetchone()
        if row is None:
            raise UnknownAccount(f"Unknown Instagram account {account_id}. Add it with: {reconnect_hint(account_id)}")
        return str(row[0])

    def facebook_user_of(self, account_id: str) -> str | None:
        """The Facebook user whose login gave the account its Page token (None: Instagram Login)."""
        with self.token_store.transaction() as cur:
            cur.execute(_FACEBOOK_USER_OF, (account_id,))
            row = cur.fetchone()
        return row[0] if row else None

    def accounts_of_facebook_user(self, user_id: str) -> list[str]:
        """The accounts whose Page token came from this Facebook user's login."""
        with self.token_store.transaction() as cur:
            cur.execute(_ACCOUNTS_OF_FACEBOOK_USER, (user_id,))
            return [account_id for (account_id,) in cur.fetchall()]


def account_label(conn: Any, account_id: str) -> str:
    """``username (id)`` for the UI (mapped task names), or the bare id when no username is known."""
    with conn, conn.cursor() as cur:
        cur.execute(_USERNAME, (account_id,))
        row = cur.fetchone()
    return f"{row[0]} ({account_id})" if row and row[0] else account_id


def _require_account(cur: Any, account_id: str) -> None:
    if cur.rowcount == 0:
        raise UnknownAccount(f"Unknown Instagram account {account_id}. Add it with: {reconnect_hint(account_id)}")
