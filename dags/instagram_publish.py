"""
### Instagram: publish one post (triggered)

Publishes one **image, reel, story or carousel** for one account, exactly once. Trigger
it from the UI form (*Trigger DAG*), the REST API or another DAG; there is no schedule.
Types, choices, lengths and ranges are checked by the form before the run starts (each
field's description gives its limits); everything else by the task before anything is sent
to Instagram or recorded (an account id that is not digits, a URL that is not https://,
control characters in any text, too many hashtags or @mentions in the caption, an option
the media type does not take, ...): the run fails at once, without retries, naming the
field and what to do. A single video is published as a **reel** (`REELS`): Instagram no
longer takes a standalone `VIDEO` post.

What the run does: checks the account's publishing quota (`content_publishing_limit`),
creates the media container(s) (carousel items first, then the carousel), waits for
Instagram to process them **without holding a worker** (deferred; `wait_timeout_minutes`),
then publishes. Every step is recorded in **`instagram.publish_jobs`** (one row per
idempotency key: state, container ids, media id, permalink, errors).

**Exactly once**: the idempotency key (default: `instagram_publish:<run id>`) stands for
one post. Retries and re-triggers with the same key resume the recorded job. If the answer
to the publish request is lost, the publish may still be under way: the task defers until
the connection's `settle_seconds` have passed (default: the request timeout + 30 s), then
the container's status shows whether it was published, and only an unpublished container
is published again. The same key with different content is refused.

Guide: `docs/publishing-and-messaging.md`.
"""

from airflow.sdk import DAG, Param

from instagram_graph.jobs import MAX_IDEMPOTENCY_KEY_LENGTH
from instagram_graph.operators.first_tasks import graph_api_pool_ready
from instagram_graph.operators.policy import GRAPH_TASK_DEFAULTS
from instagram_graph.operators.publish import (
    DEFAULT_WAIT_TIMEOUT_MINUTES,
    MAX_WAIT_TIMEOUT_MINUTES,
    MIN_WAIT_TIMEOUT_MINUTES,
    InstagramPublishOperator,
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

# The form checks types, choices, lengths and ranges only; a rule about the shape of a value
# (digits only, an https:// URL) is written in words in the field's description and checked by
# the task before any call, whose refusal names the field and the fix (a jsonschema `pattern`
# would show the user a raw regex).
REELS_OPTIONS = "Reels options (REELS only)"
TAGS_AND_PLACE = "People and place"

with DAG(
    dag_id="instagram_publish",
    schedule=None,
    catchup=False,
    tags=["instagram", "publishing", "triggered"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "account_id": Param(
            type="string", minLength=1, maxLength=INSTAGRAM_ID_MAX_DIGITS, title="Account",
            description="Instagram user id to publish as, digits only (`instagram-graph accounts list`).",
        ),
        "media_type": Param(
            "IMAGE", type="string", enum=list(MEDIA_TYPES), title="Media type",
            description="IMAGE, REELS (a single video), STORIES (an image or a video) or CAROUSEL.",
        ),
        "media_url": Param(
            None, type=["null", "string"], title="Media URL",
            description="Public https:// URL of the image (JPEG) or video (MP4/MOV). Empty for CAROUSEL.",
        ),
        "children": Param(
            None, type=["null", "array"], items={"type": "string"}, maxItems=CAROUSEL_MAX_ITEMS,
            title="Carousel items",
            description=f"CAROUSEL only: {CAROUSEL_MIN_ITEMS} to {CAROUSEL_MAX_ITEMS} https:// URLs, one per line; "
            ".mp4/.mov/.m4v files are videos.",
        ),
        "caption": Param(
            None, type=["null", "string"], maxLength=CAPTION_MAX_CHARS, title="Caption",
            description=f"At most {CAPTION_MAX_CHARS} characters, {CAPTION_MAX_HASHTAGS} hashtags and "
            f"{CAPTION_MAX_MENTIONS} @mentions. Leave empty for STORIES.",
        ),
        "alt_text": Param(
            None, type=["null", "string"], maxLength=ALT_TEXT_MAX_CHARS, title="Alt text",
            description=f"Describes the image: IMAGE, and a CAROUSEL's images. Not for REELS or STORIES. At most "
            f"{ALT_TEXT_MAX_CHARS} characters.",
        ),
        "share_to_feed": Param(
            None, type=["null", "boolean"], title="Also in the feed", section=REELS_OPTIONS,
            description="Also show the reel in the profile grid (Instagram's default: yes).",
        ),
        "cover_url": Param(
            None, type=["null", "string"], title="Cover image URL", section=REELS_OPTIONS,
            description="Public https:// URL of a cover image for the reel.",
        ),
        "thumb_offset": Param(
            None, type=["null", "integer"], minimum=0, maximum=THUMB_OFFSET_MAX_MS, title="Cover frame (ms)",
            section=REELS_OPTIONS,
            description="The frame used as cover, in milliseconds from the start (instead of a cover image); a reel "
            f"is at most {THUMB_OFFSET_MAX_MS // 60_000} minutes long (0 to {THUMB_OFFSET_MAX_MS}).",
        ),
        "audio_name": Param(
            None, type=["null", "string"], maxLength=AUDIO_NAME_MAX_CHARS, title="Audio name", section=REELS_OPTIONS,
            description=f"The name of the reel's original audio, at most {AUDIO_NAME_MAX_CHARS} characters.",
        ),
        "user_tags": Param(
            None, type=["null", "array"], maxItems=USER_TAGS_MAX, title="Tag people", section=TAGS_AND_PLACE,
            items={
                "type": "object",
                "required": ["username"],
                "properties": {
                    "username": {"type": "string", "minLength": 1},
                    "x": {"type": "number", "minimum": 0, "maximum": 1},
                    "y": {"type": "number", "minimum": 0, "maximum": 1},
                    "item": {"type": "integer", "minimum": 1, "maximum": CAROUSEL_MAX_ITEMS},
                },
            },
            description=f'JSON list of at most {USER_TAGS_MAX} people, e.g. [{{"username": "jane.doe", "x": 0.5, '
            '"y": 0.4}]. x and y (0 to 1, from the top left) are required on images, left out on reels, optional '
            'on stories. CAROUSEL: "item" is the position of the image (default 1).',
        ),
        "location_id": Param(
            # Text only: a JSON-schema bound as large as the longest id (10**32) cannot be serialized
            # (the dag-processor's encoder takes 64-bit integers), which hides the whole DAG.
            None, type=["null", "string"], maxLength=LOCATION_ID_MAX_DIGITS, title="Location (Page id)",
            section=TAGS_AND_PLACE,
            description="IMAGE, REELS or CAROUSEL: the numeric id of the place's Facebook Page, digits only.",
        ),
        "idempotency_key": Param(
            None, type=["null", "string"], maxLength=MAX_IDEMPOTENCY_KEY_LENGTH, title="Idempotency key",
            description="One key, one post. Empty: derived from the run. Reuse a key to resume, never to repost.",
        ),
        "wait_timeout_minutes": Param(
            DEFAULT_WAIT_TIMEOUT_MINUTES, type="integer", minimum=MIN_WAIT_TIMEOUT_MINUTES,
            maximum=MAX_WAIT_TIMEOUT_MINUTES, title="Processing timeout (minutes)",
            description="Give up when Instagram is still processing the media (or not ready to publish it) "
            f"after this long ({MIN_WAIT_TIMEOUT_MINUTES} to {MAX_WAIT_TIMEOUT_MINUTES} minutes).",
        ),
    },
):
    graph_api_pool_ready() >> InstagramPublishOperator(
        task_id="publish",
        account_id="{{ params.account_id }}",
        media_type="{{ params.media_type }}",
        media_url="{{ params.media_url or '' }}",
        children="{{ params.children | tojson }}",
        caption="{{ params.caption or '' }}",
        alt_text="{{ params.alt_text or '' }}",
        share_to_feed="{{ params.share_to_feed | tojson }}",
        cover_url="{{ params.cover_url or '' }}",
        thumb_offset="{{ params.thumb_offset | tojson }}",
        audio_name="{{ params.audio_name or '' }}",
        user_tags="{{ params.user_tags | tojson }}",
        location_id="{{ params.location_id or '' }}",
        idempotency_key="{{ params.idempotency_key or '' }}",
        wait_timeout_minutes="{{ params.wait_timeout_minutes }}",
    )
