"""The campaign file's ``[notify]`` table: who hears of each nightly run, and how::

    [notify]
    smtp_host = "smtp.acme.com"
    smtp_port = 587                   # default: 587 for "starttls", 465 for "tls", 25 for "none"
    smtp_security = "starttls"        # "starttls" (default), "tls" (implicit TLS), "none" (a relay on this machine)
    smtp_user = "rewards-bot"         # optional; its password comes from TANGO_BATCH_SMTP_PASSWORD
    smtp_password_env = "SMTP_PASS"   # optional: another environment variable for the password
    sender = "Rewards <rewards@acme.com>"
    recipients = ["hr-ops@acme.com"]
    link = "https://rewards.acme.internal"   # optional: the web pages, linked from the e-mail
    attach_failures = false           # failures.xlsx holds personal data: attached only when true
    webhook_url = "https://hooks.slack.com/services/..."   # optional: a Slack-compatible JSON post
    subject_prefix = "tango-batch"

A password is never read from the file (a campaign file is shared and copied): a ``smtp_password``
key is refused. The webhook URL is a secret too (whoever has it can post to the channel): it is
never shown, not even in an error. Each error is a ``UsageError`` naming the key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import UsageError

__all__ = ["PASSWORD_ENV", "NotifySettings", "notify_secrets", "notify_settings"]

PASSWORD_ENV = "TANGO_BATCH_SMTP_PASSWORD"
SECURITY_PORTS = {"starttls": 587, "tls": 465, "none": 25}
KEYS = ("smtp_host", "smtp_port", "smtp_security", "smtp_user", "smtp_password_env", "sender", "recipients", "link",
        "attach_failures", "webhook_url", "subject_prefix")
ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOST = re.compile(r"^[A-Za-z0-9.-]+$|^\[?[0-9A-Fa-f:]+\]?$")
MAX_RECIPIENTS = 50


@dataclass(frozen=True)
class NotifySettings:
    """``[notify]``, checked. The SMTP password is not here: it is read from the environment
    (``password_env``) when a message is sent; ``webhook_url`` is never printed."""
    smtp_host: str | None = None                # None: no e-mail (the webhook alone)
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str | None = None
    password_env: str = PASSWORD_ENV
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    link: str | None = None                     # the web pages' base URL, without a trailing slash
    attach_failures: bool = False
    webhook_url: str | None = field(default=None, repr=False)
    subject_prefix: str = "tango-batch"

    def password(self, environ: Mapping[str, str]) -> str | None:
        return environ.get(self.password_env) or None


def notify_secrets(notify: NotifySettings | None, environ: Mapping[str, str]) -> list[str]:
    """What the logs must blot out should it ever reach a message: the SMTP password, the webhook URL."""
    if notify is None:
        return []
    return [s for s in (notify.password(environ), notify.webhook_url) if s]


def _fail(path: str, key: str, why: str) -> UsageError:
    return UsageError(f"{path}: 'notify.{key}' {why}")


def _plain(path: str, key: str, value: Any, limit: int) -> str:
    """Text without control characters (a line break in a header would start another header)."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f"must be text in quotes; got {value!r}")
    if len(value) > limit or not value.isprintable():
        raise _fail(path, key, f"must be one line of at most {limit} printable characters")
    return value.strip()


def _address(path: str, key: str, value: Any) -> str:
    """An e-mail address, alone or with a display name (``Rewards <rewards@acme.com>``)."""
    text = _plain(path, key, value, 320)
    name, address = parseaddr(text)
    if not ADDRESS.match(address) or (not name and address != text):
        raise _fail(path, key, f"must be an e-mail address such as \"rewards@acme.com\"; got {text!r}")
    return text


def _recipients(path: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _fail(path, "recipients", 'must be a list of e-mail addresses, such as ["hr-ops@acme.com"]')
    if len(value) > MAX_RECIPIENTS:
        raise _fail(path, "recipients", f"may name at most {MAX_RECIPIENTS} addresses (use a mailing list)")
    addresses = tuple(_address(path, "recipients", v) for v in value)
    if len({a.lower() for a in addresses}) != len(addresses):
        raise _fail(path, "recipients", "names an address twice")
    return addresses


def _loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _link(path: str, value: Any) -> str:
    text = _plain(path, "link", value, 1000)
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc or parts.query:
        raise _fail(path, "link", f'must be the web pages\' base URL, such as "https://rewards.acme.internal"; '
                    f"got {text!r}")
    return text.rstrip("/")


def _webhook(path: str, value: Any) -> str:
    """https://, or http:// to this machine only (a test's receiver, a local relay): the URL is a secret
    and the post says how a night went, so it never crosses a network in the clear."""
    if not isinstance(value, str) or not value.isprintable() or len(value) > 2000:
        raise _fail(path, "webhook_url", "must be a URL in quotes, on one line")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        raise _fail(path, "webhook_url", "is not a URL") from None
    if not host or "@" in parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and _loopback(host))):
        # the URL is a secret: say its scheme and host at most
        raise _fail(path, "webhook_url", f"must start with https:// (http:// only to 127.0.0.1, ::1 or localhost); "
                    f"got {parts.scheme or 'no scheme'}://{host or '?'}/...")
    return value


def _security(path: str, data: dict[str, Any], host: str | None) -> tuple[str, int]:
    security = data.get("smtp_security", "starttls")
    if security not in SECURITY_PORTS:
        raise _fail(path, "smtp_security", f'must be "starttls" (the default), "tls" or "none"; got {security!r}')
    if security == "none" and host is not None and not _loopback(host):
        raise _fail(path, "smtp_security", f'= "none" sends the password and the message in the clear: only to a '
                    f"relay on this machine (localhost), not to {host!r}; use \"starttls\" or \"tls\"")
    port = data.get("smtp_port", SECURITY_PORTS[security])
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise _fail(path, "smtp_port", f"must be a port number such as 587; got {port!r}")
    return str(security), port


def _smtp(path: str, data: dict[str, Any]) -> dict[str, Any]:
    """The e-mail half; nothing when there is no ``smtp_host``."""
    if "smtp_host" not in data:
        given = [k for k in ("sender", "recipients", "smtp_user", "smtp_port", "smtp_security") if k in data]
        if given:
            raise _fail(path, "smtp_host", f"is missing, and {given[0]} means nothing without it")
        return {}
    host = _plain(path, "smtp_host", data["smtp_host"], 253)
    if not HOST.match(host):
        raise _fail(path, "smtp_host", f"must be a host name or address, such as \"smtp.acme.com\"; got {host!r}")
    for key in ("sender", "recipients"):
        if key not in data:
            raise _fail(path, key, "is missing: an e-mail needs a sender and recipients")
    security, port = _security(path, data, host)
    env = data.get("smtp_password_env", PASSWORD_ENV)
    if not isinstance(env, str) or not ENV_NAME.match(env):
        raise _fail(path, "smtp_password_env", f"must name an environment variable, such as \"{PASSWORD_ENV}\"; "
                    f"got {env!r}")
    user = _plain(path, "smtp_user", data["smtp_user"], 254) if "smtp_user" in data else None
    return dict(smtp_host=host, smtp_port=port, smtp_security=security, smtp_user=user, password_env=env,
                sender=_address(path, "sender", data["sender"]), recipients=_recipients(path, data["recipients"]))


def notify_settings(path: str, data: Any) -> NotifySettings | None:
    """``[notify]`` of the campaign file (``data``: the table; None when the file has none)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: 'notify' must be a table: [notify] with smtp_host, sender, recipients...")
    if "smtp_password" in data:
        env = data.get("smtp_password_env")
        raise _fail(path, "smtp_password", "is refused: a campaign file is shared and copied, so a password in it "
                    "is no longer secret. Remove the line and give the password in the environment variable "
                    f"{env if isinstance(env, str) and ENV_NAME.match(env) else PASSWORD_ENV}")
    for key in data:
        if key not in KEYS:
            raise UsageError(f"{path}: unknown key 'notify.{key}'; known: {', '.join(KEYS)}")
    attach = data.get("attach_failures", False)
    if not isinstance(attach, bool):
        raise _fail(path, "attach_failures", f"must be true or false; got {attach!r}")
    settings = NotifySettings(
        **_smtp(path, data), attach_failures=attach,
        link=_link(path, data["link"]) if "link" in data else None,
        webhook_url=_webhook(path, data["webhook_url"]) if "webhook_url" in data else None,
        subject_prefix=_plain(path, "subject_prefix", data["subject_prefix"], 100) if "subject_prefix" in data
        else "tango-batch")
    if settings.smtp_host is None and settings.webhook_url is None:
        raise UsageError(f"{path}: [notify] needs smtp_host (e-mail) or webhook_url (a chat post), or both")
    if attach and settings.smtp_host is None:
        raise _fail(path, "attach_failures", "needs smtp_host: attachments go by e-mail only")
    return settings
