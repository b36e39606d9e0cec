"""Connections to the warehouse Postgres (psycopg2).

:func:`connect` resolves where the warehouse is, in this order:

1. the ``dsn`` argument;
2. env ``INSTAGRAM_WAREHOUSE_DSN`` (a libpq DSN or ``postgresql://`` URI), handy for the
   CLI and scripts outside Airflow;
3. the Airflow connection ``instagram_warehouse`` (env ``AIRFLOW_CONN_INSTAGRAM_WAREHOUSE``,
   the metadata DB or a secrets backend).

It always returns a psycopg2 connection. ``PostgresHook.get_conn()`` is not used as is: with
SQLAlchemy 2 installed it hands out psycopg 3 connections, and this project uses psycopg2
throughout (``copy_expert`` in the warehouse loader). The hook's connection settings and
extras are used the same way (IAM auth is not supported here).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import psycopg2
import psycopg2.extensions

DSN_ENV = "INSTAGRAM_WAREHOUSE_DSN"
WAREHOUSE_CONN_ID = "instagram_warehouse"
AIRFLOW_CONN_ENV = "AIRFLOW_CONN_" + WAREHOUSE_CONN_ID.upper()


def connector(dsn: str | None = None) -> Callable[[], psycopg2.extensions.connection]:
    """A factory of warehouse connections, the warehouse's location resolved once, here.

    For worker threads: Airflow's connection lookups go through the task's one channel to
    its supervisor, which threads must not share, so the lookup is made before they start.
    """
    dsn = dsn or os.environ.get(DSN_ENV)
    if dsn:
        return partial(psycopg2.connect, dsn)
    return partial(psycopg2.connect, **_airflow_connection_args())


def connect(dsn: str | None = None) -> psycopg2.extensions.connection:
    """Open a new psycopg2 connection to the warehouse; the caller closes it.

    :raises RuntimeError: when no warehouse is configured (the message names both ways to
        configure one). Connection failures raise ``psycopg2.OperationalError``.
    """
    dsn = dsn or os.environ.get(DSN_ENV)
    if dsn:
        return psycopg2.connect(dsn)
    return psycopg2.connect(**_airflow_connection_args())


class WarehouseConnectionLost(RuntimeError):
    """The warehouse went away mid-task (a restart, a failover, a network cut).

    Transient: what was committed stays, and the task's retry (or a rerun) completes it.
    """


_LOST = (psycopg2.OperationalError, psycopg2.InterfaceError)


def _first_cause(error: BaseException) -> BaseException:
    """The first warehouse error of the chain: psycopg2 reports a dead connection again
    ("connection already closed") when the rollback that follows the real failure runs."""
    cause = error
    seen = {id(cause)}
    while True:
        earlier = cause.__cause__ or cause.__context__
        if earlier is None or id(earlier) in seen or not isinstance(earlier, psycopg2.Error):
            return cause
        seen.add(id(earlier))
        cause = earlier


@contextmanager
def connection_loss_explained() -> Iterator[None]:
    """Turn a lost warehouse connection into :class:`WarehouseConnectionLost` whose message
    starts with what happened and names the first cause, not the rollback's echo of it."""
    try:
        yield
    except _LOST as exc:
        cause = _first_cause(exc)
        detail = (getattr(cause, "pgerror", None) or str(cause)).strip().splitlines()
        raise WarehouseConnectionLost(
            f"the warehouse connection was lost: {type(cause).__name__}: {detail[0] if detail else 'no detail'}. "
            "What was committed stays; the task's retry completes the rest once the warehouse answers again."
        ) from cause


def _airflow_connection_args() -> dict[str, Any]:
    try:
        from airflow.providers.postgres.hooks.postgres import PostgresHook
    except ImportError as exc:  # pragma: no cover - Airflow is a dependency
        raise RuntimeError(_not_configured(f"Airflow is not importable: {exc}")) from None
    hook = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID)
    try:
        conn = hook.get_connection(WAREHOUSE_CONN_ID)
    except Exception as exc:  # AirflowNotFoundException, or no metadata DB outside Airflow
        raise RuntimeError(_not_configured(str(exc))) from None
    args: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port,
        "user": conn.login,
        "password": conn.password,
        "dbname": conn.schema,
    }
    for name, value in conn.extra_dejson.items():
        if name not in hook.ignored_extra_options:
            args[name] = value
    return {name: value for name, value in args.items() if value not in (None, "")}


def _not_configured(reason: str) -> str:
    return (
        f"No warehouse configured ({reason}). Set {DSN_ENV} to a Postgres DSN "
        f"(e.g. postgresql://user@host:5432/dbname), or define the Airflow connection "
        f"'{WAREHOUSE_CONN_ID}' (e.g. env {AIRFLOW_CONN_ENV})."
    )
