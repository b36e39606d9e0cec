"""The DAGs on a real Airflow (scheduler, LocalExecutor, triggerer, pools, REST API), as
users run them: everything goes through the REST API of the instance `make airflow` starts.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start

import pytest

from instagram_graph import get_provider_info

SYNC_DAGS = ["instagram_profiles", "instagram_media", "instagram_conversations", "instagram_insights"]
PUBLISH_PATH = r"^/\d+/media_publish$"
SEND_PATH = r"^/\d+/messages$"
IMG = "https://cdn.example.com/posts/deploy-story.jpg"
FORM_IMG = "https://cdn.example.com/posts/from-the-form.jpg"

# One file: under pytest-xdist (make test --dist loadfile) one worker runs them all, on one deployment.
pytestmark = pytest.mark.slow


def count(deploy_warehouse, table: str) -> int:
    return deploy_warehouse(f"SELECT count(*) FROM instagram.{table}")[0][0]


def test_make_airflow_answers_and_reruns_change_nothing(deployment, api, capsys) -> None:
    from tests.deploy.conftest import local_airflow

    health = api.session.get(f"{deployment.base_url}/api/v2/monitor/health", timeout=10).json()
    assert health["scheduler"]["status"] == "healthy" and health["triggerer"]["status"] == "healthy"
    before = local_airflow.running(deployment)
    assert set(before) == {"api-server", "scheduler", "dag-processor", "triggerer", "simulator"}
    local_airflow.start(deployment)
    assert "Already running" in capsys.readouterr().out
    assert local_airflow.running(deployment) == before, "a second start changes nothing"
    connections = {c["connection_id"] for c in api.call("GET", "/connections")["connections"]}
    assert {"instagram_graph_default", "instagram_warehouse", "instagram_redis"} <= connections
    assert api.call("GET", "/pools/instagram_graph_api")["slots"] == deployment.pool_slots
    # The Execution API builds its routes on its first request: make airflow asks it first.
    execution_requests = re.findall(r"path=(/execution/\S*)", (deployment.log_dir / "api-server.log").read_text())
    assert execution_requests and execution_requests[0] == "/execution/health"
    print(f"make airflow to a UI that answers: {deployment.startup_seconds:.0f} s")


def test_the_four_sync_dags_succeed_under_the_scheduler(api, deploy_sim, deploy_warehouse) -> None:
    accounts = deploy_sim.accounts()
    deploy_sim.clear_requests()
    runs = {}
    for dag_id in SYNC_DAGS:
        api.unpause(dag_id)
        runs[dag_id] = api.trigger(dag_id)
    for dag_id, run_id in runs.items():
        assert api.wait(dag_id, run_id, timeout=300) == "success", api.task_instances(dag_id, run_id)
        mapped = [ti for ti in api.task_instances(dag_id, run_id) if ti["map_index"] >= 0]
        assert mapped and all(ti["state"] == "success" for ti in mapped)
        labels = {ti["rendered_map_index"] for ti in mapped}
        assert labels >= {f"{a['username']} ({a['id']})" for a in accounts}, "mapped tasks are named username (id)"
        assert {ti["pool"] for ti in mapped} == {"instagram_graph_api"}

    assert count(deploy_warehouse, "profiles") == len(accounts)
    for account in accounts:
        loaded = deploy_warehouse(
            "SELECT media_id, media_product_type = 'STORY' FROM instagram.media WHERE account_id = %s", (account["id"],)
        )
        assert sorted(m for m, story in loaded if not story) == sorted(
            m["id"] for m in deploy_sim.truth("media", account_id=account["id"]))
        assert sorted(m for m, story in loaded if story) == sorted(
            m["id"] for m in deploy_sim.truth("stories", account_id=account["id"]))
    assert count(deploy_warehouse, "conversations") > 0 and count(deploy_warehouse, "messages") > 0
    assert count(deploy_warehouse, "account_insights") > 0
    for account in accounts:  # every account's calls reached Meta, none failed on the server side
        calls = deploy_sim.requests(account_id=account["id"])
        assert calls and all(call["status"] < 500 for call in calls), account["id"]
        paths = {call["resolved_path"] for call in calls}
        inbox = account.get("page_id") or account["id"]  # Facebook Login: the Page's inbox
        assert f"/{account['id']}/media" in paths and f"/{inbox}/conversations" in paths


def test_a_publish_defers_to_the_triggerer_and_resumes(api, deploy_sim, deploy_warehouse) -> None:
    account = deploy_sim.accounts()[0]
    deploy_sim.clear_requests()
    api.unpause("instagram_publish")
    # A story with only the required fields: no caption, no key (derived from the run).
    run_id = api.trigger("instagram_publish", {"account_id": account["id"], "media_type": "STORIES", "media_url": IMG})
    seen: set[str] = set()
    assert api.wait("instagram_publish", run_id, timeout=240, seen=seen) == "success"
    assert "deferred" in seen, f"the publish task waited in the triggerer (states seen: {sorted(seen)})"
    assert len(deploy_sim.requests(method="POST", path=PUBLISH_PATH)) == 1
    ((state, key),) = deploy_warehouse(
        "SELECT state, idempotency_key FROM instagram.publish_jobs WHERE dag_run_id = %s", (run_id,)
    )
    assert state == "published" and key == f"instagram_publish:{run_id}"


def test_a_dm_is_sent_once(api, deploy_sim, deploy_warehouse) -> None:
    account = deploy_sim.accounts()[1]
    to = next(c for c in deploy_sim.truth("conversations", account_id=account["id"]) if c["inside_window"])
    deploy_sim.clear_requests()
    api.unpause("instagram_send_message")
    run_id = api.trigger(
        "instagram_send_message", {"account_id": account["id"], "recipient_id": to["user_id"], "text": "Thanks!"}
    )
    assert api.wait("instagram_send_message", run_id, timeout=180) == "success"
    (message,) = deploy_sim.truth("sent_messages", account_id=account["id"])
    assert (message["recipient_id"], message["text"]) == (to["user_id"], "Thanks!")
    assert len(deploy_sim.requests(method="POST", path=SEND_PATH)) == 1
    assert deploy_warehouse("SELECT state FROM instagram.outbound_messages") == [("sent",)]


def test_a_three_day_backfill_reads_exactly_those_days(api, deploy_sim, deploy_warehouse) -> None:
    first, last = date(2026, 10, 10), date(2026, 10, 12)
    api.unpause("instagram_insights")  # backfill runs stay queued while their DAG is paused
    backfill = api.call("POST", "/backfills", json={
        "dag_id": "instagram_insights", "from_date": f"{first}T00:00:00Z", "to_date": f"{last}T00:00:00Z",
        "max_active_runs": 3, "reprocess_behavior": "none",
    })
    runs = [r for r in api.call("GET", "/dags/instagram_insights/dagRuns", params={"limit": 100})["dag_runs"]
            if r["run_type"] == "backfill"]
    assert len(runs) == 3, runs
    for run in runs:
        assert api.wait("instagram_insights", run["dag_run_id"], timeout=300) == "success"
    assert api.call("GET", f"/backfills/{backfill['id']}")["dag_id"] == "instagram_insights"

    # A day's totals end at the midnight after it; its time series are Meta's (the simulator's) values
    # for that span. October holds nothing else: the other runs read recent days.
    october = "end_time >= '2026-10-01' AND end_time < '2026-11-01'"
    totals = {row[0] for row in deploy_warehouse(
        f"SELECT DISTINCT end_time FROM instagram.account_insights WHERE metric_type = 'total_value' AND {october}"
    )}
    assert totals == {datetime.combine(first + timedelta(days=n + 1), day_start(), UTC) for n in range(3)}
    since = int(datetime.combine(first, day_start(), UTC).timestamp())
    until = int(datetime.combine(last + timedelta(days=1), day_start(), UTC).timestamp())
    for account in deploy_sim.accounts():
        truth = deploy_sim.truth("account_insights", account_id=account["id"], metric="reach", period="day",
                                 since=since, until=until)
        loaded = deploy_warehouse(
            "SELECT end_time, value FROM instagram.account_insights WHERE account_id = %s AND metric = 'reach' "
            f"AND metric_type = 'time_series' AND {october} ORDER BY end_time", (account["id"],),
        )
        expected = [(datetime.strptime(v["end_time"], "%Y-%m-%dT%H:%M:%S%z"), v["value"]) for v in truth["values"]]
        assert [(t, int(v)) for t, v in loaded] == expected and len(expected) == 3


# --- the UI in a browser (Debian's Chromium, driven by Playwright) -----------------------------


def test_a_story_is_published_from_the_trigger_form_with_only_the_required_fields(
    page, deployment, api, deploy_sim, deploy_warehouse
) -> None:
    account = deploy_sim.accounts()[2]
    before = {r["dag_run_id"] for r in api.call("GET", "/dags/instagram_publish/dagRuns")["dag_runs"]}
    page.goto(deployment.base_url + "/dags/instagram_publish")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    form.get_by_text("Run Parameters").wait_for()
    form.locator("#element_account_id").fill(account["id"])
    media_type = form.locator("input[role=combobox]").first
    media_type.click()
    page.get_by_role("option", name="STORIES", exact=True).click()
    form.locator("#element_media_url").fill(FORM_IMG)
    # No caption, alt text, carousel items or idempotency key: none of them is required.
    trigger = form.get_by_role("button", name="Trigger")
    assert trigger.is_enabled()
    trigger.click()

    deadline = time.monotonic() + 30
    new = []
    while not new and time.monotonic() < deadline:
        runs = api.call("GET", "/dags/instagram_publish/dagRuns")["dag_runs"]
        new = [r for r in runs if r["dag_run_id"] not in before]
        time.sleep(0.5)
    (run,) = new
    assert run["conf"]["media_type"] == "STORIES" and run["conf"]["media_url"] == FORM_IMG
    assert run["conf"].get("caption") in (None, "") and run["conf"].get("idempotency_key") in (None, "")
    assert api.wait("instagram_publish", run["dag_run_id"], timeout=240) == "success"
    ((state, media_type, key),) = deploy_warehouse(
        "SELECT state, media_type, idempotency_key FROM instagram.publish_jobs WHERE dag_run_id = %s",
        (run["dag_run_id"],),
    )
    assert (state, media_type, key) == ("published", "STORIES", f"instagram_publish:{run['dag_run_id']}")


def test_the_connection_form_lists_every_extra_the_settings_accept(page, deployment) -> None:
    (connection_type,) = get_provider_info()["connection-types"]
    labels = [field["label"] for field in connection_type["conn-fields"].values()]
    page.goto(deployment.base_url + "/connections")
    page.get_by_role("button", name="Add Connection").click()
    form = page.get_by_role("dialog")
    form.get_by_role("combobox").first.click()
    page.keyboard.type("Instagram")
    page.get_by_role("option", name=connection_type["hook-name"]).click()
    form.get_by_text("Extra Fields", exact=True).click()
    form.get_by_text(labels[-1], exact=True).wait_for()
    text = form.inner_text()
    missing = [label for label in labels if label not in text]
    assert not missing, f"not in the connection form: {missing}"
    assert len(labels) >= 18


def test_the_accounts_page_shows_each_accounts_health(page, deployment, deploy_sim) -> None:
    account = deploy_sim.accounts()[0]
    page.goto(deployment.base_url + "/")
    page.get_by_role("link", name=re.compile("Instagram")).first.click()
    page.wait_for_url(re.compile(r"/plugin/instagram-accounts$"))
    frame = page.frame_locator("iframe").first
    row = frame.locator(f'#instagram-accounts tr[data-account-id="{account["id"]}"]')
    row.wait_for()
    assert row.locator(".username").first.inner_text().strip().lstrip("@") == account["username"]
    assert row.locator(".token-status").first.inner_text().strip() == "active"
    assert int(row.locator(".days-left").first.inner_text().strip()) >= 30
    assert re.search(r"\d+ / 4800", row.locator(".calls").first.inner_text())
    # The sync DAGs ran earlier in this session: the media stream's last success is listed.
    assert row.locator('tr[data-stream="media"] .last-success').first.inner_text().strip()
    page_text = frame.locator("body").inner_text()
    assert account["token"] not in page_text


# Last: it deletes the pool for a moment.
def test_without_the_pool_the_first_task_fails_with_the_fix(api) -> None:
    pool = api.call("GET", "/pools/instagram_graph_api")
    api.call("DELETE", "/pools/instagram_graph_api", expect=(204,))
    try:
        run_id = api.trigger("instagram_profiles")
        assert api.wait("instagram_profiles", run_id, timeout=120) == "failed"
        states = {ti["task_id"]: ti["state"] for ti in api.task_instances("instagram_profiles", run_id)}
        assert states["account_shards"] == "failed"
        log = api.task_log("instagram_profiles", run_id, "account_shards")
        assert "airflow pools set instagram_graph_api" in log and "scheduled' forever" in log
    finally:
        api.call("POST", "/pools", json={"name": pool["name"], "slots": pool["slots"],
                                         "description": pool["description"]}, expect=(201,))
