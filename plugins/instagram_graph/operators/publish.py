"""InstagramPublishOperator: one post, exactly once, deferred while Instagram processes it.

The operator is the Airflow side of :mod:`instagram_graph.publishing`: it validates the
request, takes the job's lock, advances the state machine, and defers with
:class:`~instagram_graph.triggers.container_status.ContainerStatusTrigger` whenever a
container is still processing (no worker slot is held meanwhile). Failure policy:

- bad input (control characters, an account id that is not digits, a number out of
  range, ...), a refused request, ERROR/EXPIRED containers, a wait timeout, a used-up
  quota, token or permission problems: fail at once, no retries (AirflowFailException),
  with a message naming the field or the problem and the fix;
- a lost media_publish answer (timeout, reset, 5xx): the publish may still be under way
  at Meta, so the task defers (no worker held) until the connection's ``settle_seconds``
  have passed since the answer was lost, then checks the container and publishes again
  only if it is still unpublished. A task retry or a re-trigger of the same key during
  that time waits for it too;
- Meta answering "not ready" (24/2207008, 9007/2207027): defer again, at least 30 s,
  until the wait timeout (one deadline for all the waits of an attempt);
- a policy refusal (spam, account restricted): fail at once with the catalogue's advice;
  the account is not paused;
- transient errors: Airflow's retries; every attempt resumes from the recorded state;
- a long throttle: defer until Meta's regain time, then resume.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NoReturn

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from instagram_graph.jobs import default_idempotency_key, job_lock
from instagram_graph.operators.base import InstagramBaseOperator
from instagram_graph.operators.policy import defer_until_settled
from instagram_graph.publishing import (
    PublishedMediaNotFound,
    Publisher,
    PublishFailed,
    PublishJob,
    PublishOutcomeUnknown,
    PublishRequest,
    WaitFor,
)
from instagram_graph.triggers.container_status import ContainerStatusTrigger
from instagram_graph.triggers.events import ContainerStatusEvent
from instagram_graph.validation import InvalidInput, whole_number

DEFAULT_WAIT_TIMEOUT_MINUTES = 60
MIN_WAIT_TIMEOUT_MINUTES = 1
MAX_WAIT_TIMEOUT_MINUTES = 1440  # containers expire 24 hours after they are made
MAX_UNANSWERED = 10
MAX_POLL_INTERVAL_SECONDS = 3600


class InstagramPublishOperator(InstagramBaseOperator):
    """Publish one image, reel, story or carousel for one account, exactly once.

    Options a media type does not take are refused before any call, naming the field
    (see :data:`instagram_graph.publishing.OPTION_TYPES`). Option values may be the text
    a template renders (``true``, ``1500``, a JSON array; empty or ``null``: not given).

    :param account_id: the IG user id to publish as.
    :param media_type: IMAGE, REELS, STORIES or CAROUSEL (VIDEO is refused: publish a
        single video as REELS).
    :param media_url: public HTTPS URL of the file (all types but CAROUSEL).
    :param children: CAROUSEL only: 2-10 HTTPS URLs (a list, or a JSON array string);
        files ending in .mp4/.mov/.m4v are videos, anything else images.
    :param caption: at most 2200 characters and 30 hashtags (not for STORIES).
    :param alt_text: accessibility text: IMAGE, and a CAROUSEL's image items (not
        REELS or STORIES).
    :param share_to_feed: REELS: also show the reel in the profile grid (Meta's default: yes).
    :param cover_url: REELS: public HTTPS URL of a cover image.
    :param thumb_offset: REELS: the cover frame, in milliseconds from the start (not
        with ``cover_url``).
    :param audio_name: REELS: the name of the reel's original audio.
    :param user_tags: people to tag, ``[{"username", "x", "y"}]``; x and y (0.0-1.0)
        are required on images, left out on reels, optional on stories; on a CAROUSEL
        ``item`` names the image (position in ``children``, default 1).
    :param location_id: IMAGE, REELS, CAROUSEL: the numeric id of a location's Facebook Page.
    :param idempotency_key: one key, one post; empty means ``{dag_id}:{run_id}``.
    :param wait_timeout_minutes: give up when the containers are still processing (or
        Meta still answers "not ready") after this long: whole minutes, 1 to 1440.
    :param poll_intervals: seconds between container status checks, the last repeating
        (each above 0, at most 3600); None: the connection's ``status_poll_intervals``.
    :param max_unanswered: lost media_publish answers waited out in one attempt (1 to 10;
        each wait is deferred, then followed by a container check), and tries to find a
        published post on the account's edge, before leaving the rest to a task retry.

    The connection ids and task defaults are :class:`~instagram_graph.operators.base.InstagramBaseOperator`'s.
    """

    template_fields: Sequence[str] = (
        "account_id",
        "media_type",
        "media_url",
        "children",
        "caption",
        "alt_text",
        "share_to_feed",
        "cover_url",
        "thumb_offset",
        "audio_name",
        "user_tags",
        "location_id",
        "idempotency_key",
        "wait_timeout_minutes",
    )
    ui_color = "#fbe3c8"

    def __init__(
        self,
        *,
        account_id: str,
        media_type: str,
        media_url: str | None = None,
        children: Sequence[str] | str | None = None,
        caption: str | None = None,
        alt_text: str | None = None,
        share_to_feed: bool | str | None = None,
        cover_url: str | None = None,
        thumb_offset: int | str | None = None,
        audio_name: str | None = None,
        user_tags: Sequence[dict[str, Any]] | str | None = None,
        location_id: str | None = None,
        idempotency_key: str | None = None,
        wait_timeout_minutes: float | str = DEFAULT_WAIT_TIMEOUT_MINUTES,
        poll_intervals: Sequence[float] | None = None,
        max_unanswered: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(account_id=account_id, **kwargs)
        whole_number("max_unanswered", max_unanswered, minimum=1, maximum=MAX_UNANSWERED)
        if poll_intervals and not all(0 < float(p) <= MAX_POLL_INTERVAL_SECONDS for p in poll_intervals):
            raise InvalidInput(
                f"poll_intervals {list(poll_intervals)!r}: each pause must be above 0 and at most "
                f"{MAX_POLL_INTERVAL_SECONDS} seconds (Meta asks for about one check a minute)."
            )
        self.media_type = media_type
        self.media_url = media_url
        self.children = children
        self.caption = caption
        self.alt_text = alt_text
        self.share_to_feed = share_to_feed
        self.cover_url = cover_url
        self.thumb_offset = thumb_offset
        self.audio_name = audio_name
        self.user_tags = user_tags
        self.location_id = location_id
        self.idempotency_key = idempotency_key
        self.wait_timeout_minutes = wait_timeout_minutes
        self.poll_intervals = tuple(poll_intervals) if poll_intervals else None
        self.max_unanswered = max_unanswered

    # --- entry points ---------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        with self.refused_as_failure("Publish request refused: "):
            request = PublishRequest.build(
                account_id=str(self.account_id or ""),
                media_type=str(self.media_type or ""),
                media_url=self.media_url,
                children=self.children,
                caption=self.caption,
                alt_text=self.alt_text,
                share_to_feed=self.share_to_feed,
                cover_url=self.cover_url,
                thumb_offset=self.thumb_offset,
                audio_name=self.audio_name,
                user_tags=self.user_tags,
                location_id=self.location_id,
            )
            self._wait_timeout_minutes()
            key = self._key(context)
        return self._run(context, key, request=request)

    def resume(
        self, context: Any, event: Any = None, wait_deadline: float | None = None, settle_waits: int = 0
    ) -> dict[str, Any]:
        """After a wait: ``event`` is the container trigger's, or a throttle pause's or a
        settle wait's (not a dict); ``wait_deadline`` the unix time this attempt's
        processing waits end (set by the first); ``settle_waits`` counts this attempt's
        waits after lost answers."""
        return self._run(
            context, self._key(context),
            event=ContainerStatusEvent.from_payload(event) if isinstance(event, dict) else None,
            wait_deadline=wait_deadline, settle_waits=settle_waits,
        )

    # --- the work ---------------------------------------------------------------------------

    def _run(
        self,
        context: Any,
        key: str,
        *,
        request: PublishRequest | None = None,
        event: ContainerStatusEvent | None = None,
        wait_deadline: float | None = None,
        settle_waits: int = 0,
    ) -> dict[str, Any]:
        consequence = (
            f"Nothing more was published for key {key!r}; it resumes from its recorded state when triggered "
            "again with the same key."
        )
        with self.hook_scope(), self.warehouse(autocommit=True) as conn:
            try:
                with self.refused_as_failure(), self.graph_api_work(resume="resume", consequence=consequence):
                    publisher = Publisher(self.hook, conn)
                    with job_lock(conn, "publish_jobs", key):
                        job = self._job(publisher, key, request, context)
                        statuses: dict[str, str] = {}
                        if event is not None:
                            statuses = publisher.accept_wait_result(job, event)
                            job = publisher.load(key) or job
                        outcome = self._advance(publisher, job, statuses)
                        poll_intervals = self.poll_intervals or self.hook.settings.status_poll_intervals
            except PublishFailed as exc:
                raise AirflowFailException(str(exc)) from None
            except PublishOutcomeUnknown as exc:
                defer_until_settled(self, exc, resume="resume", waits=settle_waits, max_waits=self.max_unanswered,
                                    kwargs={"wait_deadline": wait_deadline})

        if isinstance(outcome, WaitFor):
            self._defer_for(outcome, poll_intervals, wait_deadline)
        self.log.info("Published: media %s, %s", outcome.media_id, outcome.permalink)
        return outcome.summary()

    def _job(self, publisher: Publisher, key: str, request: PublishRequest | None, context: Any) -> PublishJob:
        if request is not None:
            return publisher.register(request, key, context.get("run_id"))
        job = publisher.load(key)
        if job is None:
            raise AirflowFailException(f"publish job {key!r} is not in instagram.publish_jobs any more")
        return job

    def _advance(self, publisher: Publisher, job: PublishJob, statuses: dict[str, str]) -> PublishJob | WaitFor:
        """Advance; when the container is PUBLISHED but its post not listed yet, look again
        a few times. (A lost answer raises PublishOutcomeUnknown: the caller defers.)"""
        for attempt in range(1, self.max_unanswered + 1):
            try:
                return publisher.advance(job, statuses)
            except PublishedMediaNotFound as exc:
                self.log.warning("%s (%d of %d)", exc, attempt, self.max_unanswered)
                time.sleep(2.0 * attempt)
            job = publisher.load(job.idempotency_key) or job
            statuses = {}
        raise AirflowException(
            f"publish job {job.idempotency_key!r} is still {job.state} after {self.max_unanswered} tries; the task "
            "retries, and the next attempt checks the container before anything else (no post is made twice)"
        )

    def _wait_timeout_minutes(self) -> int:
        """``wait_timeout_minutes`` as rendered (a number, or its text), checked."""
        value = self.wait_timeout_minutes
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
            return DEFAULT_WAIT_TIMEOUT_MINUTES
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if isinstance(value, bool) or not number.is_integer():
            raise InvalidInput(
                f"wait_timeout_minutes is {text[:40]!r}: give whole minutes from {MIN_WAIT_TIMEOUT_MINUTES} to "
                f"{MAX_WAIT_TIMEOUT_MINUTES} (containers expire after 24 hours), or leave it empty for "
                f"{DEFAULT_WAIT_TIMEOUT_MINUTES}."
            )
        return whole_number(
            "wait_timeout_minutes", int(number), minimum=MIN_WAIT_TIMEOUT_MINUTES, maximum=MAX_WAIT_TIMEOUT_MINUTES
        )

    def _defer_for(self, wait: WaitFor, poll_intervals: Sequence[float], wait_deadline: float | None) -> NoReturn:
        """Defer until ``wait`` is over; every wait of this attempt shares one deadline,
        so repeated "not ready" answers end at the wait timeout."""
        minutes = self._wait_timeout_minutes()
        deadline = wait_deadline if wait_deadline is not None else time.time() + minutes * 60
        if wait.not_before is not None:
            self.log.info("Instagram asked for a wait: trying again in %.0f s at the earliest",
                          max(0.0, wait.not_before - time.time()))
        self.log.info(
            "Waiting for %s %s (%.0f min left of the wait timeout) without holding a worker",
            wait.what, ", ".join(wait.container_ids), max(0.0, deadline - time.time()) / 60,
        )
        trigger = ContainerStatusTrigger(
            account_id=str(self.account_id),
            container_ids=list(wait.container_ids),
            deadline=deadline,
            instagram_graph_conn_id=self.instagram_graph_conn_id,
            redis_conn_id=self.redis_conn_id,
            poll_intervals=list(poll_intervals),
            not_before=wait.not_before,
        )
        # Airflow's own timeout is a safety net only: the trigger reports its deadline itself.
        self.defer(
            trigger=trigger,
            method_name="resume",
            kwargs={"wait_deadline": deadline},
            timeout=timedelta(seconds=max(0.0, deadline - time.time()) + 300),
        )

    def _key(self, context: Any) -> str:
        dag = context.get("dag")
        return default_idempotency_key(self.idempotency_key, getattr(dag, "dag_id", self.dag_id), context["run_id"])
