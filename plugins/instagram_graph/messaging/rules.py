"""What Instagram accepts for a direct message, as data and checks: :class:`MessageRequest`.

Pure: no warehouse, no HTTP. :meth:`MessageRequest.build` refuses a bad message before
anything is sent, naming the field, the problem and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from instagram_graph.jobs import RequestRefused, text_hash
from instagram_graph.validation import INSTAGRAM_ID_MAX_DIGITS, instagram_id, plain_text

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
