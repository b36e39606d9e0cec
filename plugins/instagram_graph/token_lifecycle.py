"""Keeping long-lived tokens alive, and ending them: refresh before expiry, revoke on demand.

Meta's long-lived Instagram tokens last 60 days and can be refreshed once they are at
least 24 hours old and not yet expired; integrations commonly fail by letting them
lapse. The daily ``instagram_token_refresh`` DAG refreshes every token that expires
within a week (a setting); the store keeps only the new ciphertext. ``revoke`` ends an
account's access at Meta and in the warehouse (``instagram-graph accounts revoke``).

Facebook Login differs: an account's Page token does not expire and needs no refresh;
the Facebook user's long-lived token (60 days) is renewed by exchanging it again
(``fb_exchange_token``: :func:`refresh_facebook_user`), and revoking is the user's
(``DELETE /{user-id}/permissions``), so it ends every account of that user at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from instagram_graph.accounts import AccountRegistry
from instagram_graph.errors import TokenError, TokenExpiredError
from instagram_graph.settings import LOGIN_FACEBOOK

log = logging.getLogger(__name__)

MIN_TOKEN_AGE = timedelta(hours=24)  # Meta refuses to refresh younger tokens
LONG_LIVED_TOKEN_LIFETIME = timedelta(days=60)
DEFAULT_REFRESH_WITHIN = timedelta(days=7)
# The refresh DAG's "expiring within N days": at least a day, and shorter than a token's
# whole life (a window of 60 days would refresh every token on every run).
REFRESH_WITHIN_DAYS_MIN = 1
REFRESH_WITHIN_DAYS_MAX = LONG_LIVED_TOKEN_LIFETIME.days - 1


class TokenRefreshError(RuntimeError):
    """Meta answered a refresh without a usable token; the old one is kept."""


class RevokeNotConfirmed(RuntimeError):
    """Meta answered the revocation without confirming it; nothing was changed here."""


@dataclass(frozen=True)
class Refreshed:
    """The outcome of one refresh: no token in it, so it can go to logs and XCom."""

    account_id: str
    expires_at: datetime | None

    def summary(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "expires_at": self.expires_at.isoformat() if self.expires_at else None}


def new_token(answer: Any, issued_at: datetime, what: str) -> tuple[str, datetime | None]:
    """The token and its expiry from a refresh or exchange answer (``expires_in`` seconds; none: never).

    :raises TokenRefreshError: the answer holds no token (``what`` names the call).
    """
    token = answer.get("access_token")
    if not token:
        raise TokenRefreshError(f"Meta answered {what} without a new token")
    expires_in = answer.get("expires_in")
    return str(token), (issued_at + timedelta(seconds=int(expires_in)) if expires_in else None)


def accounts_due(accounts: AccountRegistry, within: timedelta = DEFAULT_REFRESH_WITHIN) -> list[str]:
    """Enabled accounts whose token expires within ``within`` and is old enough to refresh.

    Expired and invalid tokens are included on purpose: they cannot be refreshed, and the
    failing refresh task names the account that must be reconnected.
    """
    return accounts.refresh_candidates(expiring_within=within, min_age=MIN_TOKEN_AGE)


def refresh(hook: Any, store: Any, account_id: str, *, now: datetime | None = None) -> Refreshed:
    """Exchange the account's token for a fresh one and store it encrypted.

    :raises TokenError: the token cannot be refreshed (expired, revoked, invalid): reconnect.
    :raises TokenRefreshError: Meta's answer held no token.
    """
    issued_at = now or datetime.now(UTC)
    if AccountRegistry(store).login_of(account_id) == LOGIN_FACEBOOK:
        raise TokenRefreshError(
            f"Account {account_id} uses Facebook Login: its Page token does not expire, and the Facebook user's "
            "token is renewed by the token refresh DAG's refresh_facebook_user task"
        )
    token, expires_at = new_token(hook.refresh_token(account_id), issued_at, f"the refresh of account {account_id}")
    store.update_after_refresh(account_id, token, expires_at, issued_at=issued_at)
    log.info("Refreshed the token of account %s; it now expires %s", account_id, expires_at)
    return Refreshed(account_id, expires_at)


def facebook_users_due(accounts: AccountRegistry, within: timedelta = DEFAULT_REFRESH_WITHIN) -> list[str]:
    """Facebook users whose long-lived token expires within ``within`` (their accounts' Page
    tokens do not expire, but the user's token is what renews and revokes them)."""
    return accounts.facebook_users_due(expiring_within=within)


def refresh_facebook_user(hook: Any, store: Any, user_id: str, *, now: datetime | None = None) -> Refreshed:
    """Exchange a Facebook user's long-lived token for a fresh one (``fb_exchange_token``) and store it.

    :raises TokenError: Meta refused the token (the user's token is marked): discover again.
    :raises TokenRefreshError: Meta's answer held no token.
    """
    issued_at = now or datetime.now(UTC)
    current = store.get_facebook_user(user_id)
    try:
        answer = hook.exchange_user_token(current.token)
    except TokenError as exc:
        store.mark_facebook_user(user_id, "expired" if isinstance(exc, TokenExpiredError) else "invalid", str(exc))
        raise
    token, expires_at = new_token(answer, issued_at, f"the exchange of Facebook user {user_id}'s token")
    store.update_facebook_user_after_refresh(user_id, token, expires_at, issued_at=issued_at)
    log.info("Renewed the token of Facebook user %s; it now expires %s", user_id, expires_at)
    return Refreshed(user_id, expires_at)


@dataclass(frozen=True)
class Revoked:
    account_id: str
    at_meta: bool  # False: Meta already refused the token, so there was nothing left to revoke
    detail: str
    also: tuple[str, ...] = ()  # Facebook Login: the other accounts of the same Facebook user, revoked too


def revoke(hook: Any, store: Any, account_id: str, *, reason: str = "token revoked") -> Revoked:
    """Revoke the token at Meta, then mark it ``revoked`` and disable the account.

    A token Meta already refuses (expired, invalid, revoked) is unusable anyway: the
    account is still marked and disabled. Anything else (network, throttling) raises
    before the warehouse changes, so the command can simply be run again.
    """
    if AccountRegistry(store).login_of(account_id) == LOGIN_FACEBOOK:
        return _revoke_facebook_user(hook, store, account_id, reason)
    try:
        confirmed = hook.revoke(account_id)
    except TokenError as exc:
        at_meta = False
        detail = f"Meta no longer accepts the token ({type(exc).__name__}); nothing left to revoke there"
    else:
        if not confirmed:
            raise RevokeNotConfirmed(
                f"Meta did not confirm revoking the token of account {account_id}; nothing was changed"
            )
        at_meta, detail = True, "revoked at Meta"
    store.mark(account_id, "revoked", error=reason)
    AccountRegistry(store).disable(account_id, reason)
    log.info("Account %s: %s; token marked revoked, account disabled", account_id, detail)
    return Revoked(account_id, at_meta, detail)


def _revoke_facebook_user(hook: Any, store: Any, account_id: str, reason: str) -> Revoked:
    """Revoke the Facebook user behind ``account_id``: Meta has no revocation per Page, so
    every account of that user is marked revoked and disabled with it."""
    registry = AccountRegistry(store)
    user_id = registry.facebook_user_of(account_id)
    accounts = registry.accounts_of_facebook_user(user_id) if user_id else [account_id]
    at_meta, detail = False, "no Facebook user token is stored; nothing could be revoked at Meta"
    if user_id:
        try:
            user = store.get_facebook_user(user_id)
            confirmed = hook.revoke_facebook_user(user_id, user.token)
        except TokenError as exc:
            detail = f"Meta no longer accepts Facebook user {user_id}'s token ({type(exc).__name__}); nothing left to revoke"
        else:
            if not confirmed:
                raise RevokeNotConfirmed(
                    f"Meta did not confirm revoking Facebook user {user_id} (account {account_id}); nothing was changed"
                )
            at_meta, detail = True, f"Facebook user {user_id} revoked at Meta"
        store.mark_facebook_user(user_id, "revoked", reason)
    for revoked in accounts:
        store.mark(revoked, "revoked", error=reason)
        registry.disable(revoked, reason)
    also = tuple(other for other in accounts if other != account_id)
    log.info("Account %s: %s; %d account(s) marked revoked and disabled", account_id, detail, len(accounts))
    return Revoked(account_id, at_meta, detail, also)
