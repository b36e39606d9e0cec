"""Meta's error envelope and the catalogue of errors the simulator answers with.

Handlers raise ``GraphError("name", **details)``; the catalogue decides code, subcode,
type, HTTP status and wording, so a wrong code is fixed in one row.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

OAUTH = "OAuthException"
IG_API = "IGApiException"
GRAPH_METHOD = "GraphMethodException"


@dataclass(frozen=True)
class ErrorSpec:
    code: int
    message: str  # str.format template, filled with the raise site's details
    type: str | None = OAUTH  # None: no ``type`` in the body (Meta leaves it out of some errors)
    http_status: int | tuple[int, ...] = 400  # a tuple: Meta varies, pick one per response
    subcode: int | None = None
    is_transient: bool | None = False  # None: no ``is_transient`` in the body
    user_title: str | None = None
    user_msg: str | None = None
    error_data: Any = None  # JSON sent as-is in ``error_data`` (e.g. blame_field_specs)


ERRORS: dict[str, ErrorSpec] = {
    # --- service --------------------------------------------------------------------
    "unknown": ErrorSpec(1, "An unknown error occurred", http_status=500, is_transient=True),
    # What Meta answers when a call would take too long to compute (many media with insights
    # expanded): no type, no subcode, no is_transient, HTTP 500.
    "reduce_data": ErrorSpec(1, "Please reduce the amount of data you're asking for, then retry your request",
                             type=None, http_status=500, is_transient=None),
    "service": ErrorSpec(2, "An unexpected error has occurred. Please retry your request later.",
                         http_status=503, is_transient=True),
    # --- tokens ---------------------------------------------------------------------
    "token_missing": ErrorSpec(104, "An access token is required to request this resource."),
    "token_invalid": ErrorSpec(190, "Invalid OAuth access token - Cannot parse access token",
                               http_status=(400, 401), subcode=467),
    "token_revoked": ErrorSpec(190, "Error validating access token: The user has not authorized application.",
                               http_status=(400, 401), subcode=467),
    "token_expired": ErrorSpec(190, "Error validating access token: Session has expired on {expired}. "
                                    "The current time is {now}.",
                               http_status=(400, 401), subcode=463),
    "appsecret_proof_missing": ErrorSpec(100, "API calls from the server require an appsecret_proof argument",
                                         type=GRAPH_METHOD),
    "appsecret_proof_invalid": ErrorSpec(100, "Invalid appsecret_proof provided in the API argument",
                                         type=GRAPH_METHOD),
    "refresh_too_early": ErrorSpec(100, "(#100) The access token cannot be refreshed yet: long-lived tokens "
                                        "can be refreshed once they are at least 24 hours old",
                                   type=IG_API),
    "grant_type_invalid": ErrorSpec(100, "(#100) Unsupported grant_type: expected {expected}", type=IG_API),
    "client_secret_invalid": ErrorSpec(101, "Error validating client secret."),
    "client_id_invalid": ErrorSpec(101, "Error validating application. Invalid application ID."),
    # Facebook Login: Page-scoped calls (the Page's inbox, sending as the Page) with a user token.
    "page_token_required": ErrorSpec(210, "(#210) A page access token is required to request this resource."),
    # --- permissions ----------------------------------------------------------------
    "permission_denied": ErrorSpec(10, "(#10) Application does not have permission for this action",
                                   http_status=403),
    "permission_required": ErrorSpec(200, "(#200) Requires {permission} permission to manage the object",
                                     http_status=403),
    # --- request shape --------------------------------------------------------------
    "unsupported_version": ErrorSpec(2635, "(#2635) You are calling a deprecated version of the Graph API "
                                           "({version}). Please update to the latest version: v{newest}.0."),
    "unknown_object": ErrorSpec(100, "Unsupported {method} request. Object with ID '{object_id}' does not exist, "
                                     "cannot be loaded due to missing permissions, or does not support this "
                                     "operation. Please read the Graph API documentation at "
                                     "https://developers.facebook.com/docs/graph-api",
                                type=GRAPH_METHOD, subcode=33),
    "unknown_path": ErrorSpec(2500, "Unknown path components: {path}"),
    "nonexisting_field": ErrorSpec(100, "(#100) Tried accessing nonexisting field ({field}) on node type "
                                        "({node_type})"),
    "fields_syntax": ErrorSpec(2500, 'Syntax error "{detail}" at character {position}: {fields}'),
    "invalid_parameter": ErrorSpec(100, "(#100) {detail}"),
    "missing_parameter": ErrorSpec(100, "(#100) The parameter {name} is required"),
    "list_parameter_invalid": ErrorSpec(100, "(#100) Param {name} must be a comma-separated list or a JSON array "
                                             "of strings"),
    "invalid_cursor": ErrorSpec(100, "(#100) The cursor {name} is not valid for this edge"),
    # --- insights -------------------------------------------------------------------
    "metric_unknown": ErrorSpec(100, "(#100) metric[{index}] must be one of the following values: {allowed}"),
    "metric_deprecated": ErrorSpec(100, "(#100) Starting from {since}, the {metric} metric is no longer supported. "
                                        "{advice}"),
    "metric_type_required": ErrorSpec(100, "(#100) The following metrics ({metrics}) should be specified with "
                                           "parameter metric_type=total_value"),
    "metric_type_unsupported": ErrorSpec(100, "(#100) metric_type={metric_type} is not supported for the metrics "
                                              "({metrics})"),
    "period_unsupported": ErrorSpec(100, "(#100) Incompatible period: the metric {metric} supports period "
                                         "{periods}, not {period}"),
    "breakdown_unsupported": ErrorSpec(100, "(#100) Incompatible breakdown: the metric {metric} supports "
                                            "breakdowns [{allowed}], not {breakdown}"),
    "breakdown_required": ErrorSpec(100, "(#100) The metric {metric} requires a breakdown ({allowed})"),
    "timeframe_required": ErrorSpec(100, "(#100) The metric {metric} requires the timeframe parameter "
                                         "({allowed})"),
    "insights_span": ErrorSpec(100, "(#100) There cannot be more than 30 days (2592000 s) between since and until"),
    "insights_history": ErrorSpec(100, "(#100) since cannot be more than {days} days in the past"),
    "media_metric_unsupported": ErrorSpec(100, "(#100) The Media Insights API does not support the {metric} metric "
                                               "for this media product type ({product_type}): metric {metric} is "
                                               "not supported for this media type", type=IG_API),
    # Refused for one (media_type, media_product_type) pair, e.g. total_interactions on legacy VIDEO+FEED.
    "media_type_metric_unsupported": ErrorSpec(100, "(#100) metric {metric} is not supported for this media type "
                                                    "({media_type} with media_product_type {product_type})",
                                               type=IG_API),
    # Breakdowns (or anything but metric and period) in ``fields=insights.metric(..)``: wording unconfirmed.
    "insights_modifier_unsupported": ErrorSpec(100, "(#100) The insights field takes only the metric and period "
                                                    "modifiers, not {modifier}: ask GET /{{media-id}}/insights "
                                                    "for breakdowns"),
    "recent_days_only": ErrorSpec(100, "(#100) ({metric}) metric only supports querying data for the last {days} "
                                       "days excluding the current day"),
    "carousel_child_insights": ErrorSpec(100, "(#100) The Media Insights API does not support carousel children "
                                              "(media product type CAROUSEL_ITEM); read the carousel album instead",
                                         type=IG_API),
    # Meta's wording since 2020 (as reported by integrations), blame_field_specs included.
    "media_before_business": ErrorSpec(100, "Invalid parameter", subcode=2108006,
                                       user_title="Media posted before business account conversion",
                                       user_msg="The media was posted before the most recent time that the user's "
                                                "account was converted to a business account from a personal "
                                                "account.",
                                       error_data={"blame_field_specs": [[""]]}),
    "not_enough_viewers": ErrorSpec(10, "(#10) Not enough viewers for the media to show insights",
                                    user_title="Not Enough Viewers",
                                    user_msg="Insights are not available for stories seen by fewer than 5 people."),
    # --- publishing -----------------------------------------------------------------
    "media_type_invalid": ErrorSpec(100, "(#100) The media type {media_type} is not one of the expected media "
                                         "types: {allowed}", subcode=2207023, type=IG_API),
    "media_url_invalid": ErrorSpec(9004, "The media could not be fetched from this uri: {url}", subcode=2207052,
                                   user_title="Media download has failed",
                                   user_msg="The media URI doesn't meet our requirements: use a public https URL."),
    "caption_too_long": ErrorSpec(100, "(#100) The caption is {length} characters long; at most "
                                       "{limit} are allowed", type=IG_API),
    "too_many_hashtags": ErrorSpec(100, "(#100) The caption has {count} hashtags; at most {limit} are allowed",
                                   type=IG_API),
    "carousel_invalid": ErrorSpec(100, "(#100) Carousel validation failed: {detail}", subcode=2207028, type=IG_API,
                                  user_title="Carousel validation failed",
                                  user_msg="Carousels need at least 2 and at most 10 photos or videos."),
    # 24/2207008 and 9007/2207027 are different answers: "gone or expired, retry in 30 s to 2 min" versus
    # "still processing, wait". Meta's documented user messages.
    "media_builder_expired": ErrorSpec(24, "The media builder does not exist or has expired", subcode=2207008,
                                       type=IG_API, user_title="Media builder expired",
                                       user_msg="Temporary error publishing a container. Try again 1-2 times in "
                                                "the next 30 seconds to 2 minutes; if it still fails, create a new "
                                                "container."),
    "media_not_ready": ErrorSpec(9007, "Media ID is not available", subcode=2207027, type=IG_API,
                                 user_title="Media not ready for publishing",
                                 user_msg="The media is not ready for publishing, please wait for a moment"),
    "container_failed": ErrorSpec(-1, "Failed to create media container: {reason}", subcode=2207032, type=IG_API,
                                  user_title="Create media failed",
                                  user_msg="Failed to create a media container. Create a new container."),
    "container_expired": ErrorSpec(-2, "The media container {container_id} has expired", subcode=2207020,
                                   type=IG_API, user_title="Media expired",
                                   user_msg="The media has expired. Create a new container."),
    "container_published": ErrorSpec(506, "(#506) Duplicate post: the media container {container_id} has "
                                          "already been published", type=IG_API),  # unconfirmed code
    # 2207089: a container that cannot be published on its own (wording unconfirmed).
    "standalone_video": ErrorSpec(100, "(#100) media_type=VIDEO is only supported for carousel items: since July "
                                       "2023 a single feed video is a reel. Create the container with "
                                       "media_type=REELS.", subcode=2207089, type=IG_API,
                                  user_title="Unsupported media type",
                                  user_msg="Single videos are published as reels: use media_type=REELS."),
    "carousel_item_publish": ErrorSpec(100, "(#100) A carousel item cannot be published on its own; publish "
                                            "the carousel container", subcode=2207089, type=IG_API,
                                       user_title="Unsupported media type",
                                       user_msg="Publish the carousel container that holds this item."),
    # Container parameters (wording unconfirmed; the parameter is always named).
    "unknown_parameter": ErrorSpec(100, "(#100) Param {name} is not a valid parameter for creating a media "
                                        "container", type=IG_API),
    "parameter_not_supported": ErrorSpec(100, "(#100) Param {name} is not supported for {kind} containers",
                                         type=IG_API),
    "publish_quota": ErrorSpec(9, "Application request limit reached", subcode=2207042, type=IG_API,
                               user_title="Maximum number of posts reached",
                               user_msg="You reached maximum number of posts that is allowed to be published by "
                                        "Content Publishing API."),
    "container_quota": ErrorSpec(9, "(#9) Too many media containers: at most {limit} may be created per 24 hours",
                                 type=IG_API),  # unconfirmed code
    # --- messaging ------------------------------------------------------------------
    "recipient_missing": ErrorSpec(100, "(#100) param recipient must be a JSON object with an id", type=IG_API),
    "recipient_unknown": ErrorSpec(100, "No matching user found", subcode=2534014, type=IG_API),
    "message_missing": ErrorSpec(100, "(#100) param message must be a JSON object with non-empty text", type=IG_API),
    "message_too_long": ErrorSpec(100, "(#100) Length of param message[text] must be less than or equal to "
                                       "{limit} bytes (UTF-8); this text is {length} bytes", type=IG_API),
    "message_tag_invalid": ErrorSpec(100, "(#100) param tag must be one of {{{allowed}}}", type=IG_API),
    # Meta documents no error for an unapproved HUMAN_AGENT tag: unconfirmed code and wording.
    "human_agent_not_approved": ErrorSpec(10, "(#10) The HUMAN_AGENT tag can only be used by apps approved for the "
                                              "Human Agent feature", type=IG_API, http_status=403,
                                          user_title="Human Agent feature not approved",
                                          user_msg="Apply for the Human Agent feature in App Review, or reply "
                                                   "within 24 hours of the person's last message."),
    "messaging_throttle": ErrorSpec(613, "(#613) Calls to this api have exceeded the rate limit.", subcode=2534040,
                                    type=IG_API),
    "outside_window": ErrorSpec(10, "(#10) This message is sent outside of allowed window.", type=IG_API,
                                http_status=403, subcode=2534022,
                                user_title="Message outside the allowed window",
                                user_msg="The person must have messaged you within the last 24 hours."),
    # --- throttling (one row per configurable throttle code) ------------------------
    "throttle_4": ErrorSpec(4, "(#4) Application request limit reached", http_status=403, is_transient=True),
    "throttle_17": ErrorSpec(17, "(#17) User request limit reached", http_status=400, is_transient=True),
    "throttle_80002": ErrorSpec(80002, "(#80002) There have been too many calls to this Instagram account. Wait "
                                       "a bit and try again. For more info, please refer to "
                                       "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                                http_status=429, is_transient=True),
}


def fbtrace_id() -> str:
    """Random-looking like Meta's (never seeded: it identifies a response, not data)."""
    return "A" + secrets.token_urlsafe(16)[:22]


class GraphError(Exception):
    """A Graph API error answer; ``str()`` is the message without any token in it."""

    def __init__(self, name: str, /, spec: ErrorSpec | None = None, **details: Any) -> None:
        self.name = name
        base = spec or ERRORS[name]
        self.spec = replace(base, message=base.message.format(**details)) if details else base
        super().__init__(self.spec.message)

    @property
    def http_status(self) -> int | tuple[int, ...]:
        return self.spec.http_status

    def body(self, trace_id: str | None = None) -> dict[str, Any]:
        spec = self.spec
        error: dict[str, Any] = {"message": spec.message}
        if spec.type is not None:
            error["type"] = spec.type
        error["code"] = spec.code
        if spec.error_data is not None:
            error["error_data"] = spec.error_data
        if spec.subcode is not None:
            error["error_subcode"] = spec.subcode
        if spec.is_transient is not None:
            error["is_transient"] = spec.is_transient
        if spec.user_title:
            error["error_user_title"] = spec.user_title
        if spec.user_msg:
            error["error_user_msg"] = spec.user_msg
        error["fbtrace_id"] = trace_id or fbtrace_id()
        return {"error": error}


class _Elided(dict[str, str]):
    """Fills a message template's details that a fault does not know with "..."."""

    def __missing__(self, key: str) -> str:
        return "..."


def spec_for_code(code: int, subcode: int | None = None) -> ErrorSpec:
    """The catalogue row for an error code, for faults that only name a code: the row with this
    subcode if there is one (100/33 reads "Unsupported ... request"), else the first with the code."""
    rows = [spec for spec in ERRORS.values() if spec.code == code]
    row = next((spec for spec in rows if subcode is not None and spec.subcode == subcode), rows[0] if rows else None)
    if row is None:
        return ErrorSpec(code, f"(#{code}) Simulated error", http_status=400)
    return replace(row, message=row.message.format_map(_Elided()))


def custom_error(**fields: Any) -> GraphError:
    """An error from a fault spec: any field left out comes from the code's catalogue row."""
    raw_code = fields.get("code")
    code = 2 if raw_code is None else int(raw_code)
    base = spec_for_code(code, fields.get("subcode"))
    overrides = {
        "message": fields.get("message"),
        "type": fields.get("type"),
        "http_status": fields.get("http_status"),
        "subcode": fields.get("subcode"),
        "is_transient": fields.get("is_transient"),
        "user_title": fields.get("error_user_title"),
        "user_msg": fields.get("error_user_msg"),
        "error_data": fields.get("error_data"),
    }
    spec = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    return GraphError("fault", spec=spec)
