"""Access tokens, grants and the checks every Graph API call passes.

A grant is what the user allowed the app (permissions, revocation, whether calls must
carry an appsecret_proof); a token is one credential for that grant with its own
expiry. Refreshing issues a new token and leaves the old one valid until it expires,
as Meta does.

Three kinds of token, each good on one host only (``graph.instagram.com`` answers a
Facebook token with "Cannot parse access token", and ``graph.facebook.com`` an Instagram one):
``instagram`` (Instagram Login, one per account), ``user`` (Facebook Login: the person,
who manages Pages; short-lived from the login dialog, 60 days once exchanged) and ``page``
(Facebook Login: one Page, acting for its Instagram account; made from a long-lived user
token it never expires, from a short-lived one it dies with it). Revoking the Facebook
user's permissions kills its user and Page tokens at once.
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


INSTAGRAM, USER, PAGE = "instagram", "user", "page"
FACEBOOK_TOKEN_PREFIX = "EAAsim"  # shaped like Meta's Facebook tokens (EAA...)
NEVER = float("inf")


@dataclass
class Token:
    value: str
    account_id: str | None  # the Instagram account the token acts for (None: a user token, a Page without one)
    issued_at: float
    expires_at: float
    kind: str = INSTAGRAM
    user_id: str | None = None  # user and Page tokens: the Facebook user behind them
    page_id: str | None = None  # Page tokens

    @property
    def host(self) -> str:
        return catalog.LOGIN_INSTAGRAM if self.kind == INSTAGRAM else catalog.LOGIN_FACEBOOK

    @property
    def me(self) -> str | None:
        """The id ``/me`` stands for with this token."""
        if self.kind == USER:
            return self.user_id
        if self.kind == PAGE:
            return self.page_id
        return self.account_id

    @property
    def long_lived(self) -> bool:
        return self.expires_at - self.issued_at > catalog.SHORT_LIVED_USER_TOKEN_SECONDS


def appsecret_proof(app_secret: str, token: str) -> str:
    """hex HMAC-SHA256 of the token keyed with the app secret (what clients must send)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


class TokenBook:
    def __init__(self, world: World, clock: SimClock, ids: IdFactory) -> None:
        self._clock = clock
        self._ids = ids
        self._world = world
        self._tokens: dict[str, Token] = {}
        self._current: dict[str, str] = {}
        self._grants: dict[str, Grant] = {}
        for account in world.accounts:
            self._grants[account.id] = Grant(account.id)
            if account.login == catalog.LOGIN_INSTAGRAM:
                issued = account.token_issued_at
                self._add(Token(account.token, account.id, issued, issued + catalog.TOKEN_LIFETIME_SECONDS))
        self._facebook_ids = IdFactory(f"{world.seed}:facebook-tokens", taken=lambda _: False)
        self._page_tokens: dict[tuple[str, str], Token] = {}  # (page id, user token) -> Page token
        self.user_token: Token | None = None  # what the login dialog gave: short-lived
        self.long_lived_user_token: Token | None = None
        user = world.facebook_user
        if user is not None:
            self._grants[user.id] = Grant(user.id)
            now = clock.now()
            long_lived = self._user_token(user.id, now - 10 * catalog.DAY, catalog.TOKEN_LIFETIME_SECONDS)
            for page in user.pages:
                page_token = self.page_token(page.id, long_lived)
                if page.ig_account_id is not None:
                    self._current[page.ig_account_id] = page_token.value
            self.long_lived_user_token = long_lived
            self.user_token = self._user_token(user.id, now, catalog.SHORT_LIVED_USER_TOKEN_SECONDS)

    def _add(self, token: Token) -> None:
        self._tokens[token.value] = token
        if token.kind == INSTAGRAM and token.account_id is not None:
            self._current[token.account_id] = token.value

    def _user_token(self, user_id: str, issued_at: float, lifetime: float) -> Token:
        token = Token(self._facebook_ids.token(FACEBOOK_TOKEN_PREFIX), None, issued_at, issued_at + lifetime,
                      kind=USER, user_id=user_id)
        self._add(token)
        return token

    def page_token(self, page_id: str, user_token: Token) -> Token:
        """The Page's token as ``/me/accounts`` hands it to this user token: one per (Page, user
        token), never expiring when the user token is long-lived, else dying with it."""
        key = (page_id, user_token.value)
        token = self._page_tokens.get(key)
        if token is None:
            page = self._world.page(page_id)
            assert page is not None
            expires_at = NEVER if user_token.long_lived else user_token.expires_at
            token = Token(self._facebook_ids.token(FACEBOOK_TOKEN_PREFIX), page.ig_account_id, self._clock.now(),
                          expires_at, kind=PAGE, user_id=user_token.user_id, page_id=page_id)
            self._add(token)
            self._page_tokens[key] = token
        return token

    def page_token_for(self, page_id: str, token: Token) -> str | None:
        """The Page token a call with ``token`` may see: its manager's user token gets one, the
        Page's own token is itself, any other token none."""
        page = self._world.page(page_id)
        if page is None:
            return None
        if token.kind == USER and page.owner_id == token.user_id:
            return self.page_token(page_id, token).value
        if token.kind == PAGE and token.page_id == page_id:
            return token.value
        return None

    def exchange(self, value: str | None) -> Token:
        """``fb_exchange_token``: a 60-day user token for a valid user token (short- or long-lived)."""
        token = self._tokens.get(value) if value else None
        if token is None or token.kind != USER:
            raise GraphError("token_invalid")
        self._check_alive(token)
        return self._user_token(str(token.user_id), self._clock.now(), catalog.TOKEN_LIFETIME_SECONDS)

    def peek(self, value: str | None) -> Token | None:
        """The token record, valid or not (to attribute a call to an account)."""
        return self._tokens.get(value) if value else None

    def current(self, account_id: str) -> Token:
        return self._tokens[self._current[account_id]]

    def grant(self, account_id: str) -> Grant:
        return self._grants[account_id]

    # --- checks -----------------------------------------------------------------------

    def authenticate(self, value: str | None, proof: str | None, app_secret: str,
                     host: str = catalog.LOGIN_INSTAGRAM) -> Token:
        """The token behind a call on ``host`` (``instagram`` or ``facebook``), or the Graph
        error Meta answers for it (a token of the other host cannot even be parsed)."""
        if not value:
            raise GraphError("token_missing")
        token = self._tokens.get(value)
        if token is None or token.host != host:
            raise GraphError("token_invalid")
        grant = self._check_alive(token)
        if proof is not None or grant.requires_appsecret_proof:
            if proof is None:
                raise GraphError("appsecret_proof_missing")
            if not hmac.compare_digest(proof.lower(), appsecret_proof(app_secret, value)):
                raise GraphError("appsecret_proof_invalid")
        return token

    def _check_alive(self, token: Token) -> Grant:
        """The grant the token stands on; raises when it was revoked or the token expired."""
        grant = self._grant_of(token)
        user_grant = self._grants.get(token.user_id) if token.user_id else None
        if grant.revoked or (user_grant is not None and user_grant.revoked):
            raise GraphError("token_revoked")
        now = self._clock.now()
        if now >= token.expires_at:
            raise GraphError("token_expired", expired=http_date(token.expires_at), now=http_date(now))
        return grant

    def _grant_of(self, token: Token) -> Grant:
        return self._grants[token.account_id if token.account_id is not None else str(token.user_id)]

    def require(self, token: Token, permission: str | None, account: Any = None) -> None:
        """Refuse the call unless the grant of ``account`` (default: the token's) holds ``permission``."""
        grant = self._grants[account.id] if account is not None else self._grant_of(token)
        if permission is None or permission in grant.permissions:
            return
        if permission in catalog.PERMISSIONS_DENIED_WITH_200:
            raise GraphError("permission_required", permission=permission)
        raise GraphError("permission_denied")

    # --- changes ----------------------------------------------------------------------

    def refresh(self, token: Token) -> Token:
        """A new 60-day token for the same grant; refused for tokens younger than 24 h."""
        if self._clock.now() - token.issued_at < catalog.TOKEN_MIN_AGE_FOR_REFRESH:
            raise GraphError("refresh_too_early")
        assert token.account_id is not None  # an Instagram token: refresh_access_token lives on that host only
        return self.issue(token.account_id)

    def issue(self, account_id: str) -> Token:
        """A new 60-day token for the account's grant; it becomes the account's current token."""
        now = self._clock.now()
        fresh = Token(self._ids.token(), account_id, now, now + catalog.TOKEN_LIFETIME_SECONDS)
        self._add(fresh)
        return fresh

    def revoke(self, account_id: str) -> None:
        self._grants[account_id].revoked = True

    def revoke_user(self, user_id: str) -> None:
        """``DELETE /{user-id}/permissions``: the Facebook user withdraws the app; its user and Page tokens die."""
        self._grants[user_id].revoked = True

    def update(self, account_id: str, *, expires_at: float | None = None, permissions: list[str] | None = None,
               revoked: bool | None = None, requires_appsecret_proof: bool | None = None) -> None:
        """Control-endpoint changes: expiry applies to the current token, the rest to the grant."""
        grant = self._grants[account_id]
        if expires_at is not None:
            self.current(account_id).expires_at = float(expires_at)
        if permissions is not None:
            canonical = {facebook: name for name, facebook in catalog.FACEBOOK_PERMISSION_NAMES.items()}
            permissions = [canonical.get(permission, permission) for permission in permissions]
            unknown = set(permissions) - set(catalog.ALL_PERMISSIONS)
            if unknown:
                raise ValueError(f"unknown permission(s): {', '.join(sorted(unknown))}")
            grant.permissions = set(permissions)
        if revoked is not None:
            grant.revoked = revoked
        if requires_appsecret_proof is not None:
            grant.requires_appsecret_proof = requires_appsecret_proof

    def describe(self, account_id: str) -> dict[str, Any]:
        """What ``/__sim__/accounts`` says of an account's access (Facebook Login: its Page token
        and the Facebook user's short-lived token, what ``accounts discover`` starts from)."""
        token = self.current(account_id)
        grant = self._grants[account_id]
        permissions = [p for p in catalog.ALL_PERMISSIONS if p in grant.permissions]
        described: dict[str, Any] = {
            "login": token.host,
            "token": token.value,
            "token_issued_at": int(token.issued_at),
            "token_expires_at": None if token.expires_at == NEVER else int(token.expires_at),
            "permissions": permissions,
            "revoked": grant.revoked,
            "requires_appsecret_proof": grant.requires_appsecret_proof,
        }
        if token.kind == PAGE:
            user_grant = self._grants[str(token.user_id)]
            described.update(
                page_id=token.page_id,
                facebook_user_id=token.user_id,
                user_token=self.user_token.value if self.user_token else None,
                permissions=[catalog.FACEBOOK_PERMISSION_NAMES[p] for p in permissions],
                revoked=grant.revoked or user_grant.revoked,
            )
        return described
