"""InstagramSendMessageOperator: one direct message, exactly once.

The Airflow side of :mod:`instagram_graph.messaging`. Failure policy:

- bad input (a text over 1000 UTF-8 bytes, a tag the connection does not allow), a
  refused request, a recipient outside the 24-hour window (7 days when tagged), an unknown
  recipient, token or permission problems: fail at once, no retries
  (AirflowFailException), with a message naming the problem and the fix;
- a lost answer: look in the conversation and go on within the same attempt;
- transient errors: Airflow's retries; each attempt looks before it sends again;
- a long throttle: defer until Meta's regain time, then resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.jobs import RequestRefused, default_idempotency_key, job_lock, open_warehouse
from instagram_graph.messaging import MessageFailed, MessageRequest, Messenger, OutboundMessage, SendOutcomeUnknown
from instagram_graph.operators.sync import GRAPH_TASK_DEFAULTS, graph_api_outcomes


class InstagramSendMessageOperator(BaseOperator):
    """Send one text DM from an account to a person who wrote to it, exactly once.

    :param account_id: the IG user id that sends.
    :param recipient_id: the person's Instagram-scoped id (IGSID).
    :param text: at most 1000 bytes in UTF-8 (an emoji takes 4).
    :param tag: ``HUMAN_AGENT``: a person's reply up to 7 days after the recipient's last
        message; only when the connection's ``human_agent_enabled`` extra is true (Meta
        granted the app the Human Agent feature). Empty: a reply within 24 hours.
    :param idempotency_key: one key, one message; empty means ``{dag_id}:{run_id}``.
    :param max_unanswered: lost answers tolerated in one attempt (each is followed by a
        look into the conversation) before leaving the rest to a task retry.
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
        instagram_graph_conn_id: str = InstagramGraphHook.default_conn_name,
        redis_conn_id: str = "instagram_redis",
        **kwargs: Any,
    ) -> None:
        super().__init__(**{**GRAPH_TASK_DEFAULTS, **kwargs})
        self.account_id = account_id
        self.recipient_id = recipient_id
        self.text = text
        self.tag = tag
        self.idempotency_key = idempotency_key
        self.max_unanswered = max_unanswered
        self.instagram_graph_conn_id = instagram_graph_conn_id
        self.redis_conn_id = redis_conn_id

    def execute(self, context: Any, event: Any = None) -> dict[str, Any]:
        hook = InstagramGraphHook(self.instagram_graph_conn_id, redis_conn_id=self.redis_conn_id)
        try:
            request = MessageRequest.build(
                account_id=str(self.account_id or ""),
                recipient_id=str(self.recipient_id or ""),
                text=self.text or "",
                tag=self.tag,
                human_agent_enabled=hook.settings.human_agent_enabled,  # the connection, no call
            )
            dag = context.get("dag")
            key = default_idempotency_key(self.idempotency_key, getattr(dag, "dag_id", self.dag_id), context["run_id"])
        except RequestRefused as exc:
            hook.close()
            raise AirflowFailException(f"Message refused: {exc}") from None

        conn = open_warehouse()
        consequence = f"Nothing was sent for key {key!r}."
        try:
            with graph_api_outcomes(self, str(self.account_id), resume="execute", consequence=consequence):
                messenger = Messenger(hook, conn)
                with job_lock(conn, "outbound_messages", key):
                    message = self._send(messenger, messenger.register(request, key, context.get("run_id")))
        except (RequestRefused, MessageFailed) as exc:
            raise AirflowFailException(str(exc)) from None
        finally:
            conn.close()
            hook.close()
        self.log.info("Sent: message %s", message.message_id)
        return message.summary()

    def _send(self, messenger: Messenger, message: OutboundMessage) -> OutboundMessage:
        for attempt in range(1, self.max_unanswered + 1):
            try:
                return messenger.send(message)
            except SendOutcomeUnknown as exc:
                self.log.warning("%s (%d of %d); looking in the conversation before sending again", exc, attempt,
                                 self.max_unanswered)
                message = messenger.load(message.idempotency_key) or message
        raise AirflowException(
            f"message {message.idempotency_key!r} is still {message.state} after {self.max_unanswered} tries; the "
            "task retries, and the next attempt looks in the conversation first (nothing is sent twice)"
        )
