"""Reading an account's profile, media, carousel children, stories, comments and replies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from instagram_graph.endpoints.paging import MAX_PAGE_SIZE, Paging
from instagram_graph.errors import ObjectNotFoundError
from instagram_graph.models import Comment, Media, MediaChild, Page, Profile

PROFILE_FIELDS = (
    "id,username,name,biography,website,profile_picture_url,followers_count,follows_count,media_count"
)
CHILD_FIELDS = "id,media_type,media_url,thumbnail_url,timestamp"
# Children come by field expansion in the same call: no request per carousel slide.
MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,permalink,thumbnail_url,shortcode,"
    f"timestamp,like_count,comments_count,is_comment_enabled,children{{{CHILD_FIELDS}}}"
)
STORY_FIELDS = "id,caption,media_type,media_product_type,media_url,permalink,thumbnail_url,timestamp"
REPLY_FIELDS = "id,text,username,timestamp,like_count"
COMMENT_FIELDS = f"id,text,username,timestamp,like_count,replies{{{REPLY_FIELDS}}}"


class ReadEndpoints(Paging):
    """Profile, media, children, stories, comments and replies of an account."""

    def get_profile(self, account_id: str, *, fields: str = PROFILE_FIELDS) -> Profile:
        return cast(Profile, self.client.call(account_id, "GET", account_id, params={"fields": fields}))

    def get_media_page(
        self, account_id: str, *, after: str | None = None, limit: int = MAX_PAGE_SIZE, fields: str = MEDIA_FIELDS
    ) -> Page[Media]:
        """Newest first; carousel children arrive expanded in ``children.data``."""
        page = self.get_page(account_id, f"{account_id}/media", params={"fields": fields}, after=after, limit=limit)
        return cast(Page[Media], page)

    def iter_media(
        self, account_id: str, *, limit: int = MAX_PAGE_SIZE, fields: str = MEDIA_FIELDS
    ) -> Iterator[Media]:
        """All media, newest first, paged lazily (about the newest 10,000 on the real API)."""
        return cast(
            Iterator[Media],
            self.paginate(account_id, f"{account_id}/media", params={"fields": fields}, limit=limit),
        )

    def get_media(self, account_id: str, media_id: str, *, fields: str = MEDIA_FIELDS) -> Media:
        return cast(Media, self.client.call(account_id, "GET", media_id, params={"fields": fields}))

    def get_children(self, account_id: str, media_id: str, *, fields: str = CHILD_FIELDS) -> list[MediaChild]:
        """Children of one carousel, for when the expansion was not asked for."""
        return cast(
            list[MediaChild], list(self.paginate(account_id, f"{media_id}/children", params={"fields": fields}))
        )

    def get_stories(self, account_id: str, *, fields: str = STORY_FIELDS) -> list[Media]:
        """Stories live for 24 hours; only the live ones are served."""
        return cast(list[Media], list(self.paginate(account_id, f"{account_id}/stories", params={"fields": fields})))

    def get_comments(self, account_id: str, media_id: str, *, fields: str = COMMENT_FIELDS) -> list[Comment]:
        """Top-level comments with all their replies.

        Replies come expanded in the same call; only a comment whose expansion holds more
        than one page of replies costs a further call for the rest.
        """
        comments = list(self.paginate(account_id, f"{media_id}/comments", params={"fields": fields}))
        kept = []
        for comment in comments:
            replies = comment.get("replies") or {}
            if (replies.get("paging") or {}).get("next"):
                try:
                    comment["replies"] = {"data": self.get_replies(account_id, comment["id"])}
                except ObjectNotFoundError:  # deleted while we read: it is not among the comments
                    continue
            kept.append(comment)
        return cast(list[Comment], kept)

    def get_replies(self, account_id: str, comment_id: str, *, fields: str = REPLY_FIELDS) -> list[Comment]:
        return cast(list[Comment], list(self.paginate(account_id, f"{comment_id}/replies", params={"fields": fields})))
