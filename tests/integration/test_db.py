"""A warehouse that goes away mid-task is named as such, with its first cause."""

from __future__ import annotations

import psycopg2
import pytest

from instagram_graph import db


def test_a_lost_connection_names_the_first_cause_not_the_rollbacks_echo(schema) -> None:
    victim = psycopg2.connect(schema)
    with victim, victim.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    admin = psycopg2.connect(schema)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()

    # `with victim` rolls back after the failure, which raises "connection already closed".
    with pytest.raises(db.WarehouseConnectionLost) as caught, db.connection_loss_explained(), victim, \
            victim.cursor() as cur:
        cur.execute("SELECT 1")
    message = str(caught.value)
    assert message.startswith("the warehouse connection was lost: OperationalError")
    assert "already closed" not in message
    assert isinstance(caught.value.__cause__, psycopg2.OperationalError)
    victim.close()


def test_other_warehouse_errors_pass_through(schema) -> None:
    conn = psycopg2.connect(schema)
    with pytest.raises(psycopg2.errors.UndefinedTable), db.connection_loss_explained(), conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM instagram.no_such_table")
    conn.close()
