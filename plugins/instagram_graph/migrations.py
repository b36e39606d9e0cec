"""Apply the numbered SQL migrations in ``sql/`` to the warehouse, once each, in order.

A migration is a file ``NNN_description.sql``. :func:`apply_migrations` applies the ones
not yet recorded in ``instagram.schema_migrations`` in number order, each in its own
transaction together with its record, so a failing file leaves nothing half-applied and
the files before it stay applied. A Postgres advisory lock serializes concurrent runners
(two schedulers, a CLI and a DAG): the second one waits, then finds nothing to do.

An applied file must never change: its checksum (sha256 of the text, line endings
normalized) is recorded, and a runner that finds a different file under an applied name
refuses to do anything. Change the schema with a new numbered file instead.

Where the files are: env ``INSTAGRAM_SQL_DIR`` if set, else the repository's ``sql/``
next to ``plugins/`` (``plugins/instagram_graph/../../sql``). That works because the
package is installed editable from the repository (``pip install -e .``), so its modules
stay in the checkout. In a deployment where the package is copied elsewhere (a wheel, an
image that mounts only ``plugins/``), set ``INSTAGRAM_SQL_DIR`` to the ``sql/`` directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.extensions

log = logging.getLogger(__name__)

SQL_DIR_ENV = "INSTAGRAM_SQL_DIR"
# pg_advisory_lock key shared by every runner: the first 8 bytes of sha256("instagram_graph.migrations").
LOCK_KEY = int.from_bytes(hashlib.sha256(b"instagram_graph.migrations").digest()[:8], "big", signed=True)

_FILE_NAME = re.compile(r"^(\d+)_[A-Za-z0-9_.-]+\.sql$")

_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS instagram;
CREATE TABLE IF NOT EXISTS instagram.schema_migrations (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""
_SELECT_APPLIED = "SELECT name, checksum FROM instagram.schema_migrations"
_RECORD = "INSERT INTO instagram.schema_migrations (name, checksum) VALUES (%s, %s)"


@dataclass(frozen=True)
class Migration:
    """One migration file: ``number`` orders it, ``name`` (the file name) records it."""

    number: int
    name: str
    sql: str
    checksum: str


def default_sql_dir() -> Path:
    """``$INSTAGRAM_SQL_DIR``, else the repository's ``sql/`` (see the module docs)."""
    configured = os.environ.get(SQL_DIR_ENV)
    directory = Path(configured) if configured else Path(__file__).resolve().parents[2] / "sql"
    if not directory.is_dir():
        how = f"{SQL_DIR_ENV}={configured}" if configured else "the repository's sql/ next to plugins/"
        raise RuntimeError(
            f"Migration directory {directory} does not exist ({how}). "
            f"Set {SQL_DIR_ENV} to the directory holding the 001_*.sql files."
        )
    return directory


def checksum(sql: str) -> str:
    """sha256 hex of the file text with line endings normalized (CRLF checkouts match)."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def discover(directory: str | os.PathLike[str] | None = None) -> list[Migration]:
    """The migration files in ``directory``, in the order they apply."""
    directory = Path(directory) if directory is not None else default_sql_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            log.warning("Skipping %s: not named like a migration (NNN_description.sql)", path)
            continue
        number = int(match.group(1))
        if number in found:
            raise RuntimeError(f"Two migrations share number {number}: {found[number].name} and {path.name}")
        sql = path.read_text(encoding="utf-8")
        found[number] = Migration(number=number, name=path.name, sql=sql, checksum=checksum(sql))
    return [found[number] for number in sorted(found)]


def apply_migrations(
    conn: psycopg2.extensions.connection,
    directory: str | os.PathLike[str] | None = None,
) -> list[str]:
    """Apply the pending migrations in ``directory`` (default :func:`default_sql_dir`).

    Returns the names applied, in order; an empty list when the schema is up to date.
    ``conn`` must not be inside a transaction; its autocommit setting is restored.

    :raises RuntimeError: an applied file changed (nothing is applied then), two files
        share a number, or a migration failed (it is rolled back; earlier ones stay applied).
    """
    migrations = discover(directory)
    if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        raise RuntimeError("apply_migrations needs a connection outside a transaction: commit or roll back first")
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        # A session lock (not a transaction one): it must span the per-file transactions.
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        conn.commit()
        try:
            return _apply_locked(conn, migrations)
        finally:
            if not conn.closed:
                conn.rollback()
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
                conn.commit()
    finally:
        if not conn.closed:
            conn.autocommit = autocommit


def _apply_locked(conn: psycopg2.extensions.connection, migrations: list[Migration]) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(_BOOTSTRAP)
        cur.execute(_SELECT_APPLIED)
        recorded = dict(cur.fetchall())
    conn.commit()

    changed = [m.name for m in migrations if m.name in recorded and recorded[m.name] != m.checksum]
    if changed:
        raise RuntimeError(
            f"Applied migration(s) changed since they were applied: {', '.join(changed)}. "
            "Restore the applied text and put the change in a new numbered file; nothing was applied."
        )
    missing = sorted(set(recorded) - {m.name for m in migrations})
    if missing:
        log.warning("Applied migrations not found in the sql directory: %s", ", ".join(missing))

    applied: list[str] = []
    for migration in migrations:
        if migration.name in recorded:
            continue
        log.info("Applying migration %s", migration.name)
        try:
            with conn.cursor() as cur:
                if migration.sql.strip():
                    cur.execute(migration.sql)
                cur.execute(_RECORD, (migration.name, migration.checksum))
            conn.commit()
        except psycopg2.Error as exc:
            if not conn.closed:
                conn.rollback()
            detail = (exc.pgerror or str(exc)).strip()
            raise RuntimeError(f"Migration {migration.name} failed and was rolled back: {detail}") from exc
        applied.append(migration.name)
    return applied
