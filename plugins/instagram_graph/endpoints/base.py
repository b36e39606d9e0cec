"""What every endpoint group stands on: the client that makes its calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from instagram_graph.client import GraphApiClient


class EndpointGroup:
    """A group of Graph API endpoints; the class it is mixed into provides :attr:`client`."""

    @property
    def client(self) -> GraphApiClient:
        raise NotImplementedError("an endpoint group needs a client (InstagramGraphHook provides it)")
