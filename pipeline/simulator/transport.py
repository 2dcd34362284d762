"""An httpx transport that answers from a ``Simulator`` in-process: the pipeline's HTTP code runs
unchanged against the simulator, with no sockets and no threads.

    client = httpx.Client(transport=SimulatorTransport(sim), base_url="http://simulator/raas/v2")

A reply the simulator marks as dropped (committed, but no answer) surfaces as the same
``httpx.RemoteProtocolError`` a real server closing the connection would produce.
"""

from __future__ import annotations

import httpx

from pipeline.simulator.core import Simulator

__all__ = ["SimulatorTransport"]


class SimulatorTransport(httpx.BaseTransport):
    """Routes every request of an ``httpx.Client`` to ``simulator.handle``."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reply = self.simulator.handle(
            request.method,
            request.url.path,
            dict(request.url.params),
            dict(request.headers),
            request.read(),
        )
        if reply.drop:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                            request=request)
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body,
                              request=request)

    def close(self) -> None:
        """The client is closed: the simulator lets go of its state file."""
        self.simulator.close()
