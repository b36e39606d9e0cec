"""How a publish or a send can end other than done: the exceptions both share.

:class:`PublishFailed <instagram_graph.publishing.PublishFailed>` and
:class:`MessageFailed <instagram_graph.messaging.MessageFailed>` are :class:`JobFailed`;
their unknown outcomes are :class:`OutcomeUnsettled`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from instagram_graph.jobs.table import JobRecord


class RequestRefused(ValueError):
    """The request cannot be carried out as given; the message says what to change.

    Raised before any side effect at Instagram whenever that is possible.
    """


class JobBusy(RuntimeError):
    """Another worker is advancing the same job right now; retrying later is safe."""


class OutcomeUnsettled(Exception):
    """A publish or send got no usable answer, and it may still take effect at Meta.

    Nothing may look it up, let alone repeat it, for ``wait_seconds`` more: wait that long
    (the operators defer, holding no worker), then advance the job again; the settled
    lookup decides.
    """

    def __init__(self, message: str, wait_seconds: float) -> None:
        super().__init__(message)
        self.wait_seconds = max(0.0, float(wait_seconds))


class JobFailed(Exception):
    """The job ended in ``failed``: nothing was published or sent. The message says why and
    what to do; ``error`` is Meta's refusal, when there was one."""

    def __init__(self, job: JobRecord, message: str, error: Exception | None = None) -> None:
        self.job = job
        self.error = error
        super().__init__(f"{message} [{job.describe()}]")
