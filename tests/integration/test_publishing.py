"""The publish state machine against the simulator, real Postgres and Redis.

Waits run the real ContainerStatusTrigger in an event loop, as the triggerer would.
"Exactly once" is checked against the simulator's record of posts (truth/published)
and its request log, never against our own table alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from itertools import pairwise

import pytest

from instagram_graph.accounts import AccountRegistry
from instagram_graph.errors import rule_for
from instagram_graph.jobs import JobBusy, RequestRefused, job_lock
from instagram_graph.publishing import (
    PublishedMediaNotFound,
    Publisher,
    PublishFailed,
    PublishJob,
    PublishOutcomeUnknown,
    PublishRequest,
)
from instagram_graph.triggers.container_status import ContainerStatusTrigger
from instagram_graph.triggers.events import ContainerStatusEvent

from .conftest import when_settled

PUBLISH_PATH = r"^/\d+/media_publish$"
CONTAINER_PATH = r"^/\d+/media$"
IMG = "https://cdn.example.com/posts/sunset.jpg"
VID = "https://cdn.example.com/posts/clip.mp4"
FAST_POLLS = (0.2, 0.3)


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


def run_trigger(trigger: ContainerStatusTrigger) -> ContainerStatusEvent:
    """The trigger's first event, read back from its JSON payload as the resumed task does."""
    async def first_event():
        async for event in trigger.run():
            return json.loads(json.dumps(event.payload))
        raise AssertionError("the trigger ended without an event")

    return ContainerStatusEvent.from_payload(asyncio.run(first_event()))


def drive(publisher: Publisher, job: PublishJob, *, wait_seconds: float = 20.0) -> PublishJob:
    """Advance the job to the end, waiting through the real trigger like the operator does
    (one deadline for all the waits, as in one task attempt)."""
    statuses: dict[str, str] = {}
    deadline = time.time() + wait_seconds
    for _ in range(8):
        outcome = publisher.advance(job, statuses)
        if isinstance(outcome, PublishJob):
            return outcome
        trigger = ContainerStatusTrigger(
            account_id=job.account_id, container_ids=outcome.container_ids, deadline=deadline,
            poll_intervals=FAST_POLLS, not_before=outcome.not_before,
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


@pytest.fixture
def quick_retry_publisher(hook, connect, graph_connection) -> Publisher:
    """Waits 1.5 s after "not ready" instead of Meta's 30 s, so tests stay short."""
    return Publisher(hook, connect(), not_ready_wait=timedelta(seconds=1.5))


# --- the request's rules: refused before any call (the rules alone: tests/unit/test_publish_rules.py) ---


def test_video_is_refused_before_any_call_or_record(publisher, sim, account, connect) -> None:
    sim.clear_requests()
    with pytest.raises(RequestRefused, match=r"media_type VIDEO is not offered.*Set media_type to REELS"):
        publisher.register(PublishRequest.build(account_id=account["id"], media_type="VIDEO", media_url=VID),
                           "video")
    assert sim.requests() == [], "not one call reached Meta"
    assert rows(connect, "SELECT count(*) FROM instagram.publish_jobs") == [(0,)]


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
    [("REELS", VID, "REELS", "VIDEO"), ("STORIES", VID, "STORY", "VIDEO"), ("STORIES", IMG, "STORY", "IMAGE")],
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


def test_reels_options_reach_the_container(publisher, sim, account) -> None:
    cover = "https://cdn.example.com/posts/cover.jpg"
    request = PublishRequest.build(
        account_id=account["id"], media_type="REELS", media_url=VID, caption="Teaser #reels", share_to_feed=False,
        cover_url=cover, audio_name="Spring theme", user_tags=[{"username": "jane.doe"}], location_id="110843418940484",
    )
    sim.clear_requests()
    job = drive(publisher, publisher.register(request, "reel-options"))

    (sent,) = [c["params"] for c in sim.requests(method="POST", path=CONTAINER_PATH)]
    assert (sent["share_to_feed"], sent["cover_url"], sent["audio_name"], sent["location_id"]) == (
        "false", cover, "Spring theme", "110843418940484")
    assert json.loads(sent["user_tags"]) == [{"username": "jane.doe"}]
    containers = {c["id"]: c for c in sim.truth("containers", account_id=account["id"])}
    assert containers[job.parent_container_id]["options"] == {
        "share_to_feed": False, "cover_url": cover, "audio_name": "Spring theme",
        "user_tags": [{"username": "jane.doe"}], "location_id": "110843418940484"}
    (post,) = publish_posts(sim, account["id"])
    assert (post["media_id"], post["media_product_type"]) == (job.media_id, "REELS")


def test_a_reels_cover_frame_and_the_options_are_part_of_the_recorded_request(publisher, sim, account, connect) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="REELS", media_url=VID, thumb_offset=1500,
                                   share_to_feed=True)
    job = drive(publisher, publisher.register(request, "reel-frame"))
    containers = {c["id"]: c for c in sim.truth("containers", account_id=account["id"])}
    assert containers[job.parent_container_id]["options"] == {"thumb_offset": 1500, "share_to_feed": True}
    ((recorded, request_hash),) = rows(connect, "SELECT request, request_hash FROM instagram.publish_jobs")
    assert (recorded["thumb_offset"], recorded["share_to_feed"], request_hash) == (1500, True, request.request_hash)

    other = PublishRequest.build(account_id=account["id"], media_type="REELS", media_url=VID, thumb_offset=2000,
                                 share_to_feed=True)
    with pytest.raises(RequestRefused, match="already used for a different publish request"):
        publisher.register(other, "reel-frame")


def test_a_carousel_tags_people_on_its_images_and_the_place_on_itself(publisher, sim, account) -> None:
    second_image = "https://cdn.example.com/posts/dunes.jpg"
    request = PublishRequest.build(
        account_id=account["id"], media_type="CAROUSEL", children=[IMG, VID, second_image], caption="Three",
        alt_text="Sunset over the sea", location_id="123456",
        user_tags=[{"username": "jane.doe", "x": 0.5, "y": 0.25}, {"username": "joe_b", "x": 0.1, "y": 0.9, "item": 3}],
    )
    job = drive(publisher, publisher.register(request, "carousel-tags"))
    containers = {c["id"]: c for c in sim.truth("containers", account_id=account["id"])}
    first, video, third = (containers[c] for c in job.container_ids)
    assert first["options"] == {"user_tags": [{"username": "jane.doe", "x": 0.5, "y": 0.25}]}
    assert third["options"] == {"user_tags": [{"username": "joe_b", "x": 0.1, "y": 0.9}]}
    assert (first["alt_text"], third["alt_text"], video["alt_text"], video["options"]) == (
        "Sunset over the sea", "Sunset over the sea", None, {})
    assert containers[job.parent_container_id]["options"] == {"location_id": "123456"}
    assert [p["media_id"] for p in publish_posts(sim, account["id"])] == [job.media_id]


def test_a_video_job_recorded_before_video_was_refused_goes_on_with_its_container(
    publisher, hook, sim, account, connect
) -> None:
    """Rows recorded as VIDEO are not validated again: the job resumes from its recorded container."""
    container = hook.create_container(account["id"], video_url=VID, media_type="REELS", caption="Old clip")
    record = {"account_id": account["id"], "media_type": "VIDEO", "media_url": VID, "children": [],
              "caption": "Old clip", "alt_text": None}
    rows(connect, "INSERT INTO instagram.publish_jobs (idempotency_key, account_id, state, media_type, request, "
                  "request_hash, container_ids, parent_container_id) VALUES ('legacy-video', %s, 'containers_created', "
                  "'VIDEO', %s::jsonb, 'h', %s, %s) RETURNING 1",
         (account["id"], json.dumps(record), [container], container))
    job = publisher.load("legacy-video")
    assert (job.media_type, job.request.record()) == ("VIDEO", record)
    sim.clear_requests()
    job = drive(publisher, job)
    (post,) = publish_posts(sim, account["id"])
    assert (post["container_id"], post["media_id"]) == (container, job.media_id)
    assert sim.requests(method="POST", path=CONTAINER_PATH) == [], "no new container"


def test_a_video_job_recorded_before_any_container_fails_at_publish_with_the_reels_advice(
    publisher, sim, account, connect
) -> None:
    """A VIDEO row still pending makes its VIDEO container as recorded; Meta refuses to publish
    a standalone VIDEO (100/2207089) and the job fails with the catalogue's advice."""
    record = {"account_id": account["id"], "media_type": "VIDEO", "media_url": VID, "children": [],
              "caption": None, "alt_text": None}
    rows(connect, "INSERT INTO instagram.publish_jobs (idempotency_key, account_id, media_type, request, request_hash) "
                  "VALUES ('legacy-pending', %s, 'VIDEO', %s::jsonb, 'h') RETURNING 1",
         (account["id"], json.dumps(record)))
    with pytest.raises(PublishFailed) as failed:
        drive(publisher, publisher.load("legacy-pending"))
    assert rule_for(100, 2207089).advice in str(failed.value) and "Nothing was published" in str(failed.value)
    assert rows(connect, "SELECT state, error_code, error_subcode FROM instagram.publish_jobs") == [
        ("failed", 100, 2207089)]
    assert publish_posts(sim, account["id"]) == []


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
    job = when_settled(lambda: fresh.advance(fresh.register(request, "lost-answer")))
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
    job = when_settled(lambda: drive(publisher, publisher.load("never-arrived")))
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
            when_settled(lambda: publisher.advance(publisher.load("lagging")))
    assert len(media_publish_calls(sim)) == 1 and len(publish_posts(sim, account["id"])) == 1

    rows(connect, "UPDATE instagram.publish_jobs SET publish_started_at = now() WHERE idempotency_key = 'lagging' "
                  "RETURNING 1")
    job = when_settled(lambda: publisher.advance(publisher.load("lagging")))
    assert job.media_id == publish_posts(sim, account["id"])[0]["media_id"]


def test_a_late_publish_is_waited_out_and_recorded_never_published_again(make_hook, sim, account, connect,
                                                                         graph_connection) -> None:
    """media_publish is done 2 s after it arrived; the client gave up after 1 s. The
    container is FINISHED until then: asked at once, it would say "publish again"."""
    timing = {"timeout": 1.0, "settle_seconds": 3.0}
    publisher = Publisher(make_hook(**timing), connect())
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG, caption="Late")
    job = publisher.register(request, "late")
    sim.add_fault(method="POST", path=PUBLISH_PATH, kind="delay", seconds=2.0, times=1)
    with pytest.raises(PublishOutcomeUnknown, match="looked up in the container's status in 3 s"):
        drive(publisher, job)
    (container,) = sim.truth("containers", account_id=account["id"])
    assert container["status_code"] == "FINISHED", "not published yet: Meta is still working on it"

    sim.clear_requests()
    retry = Publisher(make_hook(**timing), connect())  # a task retry, or a re-trigger of the key
    with pytest.raises(PublishOutcomeUnknown) as unknown:
        retry.advance(retry.register(request, "late"))
    assert sim.requests() == [], "the container is not even asked before the outcome settled"
    time.sleep(unknown.value.wait_seconds + 0.05)
    job = retry.advance(retry.load("late"))
    (post,) = publish_posts(sim, account["id"])
    assert (job.state, job.media_id, job.attempts) == ("published", post["media_id"], 1)
    assert media_publish_calls(sim) == [], "found, not published again"


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


def test_unknown_and_disabled_accounts_are_refused_before_any_call(
    publisher, sim, account, token_store, connect
) -> None:
    sim.clear_requests()
    unknown = PublishRequest.build(account_id="999", media_type="IMAGE", media_url=IMG)
    with pytest.raises(
        RequestRefused, match=r"Unknown Instagram account '999' \(known accounts: .*instagram-graph accounts add 999"
    ):
        publisher.register(unknown, "unknown")
    AccountRegistry(token_store).disable(account["id"], "paused by marketing")
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
    assert rows(connect, "SELECT state, error_code, error_subcode FROM instagram.publish_jobs") == [
        ("failed", 9, 2207042)]

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
                                               deadline=time.time() + 0.3, poll_intervals=(0.1,)))
    assert event.status == "TIMEOUT" and event.pending == wait.container_ids
    with pytest.raises(PublishFailed, match="still processing after"):
        publisher.accept_wait_result(publisher.load("timeout"), event)

    job = publisher.register(request, "timeout")  # starts over: a new container
    wait = publisher.advance(job)
    sim.set_container(wait.container_ids[0], "EXPIRED")
    event = run_trigger(ContainerStatusTrigger(account_id=account["id"], container_ids=wait.container_ids,
                                               deadline=time.time() + 10, poll_intervals=(0.1,)))
    assert event.status == "EXPIRED"
    with pytest.raises(PublishFailed, match="expired before it was published"):
        publisher.accept_wait_result(publisher.load("timeout"), event)
    assert rows(connect, "SELECT error_code, error_subcode FROM instagram.publish_jobs") == [(-2, 2207020)]


# --- "not ready" and policy refusals -------------------------------------------------------------


def test_a_container_not_ready_at_publish_waits_then_publishes_once_it_is_finished(
    quick_retry_publisher, sim, account, connect
) -> None:
    """Publishing a container Meta still processes answers 9007/2207027: the job waits
    again, and publishes once it is FINISHED."""
    publisher = quick_retry_publisher
    sim.configure(container_finish_seconds=2.0)
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG, caption="Eager")
    job = publisher.register(request, "eager")
    wait = publisher.advance(job)
    sim.clear_requests()
    # A stale "FINISHED" (as if from an earlier wait): the job publishes while Meta still processes.
    outcome = publisher.advance(publisher.load("eager"), {wait.container_ids[0]: "FINISHED"})
    assert outcome.not_before is not None and outcome.container_ids == wait.container_ids
    (refused,) = media_publish_calls(sim)
    assert refused["status"] != 200 and publish_posts(sim, account["id"]) == []
    (state,) = rows(connect, "SELECT state, error_code FROM instagram.publish_jobs")
    assert state == ("containers_created", 9007)

    job = drive(publisher, publisher.load("eager"))
    (post,) = publish_posts(sim, account["id"])
    assert (post["media_id"], post["container_id"]) == (job.media_id, job.parent_container_id)
    first, second = media_publish_calls(sim)
    assert second["status"] == 200 and second["time"] - first["time"] >= 1.5
    assert rows(connect, "SELECT state, error_code, attempts FROM instagram.publish_jobs") == [("published", None, 2)]


@pytest.mark.parametrize("error", ["not_ready", "builder_expired"])
def test_not_ready_answers_are_waited_out_and_the_post_is_made_once(
    quick_retry_publisher, sim, account, connect, error
) -> None:
    publisher = quick_retry_publisher
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG, caption=error)
    job = publisher.register(request, f"refused-{error}")
    sim.refuse_publish(error, times=2)
    sim.clear_requests()
    job = drive(publisher, job)

    (post,) = publish_posts(sim, account["id"])
    assert (post["media_id"], post["container_id"]) == (job.media_id, job.parent_container_id)
    calls = media_publish_calls(sim)
    assert [c["status"] == 200 for c in calls] == [False, False, True]
    assert min(b["time"] - a["time"] for a, b in pairwise(calls)) >= 1.5, "each try waited after 'not ready'"
    assert rows(connect, "SELECT state, error_code, attempts FROM instagram.publish_jobs") == [("published", None, 3)]


def test_not_ready_waits_at_least_30_s_and_fails_with_the_advice_when_the_wait_times_out(
    publisher, sim, account, connect
) -> None:
    request = PublishRequest.build(account_id=account["id"], media_type="IMAGE", media_url=IMG, caption="Patience")
    wait = publisher.advance(publisher.register(request, "patience"))
    event = run_trigger(ContainerStatusTrigger(account_id=account["id"], container_ids=wait.container_ids,
                                               deadline=time.time() + 15, poll_intervals=FAST_POLLS))
    statuses = publisher.accept_wait_result(publisher.load("patience"), event)
    sim.refuse_publish("not_ready")
    before = time.time()
    wait = publisher.advance(publisher.load("patience"), statuses)
    assert wait.not_before >= before + 30, "Meta asks for 30 s to 2 min"
    assert rows(connect, "SELECT state, error_code, error_subcode FROM instagram.publish_jobs") == [
        ("containers_created", 9007, 2207027)]

    sim.clear_requests()
    event = run_trigger(ContainerStatusTrigger(account_id=account["id"], container_ids=wait.container_ids,
                                               deadline=time.time() + 1.0, poll_intervals=FAST_POLLS,
                                               not_before=wait.not_before))
    assert event.status == "TIMEOUT"
    assert sim.requests() == [], "nothing is asked before the wait is over"
    with pytest.raises(PublishFailed) as failed:
        publisher.accept_wait_result(publisher.load("patience"), event)
    message = str(failed.value)
    assert "not ready (code 9007, subcode 2207027)" in message and "Nothing was published" in message
    assert rule_for(9007, 2207027).advice in message, "the catalogue's advice"
    assert rows(connect, "SELECT state, error_code, error_subcode FROM instagram.publish_jobs") == [
        ("failed", 9007, 2207027)]
    assert publish_posts(sim, account["id"]) == []


def test_builder_expired_at_container_creation_waits_then_creates_the_container_once(
    quick_retry_publisher, sim, account
) -> None:
    publisher = quick_retry_publisher
    sim.add_fault(method="POST", path=CONTAINER_PATH, kind="error", code=24, subcode=2207008, times=1)
    sim.clear_requests()
    job = drive(publisher, publisher.register(
        PublishRequest.build(account_id=account["id"], media_type="REELS", media_url=VID), "builder"))
    first, second = sim.requests(method="POST", path=CONTAINER_PATH)
    assert first["status"] != 200 and second["status"] == 200 and second["time"] - first["time"] >= 1.5
    assert [c["id"] for c in sim.truth("containers", account_id=account["id"])] == [job.parent_container_id]
    assert [p["media_id"] for p in publish_posts(sim, account["id"])] == [job.media_id]


@pytest.mark.parametrize(
    ("path", "code", "subcode", "advice"),
    [(PUBLISH_PATH, 4, 2207051, "restricted this action as spam"),
     (PUBLISH_PATH, 25, 2207050, "is restricted by Instagram and cannot publish"),
     (CONTAINER_PATH, 25, 2207050, "is restricted by Instagram and cannot publish")],
    ids=["spam-at-publish", "restricted-at-publish", "restricted-at-create"],
)
def test_a_policy_refusal_fails_the_job_at_once_and_pauses_no_account(
    publisher, sim, connect, redis_client, path, code, subcode, advice
) -> None:
    first, second = sim.accounts()[:2]
    sim.add_fault(method="POST", path=path, kind="error", code=code, subcode=subcode, times=1)
    request = PublishRequest.build(account_id=first["id"], media_type="IMAGE", media_url=IMG, caption="Blocked")
    sim.clear_requests()
    with pytest.raises(PublishFailed) as failed:
        drive(publisher, publisher.register(request, "blocked"))
    assert advice in str(failed.value) and f"account {first['id']}" in str(failed.value)
    assert "Nothing was published" in str(failed.value)
    assert len(sim.requests(method="POST", path=path)) == 1, "nothing retried"
    assert rows(connect, "SELECT state, error_code, error_subcode FROM instagram.publish_jobs") == [
        ("failed", code, subcode)]
    assert list(redis_client.scan_iter("ig:throttle:*")) == [], "a refusal is not a throttle: no pause key"

    started = time.monotonic()
    other = PublishRequest.build(account_id=second["id"], media_type="IMAGE", media_url=IMG, caption="Fine")
    job = drive(publisher, publisher.register(other, "other-account"))
    assert [p["media_id"] for p in publish_posts(sim, second["id"])] == [job.media_id]
    assert publisher.hook.get_publishing_limit(first["id"])["quota_usage"] == 0, "the first account still calls"
    assert time.monotonic() - started < 15, "no wait for a pause"
    assert publish_posts(sim, first["id"]) == []


def test_one_worker_at_a_time_per_key(connect) -> None:
    first, second = connect(), connect()
    with (
        job_lock(first, "publish_jobs", "busy"),
        pytest.raises(JobBusy, match="safe to retry"),
        job_lock(second, "publish_jobs", "busy"),
    ):
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
