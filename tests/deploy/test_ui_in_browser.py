"""The UI as a person uses it, in Debian's Chromium driven by Playwright, on the deployment
that `make airflow`'s code started: the publish trigger form, the connection form, and the
Instagram accounts page.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from instagram_graph import get_provider_info

CHROMIUM = os.environ.get("INSTAGRAM_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which this
# closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMG = "https://cdn.example.com/posts/from-the-form.jpg"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
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
    form.locator("#element_media_url").fill(IMG)
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
    assert run["conf"]["media_type"] == "STORIES" and run["conf"]["media_url"] == IMG
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
