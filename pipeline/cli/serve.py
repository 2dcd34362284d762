"""``tango-batch serve``: the HR desk (``pipeline.web``) on this machine, served by uvicorn. FastAPI,
Jinja2 and uvicorn are imported only here, once the command runs."""

from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import UsageError
from pipeline.model import ExitCode

if TYPE_CHECKING:
    from pipeline.progress import Progress
    from pipeline.web.settings import DeskSettings

__all__ = ["desk_settings", "serve", "serve_parser"]


def serve_parser(sub: Any, target_options: Any) -> None:
    s = sub.add_parser(
        "serve", help="the HR desk: a web page to upload sheets, see their verdict, approve them",
        description="Serve the HR desk: people sign in (tango-batch users), upload sheets (checked at once, as the "
        "nightly run would check them, then put into --inbox for it), approve or reject files, and follow each one "
        "to done. Serve it on 127.0.0.1 behind a reverse proxy that speaks HTTPS (see the README).",
        epilog="example:\n  tango-batch serve --config campaign.toml --inbox /srv/rewards/inbox "
               "--output /srv/rewards/output",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--config", metavar="FILE", required=True, help="campaign file (TOML)")
    s.add_argument("--inbox", metavar="DIR", required=True, type=Path, help="the nightly job's inbox: checked "
                   "uploads are put there")
    s.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="default 8080")
    s.add_argument("--output", metavar="DIR", default="output", help="where the checks' reports go (default: output/)")
    s.add_argument("--max-upload-mb", type=int, default=25, metavar="N", help="the largest upload (default 25 MB)")
    s.add_argument("--https", action="store_true", help="served over HTTPS (by a proxy): cookies only over HTTPS")
    s.add_argument("--proxy-headers", action="store_true", help="behind a reverse proxy on this machine: trust its "
                   "X-Forwarded-Proto and X-Forwarded-For (from 127.0.0.1 only)")
    s.add_argument("--debug", action="store_true", help="show internal errors in full")
    target_options(s, logs=False)


def desk_settings(args: argparse.Namespace) -> DeskSettings:
    from pipeline.cli.settings import ledger_path, rate
    from pipeline.config import load_campaign, resolve_target
    from pipeline.state import state_folder
    from pipeline.web.settings import MB, DeskSettings, secret_key
    from rules import load
    book = load()
    campaign = load_campaign(args.config, book)
    target = resolve_target(args.target, os.environ, campaign.target)
    if not args.inbox.is_dir():
        raise UsageError(f"--inbox {args.inbox}: no such folder")
    if not 1 <= args.max_upload_mb <= 1024:
        raise UsageError("--max-upload-mb must be from 1 to 1024")
    state = state_folder(os.environ) / "desk"
    output = Path(args.output)
    return DeskSettings(campaign=campaign, book=book, target=target, ledger=ledger_path(args, campaign, output),
                        inbox=args.inbox.resolve(), output=output.resolve(), state=state,
                        secret_key=secret_key(os.environ, state), https=args.https, proxy_headers=args.proxy_headers,
                        max_upload_bytes=args.max_upload_mb * MB, rate=rate(args))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(args: argparse.Namespace, progress: Progress) -> int:
    settings = desk_settings(args)
    import uvicorn

    from pipeline.ledger import Ledger
    from pipeline.logs import setup
    from pipeline.web.app import create_app
    setup(settings.output, "text", args.debug, settings.target.credentials.secrets())
    ledger = Ledger(settings.ledger, settings.target.namespace)        # made (or migrated) before the first page
    try:
        users = ledger.users()
    finally:
        ledger.close()
    if not users:
        progress.say("warning: no users yet: add one with tango-batch users add NAME --role admin "
                     f"--ledger {settings.ledger}")
    if not _loopback(args.host) and not args.https:
        progress.say(f"warning: serving on {args.host} without --https: put it behind a reverse proxy that speaks "
                     "HTTPS and listen on 127.0.0.1")
    progress.say(f"the desk: http://{args.host}:{args.port}/ (campaign {args.config}, inbox {settings.inbox}, "
                 f"ledger {settings.ledger}, target {settings.target.describe()})")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, access_log=False, proxy_headers=False,
                server_header=False, log_level="warning")
    return ExitCode.OK
