"""The one place that builds a Tango client for a target: a real one over HTTPS, or the built-in
simulator answering in-process (its state kept in a file beside the reports).

This is the only module outside ``pipeline/simulator`` that knows the simulator exists.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import httpx

from pipeline.config import StatusSettings
from pipeline.tango.auth import BearerToken
from pipeline.tango.client import OnResponse, TangoClient
from pipeline.tango.pacing import RateLimiter, shared_limiter
from pipeline.target import OAuthCredentials, Target

__all__ = ["SIMULATOR_STATE", "HttpLog", "client_for", "connect", "http_logger"]

http = logging.getLogger("tango_batch.http")   # see pipeline.logs.HTTP: the console shows it with --verbose
SIMULATOR_STATE = "simulator-state.json"     # beside the ledger: <ledger stem>.simulator-state.json


class HttpLog(Protocol):
    def log_http(self, run_id: int | None, method: str, path: str, status: int | None,
                 request_id: str | None, outcome: str) -> None: ...


def http_logger(ledger: HttpLog | None, run_id: int | None) -> OnResponse:
    """Each answer (or its absence) as a log line and, with a ledger, a row of its HTTP log."""
    def on_response(method: str, path: str, status: int | None, request_id: str | None, outcome: str) -> None:
        http.info("%s %s -> %s %s (X-REQUEST-ID %s)", method, path, status or "-", outcome, request_id or "-",
                  extra={"event": "http", "method": method, "path": path, "status": status,
                         "request_id": request_id})
        if ledger is not None:
            ledger.log_http(run_id, method, path, status, request_id, outcome)
    return on_response


def _auth(target: Target, transport: httpx.BaseTransport | None,
          limiter: RateLimiter) -> httpx.Auth | tuple[str, str]:
    credentials = target.credentials
    if isinstance(credentials, OAuthCredentials):
        return BearerToken(credentials, transport=transport, pace=limiter.wait)
    return credentials.name, credentials.key


def connect(target: Target, *, simulator_state: Path, rate: float,
            on_response: OnResponse | None = None) -> TangoClient:
    """A client for ``target``, paced with every other client of its credentials in this process;
    for the built-in simulator, its state is kept in ``simulator_state``."""
    transport: httpx.BaseTransport | None = None
    if target.simulated:
        from pipeline.simulator import Simulator, SimulatorTransport
        simulator_state.parent.mkdir(parents=True, exist_ok=True)
        transport = SimulatorTransport(Simulator(simulator_state, processing_delay=target.processing_delay))
    limiter = shared_limiter(target.base_url, target.credentials.identity, rate)
    return TangoClient(target.base_url, _auth(target, transport, limiter), transport=transport, limiter=limiter,
                       on_response=on_response)


def client_for(settings: StatusSettings, ledger: HttpLog | None, run_id: int | None) -> TangoClient:
    """The client a job uses: its target, its pace, the simulator's state beside its ledger, and
    every answer logged (and kept in the ledger's HTTP log)."""
    return connect(settings.target, simulator_state=settings.beside_ledger(SIMULATOR_STATE), rate=settings.rate,
                   on_response=http_logger(ledger, run_id))
