"""``create_app(config)``: the simulator as one FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from .asgi import GraphAsgiApp
from .config import SimConfig
from .control import control_router
from .graph import GraphApi
from .simulator import Simulator

CONTROL_PREFIX = "/__sim__"


def create_app(config: SimConfig | None = None, *, started_at: float | None = None) -> FastAPI:
    """The control API as FastAPI routes; every other path is the Graph API.

    Graph API calls are taken off before FastAPI's routing (``GraphApiFirst``), so they
    skip the route table and the per-request parameter machinery: benchmarks measure
    the client, not the simulator. ``app.state.simulator`` gives in-process users the
    state directly.
    """
    sim = Simulator(config or SimConfig(), started_at)
    app = FastAPI(
        title="Instagram Graph API simulator",
        description="Control API of the simulator. Every path outside /__sim__/ is the simulated Graph API.",
        docs_url="/__sim__/docs",
        openapi_url="/__sim__/openapi.json",
        redoc_url=None,
    )
    app.state.simulator = sim
    app.include_router(control_router(sim))
    app.add_middleware(GraphApiFirst, graph_app=GraphAsgiApp(GraphApi(sim)))
    return app


class GraphApiFirst:
    """Send every HTTP request outside ``/__sim__/`` straight to the Graph API app."""

    def __init__(self, app: ASGIApp, graph_app: ASGIApp) -> None:
        self.app = app
        self.graph_app = graph_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(CONTROL_PREFIX):
            await self.graph_app(scope, receive, send)
        else:
            await self.app(scope, receive, send)
