"""Sending one direct message exactly once, over ``instagram.outbound_messages``.

States (one row per idempotency key):

``pending``  validated and recorded; not sent (or a send was refused before Meta acted)
``sending``  the send request is being (or was) made; its outcome is not recorded yet.
             With ``answer_lost_at`` set the outcome is unknown: the answer was lost
             (timeout, reset, 5xx) or the worker that sent it is gone
``sent``     Meta accepted it: ``message_id`` and ``sent_at`` recorded. Final.
``failed``   Meta refused it (outside the 24-hour window, unknown recipient, ...): the
             error is recorded and nothing was sent. Triggering the same key again starts over.

Exactly once. Meta's Send API has no idempotency key, so the row carries ours: ``sending``
and ``send_started_at`` are committed before the request leaves. When the answer is lost
the message may still reach the recipient - Meta can answer (and write) after our client
gave up - so the time is recorded (``answer_lost_at``) and nothing is looked up until
``settle_seconds`` after it (:class:`~instagram_graph.jobs.OutcomeUnsettled` says how long;
the operator defers). Whoever finds ``sending`` - the same attempt after the wait, a task
retry, a re-trigger of the key, a rerun after a killed worker - waits out the same time,
then reads the conversation with the recipient and looks for our message (same text,
from the account to the recipient, created after the attempt less
:attr:`Messenger.lookup_slack`, not claimed by another row). Found: record it. Not
found: the request never took effect; send again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from instagram_graph.errors import (
    GraphApiError,
    RateLimiterUnavailableError,
    RateLimitError,
    TokenError,
    TransientError,
    advice_for,
)
from instagram_graph.graph_time import parse_graph_time
from instagram_graph.jobs import (
    JobTable,
    OutcomeUnsettled,
    RequestRefused,
    pick_after,
    settle_sql,
    text_hash,
)
from instagram_graph.validation import INSTAGRAM_ID_MAX_DIGITS, instagram_id, plain_text

log = logging.getLogger(__name__)

MESSAGE_MAX_BYTES = 1000  # Meta: UTF-8 text of at most 1000 bytes (not characters)
RECIPIENT_ID = re.compile(rf"^[0-9]{{1,{INSTAGRAM_ID_MAX_DIGITS}}}$")
HUMAN_AGENT = "HUMAN_AGENT"  # the one message tag Instagram takes: replies up to 7 days after
MESSAGE_TAGS = (HUMAN_AGENT,)


@dataclass(frozen=True)
class MessageRequest:
    """A validated DM. Build it with :meth:`build`, which refuses bad input."""

    account_id: str
    recipient_id: str
    text: str
    tag: str | None = None

    @classmethod
    def build(
        cls,
        *,
        account_id: str,
        recipient_id: str,
        text: str,
        tag: str | None = None,
        human_agent_enabled: bool = False,
    ) -> MessageRequest:
        """Check the message before anything is sent.

        :param tag: ``HUMAN_AGENT`` or empty (``null`` from a template is empty too).
        :param human_agent_enabled: the connection says Meta granted the Human Agent
            feature (``GraphApiSettings.human_agent_enabled``); a tag is refused otherwise.
        :raises RequestRefused: naming the field, the problem and the fix.
        :raises InvalidInput: control characters (the text keeps its line breaks), or an
            account id that is not digits, naming the field and the fix.
        """
        plain_text("text", text, allow_newlines=True)
        plain_text("tag", tag)
        account_id = (account_id or "").strip()
        recipient_id = (recipient_id or "").strip()
        if not account_id:
            raise RequestRefused("account_id is empty: give the Instagram user id of the account to send from.")
        account_id = instagram_id("account_id", account_id)
        if not RECIPIENT_ID.match(recipient_id):
            raise RequestRefused(
                f"recipient_id {recipient_id!r} is not an Instagram-scoped user id (IGSID, digits only). "
                "Take it from instagram.conversations.participant_ids or instagram.messages.from_id."
            )
        if not text or not text.strip():
            raise RequestRefused("text is empty: write the message to send.")
        size = len(text.encode("utf-8"))
        if size > MESSAGE_MAX_BYTES:
            raise RequestRefused(
                f"The message is {size} bytes in UTF-8 ({len(text)} characters); Instagram takes at most "
                f"{MESSAGE_MAX_BYTES} bytes. Shorten it by {size - MESSAGE_MAX_BYTES} bytes (emoji and letters "
                "beyond basic Latin take 2 to 4 bytes each), or send two messages."
            )
        tag = _tag(tag, human_agent_enabled)
        return cls(account_id, recipient_id, text, tag)

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)


def _tag(value: str | None, human_agent_enabled: bool) -> str | None:
    tag = (value or "").strip().upper()
    if tag in ("", "NULL", "NONE"):
        return None
    if tag not in MESSAGE_TAGS:
        raise RequestRefused(
            f"tag {value!r} is not a tag Instagram takes: the only one is {HUMAN_AGENT} (a person's reply up to "
            "7 days after the recipient's last message). Leave tag empty for a reply within 24 hours."
        )
    if not human_agent_enabled:
        raise RequestRefused(
            f"tag {HUMAN_AGENT} needs Meta's Human Agent feature, and the instagram_graph connection does not say the "
            "app has it. Once Meta granted the app Human Agent (App Review), set the connection's extra field "
            "human_agent_enabled to true; until then leave tag empty (replies within 24 hours only)."
        )
    return tag


@dataclass
class OutboundMessage:
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

    def describe(self) -> str:
        return f"message {self.idempotency_key!r} (account {self.account_id} to {self.recipient_id})"

    def summary(self) -> dict[str, Any]:
        """What the task returns (XCom): ids and state, no text, no token."""
        return {
            "idempotency_key": self.idempotency_key,
            "account_id": self.account_id,
            "recipient_id": self.recipient_id,
            "state": self.state,
            "message_id": self.message_id,
        }


class MessageFailed(Exception):
    """The message ended in ``failed``: nothing was sent. The message says why and what to do."""

    def __init__(self, message: OutboundMessage, text: str, error: GraphApiError | None = None) -> None:
        self.error = error
        super().__init__(f"{text} [{message.describe()}]")


class SendOutcomeUnknown(OutcomeUnsettled):
    """The send request got no answer: the message may or may not exist, and may still
    appear. Call :meth:`Messenger.send` again after ``wait_seconds``: it looks in the
    conversation (once the outcome has settled) before it sends again."""


_COLUMNS = (
    "idempotency_key, account_id, recipient_id, text, text_hash, state, message_id, error_message, attempts, "
    "send_started_at, created_at, tag, answer_lost_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM instagram.outbound_messages WHERE idempotency_key = %s"
_INSERT = f"""
INSERT INTO instagram.outbound_messages (idempotency_key, account_id, recipient_id, text, text_hash, tag, dag_run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
"""
_RESTART = f"""
UPDATE instagram.outbound_messages
   SET state = 'pending', error_code = NULL, error_subcode = NULL, error_message = NULL, fbtrace_id = NULL,
       send_started_at = NULL, answer_lost_at = NULL, tag = %s, dag_run_id = %s
 WHERE idempotency_key = %s AND state = 'failed'
RETURNING {_COLUMNS}
"""
_START_SENDING = f"""
UPDATE instagram.outbound_messages
   SET state = 'sending', send_started_at = now(), answer_lost_at = NULL, attempts = attempts + 1
 WHERE idempotency_key = %s AND state = 'pending'
RETURNING {_COLUMNS}
"""
_MOVE = f"UPDATE instagram.outbound_messages SET state = %s WHERE idempotency_key = %s AND state = %s RETURNING {_COLUMNS}"
_SENT = f"""
UPDATE instagram.outbound_messages
   SET state = 'sent', message_id = %s, conversation_id = COALESCE(%s, conversation_id), sent_at = now(),
       error_code = NULL, error_subcode = NULL, error_message = NULL, fbtrace_id = NULL
 WHERE idempotency_key = %s AND state <> 'sent'
RETURNING {_COLUMNS}
"""
_FAIL = f"""
UPDATE instagram.outbound_messages
   SET state = 'failed', error_code = %s, error_subcode = %s, error_message = %s, fbtrace_id = %s
 WHERE idempotency_key = %s AND state IN ('pending', 'sending')
RETURNING {_COLUMNS}
"""
_CLAIMED = """
SELECT message_id FROM instagram.outbound_messages
 WHERE account_id = %s AND recipient_id = %s AND message_id IS NOT NULL
"""


class Messenger(JobTable):
    """Moves outbound messages through their states with one hook and one connection.

    :param hook: an :class:`~instagram_graph.hooks.graph_api.InstagramGraphHook`.
    :param conn: an autocommit psycopg2 connection (see :func:`instagram_graph.jobs.open_warehouse`).
    :param lookup_slack: how far before the send attempt a found message may be dated
        (clock skew; Meta's timestamps have whole seconds).
    """

    done_state = "sent"
    select_sql, insert_sql, restart_sql = _SELECT, _INSERT, _RESTART
    settle_sql = settle_sql("outbound_messages", "sending")
    looked_up_in = "the conversation with the recipient"
    unsettled_error = SendOutcomeUnknown
    default_lookup_slack = timedelta(minutes=5)

    def _from_row(self, row: tuple) -> OutboundMessage:
        return _message(row)

    def _insert_params(self, request: MessageRequest, key: str, dag_run_id: str | None) -> tuple:
        return (key, request.account_id, request.recipient_id, request.text, request.text_hash, request.tag, dag_run_id)

    def _restart_params(self, request: MessageRequest, key: str, dag_run_id: str | None) -> tuple:
        return (request.tag, dag_run_id, key)  # a failed message may start over with a tag

    def send(self, message: OutboundMessage) -> OutboundMessage:
        """Send it unless it was sent; returns the ``sent`` row.

        The caller holds the message's job lock (:func:`~instagram_graph.jobs.job_lock`).

        :raises MessageFailed: Meta refused it (recorded); nothing was sent.
        :raises SendOutcomeUnknown: no answer, now or earlier, and the outcome may still
            change: call again after its ``wait_seconds`` (it looks before sending).
        :raises GraphApiError: throttled (the row is back in ``pending``) or a failed lookup.
        """
        if message.state == "sent":
            return message
        if message.state == "failed":
            raise MessageFailed(message, message.error_message or "The message failed")
        if message.state == "sending":
            self._await_settle(message, f"The outcome of the earlier send of {message.describe()} is unknown")
            found = self._find_sent(message)
            if found is not None:
                return found
            log.warning(
                "The earlier send of %s did not take effect (the conversation does not hold it %g s after its "
                "answer was lost); sending again", message.describe(), self.settle_seconds,
            )
            message = self._move(message, "sending", "pending")
            if message.state != "pending":
                return self.send(message)
        row = self._fetch(_START_SENDING, (message.idempotency_key,))
        if row is None:
            return self.send(self._reload(message))
        message = _message(row)
        log.info("Sending %s (attempt %d)", message.describe(), message.attempts)
        try:
            sent = self.hook.send_message(message.account_id, message.recipient_id, message.text, tag=message.tag)
        except TransientError as exc:
            self._answer_lost(message, f"The send request got no usable answer ({exc})")
        except (RateLimitError, RateLimiterUnavailableError):
            self._move(message, "sending", "pending")  # refused before Meta acted
            raise
        except TokenError:
            self._move(message, "sending", "pending")  # Meta answered: not sent; resumable once reconnected
            raise
        except GraphApiError as exc:
            self._fail(message, exc)
        message_id = sent.get("message_id")
        if not message_id:
            self._answer_lost(message, "Meta accepted the message but returned no message_id")
        return self._record_sent(message, str(message_id), None)

    def _find_sent(self, message: OutboundMessage) -> OutboundMessage | None:
        """Our message in the conversation with the recipient, recorded; None if it is not there."""
        conversation = next(iter(self.hook.iter_conversations(message.account_id, user_id=message.recipient_id)), None)
        if conversation is None:
            log.info("No conversation of account %s with %s", message.account_id, message.recipient_id)
            return None
        started = message.send_started_at or message.created_at
        since = started - self.lookup_slack
        claimed = {row[0] for row in self._fetch_all(_CLAIMED, (message.account_id, message.recipient_id))}
        candidates = []
        for item in self.hook.get_messages(message.account_id, conversation["id"]):
            when = parse_graph_time(item.get("created_time"))
            sender = (item.get("from") or {}).get("id")
            recipients = {str(r.get("id")) for r in (item.get("to") or {}).get("data") or []}
            if (
                item.get("message") == message.text
                and message.recipient_id in recipients
                and sender != message.recipient_id
                and when is not None
                and when >= since
                and str(item.get("id")) not in claimed
            ):
                candidates.append((when, item))
        item = pick_after(candidates, started)
        if item is None:
            return None
        log.info("Found %s in conversation %s (message created %s): not sending it again",
                 message.describe(), conversation["id"], item.get("created_time"))
        return self._record_sent(message, str(item["id"]), str(conversation["id"]))

    def _record_sent(self, message: OutboundMessage, message_id: str, conversation_id: str | None) -> OutboundMessage:
        row = self._fetch(_SENT, (message_id, conversation_id, message.idempotency_key))
        message = _message(row) if row is not None else self._reload(message)
        log.info("Sent %s as message %s", message.describe(), message_id)
        return message

    def _fail(self, message: OutboundMessage, error: GraphApiError) -> NoReturn:
        text = f"Instagram refused {message.describe()}: {error}. Nothing was sent. {_advice(error, message)}"
        row = self._fetch(
            _FAIL, (error.code, error.subcode, text, error.fbtrace_id, message.idempotency_key)
        )
        message = _message(row) if row is not None else self._reload(message)
        log.error("%s", text)
        raise MessageFailed(message, text, error)

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

    def _move(self, message: OutboundMessage, from_state: str, to_state: str) -> OutboundMessage:
        row = self._fetch(_MOVE, (to_state, message.idempotency_key, from_state))
        return _message(row) if row is not None else self._reload(message)



def _message(row: tuple) -> OutboundMessage:
    return OutboundMessage(*row)


def _advice(error: GraphApiError, message: OutboundMessage) -> str:
    action = "tagged_message" if getattr(message, "tag", None) else "message"
    return advice_for(error, account_id=message.account_id, action=action)
