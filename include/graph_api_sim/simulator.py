"""The simulator's state: the seeded world plus everything a run changes."""

from __future__ import annotations

import random
import time
from typing import Any

from . import catalog
from .clock import SimClock
from .config import Settings, SimConfig
from .deletions import Deletions
from .faults import FaultRegistry
from .ids import IdFactory, stable_int
from .messaging import Inbox
from .publishing import PublishingDesk
from .request_log import RequestLog
from .runtime_nodes import RuntimeNodes
from .tokens import TokenBook
from .usage import BurstLimiter, UsageMeter
from .world import Comment, Media, World


class Simulator:
    """One simulated Graph API.

    The world is generated once; ``reset()`` rebuilds only the run state (clock offset,
    tokens, containers, posts, messages, deletions, faults, request log, usage, settings),
    which is what ``POST /__sim__/reset`` does between tests.
    """

    def __init__(self, config: SimConfig, started_at: float | None = None) -> None:
        self.config = config
        self.world = World(config, time.time() if started_at is None else started_at)
        self.default_app_secret = config.app_secret or f"{stable_int(config.seed, 'app-secret'):032x}"
        self.facebook_app_id = str(10**14 + stable_int(config.seed, "facebook-app-id") % (9 * 10**14))
        self.default_facebook_app_secret = (config.facebook_app_secret
                                            or f"{stable_int(config.seed, 'facebook-app-secret'):032x}")
        self.reset()

    def reset(self) -> None:
        seed = self.config.seed
        self.clock = SimClock()
        self.settings = Settings.from_config(self.config, self.default_app_secret, self.facebook_app_id,
                                             self.default_facebook_app_secret)
        self.runtime_nodes = RuntimeNodes()
        self.ids = IdFactory(f"{seed}:runtime", taken=self.exists)
        self.tokens = TokenBook(self.world, self.clock, self.ids)
        self.deletions = Deletions()
        self.publishing = PublishingDesk(self.world, self.clock, self.ids, self.settings, self.deletions,
                                         self.runtime_nodes)
        self.inbox = Inbox(self.world, self.clock, self.ids, self.settings, self.runtime_nodes)
        self.usage = UsageMeter(self.clock, self.settings, [account.id for account in self.world.accounts])
        # Messaging has its own per-second limits instead of the platform's (BUC) hourly one.
        self.conversation_reads = BurstLimiter(self.clock, lambda: self.settings.conversations_calls_per_second)
        self.message_sends = BurstLimiter(self.clock, lambda: self.settings.send_calls_per_second)
        self.faults = FaultRegistry(seed)
        self.log = RequestLog()
        self.status_rng = random.Random(f"graph-api-sim:{seed}:http-status")

    def exists(self, object_id: str) -> bool:
        return object_id in self.runtime_nodes or self.world.node(object_id) is not None

    def node(self, object_id: str) -> Any | None:
        """Any object by id; deleted objects and stories past their 24 h are gone, as on Instagram."""
        found = self.runtime_nodes.get(object_id)
        if found is None:
            found = self.world.node(object_id)
        if found is None or self.deletions.hides(found):
            return None
        if (isinstance(found, Media) and found.media_product_type == catalog.PRODUCT_STORY
                and not self.publishing.is_live(found)):
            return None
        return found

    def delete(self, object_id: str) -> Media | Comment:
        """Control endpoint: a feed media, story, comment or reply disappears (LookupError if unknown)."""
        found = self.node(object_id)
        if isinstance(found, Media) and not found.is_carousel_item:
            self.deletions.delete_media(found)
            self.publishing.forget(found)
        elif isinstance(found, Comment):
            self.deletions.delete_comment(found)
        else:
            raise LookupError(f"no media, story, comment or reply {object_id}")
        return found

    def comments(self, media: Media) -> list[Comment]:
        """The top-level comments of a media that still exist, newest first."""
        threads = self.world.comments(media) if media.ordinal >= 0 else []
        return [c for c in threads if c.id not in self.deletions] if self.deletions.ids else threads

    def replies(self, comment: Comment) -> list[Comment]:
        return [r for r in comment.replies if r.id not in self.deletions] if self.deletions.ids else comment.replies
