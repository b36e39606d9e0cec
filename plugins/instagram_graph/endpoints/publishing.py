"""Publishing: media containers, their status, publish, and the 24-hour publishing limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from json import dumps as json_dumps
from typing import Any, cast

from instagram_graph.endpoints.base import EndpointGroup
from instagram_graph.models import ContainerStatus, PublishingLimit

CONTAINER_STATUS_FIELDS = "id,status_code,status"
PUBLISHING_LIMIT_FIELDS = "quota_usage,config"


class PublishingEndpoints(EndpointGroup):
    """Create a container, follow its status, publish it; read the publishing quota."""

    def create_container(
        self,
        account_id: str,
        *,
        image_url: str | None = None,
        video_url: str | None = None,
        media_type: str | None = None,
        caption: str | None = None,
        alt_text: str | None = None,
        is_carousel_item: bool = False,
        children: Sequence[str] | None = None,
        share_to_feed: bool | None = None,
        cover_url: str | None = None,
        thumb_offset: int | None = None,
        audio_name: str | None = None,
        user_tags: Sequence[Mapping[str, Any]] | None = None,
        location_id: str | None = None,
    ) -> str:
        """Create a media container and return its id. Parameters left None are not sent.

        Reels take ``share_to_feed``, ``cover_url``, ``thumb_offset`` (ms) and
        ``audio_name``; ``user_tags`` is a list of ``{"username", "x", "y"}`` (sent as the
        JSON array Meta expects); ``location_id`` is a location Page's id. Which media type
        takes which is checked before this call (see ``instagram_graph.publishing``).

        Retried like a read: a duplicate container is harmless (it expires unpublished
        after 24 hours), unlike a duplicate post.
        """
        params = {
            "image_url": image_url,
            "video_url": video_url,
            "media_type": media_type,
            "caption": caption,
            "alt_text": alt_text,
            "is_carousel_item": "true" if is_carousel_item else None,
            "children": ",".join(children) if children else None,
            "share_to_feed": None if share_to_feed is None else ("true" if share_to_feed else "false"),
            "cover_url": cover_url,
            "thumb_offset": None if thumb_offset is None else str(int(thumb_offset)),
            "audio_name": audio_name,
            "user_tags": json_dumps(list(user_tags), separators=(",", ":")) if user_tags else None,
            "location_id": location_id,
        }
        payload = self.client.call(account_id, "POST", f"{account_id}/media", params=params, idempotent=True)
        return str(payload["id"])

    def get_container_status(self, account_id: str, container_id: str) -> ContainerStatus:
        return cast(
            ContainerStatus,
            self.client.call(account_id, "GET", container_id, params={"fields": CONTAINER_STATUS_FIELDS}),
        )

    def publish_container(self, account_id: str, container_id: str) -> str:
        """Publish a FINISHED container; returns the media id. Never retried blindly."""
        payload = self.client.call(
            account_id, "POST", f"{account_id}/media_publish", params={"creation_id": container_id}, idempotent=False
        )
        return str(payload["id"])

    def get_publishing_limit(self, account_id: str) -> PublishingLimit:
        payload = self.client.call(
            account_id, "GET", f"{account_id}/content_publishing_limit", params={"fields": PUBLISHING_LIMIT_FIELDS}
        )
        data = payload.get("data") or [{}]
        return cast(PublishingLimit, data[0])
