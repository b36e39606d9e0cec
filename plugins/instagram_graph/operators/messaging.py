"""InstagramSendMessageOperator: one direct message, exactly once.

The Airflow side of :mod:`instagram_graph.messaging`. Failure policy:

- bad input (control characters, an account id that is not digits, a text over 1000
  UTF-8 bytes, a tag the connection does not allow), a refused request, a recipient
  outside the 24-hour window (7 days when tagged), an unknown recipient, token or
  permission problems: fail at once, no retries (AirflowFailException), with a message
  naming the field or the problem and the fix;
- a lost answer (timeout, reset, 5xx): the message may still arrive, so the task defers
  (no worker held) until the connection's ``settle_seconds`` have passed since the answer
  was lost, then looks in the conversation and sends again only if it is not there. A
  task retry or a re-trigger of the same key during that time waits for it too;
- transient errors: Airflow's retries; each attempt looks before it sends again;
- a long throttle: defer until Meta's regain time, then resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from instagram_graph.jobs import default_idempotency_key, job_lock
from instagram_graph.messaging import MessageFailed, MessageRequest, Messenger, SendOutcomeUnknown
from instagram_graph.operators.base import InstagramBaseOperator
from instagram_graph.operators.policy import defer_until_settled
from instagram_graph.validation import whole_number

MAX_UNANSWERED = 10


class InstagramSendMessageOperator(InstagramBaseOperator):
    """Send one text DM from an account to a person who wrote to it, exactly once.

    :param account_id: the IG user id that sends.
    :param recipient_id: the person's Instagram-scoped id (IGSID).
    :param text: at most 1000 bytes in UTF-8 (an emoji takes 4).
    :param tag: ``HUMAN_AGENT``: a person's reply up to 7 days after the recipient's last
        message; only when the connection's ``human_agent_enabled`` extra is true (Meta
        granted the app the Human Agent feature). Empty: a reply within 24 hours.
    :param idempotency_key: one key, one message; empty means ``{dag_id}:{run_id}``.
    :param max_unanswered: lost answers waited out in one attempt (1 to 10; each wait is
        deferred, then followed by a look into the conversation) before leaving the rest
        to a task retry.

    The connection ids and task defaults are :class:`~instagram_graph.operators.base.InstagramBaseOperator`'s.
    """

    template_fields: Sequence[str] = ("account_id", "recipient_id", "text", "tag", "idempotency_key")
    ui_color = "#d8ecf7"

    def __init__(
        self,
        *,
        account_id: str,
        recipient_id: str,
        text: str,
        tag: str | None = None,
        idempotency_key: str | None = None,
        max_unanswered: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(account_id=account_id, **kwargs)
        whole_number("max_unanswered", max_unanswered, minimum=1, maximum=MAX_UNANSWERED)
        self.recipient_id = recipient_id
        self.text = text
        self.tag = tag
        self.idempotency_key = idempotency_key
        self.max_unanswered = max_unanswered

    def execute(self, context: Any, event: Any = None, settle_waits: int = 0) -> dict[str, Any]:
        """Also the resumption after a deferral (a throttle, or the settle time after a
        lost answer: ``settle_waits`` counts those of this attempt)."""
        with self.hook_scope():
            with self.refused_as_failure("Message refused: "):
                request = MessageRequest.build(
                    account_id=str(self.account_id or ""),
                    recipient_id=str(self.recipient_id or ""),
                    text=self.text or "",
                    tag=self.tag,
                    # the connection (no call), read only when a tag needs it
                    human_agent_enabled=bool(self.tag) and self.hook.settings.human_agent_enabled,
                )
                dag = context.get("dag")
                key = default_idempotency_key(
                    self.idempotency_key, getattr(dag, "dag_id", self.dag_id), context["run_id"]
                )
            consequence = f"Nothing was sent for key {key!r}."
            with self.warehouse(autocommit=True) as conn:
                try:
                    with self.refused_as_failure(), self.graph_api_work(resume="execute", consequence=consequence):
                        messenger = Messenger(self.hook, conn)
                        with job_lock(conn, "outbound_messages", key):
                            message = messenger.send(messenger.register(request, key, context.get("run_id")))
                except MessageFailed as exc:
                    raise AirflowFailException(str(exc)) from None
                except SendOutcomeUnknown as exc:
                    defer_until_settled(
                        self, exc, resume="execute", waits=settle_waits, max_waits=self.max_unanswered
                    )
        self.log.info("Sent: message %s", message.message_id)
        return message.summary()
