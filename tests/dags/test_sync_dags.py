"""The sync DAGs, run with `airflow dags test` against the simulator: tables equal its truth."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from instagram_graph.pool_check import GRAPH_API_POOL

ROOT = Path(__file__).resolve().parents[2]
COMMENTS_FOR_A_YEAR = '{"comment_days": 365}'  # 120 seeded media over two years: few in a week


def _counts(warehouse) -> dict[str, int]:
    tables = ["profiles", "profile_snapshots", "media", "media_children", "comments", "account_insights",
              "media_insights", "conversations", "messages"]
    return {t: warehouse(f"SELECT count(*) FROM instagram.{t}")[0][0] for t in tables}


def test_dagbag_imports_cleanly_without_network(monkeypatch) -> None:
    import socket

    from airflow.dag_processing.dagbag import DagBag

    def no_network(*args, **kwargs):
        raise AssertionError("a DAG file opened a network connection while being parsed")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "instagram_conversations", "instagram_insights", "instagram_media", "instagram_profiles",
        "instagram_publish", "instagram_send_message", "instagram_token_refresh",
    ]
    for dag in bag.dags.values():
        assert dag.doc_md and "instagram." in dag.doc_md, f"{dag.dag_id} tells users which tables it fills"
        graph_tasks = [t for t in dag.tasks if t.task_id.startswith("sync_")
                       or t.task_id in ("publish", "send_message", "refresh_token")]
        assert graph_tasks and all(t.pool == GRAPH_API_POOL for t in graph_tasks)
        assert all(t.retries >= 1 and t.retry_exponential_backoff for t in graph_tasks)
        assert all(t.on_failure_callback for t in graph_tasks)
        # The first task runs outside the pool: it fails loudly when the pool is missing
        # (tasks in a missing pool would wait in 'scheduled' forever).
        roots = [t for t in dag.tasks if not t.upstream_task_ids]
        assert roots and all(t.pool == "default_pool" for t in roots), dag.dag_id
        assert not any(t.pool == "default_pool" for t in graph_tasks)


def test_every_dag_survives_the_dag_processors_encoding() -> None:
    """The dag-processor sends each parsed DAG to its parent with msgpack: a DAG it cannot encode
    (e.g. a Param bound above 2**64) makes the parser exit with code 126, and the DAG is missing
    from the UI with no import error to say why."""
    import msgspec
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert len(bag.dags) == 7
    for dag in bag.dags.values():
        msgspec.msgpack.encode(DagSerialization.to_dict(dag))


def test_profiles_dag_loads_every_account_and_reruns_change_nothing(run_dag, sim, warehouse) -> None:
    first = run_dag("instagram_profiles", "2026-11-20T10:00:00+00:00")
    assert first.returncode == 0, first.output[-3000:]
    rows = warehouse("SELECT account_id, username, followers_count FROM instagram.profiles ORDER BY 1")
    truth = sorted((a["id"], a["username"]) for a in sim.accounts())
    assert [(r[0], r[1]) for r in rows] == truth
    before = _counts(warehouse)

    again = run_dag("instagram_profiles", "2026-11-20T10:00:00+00:00")
    assert again.returncode == 0
    assert _counts(warehouse) == before
    assert before["profile_snapshots"] == 3


def test_media_dag_equals_truth_then_goes_incremental(run_dag, sim, warehouse) -> None:
    sim.clear_requests()
    result = run_dag("instagram_media", conf=COMMENTS_FOR_A_YEAR)
    assert result.returncode == 0, result.output[-3000:]
    for account in sim.accounts():
        assert account["token"] not in result.output, "a token reached the task log or XCom"

    for account in sim.accounts():
        truth = sim.truth("media", account_id=account["id"])
        stories = sim.truth("stories", account_id=account["id"])
        loaded = warehouse(
            "SELECT media_id FROM instagram.media WHERE account_id = %s AND media_product_type IS DISTINCT FROM 'STORY'",
            (account["id"],),
        )
        assert sorted(r[0] for r in loaded) == sorted(m["id"] for m in truth)
        loaded_stories = warehouse(
            "SELECT media_id FROM instagram.media WHERE account_id = %s AND media_product_type = 'STORY'", (account["id"],)
        )
        assert sorted(r[0] for r in loaded_stories) == sorted(s["id"] for s in stories)
        children = warehouse(
            "SELECT parent_id, child_id FROM instagram.media_children c JOIN instagram.media m ON m.media_id = c.parent_id "
            "WHERE m.account_id = %s ORDER BY parent_id, position",
            (account["id"],),
        )
        assert children == [(m["id"], c["id"]) for m in sorted(truth, key=lambda m: m["id"]) for c in m.get("children", [])]
        # The full sync of N media cost ceil(N/100) calls: children came by field expansion.
        media_calls = [r for r in sim.requests(method="GET") if r["path"].endswith(f"/{account['id']}/media")]
        assert len(media_calls) == math.ceil(len(truth) / 100)

    comments = warehouse("SELECT count(*) FROM instagram.comments")[0][0]
    assert comments > 0
    before = _counts(warehouse)

    sim.clear_requests()
    again = run_dag("instagram_media", conf=COMMENTS_FOR_A_YEAR)
    assert again.returncode == 0
    assert _counts(warehouse) == before, "a second run adds no rows"
    media_calls = [r for r in sim.requests(method="GET") if r["path"].endswith("/media")]
    assert len(media_calls) == len(sim.accounts()), "incremental runs read one page per account"


def test_comments_equal_truth_for_recent_media(run_dag, sim, warehouse) -> None:
    assert run_dag("instagram_media", conf=COMMENTS_FOR_A_YEAR).returncode == 0
    recent = warehouse(
        "SELECT media_id FROM instagram.media WHERE \"timestamp\" >= now() - interval '365 days' AND comments_count > 0"
    )
    assert recent, "the simulator seeds commented media in the last year"
    for (media_id,) in recent:
        truth = sim.truth("comments", media_id=media_id)
        expected = sorted([c["id"] for c in truth] + [r["id"] for c in truth for r in c.get("replies", [])])
        loaded = warehouse("SELECT comment_id FROM instagram.comments WHERE media_id = %s ORDER BY 1", (media_id,))
        assert [r[0] for r in loaded] == expected


def test_media_insights_equal_truth_and_skip_refusals(run_dag, sim, warehouse) -> None:
    assert run_dag("instagram_media").returncode == 0
    result = run_dag("instagram_insights")
    assert result.returncode == 0, result.output[-3000:]
    loaded = warehouse("SELECT media_id, metric, value FROM instagram.media_insights")
    assert loaded
    by_media: dict[str, dict[str, float]] = {}
    for media_id, metric, value in loaded:
        by_media.setdefault(media_id, {})[metric] = float(value) if value is not None else None
    for media_id in list(by_media)[:20]:
        truth = sim.truth("media_insights", media_id=media_id)
        for metric, value in by_media[media_id].items():
            assert value == pytest.approx(truth["values"][metric])


def test_conversations_dag_equals_truth_and_quiet_inbox_costs_one_call(run_dag, sim, warehouse) -> None:
    assert run_dag("instagram_conversations").returncode == 0
    for account in sim.accounts():
        truth = sim.truth("conversations", account_id=account["id"])
        loaded = warehouse("SELECT message_id FROM instagram.messages WHERE account_id = %s ORDER BY 1", (account["id"],))
        assert [r[0] for r in loaded] == sorted(m["id"] for c in truth for m in c["messages"])
    sim.clear_requests()
    before = _counts(warehouse)
    assert run_dag("instagram_conversations").returncode == 0
    assert _counts(warehouse) == before
    assert len(sim.requests()) == len(sim.accounts())


def test_expired_token_fails_only_that_accounts_task(run_dag, sim, warehouse) -> None:
    victim, *others = sim.accounts()
    sim.set_token(victim["id"], expires_at=int(time.time()) - 60)
    result = run_dag("instagram_profiles")
    assert result.returncode != 0
    loaded = {r[0] for r in warehouse("SELECT account_id FROM instagram.profiles")}
    assert loaded == {a["id"] for a in others}
    assert f"account {victim['id']}: TokenExpiredError" in result.output
    assert f"Reconnect account {victim['id']}" in result.output, "the catalogue's advice names the account"
    assert victim["token"] not in result.output


def test_a_run_killed_half_way_is_completed_by_the_rerun(airflow_env, run_dag, sim, warehouse) -> None:
    sim.add_fault(method="GET", path=r"/media$", kind="delay", seconds=1.0)
    process = subprocess.Popen(
        [str(Path(os.sys.executable).with_name("airflow")), "dags", "test", "instagram_media"],
        env=airflow_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while warehouse("SELECT count(*) FROM instagram.media")[0][0] == 0:
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before it loaded anything"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    partial = warehouse("SELECT count(*) FROM instagram.media")[0][0]
    total = sum(len(sim.truth("media", account_id=a["id"])) for a in sim.accounts())
    assert 0 < partial < total

    sim.clear_faults()
    assert run_dag("instagram_media").returncode == 0
    loaded = sorted(r[0] for r in warehouse(
        "SELECT media_id FROM instagram.media WHERE media_product_type IS DISTINCT FROM 'STORY'"
    ))
    assert loaded == sorted(m["id"] for a in sim.accounts() for m in sim.truth("media", account_id=a["id"]))


def test_a_huge_option_is_refused_before_any_call(run_dag, sim, warehouse) -> None:
    sim.clear_requests()
    result = run_dag("instagram_media", conf='{"comment_days": 1000000000000}')
    assert result.returncode != 0
    assert "comment_days" in result.output
    assert sim.requests() == [], "no call to the Graph API"
    assert warehouse("SELECT count(*) FROM instagram.media") == [(0,)]
