"""Sending one direct message exactly once.

- :mod:`~instagram_graph.messaging.rules`: what Instagram accepts (MessageRequest and its
  limits); pure, no warehouse, no HTTP.
- :mod:`~instagram_graph.messaging.store`: the rows of ``instagram.outbound_messages`` and
  every statement over them.
- :mod:`~instagram_graph.messaging.sender`: sending (Messenger), and looking in the
  conversation when an answer was lost.
"""

from instagram_graph.messaging.rules import HUMAN_AGENT, MESSAGE_MAX_BYTES, MESSAGE_TAGS, MessageRequest
from instagram_graph.messaging.sender import MessageFailed, Messenger, SendOutcomeUnknown
from instagram_graph.messaging.store import OutboundMessage

__all__ = [
    "HUMAN_AGENT",
    "MESSAGE_MAX_BYTES",
    "MESSAGE_TAGS",
    "MessageFailed",
    "MessageRequest",
    "Messenger",
    "OutboundMessage",
    "SendOutcomeUnknown",
]
