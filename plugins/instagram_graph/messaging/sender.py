"""Sending one direct message exactly once: the states of ``instagram.outbound_messages``.

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
from datetime import timedelta

from instagram_graph.errors import (
    GraphApiError,
    RateLimitError,
    RateLimiterUnavailableError,
    TokenError,
    TransientError,
    advice_for,
)
from instagram_graph.graph_time import parse_graph_time
from instagram_graph.jobs import JobFailed, OutcomeUnsettled, pick_after
from instagram_graph.messaging.store import OutboundMessage, OutboundMessages

log = logging.getLogger(__name__)


class MessageFailed(JobFailed):
    """The message ended in ``failed``: nothing was sent. The message says why and what to do."""


class SendOutcomeUnknown(OutcomeUnsettled):
    """The send request got no answer: the message may or may not exist, and may still
    appear. Call :meth:`Messenger.send` again after ``wait_seconds``: it looks in the
    conversation (once the outcome has settled) before it sends again."""


class Messenger(OutboundMessages):
    """Moves outbound messages through their states with one hook and one connection.

    :param hook: an :class:`~instagram_graph.hooks.graph_api.InstagramGraphHook`.
    :param conn: an autocommit psycopg2 connection (see :func:`instagram_graph.jobs.open_warehouse`).
    :param lookup_slack: how far before the send attempt a found message may be dated
        (clock skew; Meta's timestamps have whole seconds).
    """

    looked_up_in = "the conversation with the recipient"
    unsettled_error = SendOutcomeUnknown
    failed_error = MessageFailed
    default_lookup_slack = timedelta(minutes=5)

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
        started = self._start(message)
        if started is None:
            return self.send(self._reload(message))
        message = started
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
            self._fail(
                message, f"Instagram refused {message.describe()}: {exc}. Nothing was sent. {_advice(exc, message)}",
                error=exc,
            )
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
        claimed = self._claimed_messages(message)
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
        message = self._finish(message, message_id=message_id, conversation_id=conversation_id)
        log.info("Sent %s as message %s", message.describe(), message_id)
        return message

def _advice(error: GraphApiError, message: OutboundMessage) -> str:
    action = "tagged_message" if message.tag else "message"
    return advice_for(error, account_id=message.account_id, action=action)
