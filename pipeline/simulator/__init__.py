"""A local stand-in for Tango RaaS v2, for tests and rehearsals of the pipeline.

- ``core``: the ``Simulator`` (state, rules, faults) behind one ``handle(...)`` call.
- ``validation``: the ``POST /asyncOrders`` request rules of seed 004, written independently of
  ``rules/`` so the simulator can catch the pipeline's own mistakes.
- ``catalog``: the fixed catalog and its per-line checks.
- ``oauth``: the token endpoint and the bearer tokens it hands out.
- ``transport``: ``SimulatorTransport``, an httpx transport answering in-process.
- ``server``: ``make_server`` and the ``python -m pipeline.simulator`` command (a real socket).
"""

from typing import TYPE_CHECKING, Any

from pipeline.simulator.core import BASE_PATH, DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME, Faults, Reply, Simulator
from pipeline.simulator.oauth import OAuthClient
from pipeline.simulator.server import make_server

if TYPE_CHECKING:
    from pipeline.simulator.transport import SimulatorTransport

__all__ = ["BASE_PATH", "DEFAULT_PLATFORM_KEY", "DEFAULT_PLATFORM_NAME", "Faults", "OAuthClient", "Reply",
           "Simulator", "SimulatorTransport", "make_server"]


def __getattr__(name: str) -> Any:
    """``SimulatorTransport`` on first use: it needs httpx, which ``tango-batch simulate`` does not."""
    if name == "SimulatorTransport":
        from pipeline.simulator.transport import SimulatorTransport
        return SimulatorTransport
    raise AttributeError(f"module 'pipeline.simulator' has no attribute {name!r}")
