"""The deployment tier: one real Airflow per test session, started by the code behind
`make airflow` (scripts/local_airflow.py), driven through its REST API and a browser.

It gets its own state folder, ports, metadata DB and warehouse (dropped afterwards), so it
never touches a `make airflow` the developer has running.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from graph_api_sim.testing import SimulatorProcess, free_port
from scripts import local_airflow
from tests.deploy.airflow_api import AirflowApi

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("INSTAGRAM_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which this
# closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]





def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def deployment(tmp_path_factory) -> Iterator[local_airflow.Settings]:
    suffix = os.getpid()
    settings = local_airflow.Settings(
        state_dir=tmp_path_factory.mktemp("airflow_deploy"),
        api_port=free_port(), sim_port=free_port(), worker_log_port=free_port(), trigger_log_port=free_port(),
        metadata_db=f"airflow_deploy_{suffix}", warehouse_db=f"instagram_deploy_{suffix}",
        redis_db=5, broker_redis_db=6, accounts=3, media_per_account=12, fresh=True,
        sim_args=["--container-finish-seconds", "4"],
        # Poll a container every second, so the deferred publish resumes quickly.
        graph_extra={"status_poll_intervals": "1,2", "retry_base_delay": 0.2},
    )
    # A SIGTERM (CI's timeout, a killed run) unwinds like Ctrl-C, so the teardown below still stops
    # the deployment instead of leaving its processes behind.
    signal.signal(signal.SIGTERM, _interrupt)
    t0 = time.monotonic()
    try:
        details = local_airflow.start(settings)
        settings.startup_seconds = time.monotonic() - t0
        settings.login = details
        import redis

        redis.Redis(port=6379, db=settings.redis_db).flushdb()
        yield settings
    finally:
        local_airflow.stop(settings, quiet=True)
        local_airflow.drop_databases(settings)


@pytest.fixture(scope="session")
def api(deployment) -> AirflowApi:
    """A REST API client, once the dag-processor has parsed every DAG file."""
    client = AirflowApi(deployment.base_url, deployment.login["user"], deployment.login["password"])
    wanted = {path.stem for path in (ROOT / "dags").glob("instagram_*.py")}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = {dag["dag_id"] for dag in client.call("GET", "/dags", params={"limit": 100})["dags"]}
        if wanted <= listed:
            return client
        time.sleep(1)
    pytest.fail(f"DAGs never parsed: {sorted(wanted - listed)}; import errors: {client.call('GET', '/importErrors')}")


@pytest.fixture(scope="session")
def deploy_sim(deployment) -> SimulatorProcess:
    return SimulatorProcess.attach(deployment.sim_url)


@pytest.fixture(scope="session")
def deploy_warehouse(deployment):
    """``deploy_warehouse(sql, params)``: rows from the deployment's warehouse."""
    dsn = deployment.dsn(deployment.warehouse_db)

    def query(sql: str, params: tuple = ()) -> list[tuple]:
        conn = psycopg2.connect(dsn)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    return query


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"The browser tests need Chromium at {CHROMIUM}: sudo apt-get install chromium "
                    "(make test installs it when it runs as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, deployment):
    """A signed-in page: the simple auth manager's login form, as a person fills it."""
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(deployment.base_url + "/")
    page.get_by_label("Username").fill(deployment.login["user"])
    page.get_by_label("Password").fill(deployment.login["password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(deployment.base_url + "/")
    yield page
    context.close()
