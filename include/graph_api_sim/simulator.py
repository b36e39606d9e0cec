"""The simulator's state: the seeded world plus everything a run changes."""

from __future__ import annotations

import random
import time
from typing import Any

from . import catalog
from .clock import SimClock
from .config import Settings, SimConfig
from .faults import FaultRegistry
from .ids import IdFactory, stable_int
from .messaging import Inbox
from .publishing import PublishingDesk
from .request_log import RequestLog
from .tokens import TokenBook
from .usage import UsageMeter
from .world import Media, World


class Simulator:
    """One simulated Graph API.

    The world is generated once; ``reset()`` rebuilds only the run state (clock offset,
    tokens, containers, posts, messages, faults, request log, usage, settings), which is
    what ``POST /__sim__/reset`` does between tests.
    """

    def __init__(self, config: SimConfig, started_at: float | None = None) -> None:
        self.config = config
        self.world = World(config, time.time() if started_at is None else started_at)
        self.default_app_secret = config.app_secret or f"{stable_int(config.seed, 'app-secret'):032x}"
        self.reset()

    def reset(self) -> None:
        seed = self.config.seed
        self.clock = SimClock()
        self.settings = Settings.from_config(self.config, self.default_app_secret)
        self.runtime_nodes: dict[str, Any] = {}
        self.ids = IdFactory(f"{seed}:runtime", taken=self.exists)
        self.tokens = TokenBook(self.world, self.clock, self.ids)
        self.publishing = PublishingDesk(self)
        self.inbox = Inbox(self)
        self.usage = UsageMeter(self.clock, self.settings, [account.id for account in self.world.accounts])
        self.faults = FaultRegistry(seed)
        self.log = RequestLog()
        self.status_rng = random.Random(f"graph-api-sim:{seed}:http-status")

    def register(self, node: Any) -> None:
        self.runtime_nodes[node.id] = node

    def exists(self, object_id: str) -> bool:
        return object_id in self.runtime_nodes or self.world.node(object_id) is not None

    def node(self, object_id: str) -> Any | None:
        """Any object by id; stories past their 24 h are gone, as on Instagram."""
        found = self.runtime_nodes.get(object_id)
        if found is None:
            found = self.world.node(object_id)
        if (isinstance(found, Media) and found.media_product_type == catalog.PRODUCT_STORY
                and not self.publishing.is_live(found)):
            return None
        return found
