"""Publishing one post exactly once: the request's rules, and the state machine over
``instagram.publish_jobs``.

A job is one idempotency key. Its states (the user-facing meaning is in
docs/publishing-and-messaging.md):

``pending``            validated and recorded; item containers are being created
                       (``container_ids`` fills as each exists; a carousel's items then process)
``containers_created`` the container to publish (``parent_container_id``) exists and processes
``ready``              it is FINISHED; publishing is next
``publishing``         media_publish is being (or was) sent; the outcome is not recorded yet
``published``          ``media_id``, ``permalink``, ``published_at`` recorded. Final.
``failed``             Meta refused, or processing ended in ERROR/EXPIRED; the error is
                       recorded and nothing was published. Triggering the same key again
                       starts over.

Exactly once. Meta's own idempotency key is the container: one container is published
at most once (a second ``media_publish`` is refused). So the job records its container
before publishing, writes ``publishing`` (and the time) before the request leaves, and
never makes a new container once it is there. Whoever finds ``publishing`` - the same
attempt after a lost answer, a task retry, a rerun after a killed worker - asks the
container first: PUBLISHED means the post exists (the media is found on the account's
edge and recorded), FINISHED means the request never took effect (publish again),
ERROR/EXPIRED mean nothing was published. ``failed`` is only written when nothing was
published, so starting a failed key over cannot post twice.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

from instagram_graph.errors import (
    GraphApiError,
    RateLimiterUnavailableError,
    RateLimitError,
    TokenError,
    TransientError,
    advice_for,
)
from instagram_graph.jobs import (
    JobTable,
    RequestRefused,
    content_hash,
    parse_graph_time,
    pick_after,
)

log = logging.getLogger(__name__)

DUPLICATE_POST_CODE = 506  # Meta refuses a second media_publish of a container

# --- Instagram's rules, as data ------------------------------------------------------------

MEDIA_TYPES = ("IMAGE", "VIDEO", "REELS", "STORIES", "CAROUSEL")
CAROUSEL = "CAROUSEL"
CAPTION_MAX_CHARS = 2200
CAPTION_MAX_HASHTAGS = 30
CAROUSEL_MIN_ITEMS, CAROUSEL_MAX_ITEMS = 2, 10
HASHTAG = re.compile(r"#\w+")
# Carousel items and stories are images unless their file says video.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v")
# The media_type sent when creating the container (None: omitted, which means image).
CONTAINER_MEDIA_TYPE = {"IMAGE": None, "VIDEO": "VIDEO", "REELS": "REELS", "STORIES": "STORIES", CAROUSEL: "CAROUSEL"}
HAS_CAPTION = {"IMAGE": True, "VIDEO": True, "REELS": True, "STORIES": False, CAROUSEL: True}
TAKES_ALT_TEXT = {"IMAGE": True, "VIDEO": False, "REELS": False, "STORIES": True, CAROUSEL: True}


@dataclass(frozen=True)
class PublishedShape:
    """How a published post of one requested type appears on the account's edges."""

    edge: str
    product_types: frozenset[str]
    media_types: frozenset[str]


PUBLISHED_AS = {
    "IMAGE": PublishedShape("media", frozenset({"FEED"}), frozenset({"IMAGE"})),
    "VIDEO": PublishedShape("media", frozenset({"FEED", "REELS"}), frozenset({"VIDEO"})),
    "REELS": PublishedShape("media", frozenset({"REELS"}), frozenset({"VIDEO"})),
    "STORIES": PublishedShape("stories", frozenset({"STORY"}), frozenset({"IMAGE", "VIDEO"})),
    CAROUSEL: PublishedShape("media", frozenset({"FEED"}), frozenset({"CAROUSEL_ALBUM"})),
}
LOOKUP_FIELDS = "id,caption,media_type,media_product_type,permalink,timestamp"
STATES = ("pending", "containers_created", "ready", "publishing", "published", "failed")


# --- the request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerSpec:
    """The parameters of one ``POST /{ig-user-id}/media``."""

    image_url: str | None = None
    video_url: str | None = None
    media_type: str | None = None
    caption: str | None = None
    alt_text: str | None = None
    is_carousel_item: bool = False
    children: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        return {
            "image_url": self.image_url,
            "video_url": self.video_url,
            "media_type": self.media_type,
            "caption": self.caption,
            "alt_text": self.alt_text,
            "is_carousel_item": self.is_carousel_item,
            "children": list(self.children) or None,
        }


@dataclass(frozen=True)
class PublishRequest:
    """A validated publishing request. Build it with :meth:`build`, which refuses bad input."""

    account_id: str
    media_type: str
    media_url: str | None
    children: tuple[str, ...]
    caption: str | None
    alt_text: str | None

    @classmethod
    def build(
        cls,
        *,
        account_id: str,
        media_type: str,
        media_url: str | None = None,
        children: Sequence[str] | str | None = (),
        caption: str | None = None,
        alt_text: str | None = None,
    ) -> PublishRequest:
        """Check every rule Instagram would check, so a bad request fails before any call.

        :raises RequestRefused: naming the problem and the fix.
        """
        account_id = (account_id or "").strip()
        if not account_id:
            raise RequestRefused("account_id is empty: give the Instagram user id of the account to publish as.")
        media_type = (media_type or "").strip().upper()
        if media_type not in MEDIA_TYPES:
            raise RequestRefused(f"media_type {media_type!r} is not one of {', '.join(MEDIA_TYPES)}.")
        media_url = (media_url or "").strip() or None
        items = _as_list(children)
        caption = caption if caption and caption.strip() else None
        alt_text = alt_text.strip() if alt_text and alt_text.strip() else None

        if media_type == CAROUSEL:
            if media_url:
                raise RequestRefused(
                    "media_url is set for a CAROUSEL: list every item's URL in children instead, and leave media_url empty."
                )
            if not CAROUSEL_MIN_ITEMS <= len(items) <= CAROUSEL_MAX_ITEMS:
                raise RequestRefused(
                    f"A carousel needs {CAROUSEL_MIN_ITEMS} to {CAROUSEL_MAX_ITEMS} items in children; got {len(items)}. "
                    + ("Add items, or publish a single IMAGE or VIDEO instead." if len(items) < CAROUSEL_MIN_ITEMS
                       else "Remove items, or split them into two posts.")
                )
            for position, url in enumerate(items, start=1):
                _check_https(url, f"children item {position}")
        else:
            if items:
                raise RequestRefused(
                    f"children are only for CAROUSEL posts; this is {media_type}. "
                    "Remove children, or set media_type to CAROUSEL."
                )
            if not media_url:
                raise RequestRefused(f"media_url is empty: a {media_type} post needs the public HTTPS URL of its file.")
            _check_https(media_url, "media_url")
            if media_type == "IMAGE" and _is_video(media_url):
                raise RequestRefused(
                    f"media_url {media_url} is a video file, but media_type is IMAGE. Choose REELS or VIDEO for videos."
                )

        if caption is not None:
            if not HAS_CAPTION[media_type]:
                raise RequestRefused("Stories have no caption on Instagram: leave caption empty for STORIES.")
            if len(caption) > CAPTION_MAX_CHARS:
                raise RequestRefused(
                    f"The caption is {len(caption)} characters long; Instagram allows at most {CAPTION_MAX_CHARS}. "
                    f"Shorten it by {len(caption) - CAPTION_MAX_CHARS} characters."
                )
            hashtags = len(HASHTAG.findall(caption))
            if hashtags > CAPTION_MAX_HASHTAGS:
                raise RequestRefused(
                    f"The caption has {hashtags} hashtags; Instagram allows at most {CAPTION_MAX_HASHTAGS}. "
                    f"Remove {hashtags - CAPTION_MAX_HASHTAGS} of them."
                )
        if alt_text is not None and not TAKES_ALT_TEXT[media_type]:
            raise RequestRefused(f"alt_text applies to images only; leave it empty for {media_type}.")
        return cls(account_id, media_type, media_url, tuple(items), caption, alt_text)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PublishRequest:
        """The request as stored in ``publish_jobs.request`` (already validated)."""
        return cls(
            account_id=record["account_id"],
            media_type=record["media_type"],
            media_url=record.get("media_url"),
            children=tuple(record.get("children") or ()),
            caption=record.get("caption"),
            alt_text=record.get("alt_text"),
        )

    def record(self) -> dict[str, Any]:
        """The canonical form: stored as ``request`` and hashed into ``request_hash``."""
        return {
            "account_id": self.account_id,
            "media_type": self.media_type,
            "media_url": self.media_url,
            "children": list(self.children),
            "caption": self.caption,
            "alt_text": self.alt_text,
        }

    @property
    def request_hash(self) -> str:
        return content_hash(self.record())

    def item_specs(self) -> list[ContainerSpec]:
        """The containers made first: a carousel's items, or the post's one container."""
        if self.media_type == CAROUSEL:
            return [_carousel_item(url, self.alt_text) for url in self.children]
        url = self.media_url or ""
        video = self.media_type in ("VIDEO", "REELS") or (self.media_type == "STORIES" and _is_video(url))
        return [
            ContainerSpec(
                image_url=None if video else url,
                video_url=url if video else None,
                media_type=CONTAINER_MEDIA_TYPE[self.media_type],
                caption=self.caption,
                alt_text=None if video else self.alt_text,
            )
        ]

    def parent_spec(self, item_ids: Sequence[str]) -> ContainerSpec:
        """The carousel container, made once its items are FINISHED."""
        return ContainerSpec(media_type=CONTAINER_MEDIA_TYPE[CAROUSEL], caption=self.caption, children=tuple(item_ids))


def _carousel_item(url: str, alt_text: str | None) -> ContainerSpec:
    if _is_video(url):
        return ContainerSpec(video_url=url, media_type="VIDEO", is_carousel_item=True)
    return ContainerSpec(image_url=url, alt_text=alt_text, is_carousel_item=True)


def _as_list(value: Sequence[str] | str | None) -> list[str]:
    """Children from a list, a JSON array string (a templated field) or lines/commas."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                decoded = json.loads(text)
            except ValueError:
                raise RequestRefused("children is not a valid JSON array of URLs.") from None
            value = decoded if isinstance(decoded, list) else [text]
        else:
            value = re.split(r"[\s,]+", text)
    return [str(item).strip() for item in value if str(item).strip()]


def _check_https(url: str, name: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or any(char.isspace() for char in url):
        raise RequestRefused(
            f"{name} {url!r} is not an HTTPS URL. Instagram downloads media itself, only from public "
            "https:// URLs: host the file on HTTPS and give that URL."
        )


def _is_video(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(VIDEO_EXTENSIONS)


# --- the job --------------------------------------------------------------------------------


@dataclass
class PublishJob:
    """One row of ``instagram.publish_jobs``."""

    job_id: int
    idempotency_key: str
    account_id: str
    state: str
    request: PublishRequest
    request_hash: str
    container_ids: list[str] = field(default_factory=list)
    parent_container_id: str | None = None
    media_id: str | None = None
    permalink: str | None = None
    error_message: str | None = None
    attempts: int = 0
    publish_started_at: datetime | None = None
    created_at: datetime | None = None

    @property
    def media_type(self) -> str:
        return self.request.media_type

    def describe(self) -> str:
        return f"publish job {self.job_id} (key {self.idempotency_key!r}, account {self.account_id}, {self.media_type})"

    def summary(self) -> dict[str, Any]:
        """What the task returns (XCom): ids and state, never a token."""
        return {
            "job_id": self.job_id,
            "idempotency_key": self.idempotency_key,
            "account_id": self.account_id,
            "state": self.state,
            "media_id": self.media_id,
            "permalink": self.permalink,
            "container_id": self.parent_container_id,
        }


@dataclass(frozen=True)
class WaitFor:
    """The job cannot go on until these containers finish processing."""

    container_ids: tuple[str, ...]
    what: str


class PublishFailed(Exception):
    """The job ended in ``failed``: nothing was published. The message says why and what to do."""

    def __init__(self, job: PublishJob, message: str) -> None:
        self.job = job
        super().__init__(f"{message} [{job.describe()}]")


class PublishOutcomeUnknown(Exception):
    """media_publish got no answer: the post may or may not exist. Advance the job again:
    it looks at the container before doing anything else."""


class PublishedMediaNotFound(Exception):
    """The container is PUBLISHED, so the post exists, but it is not on the account's edge yet.

    Nothing will publish it again; looking again later records its media id.
    """


_COLUMNS = (
    "job_id, idempotency_key, account_id, state, request, request_hash, container_ids, parent_container_id, "
    "media_id, permalink, error_message, attempts, publish_started_at, created_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM instagram.publish_jobs WHERE idempotency_key = %s"
_INSERT = f"""
INSERT INTO instagram.publish_jobs (idempotency_key, account_id, dag_run_id, state, media_type, request, request_hash)
VALUES (%s, %s, %s, 'pending', %s, %s::jsonb, %s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
"""
_RESTART = f"""
UPDATE instagram.publish_jobs
   SET state = 'pending', container_ids = '{{}}', parent_container_id = NULL, error_code = NULL,
       error_subcode = NULL, error_message = NULL, fbtrace_id = NULL, publish_started_at = NULL, dag_run_id = %s
 WHERE idempotency_key = %s AND state = 'failed'
RETURNING {_COLUMNS}
"""
_SET_CONTAINERS = "UPDATE instagram.publish_jobs SET container_ids = %s WHERE job_id = %s AND state = 'pending'"
_CONTAINERS_CREATED = f"""
UPDATE instagram.publish_jobs SET state = 'containers_created', parent_container_id = %s
 WHERE job_id = %s AND state = 'pending'
RETURNING {_COLUMNS}
"""
_MOVE = f"UPDATE instagram.publish_jobs SET state = %s WHERE job_id = %s AND state = %s RETURNING {_COLUMNS}"
_START_PUBLISHING = f"""
UPDATE instagram.publish_jobs SET state = 'publishing', publish_started_at = now(), attempts = attempts + 1
 WHERE job_id = %s AND state = 'ready'
RETURNING {_COLUMNS}
"""
_PUBLISHED = f"""
UPDATE instagram.publish_jobs
   SET state = 'published', media_id = %s, permalink = %s, published_at = now(),
       error_code = NULL, error_subcode = NULL, error_message = NULL, fbtrace_id = NULL
 WHERE job_id = %s AND state <> 'published'
RETURNING {_COLUMNS}
"""
_SET_PERMALINK = "UPDATE instagram.publish_jobs SET permalink = %s WHERE job_id = %s"
_FAIL = f"""
UPDATE instagram.publish_jobs
   SET state = 'failed', error_code = %s, error_subcode = %s, error_message = %s, fbtrace_id = %s
 WHERE job_id = %s AND state NOT IN ('published', 'publishing')
RETURNING {_COLUMNS}
"""
_FAIL_AFTER_CHECK = f"""
UPDATE instagram.publish_jobs
   SET state = 'failed', error_code = %s, error_subcode = %s, error_message = %s, fbtrace_id = %s
 WHERE job_id = %s AND state <> 'published'
RETURNING {_COLUMNS}
"""
_CLAIMED_MEDIA = "SELECT media_id FROM instagram.publish_jobs WHERE account_id = %s AND media_id IS NOT NULL"
_STATUS_SUBCODE = re.compile(r"\((\d{4,})\)\s*\.?\s*$")


class Publisher(JobTable):
    """Moves publish jobs through their states with one hook and one warehouse connection.

    :param hook: an :class:`~instagram_graph.hooks.graph_api.InstagramGraphHook`.
    :param conn: an autocommit psycopg2 connection (see :func:`instagram_graph.jobs.open_warehouse`).
    :param lookup_slack: how far before the publish attempt a found post may be dated
        (clock skew between us and Meta, whose timestamps have whole seconds).
    """

    done_state = "published"
    select_sql, insert_sql, restart_sql = _SELECT, _INSERT, _RESTART
    default_lookup_slack = timedelta(minutes=10)

    # --- registering ------------------------------------------------------------------

    def _from_row(self, row: tuple) -> PublishJob:
        return _job(row)

    def _insert_params(self, request: PublishRequest, key: str, dag_run_id: str | None) -> tuple:
        return (key, request.account_id, dag_run_id, request.media_type, _json(request.record()), request.request_hash)

    def _check_same(self, job: PublishJob, request: PublishRequest) -> None:
        if job.request_hash != request.request_hash:
            raise RequestRefused(
                f"The idempotency key {job.idempotency_key!r} was already used for a different publish request "
                f"(job {job.job_id}, {job.media_type} for account {job.account_id}, state {job.state}). "
                "A key stands for one post: use a new key for new content, or leave it empty to derive one from the run."
            )

    # --- advancing ---------------------------------------------------------------------

    def advance(self, job: PublishJob, statuses: Mapping[str, str] | None = None) -> PublishJob | WaitFor:
        """Go as far as possible: return the published job, or what to wait for.

        :param statuses: container id -> status_code, as a wait just reported them.
        :raises PublishFailed: the job failed (recorded); nothing was published.
        :raises PublishOutcomeUnknown: media_publish got no answer; call again.
        :raises PublishedMediaNotFound: published, but not listed yet; call again later.
        :raises GraphApiError: transient or throttled calls; the job stays resumable.
        """
        known = dict(statuses or {})
        while True:
            if job.state == "published":
                return job
            if job.state == "failed":
                raise PublishFailed(job, job.error_message or "The job failed")
            step = getattr(self, f"_{job.state}")
            result = step(job, known)
            if isinstance(result, WaitFor):
                return result
            job = result

    def accept_wait_result(self, job: PublishJob, event: Mapping[str, Any]) -> dict[str, str]:
        """Apply the container trigger's event; returns the statuses it reported.

        :raises PublishFailed: ERROR, EXPIRED, a timeout, or a failure while polling.
        """
        status = event.get("status")
        if status == "FINISHED":
            return {str(k): str(v) for k, v in (event.get("statuses") or {}).items()}
        container_id = event.get("container_id")
        which = self._which_container(job, container_id)
        if status == "ERROR":
            reason = event.get("reason") or "no reason given"
            self._fail(
                job,
                f"Instagram could not process {which}: {reason} Nothing was published. Check that the media URL is "
                "public, reachable over HTTPS and a supported file (JPEG image; MP4/MOV video), then trigger again.",
                subcode=_status_subcode(reason),
            )
        if status == "EXPIRED":
            self._fail(
                job,
                f"{which} expired before it was published (containers live 24 hours). Nothing was published. "
                "Trigger again to make a new container.",
                code=-2,
                subcode=2207020,
            )
        if status == "TIMEOUT":
            waited = int(float(event.get("waited_seconds") or 0))
            pending = ", ".join(event.get("pending") or []) or "?"
            self._fail(
                job,
                f"Container(s) {pending} were still processing after {waited} s (the wait timeout). Nothing was "
                "published. Trigger again with a longer wait_timeout_minutes (long videos take minutes).",
            )
        message = event.get("message") or "the status check failed"
        self._fail(
            job,
            f"Checking {which} failed: {event.get('error', 'error')}: {message}. Nothing was published. "
            "Fix the cause (see the message), then trigger again.",
            code=event.get("code"),
            subcode=event.get("subcode"),
        )

    # --- the steps, one per state ---------------------------------------------------------

    def _pending(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        if not job.container_ids:
            self._check_quota(job)
        specs = job.request.item_specs()
        ids = list(job.container_ids)
        for spec in specs[len(ids):]:
            ids.append(self._create(job, spec))
            self._execute(_SET_CONTAINERS, (ids, job.job_id))
            job.container_ids = list(ids)
        if job.media_type != CAROUSEL:
            return self._containers_created_as(job, ids[0])
        waiting = tuple(cid for cid in ids if known.get(cid) != "FINISHED")
        if waiting:
            return WaitFor(waiting, "carousel items")
        parent = self._create(job, job.request.parent_spec(ids))
        return self._containers_created_as(job, parent)

    def _containers_created(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        code = known.get(job.parent_container_id or "")
        if code == "FINISHED":
            return self._move(job, "containers_created", "ready")
        if code == "PUBLISHED":  # published by a run we lost track of: find it, never publish again
            return self._move(job, "containers_created", "publishing")
        return WaitFor((job.parent_container_id or "",), "container")

    def _ready(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        row = self._fetch(_START_PUBLISHING, (job.job_id,))
        if row is None:
            return self._reload(job)
        job = _job(row)
        log.info("Publishing container %s of %s (attempt %d)", job.parent_container_id, job.describe(), job.attempts)
        try:
            media_id = self.hook.publish_container(job.account_id, job.parent_container_id)
        except TransientError as exc:
            raise PublishOutcomeUnknown(
                f"media_publish for container {job.parent_container_id} got no usable answer ({exc}); "
                "the container's status decides what happened"
            ) from None
        except (RateLimitError, RateLimiterUnavailableError):
            self._move(job, "publishing", "ready")  # refused before Meta acted
            raise
        except GraphApiError as exc:
            return self._refused(job, exc)
        return self._record_published(job, media_id)

    def _publishing(self, job: PublishJob, known: Mapping[str, str]) -> PublishJob | WaitFor:
        """The exactly-once check: an earlier publish attempt has no recorded outcome."""
        status = self.hook.get_container_status(job.account_id, job.parent_container_id)
        code = status.get("status_code")
        log.info("Container %s of %s is %s", job.parent_container_id, job.describe(), code)
        if code == "PUBLISHED":
            return self._record_found(job)
        if code == "FINISHED":
            log.warning("The earlier media_publish of %s did not take effect; publishing again", job.describe())
            return self._move(job, "publishing", "ready")
        if code == "IN_PROGRESS":
            return self._move(job, "publishing", "containers_created")
        self._fail(
            job,
            f"Container {job.parent_container_id} is {code} ({status.get('status') or 'no reason given'}): nothing "
            "was published. Trigger again to make a new container.",
            after_check=True,
            subcode=_status_subcode(status.get("status") or ""),
        )

    # --- helpers --------------------------------------------------------------------------

    def _check_quota(self, job: PublishJob) -> None:
        limit = self.hook.get_publishing_limit(job.account_id)
        usage = int(limit.get("quota_usage") or 0)
        config = limit.get("config") or {}
        total = config.get("quota_total")
        if total is None or usage < int(total):
            log.info("Account %s has published %s of %s posts in the quota window", job.account_id, usage, total)
            return
        hours = int(config.get("quota_duration") or 86400) // 3600
        self._fail(
            job,
            f"Account {job.account_id} has used its publishing quota: {usage} of {total} posts in the last {hours} h. "
            f"Nothing was created or published. Trigger again later, once the oldest post in that window is "
            f"{hours} h old.",
            code=9,
            subcode=2207042,
        )

    def _create(self, job: PublishJob, spec: ContainerSpec) -> str:
        try:
            container_id = self.hook.create_container(job.account_id, **spec.params())
        except (TransientError, RateLimitError, RateLimiterUnavailableError):
            raise
        except GraphApiError as exc:
            self._fail(job, f"Instagram refused to create a container: {exc}. {_advice(exc, job.account_id)}", error=exc)
        log.info("Created container %s for %s", container_id, job.describe())
        return container_id

    def _containers_created_as(self, job: PublishJob, parent_id: str) -> PublishJob:
        row = self._fetch(_CONTAINERS_CREATED, (parent_id, job.job_id))
        return _job(row) if row is not None else self._reload(job)

    def _refused(self, job: PublishJob, error: GraphApiError) -> PublishJob:
        """Meta answered media_publish with an error: it did not publish now. Whether an
        earlier attempt did is the container's to say (Meta refuses a second publish)."""
        status = self.hook.get_container_status(job.account_id, job.parent_container_id)
        if status.get("status_code") == "PUBLISHED":
            if error.code != DUPLICATE_POST_CODE:
                log.warning("media_publish was refused (%s) but the container is PUBLISHED", error)
            return self._record_found(job)
        if isinstance(error, TokenError):
            # The outcome is known (not published), but the job can still be finished
            # with the same container once the account is reconnected: keep it resumable.
            self._move(job, "publishing", "ready")
            raise error
        advice = _advice(error, job.account_id)
        self._fail(job, f"Instagram refused to publish: {error}. Nothing was published. {advice}", error=error,
                   after_check=True)

    def _record_found(self, job: PublishJob) -> PublishJob:
        media = self._find_published_media(job)
        if media is None:
            raise PublishedMediaNotFound(
                f"Container {job.parent_container_id} of {job.describe()} is PUBLISHED, so the post exists, but it "
                f"is not on the account's {PUBLISHED_AS[job.media_type].edge} edge yet. It will not be published "
                "again; a retry records its media id."
            )
        log.info("Found the post of %s: media %s", job.describe(), media["id"])
        return self._record_published(job, str(media["id"]), media.get("permalink"))

    def _find_published_media(self, job: PublishJob) -> dict[str, Any] | None:
        """The account's post that matches the job and no other job claimed.

        Meta does not link a container to its media, so the match is on what we asked for:
        the edge and product type, the media type, the caption, and the time of the publish
        attempt (see :func:`~instagram_graph.jobs.pick_after`; posts older than the attempt
        less :attr:`lookup_slack` are never taken).
        """
        shape = PUBLISHED_AS[job.media_type]
        started = job.publish_started_at or job.created_at
        since = started - self.lookup_slack  # type: ignore[operator]
        page = self.hook.get_page(
            job.account_id, f"{job.account_id}/{shape.edge}", params={"fields": LOOKUP_FIELDS}, limit=25
        )
        claimed = {row[0] for row in self._fetch_all(_CLAIMED_MEDIA, (job.account_id,))}
        caption = (job.request.caption or "").strip()
        candidates = []
        for media in page.data:
            when = parse_graph_time(media.get("timestamp"))
            if str(media.get("id")) in claimed or when is None or when < since:
                continue
            if media.get("media_product_type") and media["media_product_type"] not in shape.product_types:
                continue
            if media.get("media_type") and media["media_type"] not in shape.media_types:
                continue
            if HAS_CAPTION[job.media_type] and (media.get("caption") or "").strip() != caption:
                continue
            candidates.append((when, media))
        return pick_after(candidates, started)  # type: ignore[arg-type]

    def _record_published(self, job: PublishJob, media_id: str, permalink: str | None = None) -> PublishJob:
        row = self._fetch(_PUBLISHED, (media_id, permalink, job.job_id))
        job = _job(row) if row is not None else self._reload(job)
        log.info("Published %s as media %s", job.describe(), media_id)
        if job.permalink is None:
            try:
                media = self.hook.get_media(job.account_id, media_id, fields="id,permalink")
            except GraphApiError as exc:  # the post exists and is recorded; the link is a nicety
                log.warning("Could not read the permalink of media %s: %s", media_id, exc)
            else:
                job.permalink = media.get("permalink")
                self._execute(_SET_PERMALINK, (job.permalink, job.job_id))
        return job

    def _which_container(self, job: PublishJob, container_id: str | None) -> str:
        if container_id and job.media_type == CAROUSEL and container_id in job.container_ids:
            position = job.container_ids.index(container_id) + 1
            return f"carousel item {position} of {len(job.container_ids)} (container {container_id})"
        return f"container {container_id}"

    def _fail(
        self,
        job: PublishJob,
        message: str,
        *,
        error: GraphApiError | None = None,
        code: int | None = None,
        subcode: int | None = None,
        after_check: bool = False,
    ) -> NoReturn:
        """Record ``failed`` and raise :class:`PublishFailed`.

        Only from states where nothing can have been published; from ``publishing`` only
        once the container was checked (``after_check``).
        """
        if error is not None:
            code, subcode = error.code, error.subcode
        params = (code, subcode, message, getattr(error, "fbtrace_id", None), job.job_id)
        row = self._fetch(_FAIL_AFTER_CHECK if after_check else _FAIL, params)
        if row is None:
            raise RuntimeError(f"{job.describe()} could not be marked failed from state {self._reload(job).state}")
        job = _job(row)
        log.error("%s failed: %s", job.describe(), message)
        raise PublishFailed(job, message)

    def _move(self, job: PublishJob, from_state: str, to_state: str) -> PublishJob:
        row = self._fetch(_MOVE, (to_state, job.job_id, from_state))
        return _job(row) if row is not None else self._reload(job)



def _job(row: tuple) -> PublishJob:
    (job_id, key, account_id, state, request, request_hash, container_ids, parent, media_id, permalink,
     error_message, attempts, publish_started_at, created_at) = row
    return PublishJob(
        job_id=job_id,
        idempotency_key=key,
        account_id=account_id,
        state=state,
        request=PublishRequest.from_record(request),
        request_hash=request_hash,
        container_ids=list(container_ids or []),
        parent_container_id=parent,
        media_id=media_id,
        permalink=permalink,
        error_message=error_message,
        attempts=attempts,
        publish_started_at=publish_started_at,
        created_at=created_at,
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _status_subcode(status_text: str) -> int | None:
    """Meta's container ``status`` ends with the subcode: ``Error: ... (2207052)``."""
    match = _STATUS_SUBCODE.search(status_text or "")
    return int(match.group(1)) if match else None


def _advice(error: GraphApiError, account_id: str) -> str:
    return advice_for(error, account_id=account_id, action="publish")
