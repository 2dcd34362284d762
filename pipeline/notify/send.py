"""How a notification leaves: an e-mail over SMTP (the standard library's smtplib), and a JSON post
to a webhook (httpx, a short timeout, three attempts at most).

Each raises ``NotSent`` with a message fit for the log: it names the SMTP server or the webhook's
host, never the password nor the webhook's URL (its path is the secret). smtplib and httpx are
imported only when a message is sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pipeline.notify.settings import NotifySettings

__all__ = ["ATTACH_LIMIT", "XLSX", "NotSent", "email_message", "post_webhook", "send_email"]

SMTP_TIMEOUT = 20.0                 # seconds for each step of the SMTP conversation
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF = 1.0               # seconds before the second attempt; doubled before the third
ATTACH_LIMIT = 10 << 20             # bytes of attachments in one e-mail; a bigger workbook is named, not attached
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


class NotSent(Exception):
    """A notification that could not be sent; the message says why, without a secret."""


def email_message(notify: NotifySettings, subject: str, body: str, attachments: list[tuple[str, Path]]) -> EmailMessage:
    """A plain-text e-mail; ``attachments``: (file name, path) of each workbook attached."""
    assert notify.sender is not None
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = notify.sender
    message["To"] = ", ".join(notify.recipients)
    message["Date"] = formatdate(localtime=True)
    # the sender's domain: make_msgid would otherwise ask DNS for this machine's full name
    message["Message-ID"] = make_msgid(domain=parseaddr(notify.sender)[1].rsplit("@", 1)[-1])
    message.set_content(body)
    for name, path in attachments:
        message.add_attachment(path.read_bytes(), maintype=XLSX[0], subtype=XLSX[1], filename=name)
    return message


def send_email(notify: NotifySettings, message: EmailMessage, environ: Mapping[str, str]) -> None:
    """Over SMTP: STARTTLS (never falling back to the clear), implicit TLS, or the clear to a local relay;
    AUTH with ``smtp_user`` and the password from the environment."""
    import smtplib
    import ssl
    assert notify.smtp_host is not None
    server = f"{notify.smtp_host}:{notify.smtp_port}"
    password = notify.password(environ)
    if notify.smtp_user and not password:
        raise NotSent(f"the e-mail was not sent: smtp_user is set but the environment variable {notify.password_env} "
                      "(its password) is empty or not set")
    context = ssl.create_default_context()
    try:
        if notify.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(notify.smtp_host, notify.smtp_port, timeout=SMTP_TIMEOUT,
                                                  context=context)
        else:
            smtp = smtplib.SMTP(notify.smtp_host, notify.smtp_port, timeout=SMTP_TIMEOUT)
        with smtp:
            if notify.smtp_security == "starttls":
                smtp.starttls(context=context)
            if notify.smtp_user and password:
                smtp.login(notify.smtp_user, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise NotSent(f"the e-mail was not sent: {server} refused the login of {notify.smtp_user!r} ({exc.smtp_code}); "
                      f"check smtp_user and {notify.password_env}") from None
    except (smtplib.SMTPException, OSError, UnicodeError) as exc:
        raise NotSent(f"the e-mail was not sent: {server}: {type(exc).__name__}: {exc}") from None


def host_of(url: str) -> str:
    """What may be said of a webhook: its host (the path is the secret)."""
    return urlsplit(url).hostname or "?"


class _Again(Exception):
    """A webhook failure worth another attempt: no answer, 429 or 5xx."""


def post_webhook(url: str, text: str, *, attempts: int | None = None, backoff: float | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """POST ``{"text": text}`` (what Slack's incoming webhooks take); a 4xx is final, the rest is tried again."""
    import httpx
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    attempts = attempts or WEBHOOK_ATTEMPTS
    backoff = WEBHOOK_BACKOFF if backoff is None else backoff
    where = f"the webhook at {host_of(url)}"
    try:
        with httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as client:
            for attempt in Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(backoff, max=8),
                                    retry=retry_if_exception_type(_Again), reraise=True, sleep=sleep):
                with attempt:
                    try:
                        response = client.post(url, json={"text": text})
                    except httpx.HTTPError as exc:      # its text may hold the URL: only its kind is said
                        raise _Again(f"no answer ({type(exc).__name__})") from None
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Again(f"answered {response.status_code}")
                    if not response.is_success:
                        raise NotSent(f"{where} answered {response.status_code} (not tried again)")
    except _Again as exc:
        raise NotSent(f"{where}: {exc}, after {attempts} attempts") from None
    except httpx.InvalidURL:
        raise NotSent(f"{where}: not a usable URL") from None
