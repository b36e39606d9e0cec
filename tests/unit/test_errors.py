"""classify(): Meta's error object and HTTP status -> the right error class.

The cases are Meta's documented codes (shared/GRAPH_API.md), including the two mistakes
of the seed project: OAuthException is not a rate limit, and codes are not HTTP statuses.
"""

from __future__ import annotations

import pytest

from instagram_graph.errors import (
    ANY,
    CATALOGUE,
    GraphApiError,
    InsightsUnavailableError,
    InvalidRequestError,
    MessagingWindowClosedError,
    NotReadyError,
    ObjectNotFoundError,
    PermissionDeniedError,
    PolicyBlockedError,
    PublishingLimitError,
    RateLimitError,
    TokenExpiredError,
    TokenInvalidError,
    TransientError,
    advice_for,
    classify,
    redact,
    rule_for,
)


def meta_error(code, subcode=None, *, type_="OAuthException", transient=False, message="boom", **extra):
    error = {"message": message, "type": type_, "code": code, "is_transient": transient, "fbtrace_id": "AbC123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


# Payloads as Meta sends them (wording from Meta's docs and from integrations' bug reports).
OBJECT_GONE = meta_error(
    100,
    33,
    type_="GraphMethodException",
    message="Unsupported get request. Object with ID '17895695668004550' does not exist, cannot be loaded due to "
    "missing permissions, or does not support this operation. Please read the Graph API documentation at "
    "https://developers.facebook.com/docs/graph-api",
)
SPAM = meta_error(
    4,
    2207051,
    type_="OAuthException",
    message="Application request limit reached",
    error_user_title="Action is blocked",
    error_user_msg="We restrict certain activity to protect our community.",
    is_transient=False,
)
ACCOUNT_RESTRICTED = meta_error(25, 2207050, type_="OAuthException", message="The user is restricted",
                                error_user_title="Restricted user")
BUILDER_EXPIRED = meta_error(24, 2207008, type_="OAuthException",
                             message="The media builder does not exist or has expired")
NOT_READY = meta_error(9007, 2207027, type_="OAuthException", message="Media ID is not available",
                       error_user_msg="The media is not ready for publishing, please wait for a moment")
STANDALONE_VIDEO = meta_error(100, 2207089, type_="OAuthException", message="Invalid parameter",
                              error_user_msg="The video is not supported: use media_type=REELS")
MESSAGING_THROTTLE = meta_error(613, 2534040, type_="IGApiException", message="Calls to this api have exceeded "
                                "the rate limit.")
BEFORE_BUSINESS = meta_error(
    100, 2108006, type_="OAuthException", message="Invalid parameter",
    error_user_title="Media posted before business account conversion",
    error_user_msg="The media was posted before the most recent time that the user's account was converted to a "
    "business account from a personal account.",
    error_data={"blame_field_specs": [["metric"]]},
)


@pytest.mark.parametrize(
    ("payload", "status", "expected"),
    [
        (meta_error(4), 400, RateLimitError),
        (meta_error(17), 403, RateLimitError),
        (meta_error(32), 429, RateLimitError),
        (meta_error(341), 400, RateLimitError),
        (meta_error(613), 400, RateLimitError),
        (meta_error(80002), 400, RateLimitError),
        (meta_error(80014), 400, RateLimitError),
        (meta_error(190, 463), 400, TokenExpiredError),
        (meta_error(190, 463), 401, TokenExpiredError),
        (meta_error(190, 467), 400, TokenInvalidError),
        (meta_error(190, 460), 400, TokenInvalidError),
        (meta_error(190), 401, TokenInvalidError),
        (meta_error(102), 400, TokenInvalidError),
        (meta_error(10, type_="IGApiException"), 400, PermissionDeniedError),
        (meta_error(200), 403, PermissionDeniedError),
        (meta_error(299), 403, PermissionDeniedError),
        (meta_error(10, 2534022, type_="IGApiException"), 403, MessagingWindowClosedError),
        (meta_error(100, type_="IGApiException"), 400, InvalidRequestError),
        (OBJECT_GONE, 400, ObjectNotFoundError),
        (SPAM, 400, PolicyBlockedError),
        (SPAM, 403, PolicyBlockedError),
        (ACCOUNT_RESTRICTED, 400, PolicyBlockedError),
        (BUILDER_EXPIRED, 400, NotReadyError),
        (NOT_READY, 400, NotReadyError),
        (STANDALONE_VIDEO, 400, InvalidRequestError),
        (MESSAGING_THROTTLE, 400, RateLimitError),
        (BEFORE_BUSINESS, 400, InsightsUnavailableError),
        (meta_error(100, 2534014, type_="IGApiException"), 400, InvalidRequestError),
        (meta_error(-2, 2207020), 400, InvalidRequestError),
        (meta_error(36000, 2207004), 400, InvalidRequestError),
        (meta_error(9004, 2207052), 400, InvalidRequestError),
        (meta_error(190, 458), 400, TokenInvalidError),
        (meta_error(190, 459), 400, TokenInvalidError),
        (meta_error(190, 464), 400, TokenInvalidError),
        (meta_error(190, 492), 400, TokenInvalidError),
        (meta_error(4, transient=True), 403, RateLimitError),
        (meta_error(368, transient=True), 400, TransientError),
        (meta_error(12345), 400, InvalidRequestError),
        (meta_error(12345), 502, TransientError),
        (meta_error(12345, transient=True), 400, TransientError),
        (meta_error(1), 500, TransientError),
        (meta_error(2), 503, TransientError),
        (meta_error(100, transient=True), 400, TransientError),
        (meta_error(-1, 2207001), 400, TransientError),
        (meta_error(-2, 2207003), 400, TransientError),
        (meta_error(-1, 2207032), 400, TransientError),
        (meta_error(9, 2207042), 400, PublishingLimitError),
        (meta_error(368), 400, PolicyBlockedError),
        (meta_error(506), 400, InvalidRequestError),
        (None, 500, TransientError),
        (None, 502, TransientError),
        (None, 429, RateLimitError),
        (None, 404, InvalidRequestError),
        ({"not": "an error"}, 503, TransientError),
    ],
)
def test_classify(payload, status, expected) -> None:
    error = classify(payload, status)
    assert type(error) is expected


def test_oauth_exception_type_alone_is_not_a_rate_limit() -> None:
    # The seed counted every OAuthException as throttling; 190 is an OAuthException too.
    assert not isinstance(classify(meta_error(190, 463, type_="OAuthException"), 400), RateLimitError)
    assert not isinstance(classify(meta_error(100, type_="OAuthException"), 400), RateLimitError)


def test_error_codes_are_not_http_statuses() -> None:
    # The seed compared `code >= 500`: a code-1 error on HTTP 400 is still transient,
    # and code 506 (duplicate post) on HTTP 400 is not.
    assert isinstance(classify(meta_error(1), 400), TransientError)
    assert not isinstance(classify(meta_error(506), 400), TransientError)


def test_error_keeps_meta_diagnostics() -> None:
    error = classify(meta_error(190, 463, message="Session has expired"), 401)
    assert (error.code, error.subcode, error.http_status, error.fbtrace_id, error.error_type) == (
        190,
        463,
        401,
        "AbC123",
        "OAuthException",
    )
    assert "fbtrace_id AbC123" in str(error)
    assert "Session has expired" in str(error)


def test_rate_limit_carries_the_regain_time() -> None:
    error = classify(meta_error(80002), 400, retry_after=600.0)
    assert isinstance(error, RateLimitError) and error.retry_after == 600.0


def test_tokens_never_reach_the_message() -> None:
    message = "Bad request to https://graph.instagram.com/v24.0/me?access_token=simtok_secret123&appsecret_proof=abc"
    error = classify(meta_error(100, message=message), 400)
    assert "simtok_secret123" not in str(error)
    assert "appsecret_proof=abc" not in str(error)
    assert redact("x?access_token=abc&y=1") == "x?access_token=***&y=1"


@pytest.mark.parametrize(("key", "rule"), sorted(CATALOGUE.items(), key=lambda item: (item[0][0], item[0][1] or 0)),
                         ids=lambda value: str(value) if isinstance(value, tuple) else "")
def test_every_catalogue_row_classifies_as_its_class(key, rule) -> None:
    code, subcode = key
    error = classify(meta_error(code, subcode), 400, account_id="17841400000000001")
    assert type(error) is rule.kind
    assert error.retryable is rule.retryable
    assert (error.code, error.subcode, error.fbtrace_id) == (code, subcode, "AbC123")
    advice = error.advice
    assert advice and "{" not in advice, "advice placeholders are all filled"
    if rule.advice and "{account}" in rule.advice:
        assert "17841400000000001" in advice


def test_object_gone_is_never_retried_and_says_so() -> None:
    error = classify(OBJECT_GONE, 400)
    assert isinstance(error, InvalidRequestError) and not error.retryable
    assert "no longer exists" in error.advice


def test_spam_restriction_is_a_refusal_not_a_throttle() -> None:
    # Code 4 is a throttle code; with subcode 2207051 it is Instagram refusing the post.
    error = classify(SPAM, 400, retry_after=300.0)
    assert not isinstance(error, RateLimitError)
    assert not error.retryable
    assert "spam" in error.advice


def test_not_ready_waits_instead_of_failing() -> None:
    for payload in (BUILDER_EXPIRED, NOT_READY):
        error = classify(payload, 400)
        assert isinstance(error, TransientError) and isinstance(error, NotReadyError)
        assert not error.retryable, "seconds of backoff are too short: the publish job waits instead"


def test_standalone_video_advice_says_reels() -> None:
    assert "REELS" in classify(STANDALONE_VIDEO, 400).advice


def test_messaging_throttle_carries_its_regain_time() -> None:
    error = classify(MESSAGING_THROTTLE, 400, retry_after=2.0)
    assert isinstance(error, RateLimitError) and error.retry_after == 2.0
    assert "Messaging" in error.advice


def test_token_advice_names_the_reason_and_the_reconnect_command() -> None:
    error = classify(meta_error(190, 460), 400, account_id="42")
    assert "password changed" in error.advice
    assert "instagram-graph accounts add 42 < token-file" in error.advice


def test_permission_advice_names_the_permission_the_action_needs() -> None:
    error = classify(meta_error(200), 403)
    assert "instagram_business_content_publish" in advice_for(error, account_id="7", action="publish")
    assert "instagram_business_manage_messages" in advice_for(error, account_id="7", action="message")
    window = classify(meta_error(10, 2534022), 403)
    assert "24 hours" in advice_for(window, account_id="7", action="message")


def test_rule_lookup_prefers_the_exact_subcode() -> None:
    assert rule_for(100, 33).kind is ObjectNotFoundError
    assert rule_for(100, 999).kind is InvalidRequestError
    assert rule_for(100, None) is CATALOGUE[(100, ANY)]
    assert rule_for(None, None) is None


def test_advice_for_other_failures() -> None:
    assert "retries" in advice_for(RuntimeError("boom"))
    assert isinstance(GraphApiError("x").advice, str)


def test_a_refused_human_agent_tag_names_the_feature_not_the_permission() -> None:
    error = classify(meta_error(10, type_="IGApiException"), 403)
    advice = advice_for(error, account_id="7", action="tagged_message")
    assert "Human Agent" in advice and "human_agent_enabled" in advice


def test_reduce_the_amount_of_data_is_not_retried_as_it_is_but_other_code_1_errors_are() -> None:
    from instagram_graph.errors import TooMuchDataError, TransientError

    body = {"error": {"message": "Please reduce the amount of data you're asking for, then retry your request",
                      "code": 1, "fbtrace_id": "AbC"}}
    error = classify(body, 500)
    assert isinstance(error, TooMuchDataError) and not error.retryable
    assert error.fbtrace_id == "AbC" and "halves its page size" in error.advice
    other = classify(meta_error(1, message="An unknown error occurred", transient=True), 500)
    assert isinstance(other, TransientError) and other.retryable

