"""Many sync threads on a few warehouse connections: one is held only while a transaction is open."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from instagram_graph.connection_pool import ConnectionPool, PooledConnection


@pytest.fixture
def table(pg_dsn):
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS pool_test; CREATE TABLE pool_test (n int PRIMARY KEY, pid int)")
    yield lambda sql: _query(conn, sql)
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS pool_test")
    conn.close()


def _query(conn, sql):
    with conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_sixteen_threads_share_two_connections_one_transaction_at_a_time(pg_dsn, table) -> None:
    opened = []
    pool = ConnectionPool(lambda: opened.append(psycopg2.connect(pg_dsn)) or opened[-1], size=2)
    held, peak, lock = [0], [0], threading.Lock()

    def work(number: int) -> None:
        conn = PooledConnection(pool)
        for step in range(3):
            with conn, conn.cursor() as cur:
                with lock:
                    held[0] += 1
                    peak[0] = max(peak[0], held[0])
                cur.execute("INSERT INTO pool_test VALUES (%s, pg_backend_pid())", (number * 10 + step,))
                time.sleep(0.005)
                with lock:
                    held[0] -= 1
            time.sleep(0.01)  # "waiting for Meta": no connection held
        conn.close()

    with ThreadPoolExecutor(16) as threads:
        list(threads.map(work, range(16)))
    pool.close()

    assert table("SELECT count(*) FROM pool_test") == [(48,)], "every transaction committed"
    assert len(opened) == 2 and peak[0] == 2
    assert len({pid for (pid,) in table("SELECT DISTINCT pid FROM pool_test")}) == 2
    assert all(conn.closed for conn in opened)


def test_a_failed_transaction_is_rolled_back_and_its_connection_goes_on(pg_dsn, table) -> None:
    pool = ConnectionPool(lambda: psycopg2.connect(pg_dsn), size=1)
    conn = PooledConnection(pool)
    with pytest.raises(RuntimeError), conn, conn.cursor() as cur:
        cur.execute("INSERT INTO pool_test VALUES (1, 0)")
        raise RuntimeError("the sync failed half-way")
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO pool_test VALUES (2, 0)")
    assert table("SELECT n FROM pool_test") == [(2,)]
    pool.close()


def test_a_bare_cursor_holds_the_connection_until_commit(pg_dsn, table) -> None:
    pool = ConnectionPool(lambda: psycopg2.connect(pg_dsn), size=1)
    first, second = PooledConnection(pool), PooledConnection(pool)
    with first.cursor() as cur:
        cur.execute("INSERT INTO pool_test VALUES (1, 0)")
    taken = threading.Event()
    threading.Thread(target=lambda: (second.cursor(), taken.set())).start()
    assert not taken.wait(0.3), "the only connection is still held by the open transaction"
    first.commit()
    assert taken.wait(5), "given back at commit"
    second.rollback()
    assert table("SELECT n FROM pool_test") == [(1,)]
    pool.close()


def test_a_lost_connection_is_replaced_on_the_next_transaction(pg_dsn, table) -> None:
    opened = []
    pool = ConnectionPool(lambda: opened.append(psycopg2.connect(pg_dsn)) or opened[-1], size=1)
    conn = PooledConnection(pool)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (lost_pid,) = cur.fetchone()
    table(f"SELECT pg_terminate_backend({lost_pid})")
    with pytest.raises(psycopg2.OperationalError), conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO pool_test VALUES (1, pg_backend_pid())")
    assert len(opened) == 2 and table(f"SELECT pid <> {lost_pid} FROM pool_test") == [(True,)]
    pool.close()


def test_a_pool_needs_a_connection() -> None:
    with pytest.raises(ValueError, match="at least one connection"):
        ConnectionPool(lambda: None, size=0)
