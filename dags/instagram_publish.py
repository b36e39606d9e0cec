"""
### Instagram: publish one post (triggered)

Publishes one **image, video, reel, story or carousel** for one account, exactly once.
Trigger it from the UI form (*Trigger DAG*), the REST API or another DAG; there is no
schedule. Bad input is refused by the form before the run starts, and by the task before
anything is sent to Instagram.

What the run does: checks the account's publishing quota (`content_publishing_limit`),
creates the media container(s) (carousel items first, then the carousel), waits for
Instagram to process them **without holding a worker** (deferred; `wait_timeout_minutes`),
then publishes. Every step is recorded in **`instagram.publish_jobs`** (one row per
idempotency key: state, container ids, media id, permalink, errors).

**Exactly once**: the idempotency key (default: `instagram_publish:<run id>`) stands for
one post. Retries and re-triggers with the same key resume the recorded job; if Instagram
published but the answer was lost, the container's status shows it and nothing is posted
again. The same key with different content is refused.

Guide: `docs/publishing-and-messaging.md`.
"""

from airflow.sdk import DAG, Param

from instagram_graph.operators.publish import InstagramPublishOperator
from instagram_graph.operators.sync import GRAPH_TASK_DEFAULTS

HTTPS_OR_EMPTY = r"^(https://\S+)?$"

with DAG(
    dag_id="instagram_publish",
    schedule=None,
    catchup=False,
    tags=["instagram", "publishing", "triggered"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "account_id": Param(
            type="string", minLength=1, title="Account",
            description="Instagram user id to publish as (`instagram-graph accounts list`).",
        ),
        "media_type": Param(
            "IMAGE", type="string", enum=["IMAGE", "VIDEO", "REELS", "STORIES", "CAROUSEL"], title="Media type",
        ),
        "media_url": Param(
            "", type="string", pattern=HTTPS_OR_EMPTY, title="Media URL",
            description="Public https:// URL of the image (JPEG) or video (MP4/MOV). Empty for CAROUSEL.",
        ),
        "children": Param(
            [], type="array", items={"type": "string", "pattern": r"^https://\S+$"}, maxItems=10,
            title="Carousel items",
            description="CAROUSEL only: 2 to 10 https:// URLs, one per line; .mp4/.mov/.m4v files are videos.",
        ),
        "caption": Param(
            "", type="string", maxLength=2200, title="Caption",
            description="At most 2200 characters and 30 hashtags. Leave empty for STORIES.",
        ),
        "alt_text": Param("", type="string", maxLength=1000, title="Alt text", description="Describes images."),
        "idempotency_key": Param(
            "", type="string", maxLength=250, title="Idempotency key",
            description="One key, one post. Empty: derived from the run. Reuse a key to resume, never to repost.",
        ),
        "wait_timeout_minutes": Param(
            60, type="integer", minimum=1, maximum=1440, title="Processing timeout (minutes)",
            description="Give up when Instagram is still processing the media after this long.",
        ),
    },
):
    InstagramPublishOperator(
        task_id="publish",
        account_id="{{ params.account_id }}",
        media_type="{{ params.media_type }}",
        media_url="{{ params.media_url }}",
        children="{{ params.children | tojson }}",
        caption="{{ params.caption }}",
        alt_text="{{ params.alt_text }}",
        idempotency_key="{{ params.idempotency_key }}",
        wait_timeout_minutes="{{ params.wait_timeout_minutes }}",
    )
