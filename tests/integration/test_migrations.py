"""The migration runner and the schema it builds, on the real Postgres; and db.connect()."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

from instagram_graph import db, migrations
from instagram_graph.migrations import apply_migrations

REPO_SQL = Path(__file__).resolve().parents[2] / "sql"

EXPECTED_TABLES = {
    "schema_migrations",
    "accounts",
    "oauth_tokens",
    "profiles",
    "profile_snapshots",
    "media",
    "media_children",
    "comments",
    "account_insights",
    "media_insights",
    "conversations",
    "messages",
    "publish_jobs",
    "outbound_messages",
    "sync_state",
    "metric_refusals",
    "rate_limit_admissions",
    "api_calls",
    "sync_runs",
    "media_insight_reads",
    "facebook_users",
}
# Tables holding Graph API objects: each keeps the whole object in `raw`.
ENTITY_TABLES = {
    "profiles",
    "profile_snapshots",
    "media",
    "media_children",
    "comments",
    "account_insights",
    "media_insights",
    "conversations",
    "messages",
}


def _drop_schema(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS instagram CASCADE")
    conn.close()


@pytest.fixture
def empty_schema(pg_dsn: str) -> str:
    _drop_schema(pg_dsn)
    return pg_dsn


@pytest.fixture
def migrated(empty_schema, pg_conn):
    apply_migrations(pg_conn)
    return pg_conn


@pytest.fixture
def sql_copy(tmp_path: Path) -> Path:
    """A private copy of sql/, to change files in."""
    directory = tmp_path / "sql"
    shutil.copytree(REPO_SQL, directory)
    return directory


def _query(conn, sql: str, params=()) -> list[tuple]:
    """Run one statement in its own transaction; rows if it returns any."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall() if cur.description is not None else []
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    return rows


def _tables(conn) -> set[str]:
    return {name for (name,) in _query(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'instagram'")}


def _recorded(conn) -> dict[str, str]:
    return dict(_query(conn, "SELECT name, checksum FROM instagram.schema_migrations"))


def _repo_names() -> list[str]:
    return sorted(path.name for path in REPO_SQL.glob("*.sql"))


# --- the runner -------------------------------------------------------------------------------


def test_apply_on_empty_database_creates_every_table_and_records_each_file(empty_schema, pg_conn):
    applied = apply_migrations(pg_conn)

    assert applied == _repo_names()
    assert applied[0].startswith("001_")
    assert _tables(pg_conn) == EXPECTED_TABLES
    recorded = _recorded(pg_conn)
    assert set(recorded) == set(applied)
    for name in applied:
        assert recorded[name] == migrations.checksum((REPO_SQL / name).read_text())
    applied_at = _query(pg_conn, "SELECT count(*) FROM instagram.schema_migrations WHERE applied_at IS NULL")
    assert applied_at == [(0,)]


def test_rerun_applies_nothing_and_changes_no_record(migrated):
    before = _query(migrated, "SELECT name, checksum, applied_at FROM instagram.schema_migrations ORDER BY name")

    assert apply_migrations(migrated) == []
    assert apply_migrations(migrated) == []

    after = _query(migrated, "SELECT name, checksum, applied_at FROM instagram.schema_migrations ORDER BY name")
    assert after == before


def test_only_new_files_are_applied(empty_schema, pg_conn, sql_copy):
    apply_migrations(pg_conn, sql_copy)
    (sql_copy / "900_extra.sql").write_text("CREATE TABLE instagram.extra (id int PRIMARY KEY);\n")

    assert apply_migrations(pg_conn, sql_copy) == ["900_extra.sql"]
    assert "extra" in _tables(pg_conn)
    assert apply_migrations(pg_conn, sql_copy) == []


def test_files_apply_in_number_order_not_name_order(empty_schema, pg_conn, tmp_path):
    (tmp_path / "10_second.sql").write_text("INSERT INTO instagram.t VALUES (2);")
    (tmp_path / "9_first.sql").write_text("CREATE TABLE instagram.t (n int); INSERT INTO instagram.t VALUES (1);")
    (tmp_path / "README.txt").write_text("not a migration")

    assert apply_migrations(pg_conn, tmp_path) == ["9_first.sql", "10_second.sql"]


def test_changed_applied_file_is_refused_and_nothing_else_applies(empty_schema, pg_conn, sql_copy):
    apply_migrations(pg_conn, sql_copy)
    changed = sql_copy / "002_profiles_and_media.sql"
    changed.write_text(changed.read_text() + "\nALTER TABLE instagram.media ADD COLUMN sneaky text;\n")
    (sql_copy / "900_extra.sql").write_text("CREATE TABLE instagram.extra (id int);\n")

    with pytest.raises(RuntimeError, match=r"002_profiles_and_media\.sql") as excinfo:
        apply_migrations(pg_conn, sql_copy)

    assert "new numbered file" in str(excinfo.value)
    assert "extra" not in _tables(pg_conn)
    assert "900_extra.sql" not in _recorded(pg_conn)
    columns = _query(
        pg_conn,
        "SELECT column_name FROM information_schema.columns WHERE table_schema='instagram' AND table_name='media'",
    )
    assert ("sneaky",) not in columns


def test_line_ending_change_is_not_a_checksum_change(empty_schema, pg_conn, sql_copy):
    apply_migrations(pg_conn, sql_copy)
    path = sql_copy / "003_insights.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    assert apply_migrations(pg_conn, sql_copy) == []


def test_failing_file_is_rolled_back_alone_and_named(empty_schema, pg_conn, sql_copy):
    bad = sql_copy / "900_bad.sql"
    bad.write_text("CREATE TABLE instagram.half_done (id int);\nSELECT 1 / 0;\n")

    with pytest.raises(RuntimeError, match=r"900_bad\.sql.*division by zero"):
        apply_migrations(pg_conn, sql_copy)

    assert "half_done" not in _tables(pg_conn)
    recorded = _recorded(pg_conn)
    assert "900_bad.sql" not in recorded
    assert set(recorded) == set(_repo_names())  # the good ones before it stay applied

    bad.write_text("CREATE TABLE instagram.half_done (id int);\n")
    assert apply_migrations(pg_conn, sql_copy) == ["900_bad.sql"]


def test_connection_is_left_usable_with_its_autocommit_setting(empty_schema, pg_conn):
    pg_conn.autocommit = True
    apply_migrations(pg_conn)
    assert pg_conn.autocommit is True
    pg_conn.autocommit = False
    apply_migrations(pg_conn)
    assert pg_conn.autocommit is False
    assert _query(pg_conn, "SELECT 1") == [(1,)]


def test_refuses_a_connection_inside_a_transaction(migrated):
    with migrated.cursor() as cur:
        cur.execute("SELECT 1")
    with pytest.raises(RuntimeError, match="outside a transaction"):
        apply_migrations(migrated)


def test_concurrent_runners_apply_each_file_once(empty_schema, sql_copy):
    # A slow file widens the race: without the lock both runners would run every file.
    (sql_copy / "900_slow.sql").write_text(
        "CREATE TABLE instagram.slow_runs (n int);\nSELECT pg_sleep(0.5);\nINSERT INTO instagram.slow_runs VALUES (1);\n"
    )
    barrier = threading.Barrier(3)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def runner() -> None:
        conn = psycopg2.connect(empty_schema)
        try:
            barrier.wait()
            results.append(apply_migrations(conn, sql_copy))
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=runner) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == 3
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted([*_repo_names(), "900_slow.sql"])  # each exactly once
    conn = psycopg2.connect(empty_schema)
    try:
        assert _query(conn, "SELECT count(*) FROM instagram.slow_runs") == [(1,)]
    finally:
        conn.close()


def test_runner_waits_for_the_advisory_lock(empty_schema, pg_dsn):
    holder = psycopg2.connect(pg_dsn)
    holder.autocommit = True
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (migrations.LOCK_KEY,))
    outcome: list = []

    def runner() -> None:
        conn = psycopg2.connect(pg_dsn)
        try:
            outcome.append(apply_migrations(conn))
        finally:
            conn.close()

    thread = threading.Thread(target=runner)
    thread.start()
    try:
        time.sleep(0.5)
        assert thread.is_alive(), "the runner did not wait for the lock"
        assert outcome == []
    finally:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (migrations.LOCK_KEY,))
        holder.close()
        thread.join(timeout=30)
    assert outcome == [_repo_names()]


def test_lock_is_released_after_a_failure(empty_schema, pg_conn, sql_copy):
    (sql_copy / "900_bad.sql").write_text("SELECT 1 / 0;")
    with pytest.raises(RuntimeError):
        apply_migrations(pg_conn, sql_copy)
    other = psycopg2.connect(empty_schema)
    try:
        assert _query(other, "SELECT pg_try_advisory_lock(%s)", (migrations.LOCK_KEY,)) == [(True,)]
    finally:
        other.close()


def test_duplicate_numbers_are_refused(tmp_path):
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.sql").write_text("SELECT 1;")
    with pytest.raises(RuntimeError, match=r"001_a\.sql and 001_b\.sql"):
        migrations.discover(tmp_path)


def test_default_sql_dir_is_the_repository_sql_unless_env_says_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv(migrations.SQL_DIR_ENV, raising=False)
    assert migrations.default_sql_dir() == REPO_SQL

    monkeypatch.setenv(migrations.SQL_DIR_ENV, str(tmp_path))
    assert migrations.default_sql_dir() == tmp_path

    monkeypatch.setenv(migrations.SQL_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match=migrations.SQL_DIR_ENV):
        migrations.default_sql_dir()


# --- the schema -------------------------------------------------------------------------------


def test_every_entity_table_keeps_raw_jsonb_and_times_are_timestamptz(migrated):
    raw = _query(
        migrated,
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = 'instagram' AND column_name = 'raw' AND data_type = 'jsonb' AND is_nullable = 'NO'",
    )
    assert {name for (name,) in raw} >= ENTITY_TABLES
    naive = _query(
        migrated,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'instagram' AND data_type = 'timestamp without time zone'",
    )
    assert naive == []


def _primary_key(conn, table: str) -> list[str]:
    rows = _query(
        conn,
        "SELECT a.attname FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
        (f"instagram.{table}",),
    )
    return [name for (name,) in rows]


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("accounts", ["account_id"]),
        ("oauth_tokens", ["account_id"]),
        ("profiles", ["account_id"]),
        ("profile_snapshots", ["account_id", "captured_at"]),
        ("media", ["media_id"]),
        ("media_children", ["child_id"]),
        ("comments", ["comment_id"]),
        ("account_insights", ["account_id", "metric", "period", "end_time", "breakdown"]),
        ("media_insights", ["media_id", "metric", "period", "end_time", "breakdown"]),
        ("conversations", ["conversation_id"]),
        ("messages", ["message_id"]),
        ("publish_jobs", ["job_id"]),
        ("outbound_messages", ["idempotency_key"]),
        ("sync_state", ["account_id", "stream"]),
        ("sync_runs", ["account_id", "stream", "run_id"]),
    ],
)
def test_natural_keys(migrated, table, key):
    assert _primary_key(migrated, table) == key


def test_oauth_tokens_holds_ciphertext_only(migrated):
    columns = dict(
        _query(
            migrated,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'instagram' AND table_name = 'oauth_tokens'",
        )
    )
    assert columns["ciphertext"] == "bytea"
    assert not any("token" in name and name != "token_type" for name in columns)
    _query(migrated, "INSERT INTO instagram.accounts (account_id) VALUES ('1')")
    with pytest.raises(psycopg2.errors.CheckViolation):
        _query(migrated, "INSERT INTO instagram.oauth_tokens (account_id, ciphertext) VALUES ('1', 'IGAAplaintext')")
    with pytest.raises(psycopg2.errors.NotNullViolation):
        _query(migrated, "INSERT INTO instagram.oauth_tokens (account_id) VALUES ('1')")


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        (
            "INSERT INTO instagram.oauth_tokens (account_id, ciphertext, status) VALUES ('1', 'gAAAAAxyz', 'lost')",
            psycopg2.errors.CheckViolation,
        ),
        (
            "INSERT INTO instagram.oauth_tokens (account_id, ciphertext) VALUES ('nobody', 'gAAAAAxyz')",
            psycopg2.errors.ForeignKeyViolation,
        ),
        (
            "INSERT INTO instagram.publish_jobs (idempotency_key, account_id, media_type, request, state) "
            "VALUES ('k', '1', 'IMAGE', '{}', 'posted')",
            psycopg2.errors.CheckViolation,
        ),
        (
            "INSERT INTO instagram.publish_jobs (idempotency_key, account_id, media_type, request, state) "
            "VALUES ('k', '1', 'IMAGE', '{}', 'published')",
            psycopg2.errors.CheckViolation,
        ),
        (
            "INSERT INTO instagram.outbound_messages (idempotency_key, account_id, recipient_id, text, state) "
            "VALUES ('k', '1', '2', 'hi', 'delivered')",
            psycopg2.errors.CheckViolation,
        ),
        (
            "INSERT INTO instagram.account_insights (account_id, metric, period, end_time, metric_type) "
            "VALUES ('1', 'reach', 'day', now(), 'wide')",
            psycopg2.errors.CheckViolation,
        ),
        (
            "INSERT INTO instagram.media_insights (media_id, metric, period, end_time) "
            "VALUES ('m', 'reach', 'lifetime', now())",
            psycopg2.errors.CheckViolation,
        ),
        ("INSERT INTO instagram.accounts (account_id, login) VALUES ('2', 'facebook')",  # no Page
         psycopg2.errors.CheckViolation),
        ("INSERT INTO instagram.accounts (account_id, page_id) VALUES ('2', '109')",  # a Page, Instagram Login
         psycopg2.errors.CheckViolation),
        ("INSERT INTO instagram.accounts (account_id, login) VALUES ('2', 'threads')", psycopg2.errors.CheckViolation),
        ("INSERT INTO instagram.facebook_users (user_id, ciphertext) VALUES ('1000', 'EAAplaintext')",
         psycopg2.errors.CheckViolation),
    ],
)
def test_constraints_refuse_bad_rows(migrated, sql, error):
    _query(migrated, "INSERT INTO instagram.accounts (account_id) VALUES ('1')")
    with pytest.raises(error):
        _query(migrated, sql)


def test_publish_jobs_idempotency_key_is_unique(migrated):
    insert = (
        "INSERT INTO instagram.publish_jobs (idempotency_key, account_id, media_type, request) "
        "VALUES ('run-1', '1', 'IMAGE', '{}') RETURNING job_id"
    )
    _query(migrated, insert)
    with pytest.raises(psycopg2.errors.UniqueViolation):
        _query(migrated, insert)


def test_insight_defaults_follow_the_documented_conventions(migrated):
    _query(
        migrated,
        "INSERT INTO instagram.media_insights (media_id, metric, value) VALUES ('m1', 'reach', 5);"
        "INSERT INTO instagram.account_insights (account_id, metric, period, end_time, value) "
        "VALUES ('1', 'reach', 'day', '2026-01-11T08:00:00Z', 12)",
    )
    assert _query(
        migrated,
        "SELECT period, end_time = 'epoch', breakdown FROM instagram.media_insights WHERE media_id = 'm1'",
    ) == [("lifetime", True, "")]
    assert _query(migrated, "SELECT breakdown, metric_type FROM instagram.account_insights") == [("", "time_series")]


def test_carousel_children_may_be_written_before_their_parent_in_one_transaction(migrated):
    with migrated.cursor() as cur:
        cur.execute("INSERT INTO instagram.media_children (child_id, parent_id, position) VALUES ('c1', 'p1', 0)")
        cur.execute("INSERT INTO instagram.media (media_id, account_id) VALUES ('p1', '1')")
    migrated.commit()
    with migrated.cursor() as cur:
        cur.execute("INSERT INTO instagram.media_children (child_id, parent_id, position) VALUES ('c2', 'nope', 0)")
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        migrated.commit()


def test_updated_at_is_touched_on_state_tables(migrated):
    _query(migrated, "INSERT INTO instagram.accounts (account_id, updated_at) VALUES ('1', '2020-01-01Z')")
    _query(migrated, "UPDATE instagram.accounts SET username = 'bob' WHERE account_id = '1'")
    assert _query(migrated, "SELECT updated_at > '2021-01-01Z' FROM instagram.accounts") == [(True,)]
    _query(migrated, "UPDATE instagram.accounts SET updated_at = '2020-06-01Z' WHERE account_id = '1'")
    assert _query(migrated, "SELECT updated_at = '2020-06-01Z' FROM instagram.accounts") == [(True,)]


# --- db.connect() -----------------------------------------------------------------------------


def _database(conn) -> str:
    try:
        return _query(conn, "SELECT current_database()")[0][0]
    finally:
        conn.close()


def test_connect_prefers_explicit_dsn_then_env_then_airflow_connection(pg_dsn, monkeypatch):
    other_dsn = pg_dsn.rsplit("/", 1)[0] + "/postgres"
    monkeypatch.delenv(db.DSN_ENV, raising=False)

    test_db = pg_dsn.rsplit("/", 1)[1]

    conn = db.connect()  # the Airflow connection instagram_warehouse (env set by pg_dsn)
    assert isinstance(conn, psycopg2.extensions.connection)
    assert _database(conn) == test_db

    monkeypatch.setenv(db.DSN_ENV, other_dsn)
    assert _database(db.connect()) == "postgres"
    assert _database(db.connect(pg_dsn)) == test_db


def test_connect_without_configuration_names_both_variables(pg_dsn, monkeypatch):
    monkeypatch.delenv(db.DSN_ENV, raising=False)
    monkeypatch.delenv(db.AIRFLOW_CONN_ENV, raising=False)
    with pytest.raises(RuntimeError) as excinfo:
        db.connect()
    assert "INSTAGRAM_WAREHOUSE_DSN" in str(excinfo.value)
    assert "AIRFLOW_CONN_INSTAGRAM_WAREHOUSE" in str(excinfo.value)


def test_media_insight_reads_start_from_what_was_loaded_before_014(empty_schema, pg_conn, sql_copy):
    later = sql_copy / "014_media_insight_reads.sql"
    text = later.read_text()
    later.unlink()
    apply_migrations(pg_conn, sql_copy)
    _query(pg_conn, "INSERT INTO instagram.accounts (account_id) VALUES ('a1')")
    _query(pg_conn, "INSERT INTO instagram.media (media_id, account_id) VALUES ('m1', 'a1'), ('m2', 'a1')")
    _query(pg_conn, "INSERT INTO instagram.media_insights (media_id, account_id, metric, value, loaded_at) VALUES "
                    "('m1', 'a1', 'reach', 5, '2026-01-02'), ('m1', 'a1', 'views', 7, '2026-01-03')")
    later.write_text(text)

    assert apply_migrations(pg_conn, sql_copy) == ["014_media_insight_reads.sql"]
    assert _query(pg_conn, "SELECT media_id, account_id, read_at::date::text, specific_age_days "
                           "FROM instagram.media_insight_reads") == [("m1", "a1", "2026-01-03", None)]


def test_accounts_get_ordinals_in_the_order_they_were_added_by_015(empty_schema, pg_conn, sql_copy):
    later = sql_copy / "015_account_ordinals.sql"
    text = later.read_text()
    later.unlink()
    apply_migrations(pg_conn, sql_copy)
    _query(pg_conn, "INSERT INTO instagram.accounts (account_id, created_at) VALUES "
                    "('b', '2026-01-02'), ('a', '2026-01-03'), ('c', '2026-01-01')")
    later.write_text(text)

    assert apply_migrations(pg_conn, sql_copy) == ["015_account_ordinals.sql"]
    assert _query(pg_conn, "SELECT account_id, ordinal FROM instagram.accounts ORDER BY ordinal") == [
        ("c", 0), ("b", 1), ("a", 2)]
