"""The publish state machine against the simulator, real Postgres and Redis.

Waits run the real ContainerStatusTrigger in an event loop, as the triggerer would.
"Exactly once" is checked against the simulator's record of posts (truth/published)
and its request log, never against our own table alone.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from instagram_graph.jobs import JobBusy, RequestRefused, job_lock
from instagram_graph.publishing import (
    PublishedMediaNotFound,
    PublishFailed,
    Publisher,
    PublishJob,
    PublishOutcomeUnknown,
    PublishRequest,
)
from instagram_graph.triggers.container_status import ContainerStatusTrigger

PUBLISH_PATH = r"^/\d+/media_publish$"
IMG = "https://cdn.example.com/posts/sunset.jpg"
VID = "https://cdn.example.com/posts/clip.mp4"


@pytest.fixture
def graph_connection(sim, monkeypatch, redis_client) -> None:
    """The connections a trigger reads inside run(), as the triggerer would get them."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT",
        json.dumps({"conn_type": "instagram_graph", "host": sim.base_url,
                    "extra": {"retry_base_delay": 0.02, "calls_per_hour": 5000}}),
    )


@pytest.fixture
def publisher(hook, connect, graph_connection) -> Publisher:
    return Publisher(hook, connect())


def rows(connect, sql: str, params: tuple = ()) -> list[tuple]:
    with connect().cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def run_trigger(trigger: ContainerStatusTrigger) -> dict:
    async def first_event():
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(first_event())


def drive(publisher: Publisher, job: PublishJob, *, wait_seconds: float = 20.0) -> PublishJob:
    """Advance the job to the end, waiting through the real trigger like the operator does."""
    statuses: dict[str, str] = {}
    for _ in range(6):
        outcome = publisher.advance(job, statuses)
        if isinstance(outcome, PublishJob):
            return outcome
        trigger = ContainerStatusTrigger(
            account_id=job.account_id, container_ids=outcome.container_ids,
            deadline=time.time() + wait_seconds, poll_interval=0.3, first_interval=0.2,
        )
        event = run_trigger(trigger)
        job = publisher.load(job.idempotency_key)
        statuses = publisher.accept_wait_result(job, event)
        job = publisher.load(job.idempotency_key)
    raise AssertionError("the job never finished")


def publish_by_hand(hook, sim, request: PublishRequest) -> str:
    """The same content posted outside this project (say, in the Instagram app) just before."""
    account_id = request.account_id
    item_ids = [hook.create_container(account_id, **spec.params()) for spec in request.item_specs()]
    if request.media_type == "CAROUSEL":
        wait_finished(hook, account_id, item_ids)
        item_ids = [hook.create_container(account_id, **request.parent_spec(item_ids).params())]
    wait_finished(hook, account_id, item_ids)
    return hook.publish_container(account_id, item_ids[0])


def wait_finished(hook, account_id: str, container_ids: list[str]) -> None:
    deadline = time.monotonic() + 15
    while any(hook.get_container_status(account_id, c)["status_code"] != "FINISHED" for c in container_ids):
        assert time.monotonic() < deadline, "containers never finished"
        time.sleep(0.2)


def publish_posts(sim, account_id: str) -> list[dict]:
    return sim.truth("published", account_id=account_id)


def media_publish_calls(sim) -> list[dict]:
    return sim.requests(method="POST", path=PUBLISH_PATH)


# --- the request's rules: refused before any call -------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"media_type": "IMAGE", "media_url": "http://cdn.example.com/a.jpg"}, "is not an HTTPS URL"),
        ({"media_type": "IMAGE", "media_url": "ftp://cdn.example.com/a.jpg"}, "is not an HTTPS URL"),
        ({"media_type": "IMAGE", "media_url": IMG, "caption": "x" * 2201}, "Shorten it by 1 characters"),
        ({"media_type": "IMAGE", "media_url": IMG, "caption": " ".join(f"#t{i}" for i in range(31))},
         "has 31 hashtags; Instagram allows at most 30. Remove 1"),
        ({"media_type": "CAROUSEL", "children": [IMG]}, "needs 2 to 10 items in children; got 1"),
        ({"media_type": "CAROUSEL", "children": [IMG] * 11}, "got 11. Remove items"),
        ({"media_type": "CAROUSEL", "children": [IMG, "http://x.example/b.jpg"]}, "children item 2"),
        ({"media_type": "CAROUSEL", "media_url": IMG, "children": [IMG, IMG]}, "leave media_url empty"),
        ({"media_type": "IMAGE", "media_url": IMG, "children": [IMG, IMG]}, "children are only for CAROUSEL"),
        ({"media_type": "IMAGE", "media_url": VID}, "is a video file, but media_type is IMAGE"),
        ({"media_type": "STORIES", "media_url": IMG, "caption": "hi"}, "Stories have no caption"),
        ({"media_type": "REELS", "media_url": VID, "alt_text": "a cat"}, "alt_text applies to images only"),
        ({"media_type": "GIF", "media_url": IMG}, "is not one of IMAGE, VIDEO, REELS, STORIES, CAROUSEL"),
        ({"media_type": "VIDEO", "media_url": ""}, "media_url is empty"),
    ],
)
def test_bad_requests_are_refused_naming_the_problem(fields, expected) -> None:
    with pytest.raises(RequestRefused) as refused:
        PublishRequest.build(account_id="17841400000000001", **fields)
    assert expected in str(refused.value)


def test_thirty_hashtags_and_2200_characters_are_allowed() -> None:
    caption = " ".join(f"#t{i}" for i in range(30))
    caption += "x" * (2200 - len(caption))
    request = PublishRequest.build(account_id="1", media_type="IMAGE", media_url=IMG, caption=caption)
    assert len(request.caption) == 2200


def test_children_come_as_a_list_or_as_the_json_a_template_renders() -> None:
    as_list = PublishRequest.build(account_id="1", media_type="CAROUSEL", children=[IMG, VID])
    as_json = PublishRequest.build(account_id="1", media_type="CAROUSEL", children=json.dumps([IMG, VID]))
    assert as_list == as_json
    assert as_list.request_hash == as_json.request_hash
    specs = as_list.item_specs()
    assert (specs[0].image_url, specs[1].video_url, specs[1].media_type) == (IMG, VID, "VIDEO")
    assert all(spec.is_carousel_item for spec in specs)


# --- publishing each kind, exactly once ------------------------------------------------------


def test_an_image_is_published_once_and_the_same_key_never_posts_again(publisher, sim, account, connect) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG,
                                   caption="Sunset #beach", alt_text="An orange sunset")
    job = drive(publisher, publisher.register(request, "image-1", "run-1"))

    posts = publish_posts(sim, account["id"])
    assert [p["media_id"] for p in posts] == [job.media_id]
    assert posts[0]["container_id"] == job.parent_container_id
    assert job.state == "published" and job.permalink and job.permalink.startswith("https://www.instagram.com/p/")
    (row,) = rows(connect, "SELECT state, attempts, container_ids, request_hash, published_at IS NOT NULL "
                           "FROM instagram.publish_jobs WHERE idempotency_key = 'image-1'")
    assert row == ("published", 1, [job.parent_container_id], request.request_hash, True)

    sim.clear_requests()
    again = publisher.register(request, "image-1", "run-2")
    assert drive(publisher, again).media_id == job.media_id
    assert sim.requests() == [], "a finished key costs no call at all"
    assert len(publish_posts(sim, account["id"])) == 1


@pytest.mark.parametrize(
    ("media_type", "url", "product_type", "kind"),
    [("VIDEO", VID, "FEED", "VIDEO"), ("REELS", VID, "REELS", "VIDEO"), ("STORIES", VID, "STORY", "VIDEO"),
     ("STORIES", IMG, "STORY", "IMAGE")],
)
def test_videos_reels_and_stories_wait_for_processing_then_publish_once(
    publisher, sim, account, media_type, url, product_type, kind
) -> None:
    caption = None if media_type == "STORIES" else f"A {media_type.lower()}"
    request = PublishRequest.build(account_id=account["id"], media_type=media_type, media_url=url, caption=caption)
    job = drive(publisher, publisher.register(request, f"{media_type}-{kind}"))
    (post,) = publish_posts(sim, account["id"])
    assert (post["media_id"], post["media_product_type"], post["media_type"]) == (job.media_id, product_type, kind)
    assert len(media_publish_calls(sim)) == 1


def test_a_carousel_creates_its_items_then_itself_and_posts_once(publisher, sim, account, connect) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="CAROUSEL", children=[IMG, VID, IMG],
                                   caption="Three slides")
    job = drive(publisher, publisher.register(request, "carousel-1"))
    containers = {c["id"]: c for c in sim.truth("containers", account_id=account["id"])}
    assert len(job.container_ids) == 3 and all(containers[c]["is_carousel_item"] for c in job.container_ids)
    assert containers[job.parent_container_id]["children"] == job.container_ids
    (post,) = publish_posts(sim, account["id"])
    assert (post["media_id"], post["media_type"]) == (job.media_id, "CAROUSEL_ALBUM")


# --- exactly once when answers are lost -------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{"media_type": "IMAGE", "media_url": IMG, "caption": "Once"}, {"media_type": "STORIES", "media_url": VID},
     {"media_type": "CAROUSEL", "children": [IMG, IMG], "caption": "Once"}],
    ids=["image", "story", "carousel"],
)
def test_a_lost_publish_answer_is_found_by_the_next_worker_and_never_posted_again(
    publisher, make_hook, sim, account, connect, fields
) -> None:
    request = PublishRequest.build(account_id=account["id"], **fields)
    decoy = publish_by_hand(publisher.hook, sim, request)
    time.sleep(1.1)  # Meta's timestamps have whole seconds
    job = publisher.register(request, "lost-answer")
    sim.add_fault(method="POST", path=PUBLISH_PATH, kind="commit_then_drop", times=1)
    sim.clear_requests()

    with pytest.raises(PublishOutcomeUnknown):  # the worker dies here, as far as anyone knows
        drive(publisher, job)
    (state,) = rows(connect, "SELECT state FROM instagram.publish_jobs WHERE idempotency_key = 'lost-answer'")[0]
    assert state == "publishing", "the attempt was recorded before the request left"
    post = publish_posts(sim, account["id"])[-1]
    assert post["media_id"] != decoy

    fresh = Publisher(make_hook(), connect())  # another worker, another process
    job = fresh.advance(fresh.register(request, "lost-answer"))
    assert job.state == "published" and job.media_id == post["media_id"]
    assert len(publish_posts(sim, account["id"])) == 2, "the post by hand and ours"
    assert len(media_publish_calls(sim)) == 1, "the retry asked the container, it did not publish again"


def test_a_request_that_never_arrived_is_published_on_the_retry(publisher, sim, account) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG)
    job = publisher.register(request, "never-arrived")
    sim.add_fault(method="POST", path=PUBLISH_PATH, kind="reset", times=1)
    sim.clear_requests()

    with pytest.raises(PublishOutcomeUnknown):
        drive(publisher, job)
    assert publish_posts(sim, account["id"]) == []
    job = drive(publisher, publisher.load("never-arrived"))
    assert [p["media_id"] for p in publish_posts(sim, account["id"])] == [job.media_id]
    assert len(media_publish_calls(sim)) == 2
    assert job.attempts == 2


def test_a_stale_ready_row_meets_metas_duplicate_refusal_and_records_the_post(publisher, sim, account, connect) -> None:
    """A worker killed after publishing but before its UPDATE: the row still says 'ready'."""
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG, caption="Stale")
    job = drive(publisher, publisher.register(request, "stale"))
    rows(connect, "UPDATE instagram.publish_jobs SET state = 'ready', media_id = NULL, permalink = NULL "
                  "WHERE idempotency_key = 'stale' RETURNING 1")
    sim.clear_requests()

    again = drive(publisher, publisher.load("stale"))
    assert again.media_id == job.media_id
    assert len(publish_posts(sim, account["id"])) == 1
    assert [r["status"] for r in media_publish_calls(sim)] == [400], "Meta refused the second publish (506)"


def test_a_published_container_whose_post_is_not_listed_yet_is_not_published_again(
    publisher, sim, account, connect
) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG, caption="Lagging")
    job = publisher.register(request, "lagging")
    sim.add_fault(method="POST", path=PUBLISH_PATH, kind="commit_then_drop", times=1)
    with pytest.raises(PublishOutcomeUnknown):
        drive(publisher, job)
    # As if the edge lagged: nothing on it is as new as the recorded attempt.
    rows(connect, "UPDATE instagram.publish_jobs SET publish_started_at = now() + interval '1 day' "
                  "WHERE idempotency_key = 'lagging' RETURNING 1")
    for _ in range(2):
        with pytest.raises(PublishedMediaNotFound, match="is PUBLISHED, so the post exists"):
            publisher.advance(publisher.load("lagging"))
    assert len(media_publish_calls(sim)) == 1 and len(publish_posts(sim, account["id"])) == 1

    rows(connect, "UPDATE instagram.publish_jobs SET publish_started_at = now() WHERE idempotency_key = 'lagging' "
                  "RETURNING 1")
    job = publisher.advance(publisher.load("lagging"))
    assert job.media_id == publish_posts(sim, account["id"])[0]["media_id"]


# --- refusals and failures ---------------------------------------------------------------------


def test_the_same_key_with_other_content_is_refused(publisher, sim, account) -> None:
    first = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG, caption="One")
    drive(publisher, publisher.register(first, "dup-key"))
    other = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG, caption="Two")
    sim.clear_requests()
    with pytest.raises(RequestRefused) as refused:
        publisher.register(other, "dup-key")
    assert "was already used for a different publish request" in str(refused.value)
    assert "use a new key" in str(refused.value)
    assert sim.requests() == []


def test_unknown_and_disabled_accounts_are_refused_before_any_call(publisher, sim, account, token_store, connect) -> None:
    sim.clear_requests()
    unknown = PublishRequest.build(account_id="999", media_type="IMAGE", media_url=IMG)
    with pytest.raises(RequestRefused, match=r"Unknown Instagram account '999' \(known accounts: .*instagram-graph accounts add 999"):
        publisher.register(unknown, "unknown")
    token_store.disable(account["id"], "paused by marketing")
    disabled = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG)
    with pytest.raises(RequestRefused, match=r"is disabled \(paused by marketing\).*accounts enable"):
        publisher.register(disabled, "disabled")
    assert sim.requests() == []
    assert rows(connect, "SELECT count(*) FROM instagram.publish_jobs") == [(0,)]


def test_a_used_up_quota_refuses_before_any_container_and_the_key_can_start_over(
    publisher, sim, account, connect
) -> None:
    sim.configure(publish_quota=0)
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG)
    with pytest.raises(PublishFailed) as failed:
        drive(publisher, publisher.register(request, "quota"))
    assert "has used its publishing quota: 0 of 0 posts in the last 24 h" in str(failed.value)
    assert sim.truth("containers", account_id=account["id"]) == []
    assert rows(connect, "SELECT state, error_code, error_subcode FROM instagram.publish_jobs") == [("failed", 9, 2207042)]

    sim.configure(publish_quota=50)
    job = drive(publisher, publisher.register(request, "quota"))
    assert [p["media_id"] for p in publish_posts(sim, account["id"])] == [job.media_id]


def test_an_error_container_fails_the_job_with_metas_reason(publisher, sim, account, connect) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE",
                                   media_url="https://cdn.example.com/error/broken.jpg")
    with pytest.raises(PublishFailed) as failed:
        drive(publisher, publisher.register(request, "broken"))
    assert "Media download has failed" in str(failed.value)
    (row,) = rows(connect, "SELECT state, error_subcode, error_message FROM instagram.publish_jobs")
    assert row[0] == "failed" and row[1] == 2207052 and "Media download has failed" in row[2]
    assert publish_posts(sim, account["id"]) == [] and media_publish_calls(sim) == []


def test_a_failing_carousel_item_is_named(publisher, sim, account) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="CAROUSEL",
                                   children=[IMG, "https://cdn.example.com/timeout/slow.jpg"])
    with pytest.raises(PublishFailed, match=r"carousel item 2 of 2 .*Media download timed out"):
        drive(publisher, publisher.register(request, "bad-item"))


def test_an_expired_container_and_a_wait_timeout_end_the_job(publisher, sim, account, connect) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="REELS", media_url=VID)
    job = publisher.register(request, "timeout")
    wait = publisher.advance(job)
    event = run_trigger(ContainerStatusTrigger(account_id=account["id"], container_ids=wait.container_ids,
                                               deadline=time.time() + 0.3, first_interval=0.1))
    assert event["status"] == "TIMEOUT" and event["pending"] == list(wait.container_ids)
    with pytest.raises(PublishFailed, match="still processing after"):
        publisher.accept_wait_result(publisher.load("timeout"), event)

    job = publisher.register(request, "timeout")  # starts over: a new container
    wait = publisher.advance(job)
    sim.set_container(wait.container_ids[0], "EXPIRED")
    event = run_trigger(ContainerStatusTrigger(account_id=account["id"], container_ids=wait.container_ids,
                                               deadline=time.time() + 10, first_interval=0.1))
    assert event["status"] == "EXPIRED"
    with pytest.raises(PublishFailed, match="expired before it was published"):
        publisher.accept_wait_result(publisher.load("timeout"), event)
    assert rows(connect, "SELECT error_code, error_subcode FROM instagram.publish_jobs") == [(-2, 2207020)]


def test_one_worker_at_a_time_per_key(connect) -> None:
    first, second = connect(), connect()
    with job_lock(first, "publish_jobs", "busy"):
        with pytest.raises(JobBusy, match="safe to retry"):
            with job_lock(second, "publish_jobs", "busy"):
                pass
    with job_lock(second, "publish_jobs", "busy"):
        pass


def test_the_trigger_serializes_ids_never_a_token(sim, account) -> None:
    import importlib

    from instagram_graph import get_provider_info

    modules = [m for entry in get_provider_info()["triggers"] for m in entry["python-modules"]]
    assert ContainerStatusTrigger.__module__ in modules, "the triggerer finds it through the provider"
    trigger = ContainerStatusTrigger(account_id=account["id"], container_ids=["1", "2"], deadline=1e10)
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is ContainerStatusTrigger
    assert ContainerStatusTrigger(**kwargs).serialize() == (classpath, kwargs)
    text = json.dumps(kwargs)
    assert all(a["token"] not in text for a in sim.accounts())
    assert "token" not in text
