"""The audit trail of a real DAG run (`airflow dags test`): every call, named by its task try."""

from __future__ import annotations


def test_a_dag_runs_calls_carry_its_dag_run_and_task(run_dag, sim, warehouse) -> None:
    sim.clear_requests()
    result = run_dag(
        "instagram_profiles", "2026-11-21T10:00:00+00:00",
        env={"AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"},  # the per-attempt lines are DEBUG
    )
    assert result.returncode == 0, result.output[-3000:]

    rows = warehouse(
        "SELECT account_id, method, path, status, dag_id, run_id, task_id, map_index, try_number "
        "FROM instagram.api_calls ORDER BY map_index")
    made = sim.requests()
    accounts = sorted(a["id"] for a in sim.accounts())
    assert len(rows) == len(made) == 3, "one profile read per account, each in the trail"
    assert sorted((r[0], r[1], r[2], r[3]) for r in rows) == sorted(
        (e["account_id"], e["method"], f"/{e['version']}{e['path']}", e["status"]) for e in made)
    assert sorted(r[0] for r in rows) == accounts
    assert {(r[4], r[6], r[8]) for r in rows} == {("instagram_profiles", "sync_profile", 1)}
    (run_id,) = {r[5] for r in rows}
    assert run_id and run_id in result.output, "the run's id, as Airflow names it"
    assert [r[7] for r in rows] == [0, 1, 2], "each mapped task instance by its index"

    lines = [line for line in result.output.splitlines() if "graph_api_call" in line]
    assert len(lines) == 3 and all("dag_id=instagram_profiles" in line and "task_id=sync_profile" in line
                                   for line in lines)
    for account in sim.accounts():  # (at DEBUG, Airflow's own supervisor logs what it masks: not checked)
        assert not any(account["token"] in line for line in lines)
