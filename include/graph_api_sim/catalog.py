"""What the simulator knows about the Instagram Graph API, kept as data.

Retiring a metric, adding a field or moving a limit is a one-line change here; the
handlers only look things up. Sources: shared/GRAPH_API.md. Values Meta does not
document firmly are marked "unconfirmed".
"""

from __future__ import annotations

from dataclasses import dataclass

# --- versions ---------------------------------------------------------------------------

NEWEST_VERSION = 26
OLDEST_VERSION = 21  # versions live about two years; older ones answer error 2635
DEFAULT_VERSION = "v24.0"  # reported for unversioned calls

# --- logins ---------------------------------------------------------------------------
# Instagram API with Instagram Login (graph.instagram.com) or with Facebook Login
# (graph.facebook.com, through the account's Facebook Page).

LOGIN_INSTAGRAM, LOGIN_FACEBOOK = "instagram", "facebook"
LOGIN_CHOICES = (LOGIN_INSTAGRAM, LOGIN_FACEBOOK, "both")  # "both": every second account uses Facebook Login


def login_of(choice: str, index: int) -> str:
    """The login of the account at ``index`` in a world made with ``--login choice``."""
    if choice == "both":
        return LOGIN_FACEBOOK if index % 2 else LOGIN_INSTAGRAM
    return choice


# --- time -------------------------------------------------------------------------------

HOUR = 3600
DAY = 86400
# Meta's insights days end at midnight Pacific time; the simulator ignores daylight saving.
INSIGHTS_DAY_END_UTC_HOUR = 8

# --- limits -----------------------------------------------------------------------------

PAGE_SIZE_DEFAULT = 25
PAGE_SIZE_MAX = 100  # unconfirmed: larger limits are clamped, not refused
MEDIA_EDGE_MAX_ITEMS = 10_000  # /media serves only about the newest 10,000 items
INSIGHTS_MAX_SPAN_SECONDS = 30 * DAY  # unconfirmed
INSIGHTS_HISTORY_DAYS = 730  # unconfirmed
INSIGHTS_RECENT_DAYS = 30  # follower_count and online_followers
STORY_LIFETIME_SECONDS = DAY
STORY_MIN_VIEWERS = 5
CONTAINER_LIFETIME_SECONDS = DAY
CONTAINERS_PER_DAY = 400
PUBLISH_QUOTA_DURATION = DAY
VIDEO_PROCESSING_FACTOR = 3  # video and reels containers take this many times longer
CAPTION_MAX_CHARS = 2200
CAPTION_MAX_HASHTAGS = 30
CAROUSEL_MIN_CHILDREN = 2
CAROUSEL_MAX_CHILDREN = 10
MESSAGE_MAX_BYTES = 1000  # UTF-8 bytes, not characters; exactly 1000 is accepted
MESSAGE_TAGS = ("HUMAN_AGENT",)  # the only tag the Instagram Messaging API takes
MESSAGING_WINDOW_SECONDS = DAY
HUMAN_AGENT_WINDOW_SECONDS = 7 * DAY
TOKEN_LIFETIME_SECONDS = 60 * DAY
TOKEN_MIN_AGE_FOR_REFRESH = DAY
# Facebook Login: the user token from the login dialog lives about two hours; exchanged
# (fb_exchange_token) it lives 60 days; Page tokens made from a long-lived user token never expire.
SHORT_LIVED_USER_TOKEN_SECONDS = 2 * HOUR
USAGE_WINDOW_SECONDS = HOUR

# --- permissions ------------------------------------------------------------------------

BASIC = "instagram_business_basic"
CONTENT_PUBLISH = "instagram_business_content_publish"
MANAGE_MESSAGES = "instagram_business_manage_messages"
MANAGE_COMMENTS = "instagram_business_manage_comments"
MANAGE_INSIGHTS = "instagram_business_manage_insights"
ALL_PERMISSIONS = (BASIC, CONTENT_PUBLISH, MANAGE_MESSAGES, MANAGE_COMMENTS, MANAGE_INSIGHTS)
# The same permissions under Facebook Login (what Meta lists for a Page-linked account).
FACEBOOK_PERMISSION_NAMES = {
    BASIC: "instagram_basic",
    CONTENT_PUBLISH: "instagram_content_publish",
    MANAGE_MESSAGES: "instagram_manage_messages",
    MANAGE_COMMENTS: "instagram_manage_comments",
    MANAGE_INSIGHTS: "instagram_manage_insights",
}
# Missing one of these answers code 200 ("requires ... permission"); others answer code 10.
PERMISSIONS_DENIED_WITH_200 = frozenset({CONTENT_PUBLISH, MANAGE_MESSAGES, MANAGE_COMMENTS})

# --- nodes and fields -------------------------------------------------------------------

NODE_FIELDS: dict[str, tuple[str, ...]] = {
    "FacebookUser": ("id", "name"),
    "Page": ("id", "name", "category", "access_token", "instagram_business_account"),
    "IGUser": (
        "id", "user_id", "username", "name", "account_type", "biography", "website",
        "profile_picture_url", "followers_count", "follows_count", "media_count", "ig_id",
    ),
    "IGMedia": (
        "id", "caption", "media_type", "media_product_type", "media_url", "permalink",
        "thumbnail_url", "timestamp", "like_count", "comments_count", "shortcode",
        "username", "is_comment_enabled", "owner", "alt_text", "ig_id",
        "insights",  # insights.metric(reach,views): the media's insights, as GET /{media-id}/insights
    ),
    "IGComment": ("id", "text", "timestamp", "username", "like_count", "from", "media", "parent_id", "hidden"),
    "IGContainer": ("id", "status_code", "status", "copyright_check_status"),
    "IGConversation": ("id", "updated_time", "participants"),
    "IGMessage": ("id", "created_time", "from", "to", "message"),
    # One item of an insights answer (what insights.metric(..){name,values} may select).
    "InsightsResult": ("id", "name", "period", "values", "title", "description"),
}

# Edges (also expandable as a field: ``children{id,media_url}``) -> the node type they list.
NODE_EDGES: dict[str, dict[str, str]] = {
    "FacebookUser": {"accounts": "Page"},
    "Page": {},
    "IGUser": {"media": "IGMedia", "stories": "IGMedia", "tags": "IGMedia", "conversations": "IGConversation"},
    "IGMedia": {"children": "IGMedia", "comments": "IGComment"},
    "IGComment": {"replies": "IGComment"},
    "IGContainer": {},
    "IGConversation": {"messages": "IGMessage"},
    "IGMessage": {},
    "InsightsResult": {},
}

# Fields whose value is another node, so they take a sub-selection: ``owner{username}``.
NODE_REFERENCES: dict[tuple[str, str], str] = {
    ("Page", "instagram_business_account"): "IGUser",
    ("IGMedia", "owner"): "IGUser",
    ("IGComment", "media"): "IGMedia",
    ("IGMedia", "insights"): "InsightsResult",
}

# The insights field of media: ``insights.metric(reach,views)[.period(lifetime)]``. The metric
# list is required (comma-separated or a JSON array); period is accepted and ignored, as the
# media insights edge ignores it; breakdowns and any other modifier are refused.
INSIGHTS_FIELD = "insights"
INSIGHTS_FIELD_MODIFIERS = ("metric", "period")

# Fields returned when the request names none (Meta returns just the id for most nodes).
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "FacebookUser": ("id", "name"),
    "Page": ("id", "name"),
    "IGUser": ("id",),
    "IGMedia": ("id",),
    "IGComment": ("timestamp", "text", "id"),
    "IGContainer": ("id",),
    "IGConversation": ("id", "updated_time"),
    "IGMessage": ("id", "created_time"),
}

# --- media ------------------------------------------------------------------------------

MEDIA_TYPES = ("IMAGE", "VIDEO", "CAROUSEL_ALBUM")
PRODUCT_FEED, PRODUCT_REELS, PRODUCT_STORY = "FEED", "REELS", "STORY"
CAROUSEL_ITEM = "CAROUSEL_ITEM"  # the insights product type of a carousel child

# Share of each (media_type, media_product_type) in the seeded feed.
FEED_MIX: tuple[tuple[str, str, float], ...] = (
    ("IMAGE", PRODUCT_FEED, 0.40),
    ("CAROUSEL_ALBUM", PRODUCT_FEED, 0.25),
    ("VIDEO", PRODUCT_REELS, 0.25),
    ("VIDEO", PRODUCT_FEED, 0.10),
)

# --- container creation (POST /{ig-user-id}/media) --------------------------------------


@dataclass(frozen=True)
class ContainerKind:
    """What one ``media_type`` value of container creation needs and becomes."""

    url_params: tuple[str, ...]  # at least one of these must be given
    media_type: str  # media_type of the published media
    product_type: str
    video: bool
    carousel_item_allowed: bool
    standalone: bool = True  # False: may be created, but media_publish answers 100/2207089


CONTAINER_KINDS: dict[str | None, ContainerKind] = {
    None: ContainerKind(("image_url",), "IMAGE", PRODUCT_FEED, False, True),
    "IMAGE": ContainerKind(("image_url",), "IMAGE", PRODUCT_FEED, False, True),
    # Since July 2023 a single feed video is a reel: VIDEO only works as a carousel item.
    "VIDEO": ContainerKind(("video_url",), "VIDEO", PRODUCT_FEED, True, True, standalone=False),
    "REELS": ContainerKind(("video_url",), "VIDEO", PRODUCT_REELS, True, False),
    "STORIES": ContainerKind(("image_url", "video_url"), "IMAGE", PRODUCT_STORY, False, False),
    "CAROUSEL": ContainerKind((), "CAROUSEL_ALBUM", PRODUCT_FEED, False, False),
}


@dataclass(frozen=True)
class ContainerParam:
    """One parameter of ``POST /{ig-user-id}/media``: the containers that take it and its form.

    ``scope`` names a rule in ``publishing.PARAM_SCOPES`` (which containers accept it);
    ``form`` names a checker in ``publishing.PARAM_FORMS`` whose result is stored in the
    container's ``options`` ("" = read by the container code itself, or not stored).
    Anything not in the table is refused with error 100 naming the parameter.
    """

    scope: str = "any"
    form: str = ""


CONTAINER_PARAMS: dict[str, ContainerParam] = {
    "access_token": ContainerParam(),
    "appsecret_proof": ContainerParam(),
    "image_url": ContainerParam(),
    "video_url": ContainerParam(),
    "media_type": ContainerParam(),
    "caption": ContainerParam(),
    "is_carousel_item": ContainerParam(),
    "children": ContainerParam("carousel"),
    "alt_text": ContainerParam("feed_image"),  # single images and image carousel items only
    "share_to_feed": ContainerParam("reels", "bool"),
    "cover_url": ContainerParam("reels", "https_url"),
    "thumb_offset": ContainerParam("video", "milliseconds"),
    "audio_name": ContainerParam("reels", "text"),
    "user_tags": ContainerParam("not_carousel", "user_tags"),  # x and y only (and then required) on images
    "location_id": ContainerParam("not_carousel_item", "numeric_id"),
    "collaborators": ContainerParam("not_carousel_item", "usernames"),
}
USER_TAGS_MAX = 20
COLLABORATORS_MAX = 3

# A media URL whose path contains one of these words makes the container end in ERROR,
# with this subcode and reason in its ``status`` field (how users trigger failures on purpose).
CONTAINER_ERROR_TRIGGERS: tuple[tuple[str, int, str], ...] = (
    ("timeout", 2207003, "Media download timed out"),
    ("error", 2207052, "Media download has failed. The media URI doesn't meet our requirements"),
)

CONTAINER_STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been successfully published.",
    "EXPIRED": "Expired: Media was not published within 24 hours.",
}

# --- insights ---------------------------------------------------------------------------

TIME_SERIES, TOTAL_VALUE = "time_series", "total_value"


@dataclass(frozen=True)
class AccountMetric:
    """One account insights metric: what it accepts and how its values are shaped.

    ``rate`` is the expected daily value as a share of the account's followers;
    ``unique`` totals are de-duplicated (reach-like) instead of summed.
    """

    title: str
    description: str
    periods: tuple[str, ...]
    metric_types: tuple[str, ...]
    breakdowns: tuple[str, ...] = ()
    kind: str = "daily"  # daily | followers | online | demographic
    rate: float = 0.0
    unique: bool = False
    min_followers: int = 0
    recent_days: int | None = None  # only the last N complete days have values
    refuses_older: bool = False  # asking for older days fails the whole call (follower_count)
    needs_timeframe: bool = False


_DAY_TOTAL = (("day",), (TOTAL_VALUE,))
_PRODUCT = ("media_product_type",)
_DEMOGRAPHIC_BREAKDOWNS = ("age", "city", "country", "gender")

ACCOUNT_METRICS: dict[str, AccountMetric] = {
    "views": AccountMetric(
        "Views", "The number of times your content was played or displayed.",
        *_DAY_TOTAL, ("follow_type", "media_product_type"), rate=0.9),
    "reach": AccountMetric(
        "Accounts reached", "The number of unique accounts that have seen your content.",
        ("day", "week", "days_28"), (TIME_SERIES, TOTAL_VALUE), ("follow_type", "media_product_type"),
        rate=0.35, unique=True),
    "accounts_engaged": AccountMetric(
        "Accounts engaged", "The number of accounts that have interacted with your content.",
        *_DAY_TOTAL, rate=0.03, unique=True),
    "total_interactions": AccountMetric(
        "Content interactions", "The number of interactions with your posts, stories, reels and videos.",
        *_DAY_TOTAL, _PRODUCT, rate=0.06),
    "likes": AccountMetric(
        "Likes", "The number of likes on your posts, reels and videos.", *_DAY_TOTAL, _PRODUCT, rate=0.04),
    "comments": AccountMetric(
        "Comments", "The number of comments on your posts, reels and videos.", *_DAY_TOTAL, _PRODUCT, rate=0.004),
    "shares": AccountMetric(
        "Shares", "The number of shares of your posts, stories, reels and videos.", *_DAY_TOTAL, _PRODUCT,
        rate=0.005),
    "saves": AccountMetric(
        "Saves", "The number of saves of your posts, reels and videos.", *_DAY_TOTAL, _PRODUCT, rate=0.006),
    "replies": AccountMetric(
        "Replies", "The number of replies to your stories.", *_DAY_TOTAL, rate=0.002),
    "reposts": AccountMetric(
        "Reposts", "The number of times your content was reposted.", *_DAY_TOTAL, rate=0.001),
    "profile_links_taps": AccountMetric(
        "Profile links taps", "The number of taps on your address, call, email and text buttons.",
        *_DAY_TOTAL, ("contact_button_type",), rate=0.003),
    "follows_and_unfollows": AccountMetric(
        "Follows and unfollows", "The number of accounts that followed or unfollowed you.",
        *_DAY_TOTAL, ("follow_type",), rate=0.004),
    # Retired as time series in v21.0 (January 2025), still served as total_value. As metrics of
    # media they stay retired (DEPRECATED_METRICS).
    "profile_views": AccountMetric(
        "Profile views", "The number of times your profile was visited.", *_DAY_TOTAL, rate=0.01),
    "website_clicks": AccountMetric(
        "Website clicks", "The number of taps on the website link in your profile.", *_DAY_TOTAL, rate=0.002),
    "follower_count": AccountMetric(
        "Follower count", "The number of new followers per day.",
        ("day",), (TIME_SERIES,), kind="followers", rate=0.002, min_followers=100,
        recent_days=INSIGHTS_RECENT_DAYS, refuses_older=True),
    "online_followers": AccountMetric(
        "Online followers", "The number of your followers that were online, by hour.",
        ("lifetime",), (TIME_SERIES,), kind="online", rate=0.3, recent_days=INSIGHTS_RECENT_DAYS),
    "follower_demographics": AccountMetric(
        "Follower demographics", "The age, city, country and gender of your followers.",
        ("lifetime",), (TOTAL_VALUE,), _DEMOGRAPHIC_BREAKDOWNS, kind="demographic", rate=1.0),
    "engaged_audience_demographics": AccountMetric(
        "Engaged audience demographics", "The age, city, country and gender of the engaged audience.",
        ("lifetime",), (TOTAL_VALUE,), _DEMOGRAPHIC_BREAKDOWNS, kind="demographic", rate=0.05,
        needs_timeframe=True),
    "reached_audience_demographics": AccountMetric(
        "Reached audience demographics", "The age, city, country and gender of the reached audience.",
        ("lifetime",), (TOTAL_VALUE,), _DEMOGRAPHIC_BREAKDOWNS, kind="demographic", rate=0.4,
        needs_timeframe=True),
}

PERIOD_DAYS = {"day": 1, "week": 7, "days_28": 28}
DEMOGRAPHIC_TIMEFRAMES = ("this_week", "this_month")

BREAKDOWN_VALUES: dict[str, tuple[str, ...]] = {
    "follow_type": ("FOLLOWER", "NON_FOLLOWER"),
    "media_product_type": ("POST", "REEL", "STORY", "CAROUSEL_CONTAINER"),
    "contact_button_type": ("BOOK_NOW", "CALL", "DIRECTION", "EMAIL", "TEXT", "INSTANT_EXPERIENCE"),
    "age": ("13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"),
    "gender": ("F", "M", "U"),
    "country": ("US", "BR", "IN", "DE", "GB", "FR", "IT", "ES", "MX", "ID"),
    "city": ("London, England", "Berlin, Berlin", "São Paulo, São Paulo", "New York, New York",
             "Mumbai, Maharashtra", "Paris, Île-de-France", "Madrid, Community of Madrid", "Milan, Lombardy"),
    "story_navigation_action_type": ("TAP_FORWARD", "TAP_BACK", "TAP_EXIT", "SWIPE_FORWARD"),
    "action_type": ("BIO_LINK_CLICKED", "CALL", "DIRECTION", "EMAIL", "OTHER", "TEXT"),
}


@dataclass(frozen=True)
class MediaMetric:
    title: str
    description: str
    breakdowns: tuple[str, ...] = ()


MEDIA_METRICS: dict[str, MediaMetric] = {
    "reach": MediaMetric("Accounts reached", "The number of unique accounts that have seen this media."),
    "views": MediaMetric("Views", "The number of times this media was played or displayed."),
    "likes": MediaMetric("Likes", "The number of likes on this media."),
    "comments": MediaMetric("Comments", "The number of comments on this media."),
    "saved": MediaMetric("Saved", "The number of saves of this media."),
    "shares": MediaMetric("Shares", "The number of shares of this media."),
    "replies": MediaMetric("Replies", "The number of replies to this story."),
    "total_interactions": MediaMetric("Interactions", "Likes, saves, comments and shares of this media."),
    "profile_visits": MediaMetric("Profile visits", "The number of times the profile was visited from this media."),
    "profile_activity": MediaMetric("Profile activity", "Actions people took on the profile after seeing this media.",
                                    ("action_type",)),
    "follows": MediaMetric("Follows", "The number of accounts that followed after seeing this media."),
    "navigation": MediaMetric("Navigation", "Forward, back, exit and next-story actions on this story.",
                              ("story_navigation_action_type",)),
    "ig_reels_avg_watch_time": MediaMetric("Average watch time", "Average time the reel was played, in milliseconds."),
    "ig_reels_video_view_total_time": MediaMetric("Watch time", "The total time the reel was played, in milliseconds."),
    "reels_skip_rate": MediaMetric("Skip rate", "The share of plays skipped in the first 3 seconds, in percent."),
    "reposts": MediaMetric("Reposts", "The number of times this media was reposted."),
}

# Which metrics each media product type supports (carousel children support none).
MEDIA_METRIC_SETS: dict[str, frozenset[str]] = {
    PRODUCT_FEED: frozenset({"reach", "views", "likes", "comments", "saved", "shares", "total_interactions",
                             "profile_visits", "follows", "profile_activity", "reposts"}),
    PRODUCT_REELS: frozenset({"reach", "views", "likes", "comments", "saved", "shares", "total_interactions",
                              "ig_reels_avg_watch_time", "ig_reels_video_view_total_time", "reels_skip_rate",
                              "reposts"}),
    PRODUCT_STORY: frozenset({"reach", "views", "shares", "replies", "navigation", "follows", "profile_visits",
                              "total_interactions"}),
    CAROUSEL_ITEM: frozenset(),
}

# Metrics refused for one (media_type, media_product_type) although its product type has them.
MEDIA_TYPE_EXCLUSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("VIDEO", PRODUCT_FEED): frozenset({"total_interactions"}),  # legacy feed videos (before reels)
}


@dataclass(frozen=True)
class Retirement:
    since: str
    replacement: str | None = None


# Metrics Meta retired; asking for one answers error 100 for accounts and media alike.
DEPRECATED_METRICS: dict[str, Retirement] = {
    "impressions": Retirement("v22.0 (April 2025)", "views"),
    "plays": Retirement("v22.0 (April 2025)", "views"),
    "clips_replays_count": Retirement("v22.0 (April 2025)", "views"),
    "ig_reels_aggregated_all_plays_count": Retirement("v22.0 (April 2025)", "views"),
    "video_views": Retirement("v21.0 (January 2025)", "views"),
    "profile_views": Retirement("v21.0 (January 2025)", "profile_visits"),
    "website_clicks": Retirement("v21.0 (January 2025)", "profile_links_taps"),
    "email_contacts": Retirement("v21.0 (January 2025)", "profile_links_taps"),
    "phone_call_clicks": Retirement("v21.0 (January 2025)", "profile_links_taps"),
    "text_message_clicks": Retirement("v21.0 (January 2025)", "profile_links_taps"),
    "get_directions_clicks": Retirement("v21.0 (January 2025)", "profile_links_taps"),
    "audience_city": Retirement("v18.0 (2023)", "follower_demographics"),
    "audience_country": Retirement("v18.0 (2023)", "follower_demographics"),
    "audience_gender_age": Retirement("v18.0 (2023)", "follower_demographics"),
    "audience_locale": Retirement("v18.0 (2023)", "follower_demographics"),
    "carousel_album_engagement": Retirement("v18.0 (2023)", "total_interactions"),
    "carousel_album_impressions": Retirement("v18.0 (2023)", "views"),
    "carousel_album_reach": Retirement("v18.0 (2023)", "reach"),
    "carousel_album_saved": Retirement("v18.0 (2023)", "saved"),
    "carousel_album_video_views": Retirement("v18.0 (2023)", "views"),
    "taps_forward": Retirement("v18.0 (2023)", "navigation"),
    "taps_back": Retirement("v18.0 (2023)", "navigation"),
    "exits": Retirement("v18.0 (2023)", "navigation"),
    "engagement": Retirement("v18.0 (2023)", "total_interactions"),
}

# --- rate limiting ----------------------------------------------------------------------

# HTTP status Meta tends to pair with each throttling code (it varies; clients must
# branch on error.code).
THROTTLE_HTTP_STATUS = {4: 403, 17: 400, 80002: 429}
