"""The rows of ``instagram.outbound_messages``: :class:`OutboundMessage`, and every statement
over the table (:class:`OutboundMessages`). The sender (:mod:`instagram_graph.messaging.sender`)
changes a message only through these methods and :class:`~instagram_graph.jobs.JobTable`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from instagram_graph.jobs import JobRecord, JobStatements, JobTable, RequestRefused
from instagram_graph.messaging.rules import MessageRequest


@dataclass
class OutboundMessage(JobRecord):
    """One row of ``instagram.outbound_messages``."""

    idempotency_key: str
    account_id: str
    recipient_id: str
    text: str
    text_hash: str
    state: str
    message_id: str | None
    error_message: str | None
    attempts: int
    send_started_at: datetime | None
    created_at: datetime
    tag: str | None = None
    answer_lost_at: datetime | None = None

    summary_fields: ClassVar[tuple[str, ...]] = ("idempotency_key", "account_id", "recipient_id", "state", "message_id")

    def describe(self) -> str:
        return f"message {self.idempotency_key!r} (account {self.account_id} to {self.recipient_id})"


_COLUMNS = (
    "idempotency_key, account_id, recipient_id, text, text_hash, state, message_id, error_message, attempts, "
    "send_started_at, created_at, tag, answer_lost_at"
)
_STATEMENTS = JobStatements.for_table(
    "outbound_messages", _COLUMNS, start_from="pending", in_flight="sending", started_at="send_started_at",
    done="sent",
    finish_sets="message_id = %(message_id)s, conversation_id = COALESCE(%(conversation_id)s, conversation_id), "
    "sent_at = now()",
    restart_sets="send_started_at = NULL, tag = %(tag)s",  # a failed message may start over with a tag
)
_INSERT = f"""
INSERT INTO instagram.outbound_messages (idempotency_key, account_id, recipient_id, text, text_hash, tag, dag_run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
"""
_CLAIMED = """
SELECT message_id FROM instagram.outbound_messages
 WHERE account_id = %s AND recipient_id = %s AND message_id IS NOT NULL
"""


class OutboundMessages(JobTable[OutboundMessage, MessageRequest]):
    """Registering outbound messages and recording their sends (see :class:`~instagram_graph.jobs.JobTable`)."""

    statements = _STATEMENTS
    insert_sql = _INSERT
    done_state = "sent"
    failable_states = ("pending", "sending")

    def _from_row(self, row: tuple) -> OutboundMessage:
        return OutboundMessage(*row)

    def _insert_params(self, request: MessageRequest, key: str, dag_run_id: str | None) -> tuple:
        return (key, request.account_id, request.recipient_id, request.text, request.text_hash, request.tag, dag_run_id)

    def _restart_params(self, request: MessageRequest, key: str, dag_run_id: str | None) -> dict[str, Any]:
        return {**super()._restart_params(request, key, dag_run_id), "tag": request.tag}

    def _check_same(self, message: OutboundMessage, request: MessageRequest) -> None:
        same = (
            message.text_hash == request.text_hash
            and message.account_id == request.account_id
            and message.recipient_id == request.recipient_id
            and (message.tag == request.tag or message.state == "failed")  # a failed one starts over anew
        )
        if not same:
            raise RequestRefused(
                f"The idempotency key {message.idempotency_key!r} was already used for a different message "
                f"(account {message.account_id} to {message.recipient_id}, tag {message.tag or 'none'}, state "
                f"{message.state}). A key stands "
                "for one message: use a new key for new content, or leave it empty to derive one from the run."
            )

    def _claimed_messages(self, message: OutboundMessage) -> set[str]:
        """The message ids other rows to the same recipient recorded: a lookup never takes them."""
        return {row[0] for row in self._fetch_all(_CLAIMED, (message.account_id, message.recipient_id))}
