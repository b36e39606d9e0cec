"""The publish and DM operators called directly (another DAG's task, a script): bad input
fails at once - AirflowFailException, so Airflow does not retry - naming the field, before
any call to the simulator and before any row."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from instagram_graph.operators.messaging import InstagramSendMessageOperator
from instagram_graph.operators.publish import InstagramPublishOperator
from instagram_graph.publishing import ALT_TEXT_MAX_CHARS, AUDIO_NAME_MAX_CHARS
from instagram_graph.validation import InvalidInput

IMG = "https://cdn.example.com/posts/sunset.jpg"
VID = "https://cdn.example.com/posts/clip.mp4"
CONTEXT = {"run_id": "manual__2026-01-01T00:00:00+00:00"}
NOT_HTTPS = ("is not an HTTPS URL. Instagram downloads media itself, only from public https:// URLs: host the "
             "file on HTTPS and give that URL.")


@pytest.fixture
def graph_connection(sim, monkeypatch, token_store, redis_client) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT",
                       json.dumps({"conn_type": "instagram_graph", "host": sim.base_url}))


def no_trace(sim, warehouse) -> None:
    assert sim.requests() == [], "no call reached Meta"
    assert warehouse("SELECT (SELECT count(*) FROM instagram.publish_jobs) + "
                     "(SELECT count(*) FROM instagram.outbound_messages)") == [(0,)], "no row was written"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"caption": "Hello\x00"}, "caption contains a control character (NUL) at position 6"),
        ({"account_id": "me"}, "account_id 'me' is not an Instagram id"),
        ({"caption": "@a @b @c @d @e @f @g @h @i @j @k @l @m @n @o @p @q @r @s @t @u"}, "mentions 21 accounts"),
        ({"media_type": "REELS", "media_url": VID, "thumb_offset": "86400000"}, "thumb_offset is more than 900000"),
        ({"wait_timeout_minutes": "99999"}, "wait_timeout_minutes is 99999: it must be between 1 and 1440"),
        ({"wait_timeout_minutes": "1e400"}, "wait_timeout_minutes is '1e400': give whole minutes from 1 to 1440"),
        ({"idempotency_key": "a\x1bb"}, "idempotency_key contains a control character (U+001B)"),
        ({"media_url": "https://cdn.example.com/a\x00.jpg"}, "media_url contains a control character (NUL)"),
        ({"idempotency_key": "post\x07"}, "idempotency_key contains a control character (U+0007)"),
        # Rules the trigger form states in words only (a jsonschema pattern would show a regex):
        ({"media_url": "http://cdn.example.com/a.jpg"},
         f"media_url 'http://cdn.example.com/a.jpg' {NOT_HTTPS}"),
        ({"media_type": "CAROUSEL", "media_url": "", "children": json.dumps([IMG, "http://cdn.example.com/b.jpg"])},
         f"children item 2 'http://cdn.example.com/b.jpg' {NOT_HTTPS}"),
        ({"media_type": "REELS", "media_url": VID, "cover_url": "http://cdn.example.com/c.jpg"},
         f"cover_url 'http://cdn.example.com/c.jpg' {NOT_HTTPS}"),
        ({"account_id": "abc"}, "account_id 'abc' is not an Instagram id: ids are digits only (e.g. "
         "17841400000000001). Copy it from `instagram-graph accounts list`"),
        ({"location_id": "Paris"}, "location_id 'Paris' is not a location id: give the numeric id of the Facebook "
         "Page of the place"),
        # Lengths the form also shows, from the same constants:
        ({"alt_text": "a" * (ALT_TEXT_MAX_CHARS + 1)}, f"alt_text is {ALT_TEXT_MAX_CHARS + 1} characters long; at "
         f"most {ALT_TEXT_MAX_CHARS} are allowed. Shorten it by 1"),
        ({"media_type": "REELS", "media_url": VID, "audio_name": "a" * (AUDIO_NAME_MAX_CHARS + 1)},
         f"audio_name is {AUDIO_NAME_MAX_CHARS + 1} characters long; at most {AUDIO_NAME_MAX_CHARS} are allowed"),
    ],
    ids=["nul-in-caption", "account-me", "21-mentions", "huge-thumb-offset", "huge-wait-timeout", "wait-timeout-1e400",
         "esc-in-key", "nul-in-url", "bel-in-key", "http-url", "http-item", "http-cover", "account-not-digits",
         "location-not-digits", "long-alt-text", "long-audio-name"],
)
def test_the_publish_operator_refuses_bad_arguments_at_once(graph_connection, sim, warehouse, account, fields,
                                                            expected) -> None:
    operator = InstagramPublishOperator(task_id="publish", **{"account_id": account["id"], "media_type": "IMAGE",
                                                               "media_url": IMG, **fields})
    sim.clear_requests()
    with pytest.raises(AirflowFailException) as refused:
        operator.execute(CONTEXT)
    assert expected in str(refused.value)
    no_trace(sim, warehouse)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"text": "Hi\x00"}, "text contains a control character (NUL) at position 3"),
        ({"account_id": "17841'"}, "account_id \"17841'\" is not an Instagram id"),
        ({"tag": "\x00"}, "tag contains a control character (NUL)"),
        ({"idempotency_key": "k\x7f"}, "idempotency_key contains a control character (U+007F)"),
        # Rules the trigger form states in words only (a jsonschema pattern would show a regex):
        ({"account_id": "abc"}, "account_id 'abc' is not an Instagram id: ids are digits only"),
        ({"recipient_id": "user-42"}, "recipient_id 'user-42' is not an Instagram-scoped user id (IGSID, digits "
         "only). Take it from instagram.conversations.participant_ids or instagram.messages.from_id."),
    ],
    ids=["nul-in-text", "quote-in-account", "nul-in-tag", "del-in-key", "account-not-digits", "recipient-not-digits"],
)
def test_the_dm_operator_refuses_bad_arguments_at_once(graph_connection, sim, warehouse, account, fields,
                                                       expected) -> None:
    to = next(c for c in sim.truth("conversations", account_id=account["id"]) if c["inside_window"])
    operator = InstagramSendMessageOperator(task_id="send", **{"account_id": account["id"],
                                                               "recipient_id": to["user_id"], "text": "Hi", **fields})
    sim.clear_requests()
    with pytest.raises(AirflowFailException) as refused:
        operator.execute(CONTEXT)
    assert expected in str(refused.value)
    no_trace(sim, warehouse)


def test_a_dag_author_s_out_of_range_numbers_fail_when_the_dag_is_parsed() -> None:
    for build in (lambda **kw: InstagramPublishOperator(task_id="p", account_id="1", media_type="IMAGE", **kw),
                  lambda **kw: InstagramSendMessageOperator(task_id="s", account_id="1", recipient_id="2", text="x",
                                                            **kw)):
        with pytest.raises(InvalidInput, match="max_unanswered is 1000: it must be between 1 and 10"):
            build(max_unanswered=1000)
    with pytest.raises(InvalidInput, match=r"poll_intervals .*at most 3600 seconds"):
        InstagramPublishOperator(task_id="p", account_id="1", media_type="IMAGE", poll_intervals=[5, 1e9])
