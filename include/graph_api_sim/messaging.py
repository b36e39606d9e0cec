"""Conversations and the messages of this run, with the 24-hour messaging window.

A business may answer only within 24 h of the customer's last message, measured on the
simulator clock; outside it Meta answers HTTP 403, code 10, subcode 2534022, and so does
the simulator. The HUMAN_AGENT tag stretches the window to 7 days, but only for apps
approved for the Human Agent feature (setting ``human_agent_approved``, off by default:
the harsher reading). The Send API's request is checked in ``handlers/messaging.py``.
"""

from __future__ import annotations

from typing import Any

from . import catalog
from .clock import SimClock, iso
from .config import Settings
from .errors import GraphError
from .ids import IdFactory
from .runtime_nodes import RuntimeNodes
from .world import Account, Conversation, Message, World


class Inbox:
    """Messages sent or received during this run, on top of the seeded conversations."""

    def __init__(self, world: World, clock: SimClock, ids: IdFactory, settings: Settings,
                 nodes: RuntimeNodes) -> None:
        self._world = world
        self._clock = clock
        self._ids = ids
        self._settings = settings
        self._nodes = nodes
        self._added: dict[str, list[Message]] = {}  # conversation id -> new messages, oldest first
        self.sent: list[dict[str, Any]] = []

    def messages(self, conversation: Conversation) -> list[Message]:
        """Newest first, as Meta lists them."""
        return [*reversed(self._added.get(conversation.id, ())), *reversed(conversation.messages)]

    def updated_time(self, conversation: Conversation) -> int:
        added = self._added.get(conversation.id)
        return added[-1].created_time if added else conversation.messages[-1].created_time

    def last_user_message_at(self, conversation: Conversation) -> int:
        added = [m.created_time for m in self._added.get(conversation.id, ()) if m.from_id == conversation.user_id]
        return max([conversation.last_user_message_at, *added])

    def conversations(self, account: Account) -> list[Conversation]:
        return sorted(account.conversations, key=lambda c: (self.updated_time(c), c.id), reverse=True)

    def _append(self, conversation: Conversation, *, from_user: bool, text: str) -> Message:
        owner = (conversation.owner_id, conversation.owner_username)
        user = (conversation.user_id, conversation.user_username)
        sender, recipient = (user, owner) if from_user else (owner, user)
        message = Message(
            id=self._ids.opaque(f"ig_item:1:IGMessageThread:{conversation.owner_id}:{conversation.user_id}"),
            conversation_id=conversation.id, owner_id=conversation.owner_id,
            created_time=int(self._clock.now()), from_id=sender[0], from_username=sender[1],
            to_id=recipient[0], to_username=recipient[1], text=text,
        )
        self._added.setdefault(conversation.id, []).append(message)
        self._nodes.add(message)
        return message

    def send(self, account: Account, recipient_id: str, text: str, tag: str | None) -> Message:
        if tag is not None and tag not in catalog.MESSAGE_TAGS:
            raise GraphError("message_tag_invalid", allowed=", ".join(catalog.MESSAGE_TAGS))
        if tag == "HUMAN_AGENT" and not self._settings.human_agent_approved:
            raise GraphError("human_agent_not_approved")
        conversation = self._world.conversations_by_user.get((account.id, recipient_id))
        if conversation is None:
            raise GraphError("recipient_unknown")
        window = catalog.HUMAN_AGENT_WINDOW_SECONDS if tag == "HUMAN_AGENT" else catalog.MESSAGING_WINDOW_SECONDS
        if self._clock.now() - self.last_user_message_at(conversation) > window:
            raise GraphError("outside_window")
        message = self._append(conversation, from_user=False, text=text)
        self.sent.append({"account_id": account.id, "message_id": message.id, "conversation_id": conversation.id,
                          "recipient_id": recipient_id, "text": text, "created_time": iso(message.created_time)})
        return message

    def receive(self, conversation: Conversation, text: str) -> Message:
        """Control endpoint: the customer writes (which reopens the 24 h window)."""
        return self._append(conversation, from_user=True, text=text)
