"""
### Instagram: publish one post (triggered)

Publishes one **image, reel, story or carousel** for one account, exactly once. Trigger
it from the UI form (*Trigger DAG*), the REST API or another DAG; there is no schedule.
Bad input is refused by the form before the run starts, and by the task before anything
is sent to Instagram or recorded (control characters in any text, more than 30 hashtags or
20 @mentions in the caption, an option the media type does not take, ...): the run fails at
once, without retries, naming the field and what to do. A single video is published as a
**reel** (`REELS`): Instagram no longer takes a standalone `VIDEO` post.

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

from instagram_graph.operators.publish import InstagramPublishOperator
from instagram_graph.operators.sync import GRAPH_TASK_DEFAULTS, graph_api_pool_ready
from instagram_graph.publishing import MEDIA_TYPES, THUMB_OFFSET_MAX_MS

HTTPS_OR_EMPTY = r"^(https://\S+)?$"
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
            type="string", minLength=1, maxLength=64, pattern=r"^[0-9]+$", title="Account",
            description="Instagram user id to publish as, digits only (`instagram-graph accounts list`).",
        ),
        "media_type": Param(
            "IMAGE", type="string", enum=list(MEDIA_TYPES), title="Media type",
            description="IMAGE, REELS (a single video), STORIES (an image or a video) or CAROUSEL.",
        ),
        "media_url": Param(
            None, type=["null", "string"], pattern=HTTPS_OR_EMPTY, title="Media URL",
            description="Public https:// URL of the image (JPEG) or video (MP4/MOV). Empty for CAROUSEL.",
        ),
        "children": Param(
            None, type=["null", "array"], items={"type": "string", "pattern": r"^https://\S+$"}, maxItems=10,
            title="Carousel items",
            description="CAROUSEL only: 2 to 10 https:// URLs, one per line; .mp4/.mov/.m4v files are videos.",
        ),
        "caption": Param(
            None, type=["null", "string"], maxLength=2200, title="Caption",
            description="At most 2200 characters, 30 hashtags and 20 @mentions. Leave empty for STORIES.",
        ),
        "alt_text": Param(
            None, type=["null", "string"], maxLength=1000, title="Alt text",
            description="Describes the image: IMAGE, and a CAROUSEL's images. Not for REELS or STORIES.",
        ),
        "share_to_feed": Param(
            None, type=["null", "boolean"], title="Also in the feed", section=REELS_OPTIONS,
            description="Also show the reel in the profile grid (Instagram's default: yes).",
        ),
        "cover_url": Param(
            None, type=["null", "string"], pattern=HTTPS_OR_EMPTY, title="Cover image URL", section=REELS_OPTIONS,
            description="Public https:// URL of a cover image for the reel.",
        ),
        "thumb_offset": Param(
            None, type=["null", "integer"], minimum=0, maximum=THUMB_OFFSET_MAX_MS, title="Cover frame (ms)",
            section=REELS_OPTIONS,
            description="The frame used as cover, in milliseconds from the start (instead of a cover image); a reel "
            f"is at most 15 minutes long (0 to {THUMB_OFFSET_MAX_MS}).",
        ),
        "audio_name": Param(
            None, type=["null", "string"], maxLength=200, title="Audio name", section=REELS_OPTIONS,
            description="The name of the reel's original audio.",
        ),
        "user_tags": Param(
            None, type=["null", "array"], maxItems=20, title="Tag people", section=TAGS_AND_PLACE,
            items={
                "type": "object",
                "required": ["username"],
                "properties": {
                    "username": {"type": "string", "minLength": 1},
                    "x": {"type": "number", "minimum": 0, "maximum": 1},
                    "y": {"type": "number", "minimum": 0, "maximum": 1},
                    "item": {"type": "integer", "minimum": 1, "maximum": 10},
                },
            },
            description='JSON list, e.g. [{"username": "jane.doe", "x": 0.5, "y": 0.4}]. x and y (0 to 1, from '
            "the top left) are required on images, left out on reels, optional on stories. CAROUSEL: "
            '"item" is the position of the image (default 1).',
        ),
        "location_id": Param(
            None, type=["null", "string", "integer"], pattern=r"^[0-9]*$", maxLength=32, minimum=0,
            maximum=10**32 - 1, title="Location (Page id)", section=TAGS_AND_PLACE,
            description="IMAGE, REELS or CAROUSEL: the numeric id of the place's Facebook Page.",
        ),
        "idempotency_key": Param(
            None, type=["null", "string"], maxLength=250, title="Idempotency key",
            description="One key, one post. Empty: derived from the run. Reuse a key to resume, never to repost.",
        ),
        "wait_timeout_minutes": Param(
            60, type="integer", minimum=1, maximum=1440, title="Processing timeout (minutes)",
            description="Give up when Instagram is still processing the media (or not ready to publish it) "
            "after this long.",
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
