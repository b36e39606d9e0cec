"""Objects that vanish: a post deleted in the Instagram app, a comment removed by its author.

``DELETE /__sim__/objects/{id}`` records the id here. From then on the object and what
hangs off it (a carousel's children, a media's comments, a comment's replies) answer
100/33 "Unsupported get request" like any unknown id, and edges stop listing them, as
on Instagram. The seeded world is never changed: a reset forgets the deletions.
"""

from __future__ import annotations

from typing import Any

from .world import Comment, Media


class Deletions:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.removed_comments: dict[str, int] = {}  # media id -> comments and replies gone with deletions

    def __contains__(self, object_id: str) -> bool:
        return object_id in self.ids

    def hides(self, node: Any) -> bool:
        """Whether ``node`` is deleted or belongs to something deleted."""
        if not self.ids:
            return False
        if node.id in self.ids:
            return True
        if isinstance(node, Media):
            return node.parent_id in self.ids
        if isinstance(node, Comment):
            return node.media_id in self.ids or node.parent_id in self.ids
        return False

    def delete_media(self, media: Media) -> None:
        self.ids.add(media.id)

    def delete_comment(self, comment: Comment) -> None:
        """A comment takes its remaining replies with it; the media's comments_count drops by all of them."""
        gone = 1 + sum(1 for reply in comment.replies if reply.id not in self.ids)
        self.ids.add(comment.id)
        self.removed_comments[comment.media_id] = self.removed_comments.get(comment.media_id, 0) + gone

    def comments_count(self, media: Media) -> int:
        return media.comments_count - self.removed_comments.get(media.id, 0)
