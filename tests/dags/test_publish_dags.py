"""instagram_publish, run with `airflow dags test` against the simulator.

Each post type lands exactly once (the simulator's truth/published), waits are deferred
(the trigger runs in line), failures end the run with the reason recorded, and no token
reaches any task log.
"""

from __future__ import annotations

import json

import pytest

from instagram_graph.jobs import MAX_IDEMPOTENCY_KEY_LENGTH
from instagram_graph.operators.publish import (
    DEFAULT_WAIT_TIMEOUT_MINUTES,
    MAX_WAIT_TIMEOUT_MINUTES,
    MIN_WAIT_TIMEOUT_MINUTES,
)
from instagram_graph.publishing import (
    ALT_TEXT_MAX_CHARS,
    AUDIO_NAME_MAX_CHARS,
    CAPTION_MAX_CHARS,
    CAPTION_MAX_HASHTAGS,
    CAPTION_MAX_MENTIONS,
    CAROUSEL_MAX_ITEMS,
    CAROUSEL_MIN_ITEMS,
    LOCATION_ID_MAX_DIGITS,
    MEDIA_TYPES,
    THUMB_OFFSET_MAX_MS,
    USER_TAGS_MAX,
)
from instagram_graph.validation import INSTAGRAM_ID_MAX_DIGITS

from .conftest import first_of, secrets_of

IMG = "https://cdn.example.com/posts/sunset.jpg"
VID = "https://cdn.example.com/posts/clip.mp4"
PUBLISH_PATH = r"^/\d+/media_publish$"
DEFERRED = "[DAG TEST] running trigger in line"
PUBLISH_TASK_RUNS = "[DAG TEST] running task <TaskInstance: instagram_publish.publish "  # attempts of that one task


def assert_no_token(output: str, sim) -> None:
    for secret in secrets_of(sim):
        assert secret not in output, "a token or an app secret reached a task log"


def publish(run_dag, env: dict[str, str] | None = None, **conf):
    return run_dag("instagram_publish", conf=json.dumps(conf), env=env)


def jobs(warehouse) -> list[tuple]:
    return warehouse(
        "SELECT idempotency_key, state, media_type, media_id, permalink, error_subcode, error_message, attempts "
        "FROM instagram.publish_jobs ORDER BY job_id"
    )


IMAGE_POST = ({"media_type": "IMAGE", "media_url": IMG, "caption": "Sunset #beach", "alt_text": "An orange sunset"},
              "FEED", "IMAGE", 1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("login", "conf", "product_type", "media_type", "waits"),
    [
        ("instagram", *IMAGE_POST),
        ("instagram", {"media_type": "REELS", "media_url": VID, "caption": "A reel #reels", "share_to_feed": False,
                       "thumb_offset": 1500, "audio_name": "Theme", "user_tags": [{"username": "jane.doe"}],
                       "location_id": "110843418940484"}, "REELS", "VIDEO", 1),
        ("instagram", {"media_type": "CAROUSEL", "children": [IMG, VID, IMG], "caption": "Three slides"}, "FEED",
         "CAROUSEL_ALBUM", 2),
        # Facebook Login: the same container calls on graph.facebook.com; one kind stands for all.
        ("facebook", *IMAGE_POST),
    ],
    # A story (only the required fields) is published from the UI form by tests/deploy.
    ids=["image", "reel", "carousel", "facebook-image"],
)
def test_each_kind_of_post_lands_exactly_once(run_dag, sim, warehouse, login, conf, product_type, media_type, waits):
    account = first_of(sim, login)
    sim.clear_requests()
    result = publish(run_dag, account_id=account["id"], **conf)
    assert result.returncode == 0, result.output[-4000:]

    (post,) = sim.truth("published", account_id=account["id"])
    assert (post["media_product_type"], post["media_type"]) == (product_type, media_type)
    ((key, state, requested, media_id, permalink, _, _, attempts),) = jobs(warehouse)
    assert (state, requested, media_id, attempts) == ("published", conf["media_type"], post["media_id"], 1)
    assert key.startswith("instagram_publish:manual__"), "an empty key is derived from the run"
    assert permalink and permalink.startswith("https://www.instagram.com/")
    assert result.output.count(DEFERRED) == waits, "each processing wait deferred to the trigger"
    assert len(sim.requests(method="POST", path=PUBLISH_PATH)) == 1
    if conf["media_type"] == "REELS":  # the form's reels options reach Meta's container
        (container,) = sim.truth("containers", account_id=account["id"])
        assert container["options"] == {"share_to_feed": False, "thumb_offset": 1500, "audio_name": "Theme",
                                        "user_tags": [{"username": "jane.doe"}], "location_id": "110843418940484"}
    assert_no_token(result.output, sim)


@pytest.mark.slow
def test_video_is_refused_before_the_run_and_before_any_call(run_dag, sim, warehouse, instagram_account):
    account = instagram_account
    sim.clear_requests()
    result = publish(run_dag, account_id=account["id"], media_type="VIDEO", media_url=VID, caption="A clip")
    assert result.returncode != 0
    assert "'VIDEO' is not one of ['IMAGE', 'REELS', 'STORIES', 'CAROUSEL']" in result.output
    assert sim.requests() == [], "no call reached Meta"
    assert jobs(warehouse) == []


@pytest.mark.slow
def test_a_spam_refusal_fails_the_run_at_once_and_pauses_no_account(run_dag, sim, warehouse, account, redis_client):
    sim.add_fault(method="POST", path=PUBLISH_PATH, kind="error", code=4, subcode=2207051, times=1)
    result = publish(run_dag, account_id=account["id"], media_type="IMAGE", media_url=IMG, caption="Buy now")
    assert result.returncode != 0
    assert "restricted this action as spam" in result.output
    ((_, state, _, _, _, subcode, message, _),) = jobs(warehouse)
    assert (state, subcode) == ("failed", 2207051) and "Nothing was published" in message
    assert result.output.count(PUBLISH_TASK_RUNS) == 2, "one attempt (and its resumption): no retry"
    assert len(sim.requests(method="POST", path=PUBLISH_PATH)) == 1
    assert list(redis_client.scan_iter("ig:throttle:*")) == [], "a refusal pauses nothing"

    other = next(a for a in sim.accounts() if a["id"] != account["id"])
    again = publish(run_dag, account_id=other["id"], media_type="IMAGE", media_url=IMG, caption="Fine")
    assert again.returncode == 0, again.output[-4000:]
    assert len(sim.truth("published", account_id=other["id"])) == 1
    assert_no_token(result.output + again.output, sim)


@pytest.mark.slow
def test_a_lost_publish_answer_yields_one_post_and_a_rerun_of_the_key_none(
    run_dag, graph_connection, sim, warehouse, account
):
    conf = {"account_id": account["id"], "media_type": "IMAGE", "media_url": IMG, "caption": "Exactly once",
            "idempotency_key": "campaign-42/post-1"}
    sim.add_fault(method="POST", path=PUBLISH_PATH, kind="commit_then_drop", times=1)
    sim.clear_requests()
    result = publish(run_dag, env=graph_connection(timeout=2, settle_seconds=3), **conf)
    assert result.returncode == 0, result.output[-4000:]
    assert "looked up in the container's status in 3 s" in result.output
    assert result.output.count(DEFERRED) == 2, "processing, then the settle time after the lost answer"

    (post,) = sim.truth("published", account_id=account["id"])
    assert [(key, state, media_id) for key, state, _, media_id, *_ in jobs(warehouse)] == [
        ("campaign-42/post-1", "published", post["media_id"])]
    assert len(sim.requests(method="POST", path=PUBLISH_PATH)) == 1, "Meta saw one publish request"

    sim.clear_requests()
    again = publish(run_dag, **conf)  # a second run with the same key: a retry by hand
    assert again.returncode == 0, again.output[-4000:]
    assert len(sim.truth("published", account_id=account["id"])) == 1
    assert sim.requests(method="POST") == [], "the recorded job answered; nothing was created or published"
    assert_no_token(result.output + again.output, sim)


@pytest.mark.slow
def test_an_error_container_ends_the_run_with_metas_reason(run_dag, sim, warehouse, account):
    result = publish(run_dag, account_id=account["id"], media_type="IMAGE",
                     media_url="https://cdn.example.com/error/broken.jpg")
    assert result.returncode != 0
    ((_, state, _, media_id, _, subcode, message, _),) = jobs(warehouse)
    assert (state, media_id, subcode) == ("failed", None, 2207052)
    assert "Media download has failed" in message and "Nothing was published" in message
    assert "Media download has failed" in result.output
    assert result.output.count(PUBLISH_TASK_RUNS) == 2, "one attempt (and its resumption): no retry"
    assert sim.truth("published", account_id=account["id"]) == []
    assert sim.requests(method="POST", path=PUBLISH_PATH) == []
    assert_no_token(result.output, sim)


@pytest.mark.slow
def test_a_used_up_quota_refuses_cleanly_before_any_container(run_dag, sim, warehouse, account):
    sim.configure(publish_quota=0)
    sim.clear_requests()
    result = publish(run_dag, account_id=account["id"], media_type="REELS", media_url=VID)
    assert result.returncode != 0
    assert "has used its publishing quota: 0 of 0 posts in the last 24 h" in result.output
    ((_, state, _, _, _, subcode, _, _),) = jobs(warehouse)
    assert (state, subcode) == ("failed", 2207042)
    assert sim.requests(method="POST") == [], "no container was made"
    assert result.output.count(PUBLISH_TASK_RUNS) == 1, "no retry"
    assert_no_token(result.output, sim)


# --- the form: bad conf never starts a run ------------------------------------------------------


@pytest.fixture(scope="module")
def publish_dag():
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "instagram_publish.py"))
    assert bag.import_errors == {}
    return bag.dags["instagram_publish"]


def _validate(dag, conf: dict) -> None:
    """What creating a run does with its conf (UI form, REST API, `airflow dags test -c`)."""
    from airflow.serialization.serialized_objects import DagSerialization

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    scheduler_dag.params.deep_merge(conf).validate()


@pytest.mark.parametrize(
    "conf",
    [
        {"media_type": "IMAGE", "media_url": IMG},  # no account
        {"account_id": "1", "media_type": "GIF", "media_url": IMG},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG, "caption": "x" * (CAPTION_MAX_CHARS + 1)},
        {"account_id": "1", "media_type": "CAROUSEL", "children": [IMG] * (CAROUSEL_MAX_ITEMS + 1)},
        {"account_id": "1", "media_type": "VIDEO", "media_url": VID},
        {"account_id": "1", "media_type": "REELS", "media_url": VID, "thumb_offset": -5},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG, "user_tags": [{"x": 0.5, "y": 0.5}]},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG,
         "user_tags": [{"username": "jane", "x": 2, "y": 0.5}]},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG,
         "user_tags": [{"username": f"user{n}", "x": 0.5, "y": 0.5} for n in range(USER_TAGS_MAX + 1)]},
        {"account_id": "1" * (INSTAGRAM_ID_MAX_DIGITS + 1), "media_type": "IMAGE", "media_url": IMG},
        {"account_id": "1", "media_type": "REELS", "media_url": VID, "thumb_offset": THUMB_OFFSET_MAX_MS + 1},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG,
         "wait_timeout_minutes": MAX_WAIT_TIMEOUT_MINUTES + 1},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG, "location_id": 10**40},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG, "location_id": "1" * (LOCATION_ID_MAX_DIGITS + 1)},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG, "alt_text": "a" * (ALT_TEXT_MAX_CHARS + 1)},
        {"account_id": "1", "media_type": "REELS", "media_url": VID, "audio_name": "a" * (AUDIO_NAME_MAX_CHARS + 1)},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG,
         "idempotency_key": "k" * (MAX_IDEMPOTENCY_KEY_LENGTH + 1)},
    ],
    ids=["no-account", "unknown-type", "long-caption", "too-many-items", "video", "negative-thumb-offset",
         "tag-without-username", "tag-off-the-image", "too-many-tags", "long-account-id", "huge-thumb-offset",
         "huge-wait-timeout", "huge-location-number", "long-location-id", "long-alt-text", "long-audio-name",
         "long-idempotency-key"],
)
def test_the_form_refuses_bad_conf_before_a_run_exists(publish_dag, conf):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError) as refused:
        _validate(publish_dag, conf)
    assert "'pattern'" not in str(refused.value)


@pytest.mark.parametrize(
    "conf",
    [
        {"account_id": "1", "media_type": "IMAGE", "media_url": "http://cdn.example.com/a.jpg"},
        {"account_id": "1", "media_type": "CAROUSEL", "children": [IMG, "http://cdn.example.com/b.jpg"]},
        {"account_id": "1", "media_type": "REELS", "media_url": VID, "cover_url": "http://cdn.example.com/c.jpg"},
        {"account_id": "abc", "media_type": "IMAGE", "media_url": IMG},
        {"account_id": "1", "media_type": "IMAGE", "media_url": IMG, "location_id": "Paris"},
    ],
    ids=["http-url", "http-item", "http-cover", "account-not-digits", "location-not-digits"],
)
def test_the_form_leaves_rules_written_in_words_to_the_task(publish_dag, conf):
    """No regex reaches the user: the task refuses these in words, before any call
    (tests/integration/test_write_operator_input.py)."""
    _validate(publish_dag, conf)


def test_the_form_takes_a_good_carousel(publish_dag):
    _validate(publish_dag, {"account_id": "1", "media_type": "CAROUSEL", "children": [IMG, VID], "caption": "Hi"})


def test_optional_fields_admit_null_so_the_form_does_not_require_them(publish_dag):
    required = {"account_id", "media_type", "wait_timeout_minutes"}
    for name in publish_dag.params:
        if name not in required:
            schema = publish_dag.params.get_param(name).schema
            assert "null" in schema["type"], f"{name} would be marked required in the form"
    _validate(publish_dag, {"account_id": "1", "media_type": "IMAGE", "media_url": IMG})
    _validate(publish_dag, {"account_id": "1", "media_type": "REELS", "media_url": VID, "share_to_feed": True,
                            "cover_url": "https://cdn.example.com/c.jpg", "audio_name": "Theme",
                            "user_tags": [{"username": "jane.doe"}], "location_id": "123", "caption": None})


def _patterns(schema, where: str) -> list[str]:
    """Where a jsonschema ``pattern`` (or ``patternProperties``) sits in ``schema``, at any depth."""
    found = []
    if isinstance(schema, dict):
        found += [f"{where}.{key}" for key in schema if key in ("pattern", "patternProperties")]
        for key, value in schema.items():
            found += _patterns(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for number, value in enumerate(schema):
            found += _patterns(value, f"{where}[{number}]")
    return found


def test_no_param_of_any_dag_has_a_pattern():
    """jsonschema's message for a pattern is the raw regex, and Airflow shows it as it is."""
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert bag.import_errors == {}
    assert {"instagram_publish", "instagram_send_message", "instagram_token_refresh"} <= set(bag.dag_ids)
    assert _patterns({"pattern": "x", "items": [{"pattern": "y"}]}, "probe") == ["probe.pattern",
                                                                                 "probe.items[0].pattern"]
    found = [
        place
        for dag in bag.dags.values()
        for name in dag.params
        for place in _patterns(dag.params.get_param(name).schema, f"{dag.dag_id}.{name}")
    ]
    assert found == []


def test_the_form_limits_are_the_limits_the_code_enforces(publish_dag):
    def schema(name: str) -> dict:
        return publish_dag.params.get_param(name).schema

    assert schema("account_id")["maxLength"] == INSTAGRAM_ID_MAX_DIGITS
    assert schema("media_type")["enum"] == list(MEDIA_TYPES)
    assert schema("children")["maxItems"] == CAROUSEL_MAX_ITEMS
    assert schema("caption")["maxLength"] == CAPTION_MAX_CHARS
    assert schema("alt_text")["maxLength"] == ALT_TEXT_MAX_CHARS
    assert schema("thumb_offset")["maximum"] == THUMB_OFFSET_MAX_MS
    assert schema("audio_name")["maxLength"] == AUDIO_NAME_MAX_CHARS
    assert schema("user_tags")["maxItems"] == USER_TAGS_MAX
    assert schema("user_tags")["items"]["properties"]["item"]["maximum"] == CAROUSEL_MAX_ITEMS
    assert schema("location_id")["maxLength"] == LOCATION_ID_MAX_DIGITS
    assert schema("idempotency_key")["maxLength"] == MAX_IDEMPOTENCY_KEY_LENGTH
    wait = publish_dag.params.get_param("wait_timeout_minutes")
    assert (wait.value, wait.schema["minimum"], wait.schema["maximum"]) == (
        DEFAULT_WAIT_TIMEOUT_MINUTES, MIN_WAIT_TIMEOUT_MINUTES, MAX_WAIT_TIMEOUT_MINUTES)
    # The numbers the descriptions show are the same constants.
    assert f"At most {CAPTION_MAX_CHARS} characters, {CAPTION_MAX_HASHTAGS} hashtags and {CAPTION_MAX_MENTIONS} " \
        "@mentions" in publish_dag.params.get_param("caption").description
    assert f"{CAROUSEL_MIN_ITEMS} to {CAROUSEL_MAX_ITEMS} https:// URLs" in \
        publish_dag.params.get_param("children").description
    assert f"(0 to {THUMB_OFFSET_MAX_MS})" in publish_dag.params.get_param("thumb_offset").description
    assert f"({MIN_WAIT_TIMEOUT_MINUTES} to {MAX_WAIT_TIMEOUT_MINUTES} minutes)" in wait.description


# --- bad input from the conf that the form cannot see: refused by the task, at once -----------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # One run through `airflow dags test`; every other refusal is checked on the operator
        # (tests/integration/test_write_operator_input.py) and in the form (above).
        ({"caption": "Spring sale\u0000"}, "caption contains a control character (NUL) at position 12"),
    ],
    ids=["nul-in-caption"],
)
def test_bad_input_from_the_conf_is_refused_before_any_call_naming_the_field(
    run_dag, sim, warehouse, instagram_account, fields, expected
):
    account = instagram_account
    sim.clear_requests()
    result = publish(run_dag, **{"account_id": account["id"], "media_type": "IMAGE", "media_url": IMG, **fields})
    assert result.returncode != 0
    assert expected in result.output, result.output[-3000:]
    assert sim.requests() == [] and jobs(warehouse) == [], "refused before any call or row"
    assert result.output.count(PUBLISH_TASK_RUNS) <= 1, "no retry"
    assert "UntranslatableCharacter" not in result.output
