"""Per-account access tokens, encrypted at rest in ``instagram.oauth_tokens``.

Tokens are encrypted with Fernet keys from env ``INSTAGRAM_TOKEN_KEYS`` (comma-separated):
the first key encrypts, every key decrypts (:class:`cryptography.fernet.MultiFernet`). To
rotate: generate a key, put it first (``NEW,OLD``), run ``instagram-graph keys rotate``,
then drop the old key. The database holds ciphertext only; the keys never go near it.

:meth:`TokenStore.get` checks expiry and status *before* a token is used, so an expired
token fails fast with :class:`~instagram_graph.errors.TokenExpiredError` instead of a
Graph API round trip, and registers every token it hands out with Airflow's secrets
masker so it is replaced by ``***`` in task logs.

Which accounts exist, are enabled or are due a refresh is account administration:
:mod:`instagram_graph.accounts`. No message, ``repr`` or listing of this module contains a token.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from instagram_graph import db
from instagram_graph.errors import TokenExpiredError, TokenInvalidError, reconnect_hint, redact
from instagram_graph.masking import mask_token

log = logging.getLogger(__name__)

KEYS_ENV = "INSTAGRAM_TOKEN_KEYS"
STATUSES = ("active", "expired", "invalid", "revoked")
GENERATE_KEY_COMMAND = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'

_SELECT_TOKEN = """
SELECT t.ciphertext, t.token_type, t.scopes, t.issued_at, t.expires_at, t.status, t.last_error,
       t.expires_at IS NOT NULL AND t.expires_at <= now() AS past_expiry, a.login, a.page_id
  FROM instagram.oauth_tokens t
  JOIN instagram.accounts a USING (account_id)
 WHERE t.account_id = %s
"""
_MARK_EXPIRED = """
UPDATE instagram.oauth_tokens
   SET status = 'expired', last_error = %s
 WHERE account_id = %s AND status = 'active'
"""
# The token decides the login: an account reconnected with the other login changes its route.
_UPSERT_ACCOUNT = """
INSERT INTO instagram.accounts AS a (account_id, username, login, page_id, facebook_user_id)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (account_id) DO UPDATE
   SET username = COALESCE(EXCLUDED.username, a.username),
       login = EXCLUDED.login, page_id = EXCLUDED.page_id, facebook_user_id = EXCLUDED.facebook_user_id
"""
_UPSERT_TOKEN = """
INSERT INTO instagram.oauth_tokens AS t
       (account_id, ciphertext, token_type, scopes, issued_at, expires_at, status, last_error, last_refreshed_at)
VALUES (%s, %s, %s, %s::text[], COALESCE(%s, now()), %s, 'active', NULL, NULL)
ON CONFLICT (account_id) DO UPDATE
   SET ciphertext = EXCLUDED.ciphertext,
       token_type = EXCLUDED.token_type,
       scopes = EXCLUDED.scopes,
       issued_at = EXCLUDED.issued_at,
       expires_at = EXCLUDED.expires_at,
       status = 'active',
       last_error = NULL,
       last_refreshed_at = NULL
"""
_UPDATE_AFTER_REFRESH = """
UPDATE instagram.oauth_tokens
   SET ciphertext = %s, expires_at = %s, issued_at = COALESCE(%s, now()),
       last_refreshed_at = now(), status = 'active', last_error = NULL
 WHERE account_id = %s
"""
_MARK = "UPDATE instagram.oauth_tokens SET status = %s, last_error = %s WHERE account_id = %s"
# Key rotation re-encrypts both tables of ciphertexts.
_CIPHERTEXT_TABLES = (("oauth_tokens", "account_id"), ("facebook_users", "user_id"))
_LOCK_ALL_CIPHERTEXTS = "SELECT {key}, ciphertext FROM instagram.{table} ORDER BY {key} FOR UPDATE"
_SET_CIPHERTEXT = "UPDATE instagram.{table} SET ciphertext = %s WHERE {key} = %s"

_UPSERT_FACEBOOK_USER = """
INSERT INTO instagram.facebook_users AS u (user_id, name, ciphertext, issued_at, expires_at)
VALUES (%s, %s, %s, COALESCE(%s, now()), %s)
ON CONFLICT (user_id) DO UPDATE
   SET name = COALESCE(EXCLUDED.name, u.name), ciphertext = EXCLUDED.ciphertext, issued_at = EXCLUDED.issued_at,
       expires_at = EXCLUDED.expires_at, status = 'active', last_error = NULL
"""
_SELECT_FACEBOOK_USER = """
SELECT ciphertext, issued_at, expires_at, status, last_error,
       expires_at IS NOT NULL AND expires_at <= now() AS past_expiry
  FROM instagram.facebook_users
 WHERE user_id = %s
"""
_FACEBOOK_USER_AFTER_REFRESH = """
UPDATE instagram.facebook_users
   SET ciphertext = %s, expires_at = %s, issued_at = COALESCE(%s, now()),
       last_refreshed_at = now(), status = 'active', last_error = NULL
 WHERE user_id = %s
"""
_MARK_FACEBOOK_USER = "UPDATE instagram.facebook_users SET status = %s, last_error = %s WHERE user_id = %s"

LOGINS = ("instagram", "facebook")


class TokenStoreError(RuntimeError):
    """The store cannot hand out a token: none stored, no key decrypts it, or no keys set.

    The message names the account and the fix, never the token.
    """


@dataclass(frozen=True)
class AccessToken:
    """A decrypted token. ``repr``/``str`` leave the token out."""

    account_id: str
    token: str = field(repr=False)
    expires_at: datetime | None
    issued_at: datetime | None
    scopes: tuple[str, ...]
    status: str
    token_type: str = "bearer"
    login: str = "instagram"  # "facebook": a Page token, used on graph.facebook.com
    page_id: str | None = None  # Facebook Login: the account's Page (its inbox)


@dataclass(frozen=True)
class FacebookUserToken:
    """A Facebook user's decrypted long-lived token (Facebook Login). ``repr`` leaves it out."""

    user_id: str
    token: str = field(repr=False)
    expires_at: datetime | None
    issued_at: datetime | None
    status: str


class TokenStore:
    """Encrypted tokens per Instagram account, in the warehouse.

    :param conn_factory: returns a new DB-API connection (default :func:`instagram_graph.db.connect`);
        the store opens one per operation and closes it afterwards, unless ``keep_connection``.
    :param keep_connection: open one connection on first use and keep it until :meth:`close`
        (one at a time: operations wait for each other). A hook syncing account after account
        reads a token per account, and a new Postgres session costs more than the read.
    :param keys: comma-separated Fernet keys, newest first; default env ``INSTAGRAM_TOKEN_KEYS``.
        Read when the store is built, checked when first needed (listing and disabling
        accounts work without keys).
    """

    def __init__(
        self, conn_factory: Callable[[], Any] = db.connect, keys: str | None = None, *, keep_connection: bool = False
    ) -> None:
        self._conn_factory = conn_factory
        self._keep_connection = keep_connection
        self._kept: Any = None
        self._kept_lock = threading.RLock()
        self._keys = keys if keys is not None else os.environ.get(KEYS_ENV)
        self._multi_fernet: MultiFernet | None = None
        self._key_count = 0

    def check_keys(self) -> None:
        """Raise :class:`TokenStoreError` now if the keys are missing or malformed."""
        self._fernet()

    def decrypts(self, ciphertext: Any) -> bool:
        """Whether the current keys decrypt ``ciphertext`` (the plaintext is dropped at once)."""
        if ciphertext is None:
            return False
        try:
            self._fernet().decrypt(bytes(ciphertext))
        except InvalidToken:
            return False
        return True

    def put(
        self,
        account_id: str,
        token: str,
        *,
        expires_at: datetime | None,
        issued_at: datetime | None = None,
        scopes: Iterable[str] = (),
        username: str | None = None,
        token_type: str = "bearer",
        login: str = "instagram",
        page_id: str | None = None,
        facebook_user_id: str | None = None,
    ) -> None:
        """Store (or replace) the account's token, encrypted, with status ``active``.

        Creates the account (enabled) if it is new; an existing account keeps its enabled
        flag. ``expires_at=None`` means the token does not expire. Datetimes must be
        timezone-aware. ``issued_at`` defaults to now.

        :param login: ``instagram`` (an Instagram Login token) or ``facebook`` (the Page token of
            ``page_id``, made from the login of ``facebook_user_id``); the account's calls follow it.
        """
        _check_account_id(account_id)
        token = _check_token(token)
        _check_aware(expires_at=expires_at, issued_at=issued_at)
        _check_login(login, page_id, facebook_user_id)
        ciphertext = self._fernet().encrypt(token.encode("utf-8"))
        mask_token(token)
        with self.transaction() as cur:
            cur.execute(_UPSERT_ACCOUNT, (account_id, username, login, page_id, facebook_user_id))
            cur.execute(
                _UPSERT_TOKEN,
                (account_id, ciphertext, token_type, list(scopes), issued_at, expires_at),
            )

    def get(self, account_id: str) -> AccessToken:
        """The account's usable token, decrypted.

        :raises TokenExpiredError: ``expires_at`` has passed (the row is marked ``expired``)
            or the token was marked expired.
        :raises TokenInvalidError: the token was marked ``invalid`` or ``revoked``.
        :raises TokenStoreError: no token is stored, or no key decrypts it.
        """
        with self.transaction() as cur:
            cur.execute(_SELECT_TOKEN, (account_id,))
            row = cur.fetchone()
            if row is None:
                raise TokenStoreError(
                    f"No token stored for Instagram account {account_id}. Add one with: "
                    f"{reconnect_hint(account_id)}"
                )
            ciphertext, token_type, scopes, issued_at, expires_at, status, last_error, past_expiry, login, page_id = row
            if status == "active" and past_expiry:
                last_error = f"expired at {expires_at.isoformat()}"
                cur.execute(_MARK_EXPIRED, (last_error, account_id))
                status = "expired"

        readd = f"Add a new token with: {reconnect_hint(account_id)}"
        if status == "expired":
            when = f" at {expires_at.isoformat()}" if expires_at is not None else ""
            raise TokenExpiredError(f"The access token of Instagram account {account_id} expired{when}. {readd}")
        if status != "active":
            reason = f" ({last_error})" if last_error else ""
            raise TokenInvalidError(f"The access token of Instagram account {account_id} is {status}{reason}. {readd}")

        token = self._decrypt(account_id, bytes(ciphertext))
        mask_token(token)
        return AccessToken(
            account_id=account_id,
            token=token,
            expires_at=expires_at,
            issued_at=issued_at,
            scopes=tuple(scopes or ()),
            status=status,
            token_type=token_type,
            login=login,
            page_id=page_id,
        )

    def put_facebook_user(
        self, user_id: str, token: str, *, expires_at: datetime | None, issued_at: datetime | None = None,
        name: str | None = None,
    ) -> None:
        """Store (or replace) a Facebook user's long-lived token, encrypted, with status ``active``."""
        _check_account_id(user_id, what="Facebook user")
        token = _check_token(token)
        _check_aware(expires_at=expires_at, issued_at=issued_at)
        ciphertext = self._fernet().encrypt(token.encode("utf-8"))
        mask_token(token)
        with self.transaction() as cur:
            cur.execute(_UPSERT_FACEBOOK_USER, (user_id, name, ciphertext, issued_at, expires_at))

    def get_facebook_user(self, user_id: str) -> FacebookUserToken:
        """A Facebook user's usable long-lived token, decrypted (expiry and status checked first).

        :raises TokenExpiredError, TokenInvalidError, TokenStoreError: as :meth:`get`.
        """
        rediscover = "Run `instagram-graph accounts discover` with a new token of that user."
        with self.transaction() as cur:
            cur.execute(_SELECT_FACEBOOK_USER, (user_id,))
            row = cur.fetchone()
            if row is None:
                raise TokenStoreError(f"No token stored for Facebook user {user_id}. {rediscover}")
            ciphertext, issued_at, expires_at, status, last_error, past_expiry = row
            if status == "active" and past_expiry:
                status = "expired"
                cur.execute(_MARK_FACEBOOK_USER, (status, f"expired at {expires_at.isoformat()}", user_id))
        if status == "expired":
            raise TokenExpiredError(f"The token of Facebook user {user_id} expired. {rediscover}")
        if status != "active":
            reason = f" ({last_error})" if last_error else ""
            raise TokenInvalidError(f"The token of Facebook user {user_id} is {status}{reason}. {rediscover}")
        token = self._decrypt(f"Facebook user {user_id}", bytes(ciphertext))
        mask_token(token)
        return FacebookUserToken(user_id, token, expires_at, issued_at, status)

    def update_facebook_user_after_refresh(
        self, user_id: str, new_token: str, expires_at: datetime | None, *, issued_at: datetime | None = None
    ) -> None:
        """Replace a Facebook user's token after a successful exchange."""
        new_token = _check_token(new_token)
        _check_aware(expires_at=expires_at, issued_at=issued_at)
        ciphertext = self._fernet().encrypt(new_token.encode("utf-8"))
        mask_token(new_token)
        with self.transaction() as cur:
            cur.execute(_FACEBOOK_USER_AFTER_REFRESH, (ciphertext, expires_at, issued_at, user_id))
            if cur.rowcount == 0:
                raise TokenStoreError(f"No token stored for Facebook user {user_id}")

    def mark_facebook_user(self, user_id: str, status: str, error: str | None = None) -> None:
        """Set a Facebook user's token status (as :meth:`mark`)."""
        if status not in STATUSES:
            raise ValueError(f"Unknown token status {status!r}; expected one of {', '.join(STATUSES)}")
        with self.transaction() as cur:
            cur.execute(_MARK_FACEBOOK_USER, (status, redact(error) if error else None, user_id))

    def update_after_refresh(
        self,
        account_id: str,
        new_token: str,
        expires_at: datetime | None,
        *,
        issued_at: datetime | None = None,
    ) -> None:
        """Replace the token after a successful refresh: status ``active``, refresh time now."""
        new_token = _check_token(new_token)
        _check_aware(expires_at=expires_at, issued_at=issued_at)
        ciphertext = self._fernet().encrypt(new_token.encode("utf-8"))
        mask_token(new_token)
        with self.transaction() as cur:
            cur.execute(_UPDATE_AFTER_REFRESH, (ciphertext, expires_at, issued_at, account_id))
            _require_token(cur, account_id)

    def mark(self, account_id: str, status: str, error: str | None = None) -> None:
        """Set the token's status (``active``, ``expired``, ``invalid``, ``revoked``) and last error."""
        if status not in STATUSES:
            raise ValueError(f"Unknown token status {status!r}; expected one of {', '.join(STATUSES)}")
        with self.transaction() as cur:
            cur.execute(_MARK, (status, redact(error) if error else None, account_id))
            _require_token(cur, account_id)

    def rotate(self, conn: Any = None) -> int:
        """Re-encrypt every token under the first (newest) key, in one transaction.

        Uses ``conn`` if given (and commits it), else a new connection. Returns how many
        tokens were re-encrypted. If any token cannot be decrypted, nothing changes.
        """
        fernet = self._fernet()
        rotated = 0
        with self.transaction(conn) as cur:
            updates: dict[tuple[str, str], list[tuple[bytes, str]]] = {}
            unreadable = []
            for table, key in _CIPHERTEXT_TABLES:
                cur.execute(_LOCK_ALL_CIPHERTEXTS.format(table=table, key=key))
                updates[(table, key)] = []
                for owner, ciphertext in cur.fetchall():
                    try:
                        updates[(table, key)].append((fernet.rotate(bytes(ciphertext)), owner))
                    except InvalidToken:
                        unreadable.append(owner if table == "oauth_tokens" else f"Facebook user {owner}")
            if unreadable:
                raise TokenStoreError(
                    f"No key in {KEYS_ENV} decrypts the token(s) of account(s) {', '.join(unreadable)}; "
                    "nothing was re-encrypted. Keep the old key(s) after the new one "
                    f"({KEYS_ENV}=NEW,OLD) until the rotation has run."
                )
            for (table, key), rows in updates.items():
                cur.executemany(_SET_CIPHERTEXT.format(table=table, key=key), rows)
                rotated += len(rows)
        return rotated

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self, conn: Any = None) -> Iterator[Any]:
        """A cursor in one transaction on ``conn`` or a new connection of the store's:
        committed on success, rolled back on error (account administration uses it too)."""
        if conn is None and self._keep_connection:
            with self._kept_lock:
                if self._kept is None or self._kept.closed:
                    self._kept = self._conn_factory()
                with self._in_transaction(self._kept) as cur:
                    yield cur
            return
        own = conn is None
        if own:
            conn = self._conn_factory()
        try:
            with self._in_transaction(conn) as cur:
                yield cur
        finally:
            if own:
                conn.close()

    @staticmethod
    @contextmanager
    def _in_transaction(conn: Any) -> Iterator[Any]:
        try:
            with conn.cursor() as cur:
                yield cur
            conn.commit()
        except BaseException:
            if not conn.closed:  # a lost connection has nothing to roll back
                conn.rollback()
            raise

    def close(self) -> None:
        """Close the kept connection, if any (the next operation opens another)."""
        with self._kept_lock:
            if self._kept is not None:
                with contextlib.suppress(Exception):
                    self._kept.close()
                self._kept = None

    def _fernet(self) -> MultiFernet:
        if self._multi_fernet is None:
            fernets = _load_keys(self._keys)
            self._multi_fernet, self._key_count = MultiFernet(fernets), len(fernets)
        return self._multi_fernet

    def _decrypt(self, owner: str, ciphertext: bytes) -> str:
        """``owner``: an account id, or ``Facebook user ID``."""
        fernet = self._fernet()
        try:
            return fernet.decrypt(ciphertext).decode("utf-8")
        except InvalidToken:
            facebook = owner.startswith("Facebook user")
            again = "`instagram-graph accounts discover`" if facebook else reconnect_hint(owner)
            raise TokenStoreError(
                f"None of the {self._key_count} key(s) in {KEYS_ENV} decrypts the token of "
                f"{owner if facebook else 'Instagram account ' + owner}. Set {KEYS_ENV} to include the key it was "
                f"encrypted with (comma-separated, newest first), or add the token again: {again}"
            ) from None


def _load_keys(spec: str | None) -> list[Fernet]:
    if not spec or not spec.strip():
        raise TokenStoreError(
            f"{KEYS_ENV} is not set: the token store needs a Fernet key to encrypt and decrypt "
            f"tokens. Make one with\n    {GENERATE_KEY_COMMAND}\n(or `instagram-graph keys generate`) "
            f"and set {KEYS_ENV}=<key>. To rotate keys, put the new one first: {KEYS_ENV}=<new>,<old>."
        )
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    fernets = []
    for position, key in enumerate(parts, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise TokenStoreError(
                f"Key {position} of {len(parts)} in {KEYS_ENV} is not a valid Fernet key "
                f"(32 url-safe base64-encoded bytes). Make one with: {GENERATE_KEY_COMMAND}"
            ) from None
    return fernets


def _check_account_id(account_id: str, what: str = "account") -> None:
    if not isinstance(account_id, str) or not account_id.strip() or account_id != account_id.strip():
        user = "Facebook" if what == "Facebook user" else "Instagram"
        raise ValueError(f"Invalid {what} id {account_id!r}: expected the {user} user id")


def _check_login(login: str, page_id: str | None, facebook_user_id: str | None) -> None:
    if login not in LOGINS:
        raise ValueError(f"Unknown login {login!r}: expected one of {', '.join(LOGINS)}")
    if (login == "facebook") != bool(page_id):
        raise ValueError("A Facebook Login account needs its page_id, and only such an account has one")
    if facebook_user_id is not None and login != "facebook":
        raise ValueError("facebook_user_id belongs to Facebook Login accounts only")


def _check_token(token: str) -> str:
    if not isinstance(token, str):
        raise TypeError("The access token must be a str")
    token = token.strip()
    if not token:
        raise ValueError("The access token is empty")
    if any(char.isspace() for char in token):
        raise ValueError("The access token contains whitespace: expected the bare token, nothing else")
    return token


def _check_aware(**values: datetime | None) -> None:
    for name, value in values.items():
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(timezone.utc))")


def _require_token(cur: Any, account_id: str) -> None:
    if cur.rowcount == 0:
        raise TokenStoreError(
            f"No token stored for Instagram account {account_id}. Add one with: "
            f"{reconnect_hint(account_id)}"
        )
