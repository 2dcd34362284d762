"""The one place that builds a Tango client for a target: a real one over HTTPS, or the built-in
simulator answering in-process (its state kept in a file beside the reports).

This is the only module outside ``pipeline/simulator`` that knows the simulator exists.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import httpx

from pipeline.tango.auth import BearerToken
from pipeline.tango.client import OnResponse, TangoClient
from pipeline.tango.pacing import RateLimiter, shared_limiter
from pipeline.target import OAuthCredentials, Target

__all__ = ["SIMULATOR_STATE", "HttpLog", "connect", "http_logger"]

log = logging.getLogger("tango_batch.run")
SIMULATOR_STATE = "simulator-state.json"


class HttpLog(Protocol):
    def log_http(self, run_id: int | None, method: str, path: str, status: int | None,
                 request_id: str | None, outcome: str) -> None: ...


def http_logger(ledger: HttpLog | None, run_id: int | None) -> OnResponse:
    """Each answer (or its absence) as a log line and, with a ledger, a row of its HTTP log."""
    def on_response(method: str, path: str, status: int | None, request_id: str | None, outcome: str) -> None:
        log.info("%s %s -> %s %s (X-REQUEST-ID %s)", method, path, status or "-", outcome, request_id or "-")
        if ledger is not None:
            ledger.log_http(run_id, method, path, status, request_id, outcome)
    return on_response


def _auth(target: Target, transport: httpx.BaseTransport | None,
          limiter: RateLimiter) -> httpx.Auth | tuple[str, str]:
    credentials = target.credentials
    if isinstance(credentials, OAuthCredentials):
        return BearerToken(credentials, transport=transport, pace=limiter.wait)
    return credentials.name, credentials.key


def connect(target: Target, *, state_folder: Path, rate: float, on_response: OnResponse | None = None) -> TangoClient:
    """A client for ``target``, paced with every other client of its credentials in this process;
    for the simulator, its state lives in ``state_folder``."""
    transport: httpx.BaseTransport | None = None
    if target.simulated:
        from pipeline.simulator import Simulator, SimulatorTransport
        state_folder.mkdir(parents=True, exist_ok=True)
        transport = SimulatorTransport(Simulator(state_folder / SIMULATOR_STATE))
    limiter = shared_limiter(target.base_url, target.credentials.identity, rate)
    return TangoClient(target.base_url, _auth(target, transport, limiter), transport=transport, limiter=limiter,
                       on_response=on_response)
