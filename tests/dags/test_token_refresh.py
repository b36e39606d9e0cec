"""instagram_token_refresh, run with `airflow dags test` against the simulator.

The simulator's second account holds a token that expires in about five days (due
within the default seven); the first and third are weeks away. A third token is made
due here but revoked at Meta, so it cannot be refreshed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest


def _raw_tokens(warehouse) -> dict[str, tuple]:
    rows = warehouse(
        "SELECT account_id, ciphertext, expires_at, issued_at, last_refreshed_at, status FROM instagram.oauth_tokens"
    )
    return {row[0]: (bytes(row[1]), *row[2:]) for row in rows}


def _every_warehouse_value(warehouse) -> str:
    """Every row of every table in the instagram schema, as JSON text (bytea as hex)."""
    tables = [r[0] for r in warehouse(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'instagram'")]
    dump = []
    for table in tables:
        for (row,) in warehouse(f'SELECT row_to_json(t)::text FROM instagram."{table}" t'):
            dump.append(row)
    return "\n".join(dump)


@pytest.mark.slow
def test_due_tokens_are_refreshed_and_an_unrefreshable_one_names_its_account(
    run_dag, airflow_env, sim, warehouse, token_store
):
    first, due, revoked = sim.accounts()
    now = datetime.now(UTC)
    token_store.put(revoked["id"], revoked["token"], expires_at=now + timedelta(days=3),
                    issued_at=now - timedelta(days=57), username=revoked["username"])
    sim.set_token(revoked["id"], revoked=True)
    before = _raw_tokens(warehouse)
    old_tokens = [a["token"] for a in (first, due, revoked)]

    result = run_dag("instagram_token_refresh", "2026-11-20T00:00:00+00:00")
    assert result.returncode != 0, "one red task: the revoked token"

    after = _raw_tokens(warehouse)
    new_token = next(a["token"] for a in sim.accounts() if a["id"] == due["id"])
    assert new_token != due["token"]
    ciphertext, expires_at, issued_at, refreshed_at, status = after[due["id"]]
    assert ciphertext != before[due["id"]][0] and ciphertext.startswith(b"gAAAAA")
    assert token_store.get(due["id"]).token == new_token
    assert timedelta(days=59) < expires_at - now < timedelta(days=61)
    assert abs(issued_at - datetime.now(UTC)) < timedelta(minutes=5) and refreshed_at and status == "active"
    assert after[first["id"]] == before[first["id"]], "a token far from expiry is left alone"

    assert after[revoked["id"]][4] == "invalid"
    assert f"The token of Instagram account {revoked['id']} cannot be refreshed" in result.output
    assert f"instagram-graph accounts add {revoked['id']} < token-file" in result.output

    # Each mapped task is named by its account in the UI (map_index_template).
    import sqlite3

    db = sqlite3.connect(Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db")
    named = dict(db.execute(
        "SELECT rendered_map_index, state FROM task_instance WHERE dag_id = 'instagram_token_refresh' "
        "AND task_id = 'refresh_token' AND run_id = (SELECT max(run_id) FROM dag_run "
        "WHERE dag_id = 'instagram_token_refresh')"
    ).fetchall())
    db.close()
    assert named == {due["id"]: "success", revoked["id"]: "failed"}

    # No plaintext anywhere: task logs, the warehouse, Airflow's metadata DB (XCom) and log files.
    home = Path(airflow_env["AIRFLOW_HOME"])
    stored = _every_warehouse_value(warehouse)
    metadata = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for token in [*old_tokens, new_token]:
        assert token not in result.output
        assert token not in stored
        assert token.encode() not in metadata
