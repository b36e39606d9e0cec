"""Publishing one post exactly once: the state machine over ``instagram.publish_jobs``.

A job is one idempotency key. Its states (the user-facing meaning is in
docs/publishing-and-messaging.md):

``pending``            validated and recorded; item containers are being created
                       (``container_ids`` fills as each exists; a carousel's items then process)
``containers_created`` the container to publish (``parent_container_id``) exists and processes,
                       or Meta answered "not ready" to media_publish (its answer is kept in
                       the error columns meanwhile)
``ready``              it is FINISHED; publishing is next
``publishing``         media_publish is being (or was) sent; the outcome is not recorded yet.
                       With ``answer_lost_at`` set the outcome is unknown: the answer was
                       lost or the worker that sent it is gone
``published``          ``media_id``, ``permalink``, ``published_at`` recorded. Final.
``failed``             Meta refused, or processing ended in ERROR/EXPIRED; the error is
                       recorded and nothing was published. Triggering the same key again
                       starts over.

Exactly once. Meta's own idempotency key is the container: one container is published
at most once (a second ``media_publish`` is refused). So the job records its container
before publishing, writes ``publishing`` (and the time) before the request leaves, and
never makes a new container once it is there. When the answer to media_publish is lost,
the publish may still be under way at Meta (a late answer is a late write), so the time
is recorded (``answer_lost_at``) and the container is asked only ``settle_seconds``
after it (:class:`~instagram_graph.jobs.OutcomeUnsettled` says how long; the operator
defers): a FINISHED container seen sooner could be published a moment later by the
request still in flight. Whoever finds ``publishing`` - the same attempt after the wait,
a task retry, a re-trigger of the key, a rerun after a killed worker - waits out the same
time, then asks the container: PUBLISHED means the post exists (the media is found on the
account's edge and recorded), FINISHED means the request never took effect (publish
again), ERROR/EXPIRED mean nothing was published. ``failed`` is only written when nothing
was published, so starting a failed key over cannot post twice.

Container creation (``POST /{ig-user-id}/media``) is idempotent by design and retried
like a read: a second container for the same item is never published (the job records
one id and publishes only that) and expires unused after 24 hours; it only counts
towards Meta's 400 containers a day.

Meta's answers to media_publish and container creation, as the error catalogue classes
them: :class:`~instagram_graph.errors.NotReadyError` (24/2207008, 9007/2207027) means Meta
did nothing; the job waits again (at least :data:`NOT_READY_WAIT`) and tries again until
the wait timeout. Any other refusal - a policy one (spam, restricted account) included -
fails the job at once with the catalogue's advice; nothing is retried and no account is
paused (only throttles pause, in the hook).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from instagram_graph.errors import (
    GraphApiError,
    NotReadyError,
    RateLimitError,
    RateLimiterUnavailableError,
    TokenError,
    TransientError,
    advice_for,
    classify,
    rule_for,
)
from instagram_graph.jobs import JobFailed, OutcomeUnsettled
from instagram_graph.publishing.lookup import find_published_media, not_found
from instagram_graph.publishing.rules import CAROUSEL, ContainerSpec
from instagram_graph.publishing.store import AFTER_CHECK_STATES, PublishJob, PublishJobs
from instagram_graph.triggers.events import ContainerStatusEvent

log = logging.getLogger(__name__)

DUPLICATE_POST_CODE = 506  # Meta refuses a second media_publish of a container
# After "not ready" (NotReadyError) the job waits at least this long before it tries again:
# Meta asks for 30 s to 2 minutes.
NOT_READY_WAIT = timedelta(seconds=30)
EXPIRED_ERROR = (-2, 2207020)  # Meta's error for a container used after it expired
_STATUS_SUBCODE = re.compile(r"\((\d{4,})\)\s*\.?\s*$")


@dataclass(frozen=True)
class WaitFor:
    """The job cannot go on until these containers finish processing.

    ``not_before`` (unix time): Meta said it is not ready; do not go on before then, even
    when the containers are FINISHED (with no containers, the wait is only that).
    """

    container_ids: tuple[str, ...]
    what: str
    not_before: float | None = None


# One step of the machine: given the job and the container statuses a wait reported, it
# returns the job as it moved on (advance() goes on with its new state), or what to wait for.
Step = Callable[[PublishJob, Mapping[str, str]], PublishJob | WaitFor]


class PublishFailed(JobFailed):
    """The job ended in ``failed``: nothing was published. The message says why and what to do."""


class PublishOutcomeUnknown(OutcomeUnsettled):
    """media_publish got no answer: the post may or may not exist, and may still appear.
    Advance the job again after ``wait_seconds``: it asks the container (once the outcome
    has settled) before doing anything else."""


class Publisher(PublishJobs):
    """Moves publish jobs through their states with one hook and one warehouse connection.

    Each state has one step (:attr:`steps`); :meth:`advance` runs them until the job is
    published or has to wait.

    :param hook: an :class:`~instagram_graph.hooks.graph_api.InstagramGraphHook`.
    :param conn: an autocommit psycopg2 connection (see :func:`instagram_graph.jobs.open_warehouse`).
    :param lookup_slack: how far before the publish attempt a found post may be dated
        (clock skew between us and Meta, whose timestamps have whole seconds).
    :param not_ready_wait: the least wait after Meta answered "not ready" (NotReadyError)
        before the next try; :data:`NOT_READY_WAIT` unless given (tests make it short).
    """

    looked_up_in = "the container's status"
    unsettled_error = PublishOutcomeUnknown
    failed_error = PublishFailed
    default_lookup_slack = timedelta(minutes=10)

    def __init__(
        self, hook: Any, conn: Any, *, lookup_slack: timedelta | None = None, not_ready_wait: timedelta | None = None
    ) -> None:
        super().__init__(hook, conn, lookup_slack=lookup_slack)
        self.not_ready_wait = not_ready_wait if not_ready_wait is not None else NOT_READY_WAIT
        # The step for each state that is not final.
        self.steps: dict[str, Step] = {
            "pending": self._create_containers,
            "containers_created": self._check_processing,
            "ready": self._publish,
            "publishing": self._check_unknown_outcome,
        }

    # --- advancing ---------------------------------------------------------------------

    def advance(self, job: PublishJob, statuses: Mapping[str, str] | None = None) -> PublishJob | WaitFor:
        """Go as far as possible: return the published job, or what to wait for.

        :param statuses: container id -> status_code, as a wait just reported them.
        :raises PublishFailed: the job failed (recorded); nothing was published.
        :raises PublishOutcomeUnknown: media_publish got no answer (now or earlier) and its
            outcome may still change: call again after its ``wait_seconds``.
        :raises PublishedMediaNotFound: published, but not listed yet; call again later.
        :raises GraphApiError: transient or throttled calls; the job stays resumable.
        """
        known = dict(statuses or {})
        while True:
            if job.state == "published":
                return job
            if job.state == "failed":
                raise PublishFailed(job, job.error_message or "The job failed")
            result = self.steps[job.state](job, known)
            if isinstance(result, WaitFor):
                return result
            job = result

    def accept_wait_result(self, job: PublishJob, event: ContainerStatusEvent) -> dict[str, str]:
        """Apply the container trigger's event; returns the statuses it reported.

        :raises PublishFailed: ERROR, EXPIRED, a timeout, or a failure while polling.
        """
        if event.status == "FINISHED":
            return dict(event.statuses)
        which = self._which_container(job, event.container_id)
        if event.status == "ERROR":
            reason = event.reason or "no reason given"
            self._fail(
                job,
                f"Instagram could not process {which}: {reason} Nothing was published. Check that the media URL is "
                "public, reachable over HTTPS and a supported file (JPEG image; MP4/MOV video), then trigger again.",
                subcode=_status_subcode(reason),
            )
        if event.status == "EXPIRED":
            code, subcode = EXPIRED_ERROR
            self._fail(
                job,
                f"{which} expired before it was published (containers live 24 hours). Nothing was published. "
                f"{_catalogue_advice(code, subcode)}",
                code=code,
                subcode=subcode,
            )
        if event.status == "TIMEOUT":
            waited = int(event.waited_seconds)
            not_ready = self._not_ready_error(job)
            if not_ready is not None:
                self._fail(
                    job,
                    f"Instagram still answered that the media is not ready (code {not_ready.code}, subcode "
                    f"{not_ready.subcode}) when the wait timeout (wait_timeout_minutes) ran out. Nothing was "
                    f"published. {_advice(not_ready, job.account_id)} Here the timeout ran out "
                    "first: trigger again, with a longer wait_timeout_minutes if it happens again.",
                    error=not_ready,
                )
            pending = ", ".join(event.pending) or "?"
            self._fail(
                job,
                f"Container(s) {pending} were still processing after {waited} s (the wait timeout). Nothing was "
                "published. Trigger again with a longer wait_timeout_minutes (long videos take minutes).",
            )
        message = event.message or "the status check failed"
        self._fail(
            job,
            f"Checking {which} failed: {event.error or 'error'}: {message}. Nothing was published. "
            "Fix the cause (see the message), then trigger again.",
            code=event.code,
            subcode=event.subcode,
        )

    # --- the steps, one per state ---------------------------------------------------------

    def _create_containers(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        """``pending``: make the item containers (each recorded once made), then a carousel's
        parent once its items are FINISHED."""
        if not job.container_ids:
            self._check_quota(job)
        specs = job.request.item_specs()
        ids = list(job.container_ids)
        try:
            for spec in specs[len(ids):]:
                ids.append(self._create(job, spec))
                self._record_containers(job, ids)
            if job.media_type != CAROUSEL:
                return self._record_parent(job, ids[0])
            waiting = tuple(cid for cid in ids if known.get(cid) != "FINISHED")
            if waiting:
                return WaitFor(waiting, "carousel items")
            parent = self._create(job, job.request.parent_spec(ids))
        except NotReadyError as exc:  # Meta made no container: wait, then create it again
            return self._not_ready(job, exc, "pending", "pending", tuple(ids), "Instagram's media builder")
        return self._record_parent(job, parent)

    def _check_processing(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        """``containers_created``: go on once the wait reported the container FINISHED."""
        code = known.get(job.parent_container_id or "")
        if code == "FINISHED":
            return self._record_finished(job)
        if code == "PUBLISHED":  # published by a run we lost track of: find it, never publish again
            return self._record_found(self._move(job, "containers_created", "publishing"))
        return WaitFor((job.parent_container_id or "",), "container")

    def _publish(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        """``ready``: record ``publishing`` (committed before the request leaves), then publish."""
        started = self._start(job)
        if started is None:
            return self._reload(job)
        job = started
        log.info("Publishing container %s of %s (attempt %d)", job.parent_container_id, job.describe(), job.attempts)
        try:
            media_id = self.hook.publish_container(job.account_id, job.parent_container_id)
        except NotReadyError as exc:  # Meta did not publish: wait as for IN_PROGRESS, then publish
            return self._not_ready(
                job, exc, "publishing", "containers_created", (job.parent_container_id or "",), "container"
            )
        except TransientError as exc:
            self._answer_lost(
                job, f"media_publish for container {job.parent_container_id} got no usable answer ({exc})"
            )
        except (RateLimitError, RateLimiterUnavailableError):
            self._move(job, "publishing", "ready")  # refused before Meta acted
            raise
        except GraphApiError as exc:
            return self._refused(job, exc)
        return self._record_published(job, media_id)

    def _check_unknown_outcome(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        """The exactly-once check: an earlier publish attempt has no recorded outcome. Once
        it has settled (the caller holds the job's lock), the container says what happened."""
        self._await_settle(job, f"The outcome of the earlier media_publish of container {job.parent_container_id} "
                                "is unknown")
        status = self.hook.get_container_status(job.account_id, job.parent_container_id)
        code = status.get("status_code")
        log.info("Container %s of %s is %s", job.parent_container_id, job.describe(), code)
        if code == "PUBLISHED":
            return self._record_found(job)
        if code == "FINISHED":
            log.warning("The earlier media_publish of %s did not take effect (the container is FINISHED %g s after "
                        "its answer was lost); publishing again", job.describe(), self.settle_seconds)
            return self._move(job, "publishing", "ready")
        if code == "IN_PROGRESS":
            return self._move(job, "publishing", "containers_created")
        self._fail(
            job,
            f"Container {job.parent_container_id} is {code} ({status.get('status') or 'no reason given'}): nothing "
            f"was published. {_catalogue_advice(*EXPIRED_ERROR)}",
            from_states=AFTER_CHECK_STATES,
            subcode=_status_subcode(status.get("status") or ""),
        )

    # --- helpers --------------------------------------------------------------------------

    def _check_quota(self, job: PublishJob) -> None:
        limit = self.hook.get_publishing_limit(job.account_id)
        usage = int(limit.get("quota_usage") or 0)
        config = limit.get("config") or {}
        total = config.get("quota_total")
        if total is None or usage < int(total):
            log.info("Account %s has published %s of %s posts in the quota window", job.account_id, usage, total)
            return
        hours = int(config.get("quota_duration") or 86400) // 3600
        self._fail(
            job,
            f"Account {job.account_id} has used its publishing quota: {usage} of {total} posts in the last {hours} h. "
            f"Nothing was created or published. Trigger again later, once the oldest post in that window is "
            f"{hours} h old.",
            code=9,
            subcode=2207042,
        )

    def _create(self, job: PublishJob, spec: ContainerSpec) -> str:
        try:
            container_id = self.hook.create_container(job.account_id, **spec.params())
        except (TransientError, RateLimitError, RateLimiterUnavailableError):
            raise
        except GraphApiError as exc:
            self._fail(
                job,
                f"Instagram refused to create a container: {exc}. Nothing was published. "
                f"{_advice(exc, job.account_id)}",
                error=exc,
            )
        log.info("Created container %s for %s", container_id, job.describe())
        return container_id

    def _not_ready(
        self, job: PublishJob, error: NotReadyError, from_state: str, to_state: str, wait_ids: tuple[str, ...],
        what: str,
    ) -> WaitFor:
        """Meta did not act ("not ready"): record its answer and wait at least
        :attr:`not_ready_wait`, then try again (within the job's wait timeout)."""
        wait = self.not_ready_wait.total_seconds()
        message = (
            f"Waiting: Instagram answered that the media is not ready ({error}); trying again in {wait:.0f} s or "
            "later, until the wait timeout."
        )
        if self._record_not_ready(job, from_state, to_state, error, message) is None:
            raise RuntimeError(f"{job.describe()} left state {from_state} while Instagram answered not ready")
        log.warning("%s: %s", job.describe(), message)
        return WaitFor(wait_ids, what, not_before=time.time() + wait)

    def _not_ready_error(self, job: PublishJob) -> GraphApiError | None:
        """The "not ready" answer the job waits after, as its catalogue error; None otherwise."""
        if job.error_code is None:
            return None
        error = classify(
            {"error": {"code": job.error_code, "error_subcode": job.error_subcode, "message": "Media not ready"}},
            None,
            account_id=job.account_id,
        )
        return error if isinstance(error, NotReadyError) else None

    def _refused(self, job: PublishJob, error: GraphApiError) -> PublishJob:
        """Meta answered media_publish with an error: it did not publish now. Whether an
        earlier attempt did is the container's to say (Meta refuses a second publish)."""
        status = self.hook.get_container_status(job.account_id, job.parent_container_id)
        if status.get("status_code") == "PUBLISHED":
            if error.code != DUPLICATE_POST_CODE:
                log.warning("media_publish was refused (%s) but the container is PUBLISHED", error)
            return self._record_found(job)
        if isinstance(error, TokenError):
            # The outcome is known (not published), but the job can still be finished
            # with the same container once the account is reconnected: keep it resumable.
            self._move(job, "publishing", "ready")
            raise error
        advice = _advice(error, job.account_id)
        self._fail(job, f"Instagram refused to publish: {error}. Nothing was published. {advice}", error=error,
                   from_states=AFTER_CHECK_STATES)

    def _record_found(self, job: PublishJob) -> PublishJob:
        media = find_published_media(
            self.hook, job, claimed=self._claimed_media(job.account_id), lookup_slack=self.lookup_slack
        )
        if media is None:
            raise not_found(job)
        log.info("Found the post of %s: media %s", job.describe(), media["id"])
        return self._record_published(job, str(media["id"]), media.get("permalink"))

    def _record_published(self, job: PublishJob, media_id: str, permalink: str | None = None) -> PublishJob:
        job = self._finish(job, media_id=media_id, permalink=permalink)
        log.info("Published %s as media %s", job.describe(), media_id)
        if job.permalink is None:
            try:
                media = self.hook.get_media(job.account_id, media_id, fields="id,permalink")
            except GraphApiError as exc:  # the post exists and is recorded; the link is a nicety
                log.warning("Could not read the permalink of media %s: %s", media_id, exc)
            else:
                self._record_permalink(job, media.get("permalink"))
        return job

    def _which_container(self, job: PublishJob, container_id: str | None) -> str:
        if container_id and job.media_type == CAROUSEL and container_id in job.container_ids:
            position = job.container_ids.index(container_id) + 1
            return f"carousel item {position} of {len(job.container_ids)} (container {container_id})"
        return f"container {container_id}"


def _status_subcode(status_text: str) -> int | None:
    """Meta's container ``status`` ends with the subcode: ``Error: ... (2207052)``."""
    match = _STATUS_SUBCODE.search(status_text or "")
    return int(match.group(1)) if match else None


def _advice(error: GraphApiError, account_id: str) -> str:
    return advice_for(error, account_id=account_id, action="publish")


def _catalogue_advice(code: int, subcode: int) -> str:
    rule = rule_for(code, subcode)
    assert rule is not None and rule.advice, f"the error catalogue has advice for {code}/{subcode}"
    return rule.advice
