"""The rows of ``instagram.publish_jobs``: :class:`PublishJob`, and every statement over the
table (:class:`PublishJobs`). The state machine (:mod:`instagram_graph.publishing.machine`)
changes a job only through these methods.

Each UPDATE names the state it moves the job from; when no row comes back the job moved
meanwhile and is reloaded as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from instagram_graph.jobs import CLEAR_ERROR, JobRecord, JobStatements, JobTable, RequestRefused
from instagram_graph.publishing.rules import PublishRequest

# The states a job can fail from without a check: nothing can have been published from
# them. From ``publishing`` only once the container was checked (AFTER_CHECK_STATES).
FAILABLE_STATES = ("pending", "containers_created", "ready", "failed")
AFTER_CHECK_STATES = (*FAILABLE_STATES, "publishing")


@dataclass
class PublishJob(JobRecord):
    """One row of ``instagram.publish_jobs``."""

    job_id: int
    idempotency_key: str
    account_id: str
    state: str
    request: PublishRequest
    request_hash: str
    container_ids: list[str] = field(default_factory=list)
    parent_container_id: str | None = None
    media_id: str | None = None
    permalink: str | None = None
    error_message: str | None = None
    attempts: int = 0
    publish_started_at: datetime | None = None
    created_at: datetime | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    answer_lost_at: datetime | None = None

    summary_fields: ClassVar[tuple[str, ...]] = (
        "job_id", "idempotency_key", "account_id", "state", "media_id", "permalink", "container_id",
    )

    @property
    def media_type(self) -> str:
        return self.request.media_type

    @property
    def container_id(self) -> str | None:
        """The container published (a carousel's parent), as the task result names it."""
        return self.parent_container_id

    def describe(self) -> str:
        return f"publish job {self.job_id} (key {self.idempotency_key!r}, account {self.account_id}, {self.media_type})"


_COLUMNS = (
    "job_id, idempotency_key, account_id, state, request, request_hash, container_ids, parent_container_id, "
    "media_id, permalink, error_message, attempts, publish_started_at, created_at, error_code, error_subcode, "
    "answer_lost_at"
)
_STATEMENTS = JobStatements.for_table(
    "publish_jobs", _COLUMNS, start_from="ready", in_flight="publishing", started_at="publish_started_at",
    done="published", finish_sets="media_id = %(media_id)s, permalink = %(permalink)s, published_at = now()",
    restart_sets="container_ids = '{}', parent_container_id = NULL, publish_started_at = NULL",
)
_INSERT = f"""
INSERT INTO instagram.publish_jobs (idempotency_key, account_id, dag_run_id, state, media_type, request, request_hash)
VALUES (%s, %s, %s, 'pending', %s, %s::jsonb, %s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
"""
# A job that waits after "not ready" keeps Meta's answer in error_code/error_subcode/
# error_message until it gets further (a container made, processing FINISHED, published).
_SET_CONTAINERS = f"""
UPDATE instagram.publish_jobs SET container_ids = %s, {CLEAR_ERROR} WHERE job_id = %s AND state = 'pending'
"""
_CONTAINERS_CREATED = f"""
UPDATE instagram.publish_jobs SET state = 'containers_created', parent_container_id = %s, {CLEAR_ERROR}
 WHERE job_id = %s AND state = 'pending'
RETURNING {_COLUMNS}
"""
_FINISHED = f"""
UPDATE instagram.publish_jobs SET state = 'ready', {CLEAR_ERROR} WHERE job_id = %s AND state = 'containers_created'
RETURNING {_COLUMNS}
"""
_NOT_READY = f"""
UPDATE instagram.publish_jobs
   SET state = %s, error_code = %s, error_subcode = %s, error_message = %s, fbtrace_id = %s
 WHERE job_id = %s AND state = %s
RETURNING {_COLUMNS}
"""
_SET_PERMALINK = "UPDATE instagram.publish_jobs SET permalink = %s WHERE job_id = %s"
_CLAIMED_MEDIA = "SELECT media_id FROM instagram.publish_jobs WHERE account_id = %s AND media_id IS NOT NULL"


class PublishJobs(JobTable[PublishJob, PublishRequest]):
    """Registering publish jobs and recording each step of one (see :class:`~instagram_graph.jobs.JobTable`)."""

    statements = _STATEMENTS
    insert_sql = _INSERT
    done_state = "published"
    failable_states = FAILABLE_STATES

    # --- registering ------------------------------------------------------------------

    def _from_row(self, row: tuple) -> PublishJob:
        return job_from_row(row)

    def _insert_params(self, request: PublishRequest, key: str, dag_run_id: str | None) -> tuple:
        record = json.dumps(request.record(), ensure_ascii=False)
        return (key, request.account_id, dag_run_id, request.media_type, record, request.request_hash)

    def _check_same(self, job: PublishJob, request: PublishRequest) -> None:
        if job.request_hash != request.request_hash:
            raise RequestRefused(
                f"The idempotency key {job.idempotency_key!r} was already used for a different publish request "
                f"(job {job.job_id}, {job.media_type} for account {job.account_id}, state {job.state}). "
                "A key stands for one post: use a new key for new content, or leave it empty to derive one from "
                "the run."
            )

    # --- recording the steps ------------------------------------------------------------

    def _record_containers(self, job: PublishJob, container_ids: list[str]) -> None:
        """The item containers made so far (``pending``): none is made twice."""
        self._execute(_SET_CONTAINERS, (container_ids, job.job_id))
        job.container_ids = list(container_ids)

    def _record_parent(self, job: PublishJob, parent_id: str) -> PublishJob:
        """``pending`` -> ``containers_created``: the container to publish exists."""
        row = self._fetch(_CONTAINERS_CREATED, (parent_id, job.job_id))
        return job_from_row(row) if row is not None else self._reload(job)

    def _record_finished(self, job: PublishJob) -> PublishJob:
        """``containers_created`` -> ``ready``: it is FINISHED."""
        row = self._fetch(_FINISHED, (job.job_id,))
        return job_from_row(row) if row is not None else self._reload(job)

    def _record_not_ready(
        self, job: PublishJob, from_state: str, to_state: str, error: Any, message: str
    ) -> PublishJob | None:
        """Meta answered "not ready": move to ``to_state`` keeping its answer; None when the
        job left ``from_state`` meanwhile."""
        row = self._fetch(
            _NOT_READY, (to_state, error.code, error.subcode, message, error.fbtrace_id, job.job_id, from_state)
        )
        return job_from_row(row) if row is not None else None

    def _record_permalink(self, job: PublishJob, permalink: str | None) -> None:
        job.permalink = permalink
        self._execute(_SET_PERMALINK, (permalink, job.job_id))

    def _claimed_media(self, account_id: str) -> set[str]:
        """The media ids other jobs of the account recorded: a lookup never takes them."""
        return {row[0] for row in self._fetch_all(_CLAIMED_MEDIA, (account_id,))}


def job_from_row(row: tuple) -> PublishJob:
    (job_id, key, account_id, state, request, request_hash, container_ids, parent, media_id, permalink,
     error_message, attempts, publish_started_at, created_at, error_code, error_subcode, answer_lost_at) = row
    return PublishJob(
        job_id=job_id,
        idempotency_key=key,
        account_id=account_id,
        state=state,
        request=PublishRequest.from_record(request),
        request_hash=request_hash,
        container_ids=list(container_ids or []),
        parent_container_id=parent,
        media_id=media_id,
        permalink=permalink,
        error_message=error_message,
        attempts=attempts,
        publish_started_at=publish_started_at,
        created_at=created_at,
        error_code=error_code,
        error_subcode=error_subcode,
        answer_lost_at=answer_lost_at,
    )
