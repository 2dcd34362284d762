"""The simulator on a real loopback socket (standard library only), and its command line.

    python -m pipeline.simulator --port 8765 --state output/simulator-state.json --drop-rate 0.1

The server is threaded (one thread per connection, keep-alive as HTTP/1.1); all state changes go
through the ``Simulator``'s lock. A dropped reply closes the connection without writing a byte, so
the client sees exactly what a crash after the commit looks like.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pipeline.simulator.core import (
    AUTH_MODES,
    BASE_PATH,
    DEFAULT_PLATFORM_KEY,
    DEFAULT_PLATFORM_NAME,
    Faults,
    Reply,
    Simulator,
)
from pipeline.simulator.oauth import OAuthClient
from pipeline.simulator.validation import BULK_SHIPPING_FORMS

__all__ = ["SimulatorServer", "main", "make_server"]


class SimulatorServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that carries the simulator its handlers answer from."""

    daemon_threads = True
    # Do not wait at shutdown for idle keep-alive connections: they hold no uncommitted state.
    block_on_close = False
    # Narrower than TCPServer's: the socket is AF_INET, and once bound this is its getsockname(),
    # a (str, int) pair; the bytes hosts the stubs also allow are only accepted by bind().
    server_address: tuple[str, int]

    def __init__(self, address: tuple[str, int], simulator: Simulator, *,
                 log_requests: bool = False) -> None:
        self.simulator = simulator
        self.log_requests = log_requests
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Tango; every reply carries Content-Length
    # a reply goes out as two writes (its head, then its body): with Nagle's algorithm on, the body
    # waited for the client's delayed ACK of the head, 40 ms on Linux, on every call of a kept-alive
    # connection (44 ms a call, against under 2 ms with TCP_NODELAY)
    disable_nagle_algorithm = True
    server: SimulatorServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        reply = self._answer(unquote(url.path), query, body)
        if reply.drop:
            # Committed, but the client gets nothing: close without writing any response bytes.
            self.close_connection = True
            self.log_message('"%s" dropped after commit', self.requestline)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _answer(self, path: str, query: dict[str, str], body: bytes) -> Reply:
        try:
            return self.server.simulator.handle(self.command, path, query, dict(self.headers.items()),
                                                body)
        except Exception:  # a simulator bug: say so loudly, but answer rather than hang up
            traceback.print_exc(file=sys.stderr)
            payload = {"httpCode": 500, "i18nKey": "500.000", "message": "simulator internal error"}
            return Reply(500, json.dumps(payload).encode(), {"Content-Type": "application/json",
                                                             "X-REQUEST-ID": "simulator-bug"})

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes every request to stderr; here it is one line, and only on request.
        if self.server.log_requests:
            sys.stderr.write(f"simulator: {format % args}\n")


def make_server(simulator: Simulator, host: str = "127.0.0.1", port: int = 0, *,
                log_requests: bool = False) -> SimulatorServer:
    """A bound, not yet serving, server; port 0 picks a free port (see ``server_address``)."""
    return SimulatorServer((host, port), simulator, log_requests=log_requests)


def _parser(prog: str = "tango-batch simulate") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog,
                                     description="A local stand-in for Tango RaaS v2 "
                                     "(POST /asyncOrders and the reads the pipeline makes).")
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    add("--port", type=int, default=8765, help="port (0 = any free one; default %(default)s)")
    add("--state", default="output/simulator-state.json", metavar="FILE",
        help="state file, reloaded at start; each change is appended to it before it is answered "
             "(default %(default)s; '' keeps state in memory only)")
    add("--platform-name", default=DEFAULT_PLATFORM_NAME, help="HTTP Basic user")
    add("--platform-key", default=DEFAULT_PLATFORM_KEY, help="HTTP Basic password")
    add("--auth", choices=AUTH_MODES, default="either",
        help="what the API takes: HTTP Basic, a bearer token from POST /oauth/token, or either (default)")
    oauth = OAuthClient()
    add("--client-id", default=oauth.client_id, help="OAuth client id (default %(default)s)")
    add("--client-secret", default=oauth.client_secret, help="OAuth client secret")
    add("--username", default=oauth.username, help="OAuth service-account username (default %(default)s)")
    add("--password", default=oauth.password, help="OAuth service-account password")
    add("--bulk-shipping", choices=BULK_SHIPPING_FORMS, default="seed",
        help="the BULKSHIPMENT object taken: seed 004's 'shipping' (default), the reference's "
             "'bulkShipping', or either")
    add("--page-limit", type=int, default=None, metavar="N",
        help="at most N line items or orders per page, whatever maxResults asks")
    add("--tps", type=float, default=None, help="max calls per second, every endpoint (429 above)")
    add("--error-rate", type=float, default=0.0, help="share of POSTs answered 500/503 uncommitted")
    add("--drop-rate", type=float, default=0.0, help="share of POSTs committed, then dropped")
    add("--conflict-rate", type=float, default=0.0,
        help="share of replayed POSTs answered 409.002 'still in process'")
    add("--latency", type=float, default=0.0, help="seconds added before every response")
    add("--processing-delay", type=float, default=2.0,
        help="seconds until a new order's lines are processed (default %(default)s)")
    add("--delivery-delay", type=float, default=4.0,
        help="seconds from shipping to delivery of a physical reward (default %(default)s)")
    add("--balance", type=float, default=100_000.0,
        help="starting balance of a new account (default %(default)s)")
    add("--seed", type=int, default=None, help="seed for the fault draws")
    add("--nested-response", action="store_true",
        help="answer POST /asyncOrders with the seed's nested {order: {...}} shape")
    add("--log-requests", action="store_true", help="one line on stderr per request")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; 0 on a clean stop, 1 if the server cannot start."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = Faults(tps=args.tps, error_rate=args.error_rate, drop_rate=args.drop_rate,
                        conflict_rate=args.conflict_rate, latency=args.latency, seed=args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    state = Path(args.state) if args.state else None
    try:
        simulator = Simulator(state, platform_name=args.platform_name,
                              platform_key=args.platform_key, faults=faults,
                              processing_delay=args.processing_delay, delivery_delay=args.delivery_delay,
                              default_balance=args.balance, nested_response=args.nested_response,
                              auth=args.auth, bulk_shipping=args.bulk_shipping, page_limit=args.page_limit,
                              oauth_client=OAuthClient(args.client_id, args.client_secret, args.username,
                                                       args.password))
        server = make_server(simulator, args.host, args.port, log_requests=args.log_requests)
    except (OSError, ValueError) as exc:
        print(f"simulator: cannot start: {exc}", file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    print(f"simulator listening on http://{host}:{port}{BASE_PATH} (state: {args.state or 'memory'})",
          flush=True)
    _serve_until_signalled(server)
    # a clean stop leaves the state file as one snapshot (one JSON document), the changes folded in
    simulator.checkpoint()
    simulator.close()
    return 0


def _serve_until_signalled(server: ThreadingHTTPServer) -> None:
    # shutdown() waits for serve_forever() to return, so it must not run in the signal handler,
    # which interrupts that very loop in this thread: hand it to a helper thread.
    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
