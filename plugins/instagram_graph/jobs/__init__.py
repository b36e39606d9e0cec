"""What publishing and direct messages share: the write-side job records.

Both keep one row per idempotency key (``publish_jobs``, ``outbound_messages``) and
follow the same rules, kept here once:

- a request is refused, before any call to Meta, with a message that names the problem
  and the fix (:class:`RequestRefused`);
- the same key with other content is a conflict, found by a sha256 of the canonical
  request (:func:`content_hash`);
- the account must be known, enabled and hold a usable token (:func:`require_usable_account`);
- every state change is one UPDATE guarded by the state it moves from (:class:`JobStatements`,
  built once per table), so a job that moved meanwhile is reloaded, never overwritten;
- a job that ends in ``failed`` raises :class:`JobFailed` (nothing was published or sent);
- one worker at a time advances a job: a Postgres advisory lock per key (:func:`job_lock`),
  held by the worker's connection, so a killed worker releases it with its connection;
- every state change commits at once (:func:`open_warehouse` gives an autocommit
  connection): "about to publish" must be durable before the request leaves;
- an unknown outcome stays unknown until it can no longer change: when the answer to a
  publish or a send is lost, the request may still take effect at Meta (a late answer is
  a late write), so nothing looks it up - let alone repeats it - before
  ``settle_seconds`` (the connection's setting: the request timeout plus a margin) after
  the answer was found lost (``answer_lost_at``). Until then advancing the job raises
  :class:`OutcomeUnsettled` saying how long to wait (the operators defer). A task retry
  or a re-trigger of the same key reads the same time and waits too. A presence found by
  the settled lookup is recorded; only a settled absence allows the request again.

Modules: :mod:`~instagram_graph.jobs.requests` (what a request must pass to become a job),
:mod:`~instagram_graph.jobs.outcomes` (the exceptions), :mod:`~instagram_graph.jobs.statements`
(the shared SQL), :mod:`~instagram_graph.jobs.table` (JobTable, the job lock, the lookups' time rule).
"""

from instagram_graph.jobs.outcomes import JobBusy, JobFailed, OutcomeUnsettled, RequestRefused
from instagram_graph.jobs.requests import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    content_hash,
    default_idempotency_key,
    require_usable_account,
    text_hash,
)
from instagram_graph.jobs.statements import CLEAR_ERROR, JobStatements
from instagram_graph.jobs.table import JobRecord, JobTable, job_lock, open_warehouse, pick_after

__all__ = [
    "CLEAR_ERROR",
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "JobBusy",
    "JobFailed",
    "JobRecord",
    "JobStatements",
    "JobTable",
    "OutcomeUnsettled",
    "RequestRefused",
    "content_hash",
    "default_idempotency_key",
    "job_lock",
    "open_warehouse",
    "pick_after",
    "require_usable_account",
    "text_hash",
]
