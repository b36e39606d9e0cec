"""messaging.rules without a warehouse or a simulator: every refusal names the field, the
problem and the fix. (tests/integration/test_messaging.py sends the messages that pass.)"""

from __future__ import annotations

import pytest

from instagram_graph.jobs import RequestRefused
from instagram_graph.messaging.rules import MessageRequest
from instagram_graph.validation import InvalidInput


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"recipient_id": "123", "text": ""}, "text is empty"),
        ({"recipient_id": "123", "text": "   "}, "text is empty"),
        ({"recipient_id": "123", "text": "x" * 1001}, r"The message is 1001 bytes in UTF-8 \(1001 characters\)"),
        ({"recipient_id": "123", "text": "é" * 201 + "x" * 798},
         r"The message is 1200 bytes in UTF-8 \(999 characters\); Instagram takes at most 1000 bytes\. "
         "Shorten it by 200 bytes"),
        ({"recipient_id": "123", "text": "🙂" * 251}, r"1004 bytes in UTF-8 \(251 characters\)"),
        ({"recipient_id": "123", "text": "hi", "tag": "CONFIRMED_EVENT_UPDATE"},
         "the only one is HUMAN_AGENT"),
        ({"recipient_id": "123", "text": "hi", "tag": "HUMAN_AGENT"},
         "set the connection's extra field human_agent_enabled to true"),
        ({"recipient_id": "@someone", "text": "hi"}, "is not an Instagram-scoped user id"),
        ({"recipient_id": "", "text": "hi"}, "is not an Instagram-scoped user id"),
    ],
)
def test_bad_messages_are_refused_naming_the_problem(fields, expected) -> None:
    with pytest.raises(RequestRefused, match=expected):
        MessageRequest.build(account_id="17841400000000001", **fields)


def test_1000_bytes_are_allowed_and_a_tag_only_when_the_connection_allows_it() -> None:
    assert len(MessageRequest.build(account_id="1", recipient_id="2", text="x" * 1000).text) == 1000
    assert len(MessageRequest.build(account_id="1", recipient_id="2", text="é" * 500).text) == 500
    assert MessageRequest.build(account_id="1", recipient_id="2", text="hi", tag="").tag is None
    assert MessageRequest.build(account_id="1", recipient_id="2", text="hi", tag="null").tag is None
    tagged = MessageRequest.build(account_id="1", recipient_id="2", text="hi", tag="human_agent",
                                  human_agent_enabled=True)
    assert tagged.tag == "HUMAN_AGENT"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"text": "Hello\x00there"}, "text contains a control character (NUL) at position 6"),
        ({"text": "Bell\x07"}, "text contains a control character (U+0007)"),
        ({"tag": "HUMAN_AGENT\x00"}, "tag contains a control character (NUL)"),
        ({"account_id": "not-a-number"}, "account_id 'not-a-number' is not an Instagram id"),
        ({"account_id": "1784'; DROP TABLE x;--"}, "is not an Instagram id: ids are digits only"),
    ],
)
def test_control_characters_and_non_digit_account_ids_are_refused_naming_the_field(fields, expected) -> None:
    values = {"account_id": "17841400000000001", "recipient_id": "123", "text": "hi", **fields}
    with pytest.raises(InvalidInput) as refused:
        MessageRequest.build(**values)
    assert expected in str(refused.value)


def test_a_text_keeps_its_line_breaks() -> None:
    assert MessageRequest.build(account_id="1", recipient_id="2", text="Hi,\r\n\tsee you").text == "Hi,\r\n\tsee you"
