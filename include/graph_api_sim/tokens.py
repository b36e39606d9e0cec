"""Access tokens, grants and the checks every Graph API call passes.

A grant is what the user allowed the app (permissions, revocation, whether calls must
carry an appsecret_proof); a token is one credential for that grant with its own
expiry. Refreshing issues a new token and leaves the old one valid until it expires,
as Meta does.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from . import catalog
from .clock import SimClock, http_date
from .errors import GraphError
from .ids import IdFactory
from .world import World


@dataclass
class Grant:
    account_id: str
    permissions: set[str] = field(default_factory=lambda: set(catalog.ALL_PERMISSIONS))
    revoked: bool = False
    requires_appsecret_proof: bool = False


@dataclass
class Token:
    value: str
    account_id: str
    issued_at: float
    expires_at: float


def appsecret_proof(app_secret: str, token: str) -> str:
    """hex HMAC-SHA256 of the token keyed with the app secret (what clients must send)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


class TokenBook:
    def __init__(self, world: World, clock: SimClock, ids: IdFactory) -> None:
        self._clock = clock
        self._ids = ids
        self._tokens: dict[str, Token] = {}
        self._current: dict[str, str] = {}
        self._grants: dict[str, Grant] = {}
        for account in world.accounts:
            issued = account.token_issued_at
            self._add(Token(account.token, account.id, issued, issued + catalog.TOKEN_LIFETIME_SECONDS))
            self._grants[account.id] = Grant(account.id)

    def _add(self, token: Token) -> None:
        self._tokens[token.value] = token
        self._current[token.account_id] = token.value

    def peek(self, value: str | None) -> Token | None:
        """The token record, valid or not (to attribute a call to an account)."""
        return self._tokens.get(value) if value else None

    def current(self, account_id: str) -> Token:
        return self._tokens[self._current[account_id]]

    def grant(self, account_id: str) -> Grant:
        return self._grants[account_id]

    # --- checks -----------------------------------------------------------------------

    def authenticate(self, value: str | None, proof: str | None, app_secret: str) -> Token:
        """The token behind a call, or the Graph error Meta answers for it."""
        if not value:
            raise GraphError("token_missing")
        token = self._tokens.get(value)
        if token is None:
            raise GraphError("token_invalid")
        grant = self._grants[token.account_id]
        if grant.revoked:
            raise GraphError("token_revoked")
        now = self._clock.now()
        if now >= token.expires_at:
            raise GraphError("token_expired", expired=http_date(token.expires_at), now=http_date(now))
        if proof is not None or grant.requires_appsecret_proof:
            if proof is None:
                raise GraphError("appsecret_proof_missing")
            if not hmac.compare_digest(proof.lower(), appsecret_proof(app_secret, value)):
                raise GraphError("appsecret_proof_invalid")
        return token

    def require(self, token: Token, permission: str | None) -> None:
        if permission is None or permission in self._grants[token.account_id].permissions:
            return
        if permission in catalog.PERMISSIONS_DENIED_WITH_200:
            raise GraphError("permission_required", permission=permission)
        raise GraphError("permission_denied")

    # --- changes ----------------------------------------------------------------------

    def refresh(self, token: Token) -> Token:
        """A new 60-day token for the same grant; refused for tokens younger than 24 h."""
        if self._clock.now() - token.issued_at < catalog.TOKEN_MIN_AGE_FOR_REFRESH:
            raise GraphError("refresh_too_early")
        return self.issue(token.account_id)

    def issue(self, account_id: str) -> Token:
        """A new 60-day token for the account's grant; it becomes the account's current token."""
        now = self._clock.now()
        fresh = Token(self._ids.token(), account_id, now, now + catalog.TOKEN_LIFETIME_SECONDS)
        self._add(fresh)
        return fresh

    def revoke(self, account_id: str) -> None:
        self._grants[account_id].revoked = True

    def update(self, account_id: str, *, expires_at: float | None = None, permissions: list[str] | None = None,
               revoked: bool | None = None, requires_appsecret_proof: bool | None = None) -> None:
        """Control-endpoint changes: expiry applies to the current token, the rest to the grant."""
        grant = self._grants[account_id]
        if expires_at is not None:
            self.current(account_id).expires_at = float(expires_at)
        if permissions is not None:
            unknown = set(permissions) - set(catalog.ALL_PERMISSIONS)
            if unknown:
                raise ValueError(f"unknown permission(s): {', '.join(sorted(unknown))}")
            grant.permissions = set(permissions)
        if revoked is not None:
            grant.revoked = revoked
        if requires_appsecret_proof is not None:
            grant.requires_appsecret_proof = requires_appsecret_proof

    def describe(self, account_id: str) -> dict[str, Any]:
        token = self.current(account_id)
        grant = self._grants[account_id]
        return {
            "token": token.value,
            "token_issued_at": int(token.issued_at),
            "token_expires_at": int(token.expires_at),
            "permissions": [p for p in catalog.ALL_PERMISSIONS if p in grant.permissions],
            "revoked": grant.revoked,
            "requires_appsecret_proof": grant.requires_appsecret_proof,
        }
