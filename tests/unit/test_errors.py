"""classify(): Meta's error object and HTTP status -> the right error class.

The cases are Meta's documented codes (shared/GRAPH_API.md), including the two mistakes
of the seed project: OAuthException is not a rate limit, and codes are not HTTP statuses.
"""

from __future__ import annotations

import pytest

from instagram_graph.errors import (
    InvalidRequestError,
    MessagingWindowClosedError,
    ObjectNotFoundError,
    PermissionDeniedError,
    PolicyBlockedError,
    PublishingLimitError,
    RateLimitError,
    TokenExpiredError,
    TokenInvalidError,
    TransientError,
    classify,
    redact,
)


def meta_error(code, subcode=None, *, type_="OAuthException", transient=False, message="boom"):
    error = {"message": message, "type": type_, "code": code, "is_transient": transient, "fbtrace_id": "AbC123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


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
        (meta_error(100, 33, type_="GraphMethodException"), 400, ObjectNotFoundError),
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
