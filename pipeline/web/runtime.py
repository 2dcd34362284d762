"""The desk as the views see it (``request.app.state.desk``): its settings, the checker, the sign-in
throttle, the templates (Jinja2, autoescape on), and a ledger opened for one request."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pipeline.approvals import single
from pipeline.ledger import Ledger
from pipeline.ledger.desk import ROLES, UserRecord
from pipeline.web.checker import Checker
from pipeline.web.guard import csrf_token, who
from pipeline.web.settings import DeskSettings
from pipeline.web.throttle import Throttle

__all__ = ["Desk", "desk_of", "money"]


def money(value: Any) -> str:
    return f"${float(value or 0):,.2f}"


class Desk:
    def __init__(self, settings: DeskSettings, checker: Checker, throttle: Throttle) -> None:
        self.settings, self.checker, self.throttle = settings, checker, throttle
        self.env = jinja2.Environment(loader=jinja2.PackageLoader("pipeline.web", "templates"), autoescape=True,
                                      undefined=jinja2.StrictUndefined)
        self.env.filters["money"] = money

    @contextmanager
    def ledger(self) -> Iterator[Ledger]:
        """The ledger for one request, opened and closed in the thread that uses it."""
        ledger = Ledger(self.settings.ledger, self.settings.target.namespace)
        try:
            yield ledger
        finally:
            ledger.close()

    def user(self, request: Request, roles: Collection[str] = ROLES, *, page: bool = True) -> UserRecord:
        """The signed-in user (see ``guard.who``), with a ledger of its own: for the async views."""
        with self.ledger() as ledger:
            return who(request, ledger, self.settings, roles, page=page)

    def page(self, request: Request, name: str, status: int = 200, user: UserRecord | None = None,
             **context: Any) -> HTMLResponse:
        campaign = self.settings.campaign
        html = self.env.get_template(name).render(
            user=user, csrf=csrf_token(request), single=single(campaign), campaign=campaign,
            require_approval=campaign.require_approval, simulated=self.settings.target.simulated,
            flash=request.session.pop("flash", None) if user else None, **context)
        return HTMLResponse(html, status_code=status)


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk
