"""Idempotent bulk upserts into the warehouse: COPY into a temporary table, then one merge.

Row-by-row INSERTs cost a round trip each; COPY streams a whole batch in one. The merge
(``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE ... IS DISTINCT FROM``) only
touches rows whose values changed, so loading the same data twice changes nothing, not
even ``updated_at``. Each call is one transaction: a failed batch leaves no half-load.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg2 import sql


@dataclass(frozen=True)
class TableSpec:
    """How one warehouse table is loaded.

    :param name: table in schema ``instagram``.
    :param key: the natural key (the table's primary key or a unique constraint).
    :param columns: columns the loader writes, key included.
    :param touch: timestamp columns set to ``now()`` when a row is inserted or changes.
    :param compare: columns whose change counts as a change (default: all non-key columns
        except ``touch``). Leave out bookkeeping like ``loaded_at`` or ``fetched_at``.
    :param arrays: ``text[]`` columns; their values are sequences of str. Every other
        list or dict value is written as JSON (for ``jsonb`` columns such as ``raw``).
    """

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    touch: tuple[str, ...] = ()
    compare: tuple[str, ...] | None = None
    arrays: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        missing = set(self.key) - set(self.columns)
        if missing:
            raise ValueError(f"{self.name}: key columns {sorted(missing)} are not in columns")

    @property
    def updated(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.key)

    @property
    def compared(self) -> tuple[str, ...]:
        return self.compare if self.compare is not None else self.updated


@dataclass(frozen=True)
class UpsertResult:
    received: int  # rows handed in
    written: int  # rows inserted or changed (unchanged rows are not counted)


def upsert(conn: Any, spec: TableSpec, rows: Iterable[Mapping[str, Any]], *, schema: str = "instagram") -> UpsertResult:
    """Load ``rows`` into ``schema.spec.name`` in one transaction; return what changed.

    Rows with the same key in one batch: the last one wins (the API can repeat an item
    when pages shift under it). Missing keys in a row mean NULL.
    """
    deduped: dict[tuple, Mapping[str, Any]] = {}
    received = 0
    for row in rows:
        received += 1
        deduped[tuple(row.get(k) for k in spec.key)] = row
    if not deduped:
        return UpsertResult(received=0, written=0)

    target = sql.Identifier(schema, spec.name)
    staging = sql.Identifier(f"_stage_{spec.name}")
    cols = sql.SQL(", ").join(map(sql.Identifier, spec.columns))
    with conn:  # one transaction: commit on success, roll back on any error
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(staging, target)
            )
            cur.copy_expert(
                sql.SQL("COPY {} ({}) FROM STDIN").format(staging, cols).as_string(cur),
                _copy_buffer(deduped.values(), spec),
            )
            cur.execute(_merge_statement(target, staging, spec))
            written = cur.rowcount
    return UpsertResult(received=received, written=written)


def _merge_statement(target: sql.Identifier, staging: sql.Identifier, spec: TableSpec) -> sql.Composed:
    cols = sql.SQL(", ").join(map(sql.Identifier, spec.columns))
    key = sql.SQL(", ").join(map(sql.Identifier, spec.key))
    insert_cols = cols
    select_cols = cols
    if spec.touch:
        touch = sql.SQL(", ").join(map(sql.Identifier, spec.touch))
        insert_cols = sql.SQL("{}, {}").format(cols, touch)
        select_cols = sql.SQL("{}, {}").format(cols, sql.SQL(", ").join(sql.SQL("now()") for _ in spec.touch))
    assignments = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in spec.updated]
    assignments += [sql.SQL("{} = now()").format(sql.Identifier(c)) for c in spec.touch]
    if not assignments:
        return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO NOTHING").format(
            target, insert_cols, select_cols, staging, key
        )
    compared = sql.SQL(", ").join(sql.SQL("{}.{}").format(target, sql.Identifier(c)) for c in spec.compared)
    excluded = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in spec.compared)
    return sql.SQL(
        "INSERT INTO {target} ({insert_cols}) SELECT {select_cols} FROM {staging} "
        "ON CONFLICT ({key}) DO UPDATE SET {assignments} "
        "WHERE ({compared}) IS DISTINCT FROM ({excluded})"
    ).format(
        target=target,
        insert_cols=insert_cols,
        select_cols=select_cols,
        staging=staging,
        key=key,
        assignments=sql.SQL(", ").join(assignments),
        compared=compared,
        excluded=excluded,
    )


# --- COPY text format -------------------------------------------------------------------

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any, is_array: bool = False) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if is_array:
        text = _array_literal(value)
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    # Postgres text cannot hold NUL; Meta never sends it, a corrupt body might.
    return text.replace("\x00", "").translate(_ESCAPES)


def _array_literal(values: Sequence[Any]) -> str:
    quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _copy_buffer(rows: Iterable[Mapping[str, Any]], spec: TableSpec) -> io.StringIO:
    buffer = io.StringIO()
    write = buffer.write
    flags = [(c, c in spec.arrays) for c in spec.columns]
    for row in rows:
        write("\t".join(_copy_value(row.get(c), is_array) for c, is_array in flags))
        write("\n")
    buffer.seek(0)
    return buffer
