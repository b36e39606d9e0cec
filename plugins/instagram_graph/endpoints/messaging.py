"""Direct messages: conversations, their messages, and sending a text (each on its messaging budget).

The inbox is the account's own with Instagram Login (``/{ig-user-id}/conversations``) and
its Facebook Page's with Facebook Login (``/{page-id}/conversations?platform=instagram``,
``POST /{page-id}/messages``, with the Page token): :meth:`AccountTokens.inbox` says which.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from instagram_graph.endpoints.paging import Paging, page_of
from instagram_graph.models import Conversation, Message, SentMessage

CONVERSATION_FIELDS = "id,updated_time"
MESSAGE_FIELDS = "id,created_time,from,to,message"


class MessagingEndpoints(Paging):
    """The account's inbox: conversations and messages (``conversations`` budget), sends (``send``)."""

    def iter_conversations(self, account_id: str, *, user_id: str | None = None) -> Iterator[Conversation]:
        """Conversations, most recently updated first; ``user_id`` (an IGSID) keeps only
        the conversation with that person, so finding it costs one call."""
        params = {"platform": "instagram", "fields": CONVERSATION_FIELDS, "user_id": user_id}
        return cast(
            Iterator[Conversation],
            self.paginate(
                account_id, f"{self.client.tokens.inbox(account_id)}/conversations", params=params, limit=50,
                budget="conversations",
            ),
        )

    def get_messages(self, account_id: str, conversation_id: str) -> list[Message]:
        """Every message of a conversation (first page by expansion, the rest by edge)."""
        payload = self.client.call(
            account_id, "GET", conversation_id, params={"fields": f"messages{{{MESSAGE_FIELDS}}}"},
            budget="conversations",
        )
        first = page_of(payload.get("messages") or {})
        messages = list(first.data)
        if first.after:
            edge = self.paginate(
                account_id, f"{conversation_id}/messages", params={"fields": MESSAGE_FIELDS, "after": first.after},
                budget="conversations",
            )
            messages.extend(edge)
        return cast(list[Message], messages)

    def send_message(self, account_id: str, recipient_id: str, text: str, *, tag: str | None = None) -> SentMessage:
        """Send a text DM. Never retried blindly: a lost answer may mean it was sent.

        :param tag: ``HUMAN_AGENT`` for a person's reply up to 7 days after the recipient's
            last message (Meta must have granted the app the Human Agent feature); sent as
            ``"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"``. None: a plain reply,
            within 24 hours.
        """
        body: dict[str, Any] = {"recipient": {"id": recipient_id}, "message": {"text": text}}
        if tag:
            body.update(messaging_type="MESSAGE_TAG", tag=tag)
        payload = self.client.call(
            account_id, "POST", f"{self.client.tokens.inbox(account_id)}/messages", json=body, idempotent=False,
            budget="send",
        )
        return cast(SentMessage, payload)
