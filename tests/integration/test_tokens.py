"""The encrypted token store and its CLI, on the real Postgres."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from cryptography.fernet import Fernet, InvalidToken

from instagram_graph.accounts import AccountRegistry, UnknownAccount
from instagram_graph.errors import TokenExpiredError, TokenInvalidError
from instagram_graph.migrations import apply_migrations
from instagram_graph.token_store import KEYS_ENV, AccessToken, TokenStore, TokenStoreError

TOKEN = "IGAAJtestTOKENvalue0123456789abcdefXYZ"
OTHER_TOKEN = "IGAAJotherTOKEN9876543210zyxwvu"
ACCOUNT = "17841400000000001"
OTHER_ACCOUNT = "17841400000000002"


def _in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@pytest.fixture
def dsn(pg_dsn: str) -> str:
    """A freshly migrated instagram schema."""
    conn = psycopg2.connect(pg_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS instagram CASCADE")
    apply_migrations(conn)
    conn.close()
    return pg_dsn


@pytest.fixture
def connect(dsn):
    return lambda: psycopg2.connect(dsn)


@pytest.fixture
def store(connect) -> TokenStore:
    return TokenStore(conn_factory=connect)


def _rows(connect, sql: str, params=()) -> list[tuple]:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall() if cur.description is not None else []
        conn.commit()
        return rows
    finally:
        conn.close()


def _token_row(connect, account_id: str = ACCOUNT) -> dict:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM instagram.oauth_tokens WHERE account_id = %s", (account_id,))
            names = [column.name for column in cur.description]
            return dict(zip(names, cur.fetchone(), strict=True))
    finally:
        conn.close()


# --- put / get ----------------------------------------------------------------------------------


def test_put_get_roundtrip(store):
    expires = _in_days(60)
    issued = datetime(2026, 1, 1, tzinfo=UTC)
    store.put(
        ACCOUNT, TOKEN, expires_at=expires, issued_at=issued, scopes=("instagram_business_basic", "x"), username="shop"
    )

    token = store.get(ACCOUNT)

    assert token.token == TOKEN
    assert token.account_id == ACCOUNT
    assert token.expires_at == expires
    assert token.issued_at == issued
    assert token.scopes == ("instagram_business_basic", "x")
    assert token.status == "active"
    assert token.token_type == "bearer"


def test_a_store_that_keeps_its_connection_opens_one_for_every_read_and_reopens_a_lost_one(connect):
    """A hook reads a token per account: one Postgres session for all of them, not one each."""
    opened = []

    def counting_connect():
        opened.append(connect())
        return opened[-1]

    store = TokenStore(conn_factory=counting_connect, keep_connection=True)
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(60))
    store.put(OTHER_ACCOUNT, OTHER_TOKEN, expires_at=_in_days(60))
    for _ in range(3):
        assert store.get(ACCOUNT).token == TOKEN
        assert store.get(OTHER_ACCOUNT).token == OTHER_TOKEN
    assert len(opened) == 1 and not opened[0].closed

    with pytest.raises(TokenExpiredError):  # a failed operation rolls back and keeps the connection usable
        store.put(ACCOUNT, TOKEN, expires_at=_in_days(-1))
        store.get(ACCOUNT)
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(60))
    assert len(opened) == 1

    opened[0].close()  # lost (a restarted warehouse): the next operation opens another
    assert store.get(ACCOUNT).token == TOKEN
    assert len(opened) == 2
    store.close()
    assert opened[1].closed


def test_a_store_without_a_kept_connection_closes_each_one(connect):
    opened = []

    def counting_connect():
        opened.append(connect())
        return opened[-1]

    store = TokenStore(conn_factory=counting_connect)
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(60))
    store.get(ACCOUNT)
    assert len(opened) == 2 and all(conn.closed for conn in opened)


def test_default_conn_factory_reaches_the_warehouse_through_the_airflow_connection(dsn, monkeypatch):
    monkeypatch.delenv("INSTAGRAM_WAREHOUSE_DSN", raising=False)
    store = TokenStore()  # db.connect -> AIRFLOW_CONN_INSTAGRAM_WAREHOUSE, set by pg_dsn
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(10))
    assert store.get(ACCOUNT).token == TOKEN


def test_nothing_stored_contains_the_token(store, connect):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(60), scopes=("a",), username="shop")
    store.update_after_refresh(ACCOUNT, OTHER_TOKEN, _in_days(60))
    store.mark(ACCOUNT, "invalid", error=f"GET /me?access_token={OTHER_TOKEN} failed")

    (ciphertext,) = _rows(connect, "SELECT ciphertext FROM instagram.oauth_tokens")[0]
    ciphertext = bytes(ciphertext)
    assert ciphertext.startswith(b"gAAAAA")
    for secret in (TOKEN, OTHER_TOKEN):
        assert secret.encode() not in ciphertext
    dump = _rows(
        connect,
        "SELECT t::text, a::text FROM instagram.oauth_tokens t JOIN instagram.accounts a USING (account_id)",
    )
    text = repr(dump)
    assert "shop" in text  # the dump is real
    for secret in (TOKEN, OTHER_TOKEN):
        assert secret not in text
        assert secret.encode().hex() not in text  # bytea renders as hex


def test_put_again_replaces_the_token_and_reactivates_it(store):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(1))
    store.mark(ACCOUNT, "revoked", error="user removed the app")
    store.put(ACCOUNT, OTHER_TOKEN, expires_at=_in_days(60))
    token = store.get(ACCOUNT)
    assert (token.token, token.status) == (OTHER_TOKEN, "active")


def test_expired_token_raises_before_use_and_is_marked(store, connect):
    expired_at = datetime.now(UTC) - timedelta(minutes=1)
    store.put(ACCOUNT, TOKEN, expires_at=expired_at)

    with pytest.raises(TokenExpiredError) as excinfo:
        store.get(ACCOUNT)

    message = str(excinfo.value)
    assert ACCOUNT in message and "accounts add" in message
    assert TOKEN not in message
    row = _token_row(connect)
    assert row["status"] == "expired"
    assert "expired at" in row["last_error"]
    with pytest.raises(TokenExpiredError):  # stays expired
        store.get(ACCOUNT)


def test_token_marked_expired_by_the_api_is_refused_though_its_date_is_ahead(store):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    store.mark(ACCOUNT, "expired", error="190/463")
    with pytest.raises(TokenExpiredError):
        store.get(ACCOUNT)


@pytest.mark.parametrize("status", ["invalid", "revoked"])
def test_invalid_or_revoked_token_raises_token_invalid(store, connect, status):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    store.mark(ACCOUNT, status, error=f"code 190 subcode 460; url ?access_token={TOKEN}&x=1")

    with pytest.raises(TokenInvalidError) as excinfo:
        store.get(ACCOUNT)

    message = str(excinfo.value)
    assert ACCOUNT in message and status in message and "accounts add" in message
    assert TOKEN not in message
    assert TOKEN not in _token_row(connect)["last_error"]  # errors are redacted before storing


def test_missing_account_is_a_clear_error(store):
    with pytest.raises(TokenStoreError, match=rf"No token stored for Instagram account {ACCOUNT}.*accounts add"):
        store.get(ACCOUNT)


def test_wrong_key_is_a_clear_error_not_an_invalid_token_traceback(store, connect):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    wrong = TokenStore(conn_factory=connect, keys=Fernet.generate_key().decode())

    with pytest.raises(TokenStoreError) as excinfo:
        wrong.get(ACCOUNT)

    error = excinfo.value
    assert not isinstance(error, InvalidToken)
    assert error.__cause__ is None and error.__suppress_context__
    assert ACCOUNT in str(error) and KEYS_ENV in str(error)
    assert TOKEN not in str(error)


def test_missing_keys_name_the_variable_and_how_to_make_a_key(connect, monkeypatch):
    monkeypatch.delenv(KEYS_ENV)
    store = TokenStore(conn_factory=connect)

    with pytest.raises(TokenStoreError) as excinfo:
        store.put(ACCOUNT, TOKEN, expires_at=_in_days(1))

    assert KEYS_ENV in str(excinfo.value)
    assert "Fernet.generate_key()" in str(excinfo.value)
    assert AccountRegistry(store).list_accounts() == []  # listing needs no keys


def test_malformed_key_is_refused_without_echoing_it(connect):
    bad = "not-a-fernet-key"
    store = TokenStore(conn_factory=connect, keys=f"{Fernet.generate_key().decode()},{bad}")
    with pytest.raises(TokenStoreError, match="Key 2 of 2") as excinfo:
        store.put(ACCOUNT, TOKEN, expires_at=_in_days(1))
    assert bad not in str(excinfo.value)


def test_key_rotation(connect):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with_a = TokenStore(conn_factory=connect, keys=key_a)
    with_a.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    with_a.put(OTHER_ACCOUNT, OTHER_TOKEN, expires_at=_in_days(30))
    before = bytes(_token_row(connect)["ciphertext"])

    assert TokenStore(conn_factory=connect, keys=f"{key_b},{key_a}").rotate() == 2

    assert bytes(_token_row(connect)["ciphertext"]) != before
    with_b = TokenStore(conn_factory=connect, keys=key_b)
    assert with_b.get(ACCOUNT).token == TOKEN
    assert with_b.get(OTHER_ACCOUNT).token == OTHER_TOKEN
    with pytest.raises(TokenStoreError):  # really re-encrypted: the old key alone no longer reads it
        with_a.get(ACCOUNT)


def test_rotation_with_an_unreadable_token_changes_nothing(connect):
    key_a, key_b, key_c = (Fernet.generate_key().decode() for _ in range(3))
    TokenStore(conn_factory=connect, keys=key_a).put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    TokenStore(conn_factory=connect, keys=key_b).put(OTHER_ACCOUNT, OTHER_TOKEN, expires_at=_in_days(30))
    before = _rows(connect, "SELECT account_id, ciphertext::text FROM instagram.oauth_tokens ORDER BY 1")

    with pytest.raises(TokenStoreError, match=OTHER_ACCOUNT):
        TokenStore(conn_factory=connect, keys=f"{key_c},{key_a}").rotate()

    assert _rows(connect, "SELECT account_id, ciphertext::text FROM instagram.oauth_tokens ORDER BY 1") == before


def test_rotate_uses_and_commits_a_given_connection(store, connect):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    conn = connect()
    try:
        assert store.rotate(conn) == 1
        assert conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        assert not conn.closed
    finally:
        conn.close()
    assert store.get(ACCOUNT).token == TOKEN


def test_access_token_repr_and_str_hide_the_token(store):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    token = store.get(ACCOUNT)
    for text in (repr(token), str(token), f"{token}", f"{token!r}", repr([token])):
        assert TOKEN not in text
        assert ACCOUNT in text
    assert AccessToken.__dataclass_params__.frozen


def test_get_registers_the_token_with_the_airflow_secrets_masker(store, connect):
    from airflow.sdk._shared.secrets_masker import redact as airflow_redact

    # Not of Meta's token shape (those share one pattern, see masking.py): registered by itself,
    # and unknown to the (process-wide) masker so far.
    fresh = "maskme-" + os.urandom(8).hex()
    ciphertext = Fernet(os.environ[KEYS_ENV].split(",")[0]).encrypt(fresh.encode())
    _rows(connect, "INSERT INTO instagram.accounts (account_id) VALUES (%s)", (ACCOUNT,))
    _rows(
        connect,
        "INSERT INTO instagram.oauth_tokens (account_id, ciphertext, expires_at) "
        "VALUES (%s, %s, now() + interval '1 day')",
        (ACCOUNT, ciphertext),
    )
    assert fresh in airflow_redact(f"calling /me with {fresh}")

    token = store.get(ACCOUNT).token

    assert token == fresh
    assert fresh not in airflow_redact(f"calling /me with {fresh}")


# --- accounts -------------------------------------------------------------------------------------


def test_list_accounts_shows_health_and_never_the_token(store):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(10.5), username="shop")
    store.put(OTHER_ACCOUNT, OTHER_TOKEN, expires_at=_in_days(-2))

    infos = {info.account_id: info for info in AccountRegistry(store).list_accounts()}

    assert infos[ACCOUNT].username == "shop"
    assert infos[ACCOUNT].enabled is True
    assert infos[ACCOUNT].status == "active"
    assert infos[ACCOUNT].days_left == 10
    assert infos[OTHER_ACCOUNT].status == "expired"  # past expiry, though nothing marked it yet
    assert infos[OTHER_ACCOUNT].days_left < 0
    text = repr(infos)
    assert TOKEN not in text and OTHER_TOKEN not in text


def test_disable_enable_and_enabled_accounts(store):
    accounts = AccountRegistry(store)
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    store.put(OTHER_ACCOUNT, OTHER_TOKEN, expires_at=_in_days(30))
    assert accounts.enabled_accounts() == [ACCOUNT, OTHER_ACCOUNT]

    accounts.disable(ACCOUNT, "client paused the contract")
    assert accounts.enabled_accounts() == [OTHER_ACCOUNT]
    assert accounts.account_ids() == [ACCOUNT, OTHER_ACCOUNT]  # disabled accounts are registered too
    info = next(info for info in accounts.list_accounts() if info.account_id == ACCOUNT)
    assert (info.enabled, info.disabled_reason) == (False, "client paused the contract")

    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))  # a new token does not re-enable
    assert accounts.enabled_accounts() == [OTHER_ACCOUNT]
    accounts.enable(ACCOUNT)
    assert accounts.enabled_accounts() == [ACCOUNT, OTHER_ACCOUNT]

    with pytest.raises(UnknownAccount, match="Unknown Instagram account nobody"):
        accounts.disable("nobody", "x")
    with pytest.raises(ValueError):
        accounts.disable(ACCOUNT, " ")


def test_update_after_refresh(store, connect):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(-1), issued_at=datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(TokenExpiredError):
        store.get(ACCOUNT)
    new_expiry = _in_days(60)

    store.update_after_refresh(ACCOUNT, OTHER_TOKEN, new_expiry)

    token = store.get(ACCOUNT)
    assert (token.token, token.status, token.expires_at) == (OTHER_TOKEN, "active", new_expiry)
    assert token.issued_at > datetime(2026, 1, 1, tzinfo=UTC)
    row = _token_row(connect)
    assert row["last_refreshed_at"] is not None and row["last_error"] is None
    with pytest.raises(TokenStoreError, match="nobody"):
        store.update_after_refresh("nobody", OTHER_TOKEN, new_expiry)


def test_mark_validates_status_and_account(store):
    with pytest.raises(ValueError, match="lost"):
        store.mark(ACCOUNT, "lost")
    with pytest.raises(TokenStoreError, match=ACCOUNT):
        store.mark(ACCOUNT, "invalid")


@pytest.mark.parametrize("bad", ["", "   ", "Bearer IGAAx", "IGAA\nsecond-line"])
def test_put_refuses_a_malformed_token(store, bad):
    with pytest.raises(ValueError):
        store.put(ACCOUNT, bad, expires_at=_in_days(1))
    assert AccountRegistry(store).list_accounts() == []


def test_put_refuses_naive_datetimes(store):
    with pytest.raises(ValueError, match="timezone-aware"):
        store.put(ACCOUNT, TOKEN, expires_at=datetime.now() + timedelta(days=1))


# --- the CLI, as a user runs it ---------------------------------------------------------------------


def _cli(dsn: str, *args: str, stdin: str = "", keys: str | None = None, module: bool = True):
    env = dict(os.environ, INSTAGRAM_WAREHOUSE_DSN=dsn)
    if keys is not None:
        env[KEYS_ENV] = keys
    script = str(Path(sys.executable).parent / "instagram-graph")
    command = [sys.executable, "-m", "instagram_graph.cli"] if module else [script]
    return subprocess.run([*command, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def test_cli_add_reads_the_token_from_stdin_and_list_never_shows_it(dsn, store):
    added = _cli(dsn, "accounts", "add", ACCOUNT, "--username", "shop", "--scopes", "a,b", stdin=TOKEN + "\n")
    assert added.returncode == 0, added.stderr
    listed = _cli(dsn, "accounts", "list", module=False)  # the console script
    assert listed.returncode == 0, listed.stderr

    assert ACCOUNT in listed.stdout and "shop" in listed.stdout and "active" in listed.stdout
    for output in (added.stdout, added.stderr, listed.stdout, listed.stderr):
        assert TOKEN not in output
    stored = store.get(ACCOUNT)
    assert stored.token == TOKEN  # stripped of the newline
    assert stored.scopes == ("a", "b")
    assert 59 <= (stored.expires_at - datetime.now(UTC)).days <= 60


def test_cli_add_with_expires_at(dsn, store):
    result = _cli(dsn, "accounts", "add", ACCOUNT, "--expires-at", "2099-03-01T12:00:00Z", stdin=TOKEN)
    assert result.returncode == 0, result.stderr
    assert store.get(ACCOUNT).expires_at == datetime(2099, 3, 1, 12, tzinfo=UTC)


def test_cli_refuses_an_empty_token(dsn, store):
    result = _cli(dsn, "accounts", "add", ACCOUNT, stdin="  \n")
    assert result.returncode == 2
    assert "no token given" in result.stderr
    assert "Traceback" not in result.stderr
    assert AccountRegistry(store).list_accounts() == []


def test_cli_argv_has_no_place_for_a_token(dsn):
    help_text = _cli(dsn, "accounts", "add", "--help").stdout
    assert "--token" not in help_text
    result = _cli(dsn, "accounts", "add", ACCOUNT, "--token", TOKEN, stdin=TOKEN)
    assert result.returncode == 2  # argparse refuses it
    assert "unrecognized arguments" in result.stderr


def test_cli_disable_and_keys(dsn, store):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    disabled = _cli(dsn, "accounts", "disable", ACCOUNT, "--reason", "paused")
    assert disabled.returncode == 0, disabled.stderr
    assert AccountRegistry(store).enabled_accounts() == []

    new_key = _cli(dsn, "keys", "generate").stdout.strip()
    Fernet(new_key)  # a valid key
    rotated = _cli(dsn, "keys", "rotate", keys=f"{new_key},{os.environ[KEYS_ENV]}")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 1 token" in rotated.stdout
    assert TokenStore(conn_factory=lambda: psycopg2.connect(dsn), keys=new_key).get(ACCOUNT).token == TOKEN


def test_cli_expected_errors_exit_2_without_traceback(dsn, store):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    cases = [
        (_cli(dsn, "keys", "rotate", keys=Fernet.generate_key().decode()), ACCOUNT),
        (_cli(dsn, "accounts", "disable", "999", "--reason", "x"), "Unknown Instagram account 999"),
        (_cli(dsn, "accounts", "disable", "nobody", "--reason", "x"), "ACCOUNT_ID 'nobody' is not an Instagram id"),
        (_cli(dsn, "accounts", "add", ACCOUNT, stdin=TOKEN, keys=""), KEYS_ENV),
        (_cli(dsn, "accounts", "add", ACCOUNT, "--expires-at", "2001-01-01", stdin=TOKEN), "in the past"),
        (_cli(dsn, "accounts", "add", ACCOUNT, "--expires-at", "soon", stdin=TOKEN), "ISO 8601"),
    ]
    for result, expected in cases:
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
        assert TOKEN not in result.stderr


def test_cli_without_warehouse_configuration_names_both_variables(dsn):
    unset = ("INSTAGRAM_WAREHOUSE_DSN", "AIRFLOW_CONN_INSTAGRAM_WAREHOUSE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    result = subprocess.run(
        [sys.executable, "-m", "instagram_graph.cli", "accounts", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert "INSTAGRAM_WAREHOUSE_DSN" in result.stderr and "AIRFLOW_CONN_INSTAGRAM_WAREHOUSE" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_migrate(pg_dsn):
    conn = psycopg2.connect(pg_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS instagram CASCADE")
    conn.close()

    first = _cli(pg_dsn, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied 001_accounts_and_tokens.sql" in first.stdout
    again = _cli(pg_dsn, "migrate")
    assert again.returncode == 0
    assert "nothing to apply" in again.stdout


def test_list_tells_which_tokens_the_current_keys_cannot_decrypt(dsn, connect, store):
    store.put(ACCOUNT, TOKEN, expires_at=_in_days(30))
    other_key = Fernet.generate_key().decode()
    TokenStore(conn_factory=connect, keys=other_key).put(OTHER_ACCOUNT, OTHER_TOKEN, expires_at=_in_days(30))

    infos = {info.account_id: info.status for info in AccountRegistry(store).list_accounts()}
    assert infos == {ACCOUNT: "active", OTHER_ACCOUNT: "undecryptable"}

    listed = _cli(dsn, "accounts", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith(OTHER_ACCOUNT))
    assert "undecryptable" in line
    assert "1 token(s) cannot be decrypted" in listed.stdout
    assert OTHER_TOKEN not in listed.stdout
