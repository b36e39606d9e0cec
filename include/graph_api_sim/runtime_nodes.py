"""Objects made during a run (containers, published media and their children, messages), by id.

The seeded world never changes; what a run adds is kept here, so ``Simulator.node`` finds
both and a reset forgets the run's objects by dropping this registry.
"""

from __future__ import annotations

from typing import Any


class RuntimeNodes:
    def __init__(self) -> None:
        self._nodes: dict[str, Any] = {}

    def add(self, node: Any) -> None:
        self._nodes[node.id] = node

    def get(self, object_id: str) -> Any | None:
        return self._nodes.get(object_id)

    def __contains__(self, object_id: str) -> bool:
        return object_id in self._nodes
