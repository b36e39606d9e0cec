"""50 DMs and 50 posts under lost, failed and late answers: each lands exactly once.

Real Postgres, Redis and the simulator over HTTP. Several threads drive
:class:`~instagram_graph.messaging.Messenger` and :class:`~instagram_graph.publishing.Publisher`
as the operators do (one hook and one warehouse connection per worker; after an unknown
outcome, wait out what the exception says, then advance again), while the simulator
drops answers after committing (``commit_then_drop``), fails (``http_500``) or answers
after the client gave up (``delay``: the write commits only after the pause, so a lookup
too early finds nothing). Counted against the simulator's truth, not our tables.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from instagram_graph.errors import TransientError
from instagram_graph.jobs import OutcomeUnsettled
from instagram_graph.messaging import MessageRequest, Messenger
from instagram_graph.publishing import Publisher, PublishJob, PublishRequest

SEND_PATH = r"^/\d+/messages$"
PUBLISH_PATH = r"^/\d+/media_publish$"
IMG = "https://cdn.example.com/posts/sunset.jpg"
# Short, so the test stays fast: a 1 s client timeout and a 2.5 s settle time. A late answer
# commits 2.5 s after the request arrived: after the client gave up, before the lookup.
TIMING = {"timeout": 1.0, "settle_seconds": 2.5, "max_inline_wait": 0.5}
LATE = 2.5
COUNT = 50
FAULTS = [("commit_then_drop", {}), ("http_500", {}), ("delay", {"seconds": LATE})]


def add_faults(sim, path: str) -> None:
    for kind, args in FAULTS:
        sim.add_fault(method="POST", path=path, kind=kind, probability=0.12, **args)


def until_done(step, *, attempts: int = 15):
    """Advance like the operator: after an unknown outcome wait as told (deferred, there),
    after a failed lookup wait a little (a task retry, there)."""
    for _ in range(attempts):
        try:
            return step()
        except OutcomeUnsettled as exc:
            time.sleep(exc.wait_seconds + 0.05)
        except TransientError:
            time.sleep(0.3)
    raise AssertionError("never finished")


def duplicates(values: list[str]) -> int:
    return sum(n - 1 for n in Counter(values).values())


@pytest.mark.slow
def test_50_dms_and_50_posts_under_faults_land_exactly_once(make_hook, sim, connect) -> None:
    accounts = sim.accounts()
    recipients = [
        (account["id"], conversation["user_id"])
        for account in accounts
        for conversation in sim.truth("conversations", account_id=account["id"])
        if conversation["inside_window"]
    ]
    assert recipients, "the simulator seeds conversations inside the 24-hour window"
    sim.clear_requests()
    add_faults(sim, SEND_PATH)
    add_faults(sim, PUBLISH_PATH)

    workers = threading.local()  # one hook and one warehouse connection per worker thread

    def worker() -> tuple:
        if not hasattr(workers, "hook"):
            workers.hook, workers.conn = make_hook(**TIMING), connect()
        return workers.hook, workers.conn

    def send_dm(number: int) -> str:
        messenger = Messenger(*worker())
        account_id, recipient_id = recipients[number % len(recipients)]
        request = MessageRequest.build(account_id=account_id, recipient_id=recipient_id, text=f"Order {number} shipped")
        key = f"dm-{number}"
        messenger.register(request, key)
        message = until_done(lambda: messenger.send(messenger.load(key)))
        return message.message_id

    def publish(number: int) -> str:
        publisher = Publisher(*worker())
        account_id = accounts[number % len(accounts)]["id"]
        request = PublishRequest.build(account_id=account_id, media_type="IMAGE", media_url=IMG,
                                       caption=f"Post {number}")
        key = f"post-{number}"
        publisher.register(request, key)

        def advance() -> PublishJob:
            statuses: dict[str, str] = {}
            for _ in range(40):
                outcome = publisher.advance(publisher.load(key), statuses)
                if isinstance(outcome, PublishJob):
                    return outcome
                time.sleep(max(0.3, (outcome.not_before or 0) - time.time()))
                statuses = {cid: publisher.hook.get_container_status(account_id, cid)["status_code"]
                            for cid in outcome.container_ids}
            raise AssertionError(f"{key} never finished processing")

        job = until_done(advance)
        return job.media_id

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        dms = [pool.submit(send_dm, n) for n in range(COUNT)]
        posts = [pool.submit(publish, n) for n in range(COUNT)]
        message_ids = [f.result() for f in dms]
        media_ids = [f.result() for f in posts]
    elapsed = time.monotonic() - started

    sent = sim.truth("sent_messages")
    published = sim.truth("published")
    dm_duplicates = duplicates([m["text"] for m in sent])
    post_duplicates = duplicates([p["caption"] for p in published])
    fired = {name: Counter(r["fault"] for r in sim.requests(method="POST", path=path) if r["fault"])
             for name, path in (("sends", SEND_PATH), ("publishes", PUBLISH_PATH))}
    print(f"\n{COUNT} DMs, {COUNT} posts in {elapsed:.0f} s; faults fired {fired}; "
          f"duplicates: {dm_duplicates} DMs, {post_duplicates} posts")

    assert all(fired["sends"][kind] for kind, _ in FAULTS), "every kind of fault hit the sends"
    assert sum(fired["publishes"].values()) >= 3, "faults hit the publishes"
    assert (dm_duplicates, post_duplicates) == (0, 0)
    assert len(sent) == COUNT and len(published) == COUNT
    assert sorted(message_ids) == sorted(m["message_id"] for m in sent), "each row holds its own message"
    assert sorted(media_ids) == sorted(p["media_id"] for p in published), "each job holds its own post"
