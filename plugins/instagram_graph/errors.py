"""Graph API errors: one hierarchy, and ``classify()`` to map Meta's error object onto it.

Branch on Meta's ``error.code`` (and subcode), never on the HTTP status alone: Meta sends
the same throttle as 400, 403 or 429, and an expired token as 400 as often as 401. The
``type`` field says nothing about rate limits (``OAuthException`` is also code 190).
The tables below are the API knowledge; the function only looks things up in them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# --- API knowledge as data ------------------------------------------------------------

THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
TOKEN_CODES = frozenset({102, 190})
TOKEN_EXPIRED_SUBCODES = frozenset({463})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
MESSAGING_WINDOW_SUBCODE = 2534022
PUBLISHING_LIMIT = (9, 2207042)
TRANSIENT_CODES = frozenset({1, 2})
# (code, subcode) pairs Meta documents as retryable although the code alone is not.
TRANSIENT_PAIRS = frozenset({(100, 33), (-1, 2207001), (-2, 2207003), (-1, 2207032)})
POLICY_BLOCK_CODE = 368
DUPLICATE_POST_CODE = 506

# What a user can do about a token error, by subcode of 190.
TOKEN_SUBCODE_ADVICE = {
    458: "the app is not installed for this user",
    459: "the user is checkpointed and must log in to Instagram",
    460: "the password changed",
    463: "the token expired",
    464: "the user is not confirmed",
    467: "the token is invalid",
    492: "the session is invalid",
}

_SECRET_PARAM = re.compile(r"((?:access_token|appsecret_proof|client_secret)=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """Strip token-bearing query parameters from a URL or message."""
    return _SECRET_PARAM.sub(r"\1***", text)


# --- the hierarchy ----------------------------------------------------------------------


class GraphApiError(Exception):
    """Any failure talking to the Graph API. Carries Meta's diagnostics, never a token."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        error_type: str | None = None,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        user_message: str | None = None,
    ) -> None:
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id
        self.user_message = user_message
        self.api_message = redact(message)
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.api_message]
        detail = []
        if self.code is not None:
            detail.append(f"code {self.code}")
        if self.subcode is not None:
            detail.append(f"subcode {self.subcode}")
        if self.http_status is not None:
            detail.append(f"HTTP {self.http_status}")
        if self.fbtrace_id:
            detail.append(f"fbtrace_id {self.fbtrace_id}")
        if detail:
            parts.append(f"({', '.join(detail)})")
        return " ".join(parts)


class TransientError(GraphApiError):
    """Worth retrying with backoff: Meta's service errors, 5xx, timeouts, resets."""

    retryable = True


class RateLimitError(GraphApiError):
    """Throttled by Meta. ``retry_after`` is seconds until access returns, when Meta says."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class TokenError(GraphApiError):
    """The token cannot be used; the account owner must reconnect or the token be refreshed."""


class TokenExpiredError(TokenError):
    """190/463, or found expired in the token store before any call."""


class TokenInvalidError(TokenError):
    """102 or 190 with any other subcode (revoked, password changed, checkpointed...)."""


class PermissionDeniedError(GraphApiError):
    """Code 10 or 200-299: the token lacks a permission, or the action is not allowed."""


class MessagingWindowClosedError(PermissionDeniedError):
    """10/2534022: the recipient has not written in the last 24 hours."""


class InvalidRequestError(GraphApiError):
    """Code 100 and other client errors: the request itself must change."""


class PublishingLimitError(GraphApiError):
    """9/2207042: the rolling 24-hour publishing quota is used up."""


class PolicyBlockedError(GraphApiError):
    """368: temporarily blocked for a policy reason; retry much later, by hand."""


class RateLimiterUnavailableError(GraphApiError):
    """Our own Redis limiter cannot be reached. We fail closed: no call without a slot."""


# --- classification -----------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def classify(
    payload: Mapping[str, Any] | None,
    http_status: int | None,
    *,
    retry_after: float | None = None,
) -> GraphApiError:
    """Map a Graph API error body and HTTP status to the right :class:`GraphApiError`.

    Returns the error; the caller raises it. ``payload`` is the decoded JSON body, or
    None when there was no usable body. ``retry_after`` is the regain time in seconds
    already read from the usage headers, attached to rate-limit errors.
    """
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if not isinstance(error, Mapping):
        status = http_status or 0
        text = f"Graph API answered HTTP {status} without an error object"
        if status >= 500 or status == 0:
            return TransientError(text, http_status=http_status)
        if status == 429:
            return RateLimitError(text, http_status=http_status, retry_after=retry_after)
        return InvalidRequestError(text, http_status=http_status)

    code = _as_int(error.get("code"))
    subcode = _as_int(error.get("error_subcode"))
    kwargs = {
        "code": code,
        "subcode": subcode,
        "error_type": error.get("type"),
        "http_status": http_status,
        "fbtrace_id": error.get("fbtrace_id"),
        "user_message": error.get("error_user_msg"),
    }
    message = str(error.get("message") or "Graph API error")

    if (code, subcode) == PUBLISHING_LIMIT:
        return PublishingLimitError(message, **kwargs)
    if code in THROTTLE_CODES:
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    if code in TOKEN_CODES:
        if subcode in TOKEN_EXPIRED_SUBCODES:
            return TokenExpiredError(message, **kwargs)
        return TokenInvalidError(message, **kwargs)
    if code in PERMISSION_CODES:
        if subcode == MESSAGING_WINDOW_SUBCODE:
            return MessagingWindowClosedError(message, **kwargs)
        return PermissionDeniedError(message, **kwargs)
    if error.get("is_transient") is True or code in TRANSIENT_CODES or (code, subcode) in TRANSIENT_PAIRS:
        return TransientError(message, **kwargs)
    if code == POLICY_BLOCK_CODE:
        return PolicyBlockedError(message, **kwargs)
    if http_status is not None and http_status >= 500:
        return TransientError(message, **kwargs)
    return InvalidRequestError(message, **kwargs)
