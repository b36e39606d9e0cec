"""warehouse.upsert: COPY + merge, idempotent, all-or-nothing, faithful to awkward values.

Every test runs three ways: every row through the staging table and the merge, new rows
COPYed straight into the table (the road big batches take), and every row in one
INSERT ... VALUES statement (the road small batches take).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg2
import pytest

from instagram_graph import warehouse
from instagram_graph.warehouse import TableSpec, upsert

SPEC = TableSpec(
    name="things",
    key=("thing_id",),
    columns=("thing_id", "label", "count", "seen", "tags", "raw", "at"),
    touch=("updated_at",),
    arrays=("tags",),
)


@pytest.fixture(autouse=True, params=["merge only", "direct insert", "one statement"])
def road(request, monkeypatch) -> str:
    monkeypatch.setattr(warehouse, "DIRECT_INSERT_MIN_ROWS", 1 if request.param == "direct insert" else 10**9)
    monkeypatch.setattr(warehouse, "STATEMENT_MAX_ROWS", 10**9 if request.param == "one statement" else 0)
    return request.param


@pytest.fixture
def conn(pg_dsn):
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS wh_test CASCADE; CREATE SCHEMA wh_test")
        cur.execute(
            """CREATE TABLE wh_test.things (
                   thing_id text PRIMARY KEY, label text, count bigint, seen boolean,
                   tags text[] NOT NULL DEFAULT '{}', raw jsonb NOT NULL DEFAULT '{}',
                   at timestamptz, updated_at timestamptz NOT NULL DEFAULT now())"""
        )
    yield conn
    conn.close()


def rows_of(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT thing_id, label, count, seen, tags, raw, at, updated_at FROM wh_test.things ORDER BY 1")
        return cur.fetchall()


AWKWARD = "tab\there, new\nline, back\\slash, \"quotes\", {braces}, ünïcode 📸, \\N"
AT = datetime(2026, 1, 11, 8, 0, tzinfo=UTC)


def sample(n: int = 3):
    return [
        {
            "thing_id": f"id{i}",
            "label": AWKWARD if i == 0 else None,
            "count": i,
            "seen": i % 2 == 0,
            "tags": ["a", 'b "c"', "d\\e"] if i == 0 else [],
            "raw": {"id": f"id{i}", "nested": {"text": AWKWARD}},
            "at": AT,
        }
        for i in range(n)
    ]


def test_values_arrive_exactly(conn) -> None:
    result = upsert(conn, SPEC, sample(), schema="wh_test")
    assert (result.received, result.written) == (3, 3)
    first = rows_of(conn)[0]
    assert first[:7] == ("id0", AWKWARD, 0, True, ["a", 'b "c"', "d\\e"], {"id": "id0", "nested": {"text": AWKWARD}}, AT)
    assert rows_of(conn)[1][1] is None


def test_second_load_changes_nothing(conn) -> None:
    upsert(conn, SPEC, sample(), schema="wh_test")
    before = rows_of(conn)
    result = upsert(conn, SPEC, sample(), schema="wh_test")
    assert result.written == 0
    assert rows_of(conn) == before  # updated_at untouched too


def test_a_changed_row_is_updated_and_touched(conn) -> None:
    upsert(conn, SPEC, sample(), schema="wh_test")
    before = {r[0]: r for r in rows_of(conn)}
    changed = sample()
    changed[2]["count"] = 99
    assert upsert(conn, SPEC, changed, schema="wh_test").written == 1
    after = {r[0]: r for r in rows_of(conn)}
    assert after["id2"][2] == 99 and after["id2"][7] > before["id2"][7]
    assert after["id1"] == before["id1"]


def test_duplicate_keys_in_one_batch_last_wins(conn) -> None:
    rows = [*sample(2), {**sample(2)[1], "count": 7}]
    result = upsert(conn, SPEC, rows, schema="wh_test")
    assert (result.received, result.written) == (3, 2)
    assert [r[2] for r in rows_of(conn)] == [0, 7]


def test_a_failing_batch_leaves_the_table_as_it_was(conn) -> None:
    upsert(conn, SPEC, sample(), schema="wh_test")
    before = rows_of(conn)
    bad = sample(5)
    bad[4]["count"] = "not a number"
    with pytest.raises(psycopg2.DataError):
        upsert(conn, SPEC, bad, schema="wh_test")
    assert rows_of(conn) == before


def test_empty_input_is_a_no_op(conn) -> None:
    assert upsert(conn, SPEC, [], schema="wh_test").written == 0


def test_load_writes_several_tables_in_one_transaction(conn) -> None:
    from instagram_graph.warehouse import load

    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE wh_test.others (other_id text PRIMARY KEY, n bigint)")
    others = TableSpec(name="others", key=("other_id",), columns=("other_id", "n"))

    with pytest.raises(psycopg2.DataError):
        load(conn, [(SPEC, sample()), (others, [{"other_id": "o1", "n": "NaN-ish"}])], schema="wh_test")
    assert rows_of(conn) == [], "the first table's rows went back with the second's failure"

    results = load(conn, [(SPEC, sample()), (others, [{"other_id": "o1", "n": 1}])], schema="wh_test")
    assert (results["things"].written, results["others"].written) == (3, 1)


def test_a_mixed_batch_inserts_new_updates_changed_and_leaves_the_rest(conn) -> None:
    upsert(conn, SPEC, sample(4), schema="wh_test")
    before = {r[0]: r for r in rows_of(conn)}
    batch = sample(6)  # id4 and id5 are new
    batch[1]["label"] = "changed"
    result = upsert(conn, SPEC, batch, schema="wh_test")

    assert (result.received, result.written) == (6, 3)
    after = {r[0]: r for r in rows_of(conn)}
    assert sorted(after) == [f"id{i}" for i in range(6)]
    assert after["id1"][1] == "changed" and after["id1"][7] > before["id1"][7]
    assert [after[k] for k in ("id0", "id2", "id3")] == [before[k] for k in ("id0", "id2", "id3")]
    assert after["id5"][:7] == ("id5", None, 5, False, [], {"id": "id5", "nested": {"text": AWKWARD}}, AT)


def test_a_key_inserted_by_another_transaction_meanwhile_is_merged(conn, pg_dsn, road) -> None:
    """The lookup cannot see an uncommitted row; the direct COPY then waits for it, fails on
    the unique index once it commits, and the batch falls back to the merge."""
    other = psycopg2.connect(pg_dsn)
    with other.cursor() as cur:  # stays open: the row is not committed yet
        cur.execute("INSERT INTO wh_test.things (thing_id, label, count) VALUES ('id1', 'by another', -1)")
    outcome: dict = {}
    loader = threading.Thread(target=lambda: outcome.update(result=upsert(conn, SPEC, sample(), schema="wh_test")))
    loader.start()
    time.sleep(0.5)
    other.commit()
    other.close()
    loader.join(timeout=30)

    assert outcome["result"].written == 3
    assert [(r[0], r[1], r[2]) for r in rows_of(conn)] == [("id0", AWKWARD, 0), ("id1", None, 1), ("id2", None, 2)]
