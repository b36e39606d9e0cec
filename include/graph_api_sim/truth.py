"""Ground truth for tests: the simulator's data read straight from its state.

Deliberately independent of the API code paths (no paging, no field selection), so a
test can check what a client collected through the API against what is really there.
Deleted objects are left out; ``include_deleted=true`` lists them too, every record then
carrying ``deleted``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import catalog
from .clock import iso
from .ids import legacy_id
from .insights import (
    account_series,
    account_total,
    demographic_total,
    media_refusal,
    media_values,
    parse_time,
    split,
    supported_metrics,
)
from .simulator import Simulator
from .world import Account, Comment, Conversation, Media, Message


class TruthError(LookupError):
    """An unknown kind or object, or a missing parameter (answered with HTTP 404)."""


def media_record(media: Media, seed: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": media.id, "ig_id": str(legacy_id(seed, media.id, 19)), "owner_id": media.owner_id,
        "username": media.username, "caption": media.caption,
        "media_type": media.media_type, "media_product_type": media.media_product_type,
        "media_url": media.media_url, "permalink": media.permalink, "thumbnail_url": media.thumbnail_url,
        "timestamp": iso(media.timestamp), "like_count": media.like_count,
        "comments_count": media.comments_count, "shortcode": media.shortcode,
        "is_comment_enabled": media.is_comment_enabled, "alt_text": media.alt_text,
    }
    if media.media_product_type == catalog.PRODUCT_STORY:
        record["viewers"] = media.viewers
    if media.parent_id is None:
        record["children"] = [media_record(child, seed) for child in media.children]
    return record


def comment_record(comment: Comment) -> dict[str, Any]:
    return {"id": comment.id, "media_id": comment.media_id, "text": comment.text, "username": comment.username,
            "from_id": comment.from_id, "timestamp": iso(comment.timestamp), "like_count": comment.like_count,
            "parent_id": comment.parent_id}


def message_record(message: Message) -> dict[str, Any]:
    return {"id": message.id, "created_time": iso(message.created_time), "from_id": message.from_id,
            "from_username": message.from_username, "to_id": message.to_id, "message": message.text}


def _include_deleted(params: dict[str, str]) -> bool:
    return params.get("include_deleted", "").lower() == "true"


class Truth:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        # GET /__sim__/truth/{kind}: kind -> its reader.
        self._readers: dict[str, Callable[[dict[str, str]], Any]] = {
            "media": self._media, "stories": self._stories, "comments": self._comments,
            "account_insights": self._account_insights, "media_insights": self._media_insights,
            "conversations": self._conversations, "published": self._published,
            "sent_messages": self._sent_messages, "containers": self._containers,
        }

    def get(self, kind: str, params: dict[str, str]) -> Any:
        reader = self._readers.get(kind)
        if reader is None:
            raise TruthError(f"unknown truth kind {kind!r}")
        return reader(params)

    def _account(self, params: dict[str, str], required: bool = True) -> Account | None:
        account_id = params.get("account_id")
        if not account_id:
            if required:
                raise TruthError("account_id is required")
            return None
        account = self.sim.world.account(account_id)
        if account is None:
            raise TruthError(f"no account {account_id}")
        return account

    def _media_node(self, params: dict[str, str]) -> Media:
        media_id = params.get("media_id", "")
        media = self.sim.node(media_id)
        if media is None and _include_deleted(params):
            media = self.sim.runtime_nodes.get(media_id) or self.sim.world.node(media_id)
        if not isinstance(media, Media):
            raise TruthError(f"no media {params.get('media_id')!r}")
        return media

    def _kept(self, nodes: Any, params: dict[str, str], record: Any) -> list[dict[str, Any]]:
        """Records of the nodes that exist; with include_deleted, of all of them, flagged."""
        include = _include_deleted(params)
        out = []
        for node in nodes:
            hidden = self.sim.deletions.hides(node)
            if hidden and not include:
                continue
            out.append({**record(node), "deleted": hidden} if include else record(node))
        return out

    def _media_record(self, media: Media) -> dict[str, Any]:
        return {**media_record(media, self.sim.world.seed),
                "comments_count": self.sim.deletions.comments_count(media)}

    def _media(self, params: dict[str, str]) -> list[dict[str, Any]]:
        account = self._account(params)
        assert account is not None
        posts = (*self.sim.publishing.new_posts(account, include_deleted=True), *account.feed)
        return self._kept(posts, params, self._media_record)

    def _stories(self, params: dict[str, str]) -> list[dict[str, Any]]:
        stories = self.sim.publishing.live_stories(self._account(params), include_deleted=True)  # type: ignore[arg-type]
        return self._kept(stories, params, self._media_record)

    def _comments(self, params: dict[str, str]) -> list[dict[str, Any]]:
        media = self._media_node(params)
        threads = self.sim.world.comments(media) if media.ordinal >= 0 else []

        def thread(comment: Comment) -> dict[str, Any]:
            return {**comment_record(comment), "replies": self._kept(comment.replies, params, comment_record)}

        return self._kept(threads, params, thread)

    def _account_insights(self, params: dict[str, str]) -> dict[str, Any]:
        account = self._account(params)
        assert account is not None
        name = params.get("metric", "")
        metric = catalog.ACCOUNT_METRICS.get(name)
        if metric is None:
            raise TruthError(f"unknown account metric {name!r}")
        period = params.get("period") or metric.periods[0]
        now = self.sim.clock.now()
        until = parse_time(params["until"], "until") if params.get("until") else now
        since = parse_time(params["since"], "since") if params.get("since") else until - 2 * catalog.DAY
        seed = self.sim.world.seed
        result: dict[str, Any] = {"account_id": account.id, "metric": name, "period": period,
                                  "available": account.followers_count >= metric.min_followers}
        if metric.kind == "demographic":
            breakdowns = [b for b in params.get("breakdown", "").split(",") if b]
            total = demographic_total(account, name, params.get("timeframe"))
            result["total"] = total
            if breakdowns:
                result["results"] = split(total, breakdowns, (seed, account.id, name, params.get("timeframe")))
            return result
        result["values"] = account_series(seed, account, name, period, since, until, now)
        if metric.kind == "daily":
            result["total"] = account_total(seed, account, name, since, until, now)
        return result

    def _media_insights(self, params: dict[str, str]) -> dict[str, Any]:
        media = self._media_node(params)
        account = self.sim.world.account(media.owner_id)
        assert account is not None
        refusal = media_refusal(media, account)
        supported = supported_metrics(media, self.sim.settings.refused_media_metrics)
        return {
            "media_id": media.id,
            "values": media_values(self.sim.world.seed, media, account.followers_count, supported),
            "refused": None if refusal is None else {"name": refusal.name, "code": refusal.spec.code,
                                                      "subcode": refusal.spec.subcode},
        }

    def _conversations(self, params: dict[str, str]) -> list[dict[str, Any]]:
        account = self._account(params)
        inbox = self.sim.inbox
        now = self.sim.clock.now()
        out = []
        for conversation in inbox.conversations(account):  # type: ignore[arg-type]
            last_user = inbox.last_user_message_at(conversation)
            out.append(self._conversation_record(conversation, last_user, now))
        return out

    def _conversation_record(self, conversation: Conversation, last_user: int, now: float) -> dict[str, Any]:
        inbox = self.sim.inbox
        return {
            "id": conversation.id, "user_id": conversation.user_id, "username": conversation.user_username,
            "updated_time": iso(inbox.updated_time(conversation)), "last_user_message_time": iso(last_user),
            "inside_window": now - last_user <= catalog.MESSAGING_WINDOW_SECONDS,
            "messages": [message_record(m) for m in inbox.messages(conversation)],
        }

    def _published(self, params: dict[str, str]) -> list[dict[str, Any]]:
        account = self._account(params, required=False)
        posts = [post for post in self.sim.publishing.published if account is None or post.account_id == account.id]
        by_media = {post.media.id: post for post in posts}
        return self._kept([post.media for post in posts], params, lambda media: by_media[media.id].describe())

    def _sent_messages(self, params: dict[str, str]) -> list[dict[str, Any]]:
        account = self._account(params, required=False)
        return [dict(sent) for sent in self.sim.inbox.sent if account is None or sent["account_id"] == account.id]

    def _containers(self, params: dict[str, str]) -> list[dict[str, Any]]:
        account = self._account(params, required=False)
        desk = self.sim.publishing
        return [desk.describe_container(c) for c in desk.containers.values()
                if account is None or c.owner_id == account.id]
