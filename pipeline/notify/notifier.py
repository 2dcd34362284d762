"""The nightly job's notifications: what the night did, and an alert when an account's balance does
not cover the rows approved to send.

A notification that cannot be sent (the SMTP server down or refusing, the webhook unreachable, even
a bug here) is a warning in the log, never a failure of the run: the exit code stays what the run
made it. The SMTP password and the webhook URL are blotted out of every warning here (the command
line registers them with the log too: ``pipeline.logs.setup``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import bugs
from pipeline.masking import shown
from pipeline.notify.message import (
    balance_text,
    nightly_subject,
    nightly_text,
    short_subject,
    short_webhook_text,
    webhook_text,
)
from pipeline.notify.send import ATTACH_LIMIT, NotSent, email_message, host_of, post_webhook, send_email
from pipeline.notify.settings import NotifySettings, notify_secrets

if TYPE_CHECKING:
    from email.message import EmailMessage

    from pipeline.config import RunSettings
    from pipeline.errors import Shortfall
    from pipeline.jobs.results import FileOutcome, RunResult
    from pipeline.progress import Progress

__all__ = ["Sent", "after_nightly", "balance_short", "notify_nightly"]


@dataclass
class Sent:
    """What went out: per channel ("email", "webhook"), whether it was sent; a channel not configured is absent."""
    channels: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.channels.values())


class _Notifier:
    """One notification over every channel ``notify`` configures, each failure a warning."""

    def __init__(self, notify: NotifySettings, progress: Progress, environ: Mapping[str, str]) -> None:
        self.notify, self.progress, self.environ = notify, progress, environ
        self.sent = Sent()

    def warn(self, what: str, why: str) -> None:
        for secret in notify_secrets(self.notify, self.environ):
            why = why.replace(secret, "[secret]")
        self.progress.say(f"warning: {what} was not sent ({why}); the run's outcome is unchanged", event="notify")

    def channel(self, name: str, what: str, send: Callable[[], None]) -> None:
        try:
            send()
        except NotSent as exc:
            self.warn(what, str(exc))
        except bugs() as exc:       # a bug here must not turn a good night into a failed one
            self.warn(what, f"internal error: {type(exc).__name__}: {exc}")
        else:
            self.sent.channels[name] = True
            self.progress.say(f"{what} sent", event="notify")
            return
        self.sent.channels[name] = False

    def email(self, what: str, build: Callable[[], EmailMessage]) -> None:
        if self.notify.smtp_host is not None:
            to = f"{what} e-mail to {len(self.notify.recipients)} recipients via {self.notify.smtp_host}"
            self.channel("email", to, lambda: send_email(self.notify, build(), self.environ))

    def webhook(self, what: str, text: Callable[[], str]) -> None:
        if self.notify.webhook_url is not None:
            url = self.notify.webhook_url
            self.channel("webhook", f"{what} post to the webhook at {host_of(url)}", lambda: post_webhook(url, text()))


def _attachments(result: RunResult, notify: NotifySettings, progress: Progress) -> list[tuple[str, Path]]:
    """Each file's failures.xlsx, when ``attach_failures`` is on, within ``ATTACH_LIMIT`` bytes in all."""
    if not notify.attach_failures:
        return []
    found, room = [], ATTACH_LIMIT
    for summary in result.files:
        path = Path(summary["failures"]) if summary.get("failures") else None
        if path is None or not path.is_file():
            continue
        size = path.stat().st_size
        if size > room:
            progress.say(f"warning: {shown(str(path))} is too large to attach ({size:,} bytes); the e-mail names it")
            continue
        room -= size
        stem = shown(Path(summary["file"]).stem)
        found.append((f"{stem}-failures.xlsx", path))
    return found


def after_nightly(result: RunResult, run: RunSettings, progress: Progress,
                  environ: Mapping[str, str] = os.environ) -> Sent:
    """The nightly e-mail (counts, totals, links, where the reports are) and the webhook's line."""
    notify = run.campaign.notify
    if notify is None:
        return Sent()
    notifier = _Notifier(notify, progress, environ)

    def build() -> EmailMessage:
        attachments = _attachments(result, notify, progress)
        body = nightly_text(result, run, notify, [name for name, _ in attachments])
        return email_message(notify, nightly_subject(result, run, notify), body, attachments)
    notifier.email("the nightly", build)
    notifier.webhook("the nightly", lambda: webhook_text(result, run, notify))
    return notifier.sent


def balance_short(short: Shortfall, files: list[FileOutcome], run: RunSettings, progress: Progress,
                  environ: Mapping[str, str] = os.environ) -> Sent:
    """The alert that an account's balance does not cover the approved rows: the account, its balance,
    what is needed, short by how much, and (in the e-mail) the files waiting."""
    notify = run.campaign.notify
    if notify is None:
        return Sent()
    notifier = _Notifier(notify, progress, environ)
    notifier.email("the balance alert", lambda: email_message(notify, short_subject(short, notify, run),
                                                              balance_text(short, files, run, notify), []))
    notifier.webhook("the balance alert", lambda: short_webhook_text(short, files, run, notify))
    return notifier.sent


def notify_nightly(result: RunResult, run: RunSettings, progress: Progress,
                   environ: Mapping[str, str] = os.environ) -> None:
    """What the nightly job calls last: the balance alert when the pre-flight found an account short,
    then the night's summary. Never raises."""
    try:
        if result.short is not None:
            balance_short(result.short, result.outcomes, run, progress, environ)
        after_nightly(result, run, progress, environ)
    except bugs() as exc:
        progress.say(f"warning: the notifications failed ({type(exc).__name__}); the run's outcome is unchanged")
