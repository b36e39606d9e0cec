"""A local HTTP server that behaves like Meta's Instagram Graph API.

Tests, benchmarks and the demo run against it with no Instagram access. Start it with
``python -m graph_api_sim`` (see README.md), or in process with ``create_app(SimConfig())``;
tests use ``graph_api_sim.testing.SimulatorProcess``.
"""

from .app import create_app
from .config import SimConfig
from .tokens import appsecret_proof

__all__ = ["SimConfig", "appsecret_proof", "create_app"]
