"""InstagramPublishOperator: one post, exactly once, deferred while Instagram processes it.

The operator is the Airflow side of :mod:`instagram_graph.publishing`: it validates the
request, takes the job's lock, advances the state machine, and defers with
:class:`~instagram_graph.triggers.container_status.ContainerStatusTrigger` whenever a
container is still processing (no worker slot is held meanwhile). Failure policy:

- bad input, a refused request, ERROR/EXPIRED containers, a wait timeout, a used-up
  quota, token or permission problems: fail at once, no retries (AirflowFailException),
  with a message naming the problem and the fix;
- a lost media_publish answer: check the container and go on within the same attempt;
- transient errors: Airflow's retries; every attempt resumes from the recorded state;
- a long throttle: defer until Meta's regain time, then resume.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.jobs import RequestRefused, default_idempotency_key, job_lock, open_warehouse
from instagram_graph.operators.sync import GRAPH_TASK_DEFAULTS, graph_api_outcomes
from instagram_graph.publishing import (
    PublishedMediaNotFound,
    PublishFailed,
    Publisher,
    PublishJob,
    PublishOutcomeUnknown,
    PublishRequest,
    WaitFor,
)
from instagram_graph.triggers.container_status import ContainerStatusTrigger

DEFAULT_WAIT_TIMEOUT_MINUTES = 60


class InstagramPublishOperator(BaseOperator):
    """Publish one image, video, reel, story or carousel for one account, exactly once.

    :param account_id: the IG user id to publish as.
    :param media_type: IMAGE, VIDEO, REELS, STORIES or CAROUSEL.
    :param media_url: public HTTPS URL of the file (all types but CAROUSEL).
    :param children: CAROUSEL only: 2-10 HTTPS URLs (a list, or a JSON array string);
        files ending in .mp4/.mov/.m4v are videos, anything else images.
    :param caption: at most 2200 characters and 30 hashtags (not for STORIES).
    :param alt_text: accessibility text for images.
    :param idempotency_key: one key, one post; empty means ``{dag_id}:{run_id}``.
    :param wait_timeout_minutes: give up when a container is still processing after this.
    :param poll_interval: longest pause between container status polls, in seconds.
    :param max_unanswered: lost media_publish answers tolerated in one attempt before
        leaving the rest to a task retry (each one is followed by a container check).
    """

    template_fields: Sequence[str] = (
        "account_id",
        "media_type",
        "media_url",
        "children",
        "caption",
        "alt_text",
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
        idempotency_key: str | None = None,
        wait_timeout_minutes: float | str = DEFAULT_WAIT_TIMEOUT_MINUTES,
        poll_interval: float = 30.0,
        max_unanswered: int = 3,
        instagram_graph_conn_id: str = InstagramGraphHook.default_conn_name,
        redis_conn_id: str = "instagram_redis",
        **kwargs: Any,
    ) -> None:
        super().__init__(**{**GRAPH_TASK_DEFAULTS, **kwargs})
        self.account_id = account_id
        self.media_type = media_type
        self.media_url = media_url
        self.children = children
        self.caption = caption
        self.alt_text = alt_text
        self.idempotency_key = idempotency_key
        self.wait_timeout_minutes = wait_timeout_minutes
        self.poll_interval = poll_interval
        self.max_unanswered = max_unanswered
        self.instagram_graph_conn_id = instagram_graph_conn_id
        self.redis_conn_id = redis_conn_id

    # --- entry points ---------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            request = PublishRequest.build(
                account_id=str(self.account_id or ""),
                media_type=str(self.media_type or ""),
                media_url=self.media_url,
                children=self.children,
                caption=self.caption,
                alt_text=self.alt_text,
            )
            key = self._key(context)
        except RequestRefused as exc:
            raise AirflowFailException(f"Publish request refused: {exc}") from None
        return self._run(context, key, request=request)

    def resume(self, context: Any, event: Any = None) -> dict[str, Any]:
        """After a wait: ``event`` is the container trigger's, or a throttle pause's (not a dict)."""
        return self._run(context, self._key(context), event=event if isinstance(event, dict) else None)

    # --- the work ---------------------------------------------------------------------------

    def _run(self, context: Any, key: str, *, request: PublishRequest | None = None, event: dict | None = None) -> dict[str, Any]:
        hook = InstagramGraphHook(self.instagram_graph_conn_id, redis_conn_id=self.redis_conn_id)
        conn = open_warehouse()
        consequence = (
            f"Nothing more was published for key {key!r}; it resumes from its recorded state when triggered "
            "again with the same key."
        )
        try:
            with graph_api_outcomes(self, str(self.account_id), resume="resume", consequence=consequence):
                publisher = Publisher(hook, conn)
                with job_lock(conn, "publish_jobs", key):
                    job = self._job(publisher, key, request, context)
                    statuses: dict[str, str] = {}
                    if event is not None:
                        statuses = publisher.accept_wait_result(job, event)
                        job = publisher.load(key) or job
                    outcome = self._advance(publisher, job, statuses)
        except (RequestRefused, PublishFailed) as exc:
            raise AirflowFailException(str(exc)) from None
        finally:
            conn.close()
            hook.close()

        if isinstance(outcome, WaitFor):
            self._defer_for(outcome)
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
        """Advance; after a lost answer look at the container and go on, a few times."""
        for attempt in range(1, self.max_unanswered + 1):
            try:
                return publisher.advance(job, statuses)
            except PublishOutcomeUnknown as exc:
                self.log.warning("%s (%d of %d); checking the container before anything else", exc, attempt,
                                 self.max_unanswered)
            except PublishedMediaNotFound as exc:
                self.log.warning("%s (%d of %d)", exc, attempt, self.max_unanswered)
                time.sleep(2.0 * attempt)
            job = publisher.load(job.idempotency_key) or job
            statuses = {}
        raise AirflowException(
            f"publish job {job.idempotency_key!r} is still {job.state} after {self.max_unanswered} tries; the task "
            "retries, and the next attempt checks the container before anything else (no post is made twice)"
        )

    def _defer_for(self, wait: WaitFor) -> None:
        minutes = float(self.wait_timeout_minutes or DEFAULT_WAIT_TIMEOUT_MINUTES)
        self.log.info(
            "Waiting for %s %s to finish processing (up to %.0f min) without holding a worker",
            wait.what, ", ".join(wait.container_ids), minutes,
        )
        trigger = ContainerStatusTrigger(
            account_id=str(self.account_id),
            container_ids=list(wait.container_ids),
            deadline=time.time() + minutes * 60,
            instagram_graph_conn_id=self.instagram_graph_conn_id,
            redis_conn_id=self.redis_conn_id,
            poll_interval=self.poll_interval,
        )
        # Airflow's own timeout is a safety net only: the trigger reports its deadline itself.
        self.defer(trigger=trigger, method_name="resume", timeout=timedelta(minutes=minutes + 5))

    def _key(self, context: Any) -> str:
        dag = context.get("dag")
        return default_idempotency_key(self.idempotency_key, getattr(dag, "dag_id", self.dag_id), context["run_id"])
