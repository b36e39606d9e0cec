"""Shared fixtures: the real Postgres, the real Redis and the Graph API simulator over HTTP.

Nothing here mocks a service. ``make test`` makes sure Postgres and Redis answer before
pytest starts; the simulator is started by the ``sim_server`` fixture as a subprocess.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg2
import pytest
import redis
from cryptography.fernet import Fernet

PG_ADMIN_DSN = os.environ.get("INSTAGRAM_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# One database per pytest process, so two sessions on one machine never drop each other's.
PG_TEST_DB = os.environ.get("INSTAGRAM_TEST_PG_DB", f"instagram_test_{os.getpid()}")
# Databases 8-15, picked by process id, so concurrent sessions rarely share limiter state.
# pytest-xdist workers (gw0, gw1, ...) take databases 8, 9, ...; a plain session one by its pid.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_REDIS_DB = 8 + (int(_WORKER[2:]) if _WORKER.startswith("gw") else os.getpid()) % 8
REDIS_TEST_URL = os.environ.get("INSTAGRAM_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{_REDIS_DB}")
SIM_SEED = 7


def _pg_dsn(dbname: str) -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A fresh, empty test database, dropped and re-created once per test session."""
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{PG_TEST_DB}"')
    admin.close()
    dsn = _pg_dsn(PG_TEST_DB)
    os.environ["AIRFLOW_CONN_INSTAGRAM_WAREHOUSE"] = dsn.replace("postgresql://", "postgres://", 1)
    yield dsn
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def pg_conn(pg_dsn: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(pg_dsn)
    yield conn
    conn.rollback()
    conn.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    os.environ["AIRFLOW_CONN_INSTAGRAM_REDIS"] = REDIS_TEST_URL
    return REDIS_TEST_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the session's test database, emptied before each test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def token_keys() -> str:
    """Fernet keys for the token store; generated per session, never committed."""
    keys = os.environ.setdefault("INSTAGRAM_TOKEN_KEYS", Fernet.generate_key().decode())
    return keys


@pytest.fixture(scope="session")
def sim_server():
    """One simulator process for the session (real HTTP on a free loopback port)."""
    from graph_api_sim.testing import SimulatorProcess

    # Instagram Login only: the hook's mechanics; Facebook Login has its own tests (and the DAG tests' world has both).
    with SimulatorProcess(accounts=3, media_per_account=120, seed=SIM_SEED, login="instagram") as server:
        yield server


@pytest.fixture
def sim(sim_server):
    """The session's simulator, reset to its seeded state before each test."""
    sim_server.reset()
    return sim_server


@pytest.fixture
def schema(pg_dsn: str) -> str:
    """The warehouse schema, freshly migrated."""
    import psycopg2

    from instagram_graph.migrations import apply_migrations

    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS instagram CASCADE")
    apply_migrations(conn)
    conn.close()
    return pg_dsn


@pytest.fixture
def token_store(schema: str, sim) -> object:
    """A TokenStore holding every simulator account's token, encrypted."""
    import psycopg2

    from instagram_graph.token_store import TokenStore

    store = TokenStore(conn_factory=lambda: psycopg2.connect(schema))
    sim.register_accounts(store)
    return store


@pytest.fixture
def warehouse(schema):
    """Query the test warehouse: ``warehouse("SELECT ...", params) -> rows`` (each call commits)."""
    import psycopg2

    conn = psycopg2.connect(schema)

    def query(sql: str, params: tuple = ()) -> list[tuple]:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    yield query
    conn.close()
