"""Notifications of the nightly job, against a real SMTP server on loopback (aiosmtpd) and a local
webhook receiver: what the e-mail and the post say (counts, totals, links; no personal data), the
balance alert, failures that never change the run's outcome, and the SMTP password kept out of
the campaign file and out of every log."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline.cli import main
from pipeline.config import load_campaign
from pipeline.errors import UsageError
from pipeline.jobs.nightly import nightly
from pipeline.notify import send as notify_send
from pipeline.notify.send import NotSent, post_webhook
from pipeline.progress import Progress
from pipeline.simulator import SimulatorTransport
from tests.helpers import BOOK, base_row, free_port, run_settings, sim_client, write_csv

# the sink takes AUTH in the clear, on loopback only (aiosmtpd warns of it)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "pw-Quokka-7731-secret"
WEBHOOK_TOKEN = "T0ACME/B0NIGHT/xoxSlackToken42"
LINK = "https://rewards.acme.internal"
# rows whose personal data must never reach a notification's text
ZEBULON = {"First Name": "Zebulon", "Last Name": "Quixote", "Email": "zebulon.quixote@example.org"}
PHILIPPA = {"First Name": "Philippa", "Last Name": "Marchbanks", "Mobile": "+14155550199"}
XANTHIPPE = {"First Name": "Xanthippe", "Last Name": "Oyelaran", "Email": "xanthippe.oyelaran-at-example.org"}
WILHELMINA = {"First Name": "Wilhelmina", "Last Name": "Fairweather", "Email": "wilhelmina.f@example.org"}
PERSONAL = ["Zebulon", "Quixote", "zebulon.quixote", "Philippa", "Marchbanks", "4155550199", "5550199", "Xanthippe",
            "Oyelaran", "xanthippe.oyelaran", "Wilhelmina", "Fairweather", "wilhelmina.f", "example.org"]


# --- a real SMTP server, and a webhook receiver, on loopback -------------------------------------
@dataclass
class Sink:
    """What the SMTP server received, and the logins it was offered."""
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse: str | None = None               # an SMTP answer to every RCPT TO, to refuse the mail

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            self.logins.append((login, password))
            return AuthResult(success=(login, password) == ("rewards-bot", PASSWORD), handled=False)
        return AuthResult(success=False, handled=False)     # handled=False: the server answers 535


def start_sink(auth: bool = False) -> tuple[Sink, Controller]:
    sink = Sink(free_port())
    # PLAIN only, so that each attempt is one login (smtplib tries LOGIN after a refused PLAIN)
    extra: dict[str, Any] = {"authenticator": sink.authenticate, "auth_required": True,
                             "auth_exclude_mechanism": ["LOGIN"]} if auth else {}
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, auth_require_tls=False, **extra)
    controller.start()
    return sink, controller


@pytest.fixture
def smtp() -> Iterator[Sink]:
    sink, controller = start_sink()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_auth() -> Iterator[Sink]:
    sink, controller = start_sink(auth=True)
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class Receiver:
    url: str
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)     # (content type, body)
    status: int = 200


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.posts.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(receiver.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/services/{WEBHOOK_TOKEN}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


# --- a night with a [notify] table ----------------------------------------------------------------
@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def campaign_file(tmp_path: Path, notify: str) -> Path:
    path = tmp_path / "campaign.toml"
    path.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\ncampaign = "Q4"\n'
                    f"[notify]\n{notify}")
    return path


def smtp_notify(port: int, **more: str) -> str:
    lines = {"smtp_host": '"127.0.0.1"', "smtp_port": str(port), "smtp_security": '"none"',
             "sender": '"Rewards <rewards@acme.test>"', "recipients": '["hr-ops@acme.test", "payroll@acme.test"]',
             "link": f'"{LINK}/"', **more}
    return "".join(f"{k} = {v}\n" for k, v in lines.items())


def rows() -> list[dict[str, Any]]:
    """Three rows to order ($75.00) and one INVALID (its e-mail has no @): a failures.xlsx."""
    return [base_row("EMAIL", **ZEBULON), base_row("PHONE", **PHILIPPA), base_row("EMAIL", **XANTHIPPE),
            base_row("EMAIL", **WILHELMINA)]


def night(tmp_path: Path, inbox: Path, sim: Any, clock: Any, notify: str) -> tuple[Any, str]:
    """A nightly run in-process against the simulator; its result, and what it said."""
    campaign = load_campaign(campaign_file(tmp_path, notify), BOOK)
    said = io.StringIO()
    client = sim_client(SimulatorTransport(sim), clock)
    try:
        result = nightly(inbox, run_settings(tmp_path, campaign=campaign), Progress(said, bar=False), client)
    finally:
        client.close()
    return result, said.getvalue()


def drop(inbox: Path, name: str = "q4-bonus.csv") -> tuple[Path, str]:
    path = write_csv(inbox / name, rows())
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def assert_no_personal_data(text: str) -> None:
    for word in PERSONAL:
        assert word.lower() not in text.lower(), word


# --- the nightly e-mail ----------------------------------------------------------------------------
def test_the_nightly_email_has_counts_totals_and_links_and_no_personal_data(tmp_path, inbox, sim, clock, smtp):
    _, sha256 = drop(inbox)
    result, said = night(tmp_path, inbox, sim, clock, smtp_notify(smtp.port))
    assert result.code == 1                                 # one row to fix
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert smtp.envelopes == [("rewards@acme.test", ["hr-ops@acme.test", "payroll@acme.test"])]
    assert message["Subject"] == ("tango-batch nightly (simulator): 1 file, 3 rows COMPLETE, 1 to fix, "
                                  "$75.00 ordered")
    assert message["From"] == "Rewards <rewards@acme.test>"
    body = text_of(message)
    assert "Result: exit 1: some rows need fixing" in body
    assert "Rows: 4: 1 INVALID, 3 COMPLETE" in body
    assert "Ordered (accepted by Tango): $75.00" in body
    assert "- q4-bonus.csv: 4 rows: 1 INVALID, 3 COMPLETE" in body
    summary = result.files[0]
    assert f"  report: {summary['report']}" in body and f"  rows to fix: {summary['failures']}" in body
    assert f"  page: {LINK}/files/{sha256}" in body                 # the trailing slash of link= dropped
    assert f"This run: {LINK}/runs/{result.run_id}" in body
    assert_no_personal_data(body)
    assert_no_personal_data(message["Subject"])
    assert not message.is_multipart() and list(message.iter_attachments()) == []     # nothing attached by default
    assert "nightly e-mail to 2 recipients via 127.0.0.1 sent" in said


def test_the_failures_workbook_is_attached_only_when_turned_on(tmp_path, inbox, sim, clock, smtp):
    drop(inbox)
    result, _ = night(tmp_path, inbox, sim, clock, smtp_notify(smtp.port, attach_failures="true"))
    attachments = list(smtp.messages[0].iter_attachments())
    assert [a.get_filename() for a in attachments] == ["q4-bonus-failures.xlsx"]
    assert attachments[0].get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert attachments[0].get_content() == Path(result.files[0]["failures"]).read_bytes()
    body = text_of(smtp.messages[0])
    assert "Attached: q4-bonus-failures.xlsx. They hold personal data" in body
    assert_no_personal_data(body)


# --- the webhook -----------------------------------------------------------------------------------
def test_the_webhook_gets_counts_and_totals_only(tmp_path, inbox, sim, clock, webhook):
    drop(inbox, "bonus-zebulon-quixote.csv")               # a file named after a person
    result, said = night(tmp_path, inbox, sim, clock, f'webhook_url = "{webhook.url}"\nlink = "{LINK}"\n')
    assert result.code == 1
    assert len(webhook.posts) == 1
    content_type, body = webhook.posts[0]
    assert content_type == "application/json" and list(body) == ["text"]
    text = body["text"]
    assert text.startswith("tango-batch nightly (simulator): exit 1 (some rows need fixing")
    assert "1 file, 4 rows: 1 INVALID, 3 COMPLETE; 1 to fix; $75.00 ordered." in text
    assert text.endswith(f"{LINK}/runs/{result.run_id}")
    assert_no_personal_data(text)
    assert "bonus" not in text and ".csv" not in text and str(tmp_path) not in text    # no file name, no path
    assert "post to the webhook at 127.0.0.1 sent" in said and WEBHOOK_TOKEN not in said


def test_a_webhook_that_keeps_failing_is_tried_three_times_then_a_warning(tmp_path, inbox, sim, clock, webhook,
                                                                          monkeypatch):
    monkeypatch.setattr(notify_send, "WEBHOOK_BACKOFF", 0.01)
    webhook.status = 503
    drop(inbox)
    result, said = night(tmp_path, inbox, sim, clock, f'webhook_url = "{webhook.url}"\n')
    assert result.code == 1 and len(webhook.posts) == 3
    assert "warning: the nightly post to the webhook at 127.0.0.1 was not sent" in said
    assert "answered 503, after 3 attempts" in said and WEBHOOK_TOKEN not in said


def test_a_webhook_refusal_is_not_retried(webhook):
    webhook.status = 404
    with pytest.raises(NotSent, match=r"^the webhook at 127.0.0.1 answered 404 \(not tried again\)$"):
        post_webhook(webhook.url, "hello", backoff=0)
    assert len(webhook.posts) == 1


# --- the balance alert -----------------------------------------------------------------------------
def test_a_balance_short_alert_names_the_account_and_the_figures(tmp_path, inbox, sim, clock, smtp, webhook):
    sim.set_balance("acme-corp", "acme-rewards", 30.0)
    _, sha256 = drop(inbox)
    notify = smtp_notify(smtp.port) + f'webhook_url = "{webhook.url}"\n'
    result, _ = night(tmp_path, inbox, sim, clock, notify)
    assert result.code == 3 and (inbox / "q4-bonus.csv").exists()          # as without [notify]
    assert result.short is not None and (result.short.account, result.short.short_by) == ("acme-rewards", 45)
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects[0] == "tango-batch (simulator): account 'acme-rewards' is short by $45.00 - nothing was sent"
    assert subjects[1] == ("tango-batch nightly (simulator): 1 file, 0 rows COMPLETE, 1 to fix, $0.00 ordered "
                           "- stopped early")
    alert = text_of(smtp.messages[0])
    assert "The Tango account 'acme-rewards' of customer acme-corp (target simulator)" in alert
    assert "Balance: $30.00\nNeeded: $75.00\nShort by: $45.00" in alert
    assert f"- q4-bonus.csv: 3 rows pending; {LINK}/files/{sha256}" in alert
    assert_no_personal_data(alert)
    assert "Stopped early: insufficient funds" in text_of(smtp.messages[1])
    texts = [body["text"] for _, body in webhook.posts]
    assert texts[0] == ("tango-batch (simulator): account 'acme-rewards' holds $30.00; the approved rows need "
                        "$75.00: short by $45.00. Nothing was sent from it; 3 rows wait for a top-up.")
    assert "exit 3" in texts[1] and len(texts) == 2


# --- failures never change the run ------------------------------------------------------------------
def test_an_smtp_server_that_is_down_leaves_the_exit_code_and_warns(tmp_path, inbox, sim, clock):
    drop(inbox)
    result, said = night(tmp_path, inbox, sim, clock, smtp_notify(free_port()))
    assert result.code == 1 and (inbox / "processed" / "q4-bonus.csv").exists()
    assert "warning: the nightly e-mail to 2 recipients via 127.0.0.1 was not sent" in said
    assert "ConnectionRefusedError" in said and "the run's outcome is unchanged" in said


def test_an_smtp_server_that_refuses_the_mail_leaves_the_exit_code_and_warns(tmp_path, inbox, sim, clock, smtp):
    smtp.refuse = "550 5.7.1 relaying denied"
    drop(inbox)
    result, said = night(tmp_path, inbox, sim, clock, smtp_notify(smtp.port))
    assert result.code == 1 and smtp.messages == []
    assert "warning: the nightly e-mail to 2 recipients via 127.0.0.1 was not sent" in said
    assert "SMTPRecipientsRefused" in said and "relaying denied" in said


def test_a_night_with_nothing_to_do_still_reports_and_a_bug_in_a_message_is_only_a_warning(
        tmp_path, inbox, sim, clock, smtp, monkeypatch):
    result, _ = night(tmp_path, inbox, sim, clock, smtp_notify(smtp.port))
    assert result.code == 0 and "No new file in the inbox tonight." in text_of(smtp.messages[0])

    def broken(*args: Any) -> str:
        raise KeyError("status_counts")
    monkeypatch.setattr("pipeline.notify.notifier.nightly_text", broken)
    drop(inbox)
    result, said = night(tmp_path, inbox, sim, clock, smtp_notify(smtp.port))
    assert result.code == 1 and len(smtp.messages) == 1
    assert "warning: the nightly e-mail to 2 recipients via 127.0.0.1 was not sent (internal error: KeyError" in said


# --- the password: from the environment only, never in a log ---------------------------------------
def test_a_password_in_the_campaign_file_is_refused(tmp_path):
    path = campaign_file(tmp_path, smtp_notify(587, smtp_user='"rewards-bot"', smtp_password=f'"{PASSWORD}"'))
    with pytest.raises(UsageError) as caught:
        load_campaign(path, BOOK)
    message = str(caught.value)
    assert "'notify.smtp_password' is refused: a campaign file is shared and copied" in message
    assert "TANGO_BATCH_SMTP_PASSWORD" in message and PASSWORD not in message


def test_the_password_from_the_environment_is_used_and_never_logged(tmp_path, inbox, smtp_auth, webhook, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv("TANGO_BATCH_SMTP_PASSWORD", PASSWORD)
    webhook.status = 404                    # its warning is logged: it must not hold the URL
    config = campaign_file(tmp_path, smtp_notify(smtp_auth.port, smtp_user='"rewards-bot"')
                           + f'webhook_url = "{webhook.url}"\n')
    drop(inbox)
    out = tmp_path / "out"
    code = main(["nightly", "--inbox", str(inbox), "--config", str(config), "--output", str(out), "--no-wait",
                 "--target", "simulator", "--debug"])
    assert code == 1
    assert smtp_auth.logins == [("rewards-bot", PASSWORD)] and len(smtp_auth.messages) == 1
    console = capsys.readouterr().err
    log = "".join(p.read_text() for p in (out / "logs").glob("*.log"))
    for text in (console, log):
        assert "nightly e-mail to 2 recipients via 127.0.0.1 sent" in text
        assert "post to the webhook at 127.0.0.1 was not sent" in text
        assert PASSWORD not in text and WEBHOOK_TOKEN not in text
    # both are registered with the log: should either ever reach a line, it is blotted out
    logging.getLogger("tango_batch.notify").warning("a careless line: %s %s", PASSWORD, webhook.url)
    for text in (capsys.readouterr().err, "".join(p.read_text() for p in (out / "logs").glob("*.log"))):
        assert "a careless line: [secret] [secret]" in text and PASSWORD not in text and WEBHOOK_TOKEN not in text
    # nor does the ledger keep [notify] (its recipients, its webhook) with the file's campaign
    ledger = next((tmp_path / "state").rglob("acme-corp.sqlite"))
    with sqlite3.connect(ledger) as db:
        campaigns = [json.loads(c) for (c,) in db.execute("SELECT campaign FROM files")]
    assert campaigns and all(c["notify"] is None for c in campaigns)


def test_a_wrong_password_is_a_warning_that_does_not_show_it(tmp_path, inbox, sim, clock, smtp_auth, monkeypatch):
    monkeypatch.setenv("SMTP_PASS", "not-the-password-9")
    drop(inbox)
    notify = smtp_notify(smtp_auth.port, smtp_user='"rewards-bot"', smtp_password_env='"SMTP_PASS"')
    result, said = night(tmp_path, inbox, sim, clock, notify)
    assert result.code == 1 and smtp_auth.messages == []
    assert smtp_auth.logins == [("rewards-bot", "not-the-password-9")]
    assert "127.0.0.1:" in said and "refused the login of 'rewards-bot' (535); check smtp_user and SMTP_PASS" in said
    assert "not-the-password-9" not in said


def test_a_user_without_a_password_in_the_environment_is_a_warning(tmp_path, inbox, sim, clock, smtp, monkeypatch):
    monkeypatch.delenv("TANGO_BATCH_SMTP_PASSWORD", raising=False)
    result, said = night(tmp_path, inbox, sim, clock, smtp_notify(smtp.port, smtp_user='"rewards-bot"'))
    assert result.code == 0 and smtp.messages == []
    assert "the environment variable TANGO_BATCH_SMTP_PASSWORD (its password) is empty or not set" in said


# --- the [notify] table -----------------------------------------------------------------------------
@pytest.mark.parametrize(("notify", "said"), [
    ('smtp_host = "mail.acme.test"\nsmtp_security = "none"\nsender = "a@acme.test"\nrecipients = ["b@acme.test"]\n',
     "'notify.smtp_security' = \"none\" sends the password and the message in the clear"),
    ('smtp_host = "mail.acme.test"\nsmtp_security = "ssl"\nsender = "a@acme.test"\nrecipients = ["b@acme.test"]\n',
     "'notify.smtp_security' must be \"starttls\" (the default), \"tls\" or \"none\"; got 'ssl'"),
    ('smtp_host = "mail.acme.test"\nsmtp_port = true\nsender = "a@acme.test"\nrecipients = ["b@acme.test"]\n',
     "'notify.smtp_port' must be a port number such as 587; got True"),
    ('smtp_host = "mail.acme.test"\nrecipients = ["b@acme.test"]\n', "'notify.sender' is missing"),
    ('smtp_host = "mail.acme.test"\nsender = "a@acme.test"\nrecipients = ["b@acme.test", "not-an-address"]\n',
     "'notify.recipients' must be an e-mail address such as \"rewards@acme.com\"; got 'not-an-address'"),
    ('smtp_host = "mail.acme.test"\nsender = "a@acme.test"\nrecipients = []\n',
     "'notify.recipients' must be a list of e-mail addresses"),
    ('smtp_host = "mail.acme.test"\nsender = "a@acme.test\\nBcc: x@evil.test"\nrecipients = ["b@acme.test"]\n',
     "'notify.sender' must be one line"),
    ('smtp_host = "mail.acme.test"\nsender = "a@acme.test"\nrecipients = ["b@acme.test"]\nsmtp_password_env = "1X"\n',
     "'notify.smtp_password_env' must name an environment variable"),
    ('sender = "a@acme.test"\nrecipients = ["b@acme.test"]\n', "'notify.smtp_host' is missing"),
    ('webhook_url = "http://hooks.example.test/services/T0/B0/secret-path"\n',
     "'notify.webhook_url' must start with https:// (http:// only to 127.0.0.1, ::1 or localhost); "
     "got http://hooks.example.test/..."),
    ('webhook_url = "https://hooks.example.test/x"\nlink = "rewards.acme.internal"\n', "'notify.link' must be"),
    ('webhook_url = "https://hooks.example.test/x"\nattach_failures = "yes"\n',
     "'notify.attach_failures' must be true or false"),
    ('webhook_url = "https://hooks.example.test/x"\nattach_failures = true\n',
     "'notify.attach_failures' needs smtp_host"),
    ('link = "https://rewards.acme.internal"\n', "[notify] needs smtp_host (e-mail) or webhook_url"),
    ('smtp_server = "mail.acme.test"\n', "unknown key 'notify.smtp_server'; known: smtp_host, smtp_port"),
])
def test_a_wrong_notify_table_is_refused_naming_the_key(tmp_path, notify, said):
    with pytest.raises(UsageError) as caught:
        load_campaign(campaign_file(tmp_path, notify), BOOK)
    assert said in str(caught.value)
    assert "secret-path" not in str(caught.value)


def test_the_notify_table_and_its_defaults(tmp_path):
    notify = load_campaign(campaign_file(tmp_path, (
        'smtp_host = "smtp.acme.test"\nsmtp_security = "tls"\nsender = "rewards@acme.test"\n'
        'recipients = "hr@acme.test"\nwebhook_url = "https://hooks.example.test/services/T0/B0/secret-path"\n')),
        BOOK).notify
    assert notify is not None
    assert (notify.smtp_port, notify.smtp_security, notify.recipients, notify.attach_failures) == \
        (465, "tls", ("hr@acme.test",), False)
    assert notify.password_env == "TANGO_BATCH_SMTP_PASSWORD" and notify.link is None
    assert "secret-path" not in repr(notify)
    starttls = load_campaign(campaign_file(tmp_path, (
        'smtp_host = "smtp.acme.test"\nsender = "rewards@acme.test"\nrecipients = ["hr@acme.test"]\n')), BOOK).notify
    assert starttls is not None and (starttls.smtp_port, starttls.smtp_security) == (587, "starttls")
    plain = tmp_path / "plain.toml"
    plain.write_text('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n')
    assert load_campaign(plain, BOOK).notify is None
