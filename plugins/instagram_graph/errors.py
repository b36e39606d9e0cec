"""Meta's errors: one hierarchy, one catalogue, and ``classify()`` to look things up in it.

The catalogue (:data:`CATALOGUE`) is the project's one table of what Meta's error codes
mean: for each (code, subcode) - or a code with any subcode - the error class, whether
the call may be retried as it is, and the advice a person reads. Every module that must
decide what an error means, or tell a user what to do about it, asks the catalogue
(:func:`rule_for`, :attr:`GraphApiError.advice`); none keeps its own list of codes.

Branch on Meta's ``error.code`` and ``error_subcode``, never on the HTTP status alone:
Meta sends the same throttle as 400, 403 or 429, and an expired token as 400 as often as
401. The ``type`` field says nothing about rate limits (``OAuthException`` is also 190).
Facts: shared/GRAPH_API.md ("Errors").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_SECRET_PARAM = re.compile(r"((?:access_token|appsecret_proof|client_secret)=)[^&\s\"']+", re.IGNORECASE)

# How a user puts a new token in place; the one spelling of it in the project.
RECONNECT_COMMAND = "instagram-graph accounts add {account} < token-file"
# Facebook Login accounts get their Page token again from their Facebook user's login.
REDISCOVER = "(a Facebook Login account: `instagram-graph accounts discover < user-token-file`)"


def redact(text: str) -> str:
    """Strip token-bearing query parameters from a URL or message."""
    return _SECRET_PARAM.sub(r"\1***", text)


def reconnect_hint(account: str | None) -> str:
    """The command that reconnects ``account`` (a new long-lived token from stdin), and the one
    for a Facebook Login account."""
    return f"{RECONNECT_COMMAND.format(account=account or 'ACCOUNT_ID')} {REDISCOVER}"


# --- the hierarchy ----------------------------------------------------------------------


class GraphApiError(Exception):
    """Any failure talking to the Graph API. Carries Meta's diagnostics, never a token.

    ``retryable`` says whether the same call may simply be made again (with backoff);
    ``advice`` what a person can do about it. Both come from the catalogue row that
    matched; errors made without a row fall back to their class's defaults.
    """

    retryable = False
    default_advice = "Fix the request as the message says, then run it again."

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
        account_id: str | None = None,
        retryable: bool | None = None,
        advice: str | None = None,
    ) -> None:
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id
        self.user_message = redact(user_message) if user_message else None
        self.account_id = account_id
        if retryable is not None:
            self.retryable = retryable
        self._advice = advice
        self.api_message = redact(message)
        super().__init__(self._render())

    @property
    def advice(self) -> str:
        """What a person can do about it, naming the account when the error knows it."""
        text = self._advice or self.default_advice
        return text.format(account=self.account_id or "ACCOUNT_ID", reconnect=reconnect_hint(self.account_id))

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
    default_advice = "A temporary failure at Meta or on the network: the task retries on its own."


class NotReadyError(TransientError):
    """Meta is not ready yet (24/2207008, 9007/2207027): wait a minute or two and try again.

    Not retried by the call's own backoff (seconds are too short); the publish job waits
    for it like it waits for IN_PROGRESS, within its timeout.
    """

    retryable = False
    default_advice = "The container is not ready yet: wait a minute or two and try again."


class RateLimitError(GraphApiError):
    """Throttled by Meta. ``retry_after`` is seconds until access returns, when Meta says."""

    default_advice = "Throttled: the task waits (defers) until access returns; nothing to do."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class TokenError(GraphApiError):
    """The token cannot be used; the account owner must reconnect or the token be refreshed."""

    default_advice = "Reconnect account {account}: get a new long-lived token and run `{reconnect}`."


class TokenExpiredError(TokenError):
    """190/463, or found expired in the token store before any call."""


class TokenInvalidError(TokenError):
    """102 or 190 with any other subcode (revoked, password changed, checkpointed...)."""


class PermissionDeniedError(GraphApiError):
    """Code 10 or 200-299: the token lacks a permission, or the action is not allowed."""

    default_advice = (
        "Grant the app the missing permission for account {account} (the message names it), "
        "then reconnect the account: `{reconnect}`."
    )


class MessagingWindowClosedError(PermissionDeniedError):
    """10/2534022: the recipient has not written in the last 24 hours."""


class InvalidRequestError(GraphApiError):
    """Code 100 and other client errors: the request itself must change."""


class ObjectNotFoundError(InvalidRequestError):
    """100/33: the object is gone or out of reach (a deleted post, an expired story, a
    deleted comment). Never retried: skip the object and remember that it is gone."""

    default_advice = "The object no longer exists on Instagram (deleted, or a story past 24 h): nothing to do."


class InsightsUnavailableError(InvalidRequestError):
    """100/2108006: the media was posted before the account became a business account;
    Meta will never give its insights. Skip it for good."""


class TooMuchDataError(InvalidRequestError):
    """Code 1, "Please reduce the amount of data you're asking for": the call asked Meta to
    compute too much at once (a page of expanded insights too large). The same call fails
    again, so it is not retried as it is: ask for fewer objects (a smaller ``limit``)."""

    default_advice = "Meta refused to compute this much in one call: ask for fewer objects per page."


class PublishingLimitError(GraphApiError):
    """9/2207042: the rolling 24-hour publishing quota is used up."""

    default_advice = "The account's 24-hour publishing quota is used up: trigger again once it frees."


class PolicyBlockedError(GraphApiError):
    """Instagram refused the action for a policy reason (368, 4/2207051, 25/2207050).

    A refusal, not a throttle: it never pauses the account and is never retried by us.
    """

    default_advice = "Instagram blocked the action for a policy reason; try again much later, by hand."


class RateLimiterUnavailableError(GraphApiError):
    """Our own Redis limiter cannot be reached. We fail closed: no call without a slot."""

    default_advice = "Redis (the instagram_redis connection) cannot be reached: fix it; the task retries."


# --- the catalogue ------------------------------------------------------------------------

ANY = None  # a row whose subcode is ANY matches every subcode of its code


@dataclass(frozen=True)
class ErrorRule:
    """What one of Meta's errors means to us.

    :param kind: the class raised.
    :param retryable: the same call may be made again after a backoff.
    :param advice: what a person does; ``{account}`` and ``{reconnect}`` are filled in.
        Empty: the class's default advice.
    :param yields_to_transient: Meta's ``is_transient: true`` overrides this row (rows
        for codes that mean "bad request" in general, where Meta knows better this time).
    """

    kind: type[GraphApiError]
    retryable: bool = False
    advice: str = ""
    yields_to_transient: bool = False


_RETRY = "A temporary failure at Meta: retried with backoff; the task retries if it persists."
_NEW_CONTAINER = "The container cannot be used any more: trigger the post again to make a new container."
_WAIT_BUILDER = "Meta is still preparing the media: wait 30 s to 2 min and publish again (done automatically)."
_REELS = "A single video is a reel since July 2023: publish it with media_type REELS (not VIDEO)."
_PUBLISH_PERMISSION = (
    "Grant the app the instagram_business_content_publish permission for account {account}, then reconnect it: "
    "`{reconnect}`."
)
_HUMAN_AGENT_PERMISSION = (
    "Meta refused the HUMAN_AGENT tag for account {account}: the app needs Meta's Human Agent feature (App Review) "
    "besides instagram_business_manage_messages. Until Meta grants it, set the connection's human_agent_enabled to "
    "false and reply within 24 hours of the person's last message, without a tag."
)
_MESSAGING_PERMISSION = (
    "Grant the app the instagram_business_manage_messages permission for account {account}, then reconnect it: "
    "`{reconnect}`."
)
_TOKEN = "Reconnect account {account}: {why}. Get a new long-lived token and run `{reconnect}`."


def _token(why: str) -> str:
    return _TOKEN.replace("{why}", why)


def _rows() -> Iterable[tuple[int, int | None, ErrorRule]]:
    """Every row of the catalogue: (code, subcode or ANY, rule). Later rows do not override."""
    # Service errors.
    yield 1, ANY, ErrorRule(TransientError, True, _RETRY)
    yield 2, ANY, ErrorRule(TransientError, True, _RETRY)
    # Throttles: wait for the regain time, never spin (613/2534040 is the messaging one).
    for code in (4, 17, 32, 341, 613, *range(80000, 80015)):
        yield code, ANY, ErrorRule(RateLimitError)
    yield 613, 2534040, ErrorRule(
        RateLimitError, advice="Messaging is throttled for account {account} (2 calls/s): the task waits."
    )
    # Code 4 and 25 with publishing subcodes are refusals, NOT throttles.
    yield 4, 2207051, ErrorRule(
        PolicyBlockedError,
        advice="Instagram restricted this action as spam for account {account}. Do not retry automatically: "
        "review the content and how often the account posts, then try again much later by hand.",
    )
    yield 25, 2207050, ErrorRule(
        PolicyBlockedError,
        advice="Account {account} is restricted by Instagram and cannot publish. Check the account in the "
        "Instagram app (Account Status), resolve the restriction, then trigger again.",
    )
    yield 368, ANY, ErrorRule(PolicyBlockedError, yields_to_transient=True)
    # Tokens.
    yield 102, ANY, ErrorRule(TokenInvalidError, advice=_token("the session is invalid"))
    yield 190, ANY, ErrorRule(TokenInvalidError, advice=_token("the token is not valid"))
    for subcode, why in (
        (458, "the app is not installed for this user"),
        (459, "the user is checkpointed and must log in to Instagram first"),
        (460, "the password changed"),
        (464, "the user is not confirmed"),
        (467, "the token is invalid or was revoked"),
        (492, "the session is invalid"),
    ):
        yield 190, subcode, ErrorRule(TokenInvalidError, advice=_token(why))
    yield 190, 463, ErrorRule(TokenExpiredError, advice=_token("the token expired"))
    # Permissions (10 also means "not enough viewers" and "outside the messaging window").
    yield 10, 2534022, ErrorRule(
        MessagingWindowClosedError,
        advice="The recipient has not written to account {account} in the last 24 hours, and Instagram only "
        "allows replies within 24 hours of the person's last message. Wait until they write again, then "
        "trigger again. Retrying now cannot help.",
    )
    yield 10, ANY, ErrorRule(PermissionDeniedError)
    for code in range(200, 300):
        yield code, ANY, ErrorRule(PermissionDeniedError)
    # The request itself.
    yield 100, ANY, ErrorRule(InvalidRequestError, yields_to_transient=True)
    yield 100, 33, ErrorRule(ObjectNotFoundError)
    yield 100, 2108006, ErrorRule(
        InsightsUnavailableError,
        advice="The media was posted before the account became a business account: Meta has no insights for it. "
        "It is skipped from now on; nothing to do.",
    )
    yield 100, 2534014, ErrorRule(
        InvalidRequestError,
        advice="No conversation with this recipient: the person must have written to account {account} first. "
        "Check the recipient id.",
    )
    yield 100, 2207089, ErrorRule(InvalidRequestError, advice=_REELS)
    yield 100, 2207023, ErrorRule(
        InvalidRequestError, advice="Use a media type Instagram accepts: IMAGE, REELS, STORIES or CAROUSEL."
    )
    yield 100, 2207028, ErrorRule(
        InvalidRequestError, advice="A carousel needs 2 to 10 images or videos that finished processing."
    )
    yield 506, ANY, ErrorRule(InvalidRequestError, advice="This was already published: nothing to do.",
                              yields_to_transient=True)
    # Publishing.
    yield 9, 2207042, ErrorRule(PublishingLimitError)
    yield -1, 2207001, ErrorRule(TransientError, True, _RETRY)
    yield -2, 2207003, ErrorRule(
        TransientError, True, "Meta timed out downloading the media: it is retried. If it persists, host the "
        "file somewhere faster, then trigger again."
    )
    yield -1, 2207032, ErrorRule(TransientError, True, "Meta failed to create the container: it is made again.")
    yield -2, 2207020, ErrorRule(InvalidRequestError, advice=_NEW_CONTAINER)
    yield 24, 2207008, ErrorRule(NotReadyError, advice=_WAIT_BUILDER)
    yield 9007, 2207027, ErrorRule(
        NotReadyError, advice="Meta is still processing the media: wait a minute or two and publish again (the "
        "publish job does this on its own within its wait timeout)."
    )
    yield 36000, 2207004, ErrorRule(
        InvalidRequestError, advice="The image is too large (at most 8 MB): make it smaller, then trigger again."
    )
    yield 9004, 2207052, ErrorRule(
        InvalidRequestError,
        advice="Meta could not download the media: give a public https:// URL of a JPEG image or MP4/MOV video "
        "that needs no login, then trigger again.",
    )


# Rows that a code alone cannot tell apart: (code, words of Meta's message, rule), checked
# before the (code, subcode) rows. Code 1 is otherwise "unknown error, retry".
MESSAGE_ROWS: tuple[tuple[int, str, ErrorRule], ...] = (
    (
        1,
        "reduce the amount of data",
        ErrorRule(
            TooMuchDataError,
            advice="Meta refused a page this large: the sync halves its page size (insights_page_size) and goes on.",
        ),
    ),
)


def _build(rows: Iterable[tuple[int, int | None, ErrorRule]]) -> dict[tuple[int, int | None], ErrorRule]:
    table: dict[tuple[int, int | None], ErrorRule] = {}
    for code, subcode, rule in rows:
        table.setdefault((code, subcode), rule)
    return table


CATALOGUE: dict[tuple[int, int | None], ErrorRule] = _build(_rows())

# Advice that depends on what was being done when a permission was missing.
PERMISSION_ADVICE = {
    "publish": _PUBLISH_PERMISSION,
    "message": _MESSAGING_PERMISSION,
    "tagged_message": _HUMAN_AGENT_PERMISSION,
}


def rule_for(code: int | None, subcode: int | None) -> ErrorRule | None:
    """The catalogue row for (code, subcode): the exact pair first, then the code's ANY row."""
    if code is None:
        return None
    return CATALOGUE.get((code, subcode)) or CATALOGUE.get((code, ANY))


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
    account_id: str | None = None,
) -> GraphApiError:
    """Map a Graph API error body and HTTP status to the right :class:`GraphApiError`.

    Returns the error; the caller raises it. ``payload`` is the decoded JSON body, or
    None when there was no usable body. ``retry_after`` is the regain time in seconds
    already read from the usage headers, attached to rate-limit errors.

    Order: the catalogue's exact (code, subcode) row; Meta's ``is_transient: true`` when
    the code's general row yields to it (or the code is unknown); the code's general
    row; an unknown code is transient on HTTP 5xx and a bad request otherwise.
    """
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if not isinstance(error, Mapping):
        status = http_status or 0
        text = f"Graph API answered HTTP {status} without an error object"
        if status >= 500 or status == 0:
            return TransientError(text, http_status=http_status, account_id=account_id)
        if status == 429:
            return RateLimitError(text, http_status=http_status, retry_after=retry_after, account_id=account_id)
        return InvalidRequestError(text, http_status=http_status, account_id=account_id)

    code = _as_int(error.get("code"))
    subcode = _as_int(error.get("error_subcode"))
    message = str(error.get("message") or "Graph API error")
    error_type, fbtrace_id, user_message = error.get("type"), error.get("fbtrace_id"), error.get("error_user_msg")

    def build(kind: type[GraphApiError], rule: ErrorRule | None = None) -> GraphApiError:
        built = kind(
            message,
            code=code,
            subcode=subcode,
            error_type=error_type,
            http_status=http_status,
            fbtrace_id=fbtrace_id,
            user_message=user_message,
            account_id=account_id,
            retryable=rule.retryable if rule else None,
            advice=(rule.advice or None) if rule else None,
        )
        if isinstance(built, RateLimitError):
            built.retry_after = retry_after
        return built

    by_message = next(
        (rule for row_code, words, rule in MESSAGE_ROWS if row_code == code and words in message.lower()), None
    )
    if by_message is not None:
        return build(by_message.kind, by_message)
    exact = CATALOGUE.get((code, subcode)) if code is not None and subcode is not None else None
    general = CATALOGUE.get((code, ANY)) if code is not None else None
    rule = exact
    if rule is None and error.get("is_transient") is True and (general is None or general.yields_to_transient):
        rule = ErrorRule(TransientError, True, _RETRY)
    if rule is None:
        rule = general
    if rule is None:
        return build(TransientError if http_status is not None and http_status >= 500 else InvalidRequestError)
    return build(rule.kind, rule)


def advice_for(error: BaseException, *, account_id: str | None = None, action: str | None = None) -> str:
    """The advice for any failure a task may end with, from the catalogue for Graph API errors.

    :param action: ``publish``, ``message`` or ``tagged_message`` (a DM with the HUMAN_AGENT
        tag): names the permission or feature a PermissionDenied needs.
    """
    if isinstance(error, GraphApiError):
        if account_id and not error.account_id:
            error.account_id = account_id
        if (
            action in PERMISSION_ADVICE
            and isinstance(error, PermissionDeniedError)
            and not isinstance(error, MessagingWindowClosedError)
        ):
            account = error.account_id
            return PERMISSION_ADVICE[action].format(account=account, reconnect=reconnect_hint(account))
        return error.advice
    return "See the task log; the task retries on its own when the error is temporary."
