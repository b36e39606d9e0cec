"""instagram_token_refresh, run with `airflow dags test` against the simulator (both logins).

The first account (Instagram Login) is made due here (its token expires in five days in the
warehouse); the third (Instagram Login) too, but revoked at Meta, so it cannot be refreshed.
The second (Facebook Login) holds a Page token, which never expires and is never refreshed;
its Facebook user's token is made due, and is renewed.
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
    due, page, revoked = sim.accounts()
    assert (due["login"], page["login"], revoked["login"]) == ("instagram", "facebook", "instagram")
    user = sim.facebook_user()
    now = datetime.now(UTC)
    for account in (due, revoked):
        token_store.put(account["id"], account["token"], expires_at=now + timedelta(days=5),
                        issued_at=now - timedelta(days=55), username=account["username"])
    sim.set_token(revoked["id"], revoked=True)
    token_store.put_facebook_user(user["id"], user["long_lived_token"], expires_at=now + timedelta(days=3),
                                  issued_at=now - timedelta(days=57))
    before = _raw_tokens(warehouse)
    (user_before,) = warehouse("SELECT ciphertext FROM instagram.facebook_users")
    old_tokens = [a["token"] for a in (due, page, revoked)] + [user["token"], user["long_lived_token"]]

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
    assert after[page["id"]] == before[page["id"]], "a Page token never expires and is left alone"
    assert sim.requests(account_id=page["id"]) == [], "nothing was asked for the Facebook Login account"

    ((user_ciphertext, user_expires, user_refreshed, user_status),) = warehouse(
        "SELECT ciphertext, expires_at, last_refreshed_at, status FROM instagram.facebook_users")
    assert bytes(user_ciphertext) != bytes(user_before[0]) and user_refreshed and user_status == "active"
    assert timedelta(days=59) < user_expires - now < timedelta(days=61), "the Facebook user's token was renewed"
    assert [e["path"] for e in sim.requests(path="oauth/access_token")] == ["/oauth/access_token"]
    renewed_user_token = token_store.get_facebook_user(user["id"]).token

    assert after[revoked["id"]][4] == "invalid"
    assert f"The token of Instagram account {revoked['id']} cannot be refreshed" in result.output
    assert f"instagram-graph accounts add {revoked['id']} < token-file" in result.output

    # Each mapped task is named by its account in the UI (map_index_template).
    import sqlite3

    db = sqlite3.connect(Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db")
    named = dict(db.execute(
        "SELECT rendered_map_index, state FROM task_instance WHERE dag_id = 'instagram_token_refresh' "
        "AND task_id IN ('refresh_token', 'refresh_facebook_user') AND run_id = (SELECT max(run_id) FROM dag_run "
        "WHERE dag_id = 'instagram_token_refresh')"
    ).fetchall())
    db.close()
    assert named == {due["id"]: "success", revoked["id"]: "failed", f"Facebook user {user['id']}": "success"}

    # No plaintext anywhere: task logs, the warehouse, Airflow's metadata DB (XCom) and log files.
    home = Path(airflow_env["AIRFLOW_HOME"])
    stored = _every_warehouse_value(warehouse)
    metadata = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for token in [*old_tokens, new_token, renewed_user_token]:
        assert token not in result.output
        assert token not in stored
        assert token.encode() not in metadata
