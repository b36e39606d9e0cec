"""Shared by the benchmarks: a scratch warehouse database on the local Postgres."""

from __future__ import annotations

import os

import psycopg2

from instagram_graph.migrations import apply_migrations

ADMIN_DSN = os.environ.get("INSTAGRAM_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DSN = ADMIN_DSN.rsplit("/", 1)[0] + "/instagram_bench"


def fresh_warehouse() -> psycopg2.extensions.connection:
    """Drop and re-create database `instagram_bench`, migrate it, return a connection."""
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS instagram_bench WITH (FORCE)")
        cur.execute("CREATE DATABASE instagram_bench")
    admin.close()
    conn = psycopg2.connect(BENCH_DSN)
    apply_migrations(conn)
    return conn
