"""The desk's doors: signing in and out, sessions (signed, HttpOnly, SameSite=Strict, ending), the
sign-in throttle, CSRF on every form, roles on every route, the security headers on every response,
escaping, the secret key. HTTP-level, in-process over httpx's ASGI transport."""

from __future__ import annotations

import logging
import os
import stat
import time

import pytest

from pipeline.errors import UsageError
from pipeline.ledger.desk import Decision
from pipeline.web import account, approving, files, pages
from pipeline.web.guard import HEADERS
from pipeline.web.settings import SECRET_ENV, secret_key
from pipeline.web.throttle import Throttle
from tests.web import (
    PASSWORD,
    Desk,
    add_users,
    csrf,
    settings_for,
    sign_in,
    signed_in,
    token,
)

pytestmark = pytest.mark.anyio

# every page and what each role gets: (method, path) -> the roles that may
SHA = "ab" * 32
PAGES = {("GET", "/upload"): "uploader approver admin", ("GET", "/account"): "uploader approver admin",
         ("GET", "/approvals"): "approver admin", ("GET", f"/files/{SHA}"): "uploader approver admin",
         ("GET", "/runs/1"): "uploader approver admin", ("GET", "/checks/" + "j" * 24): "uploader approver admin"}
DOWNLOADS = [f"/files/{SHA}/report.xlsx", f"/files/{SHA}/failures.xlsx", "/template.xlsx",
             "/checks/" + "j" * 24 + "/progress"]
POSTS = ["/upload", "/approvals/" + SHA, "/signout"]


async def test_sign_in_starts_a_signed_session_in_a_strict_httponly_cookie(desk):
    client = desk.client()
    answer = await sign_in(client, "uma")
    assert answer.status_code == 303 and answer.headers["location"] == "/upload"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("tango_batch_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Max-Age=28800" in cookie and "Secure" not in cookie          # plain HTTP in this test: see below
    page = await client.get("/upload")
    assert page.status_code == 200 and 'data-testid="signed-in-as">uma (uploader)<' in page.text
    assert 'id="nav-approvals"' not in page.text                         # not an uploader's page


async def test_a_session_cookie_altered_by_hand_is_no_session(desk):
    client = await signed_in(desk, "uma")
    value = client.cookies["tango_batch_session"]
    client.cookies.clear()
    client.cookies.set("tango_batch_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    answer = await client.get("/upload")
    assert answer.status_code == 303 and answer.headers["location"] == "/signin?next=/upload"


async def test_over_https_the_cookie_is_secure_and_behind_a_proxy_only_with_proxy_headers(tmp_path, check_pool):
    settings = settings_for(tmp_path, https=True)
    add_users(settings)
    cookie = (await sign_in(Desk(settings, check_pool).client(), "uma")).headers["set-cookie"]
    assert "; Secure" in cookie
    proxied = Desk(settings_for(tmp_path, proxy_headers=True), check_pool)
    forwarded = proxied.client()
    forwarded.headers["X-Forwarded-Proto"] = "https"
    page = await forwarded.get("/signin")
    assert "; Secure" in page.headers["set-cookie"] and "Strict-Transport-Security" in page.headers
    plain = Desk(settings_for(tmp_path), check_pool).client()            # no --proxy-headers: not believed
    plain.headers["X-Forwarded-Proto"] = "https"
    assert "Secure" not in (await plain.get("/signin")).headers["set-cookie"]


async def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(desk):
    wrong = await sign_in(desk.client(), "uma", "not the password")
    unknown = await sign_in(desk.client(), "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    message = "That name and password do not match an active user."
    assert message in wrong.text and message in unknown.text
    assert "tango_batch_session" not in (await desk.client().get("/upload")).headers.get("set-cookie", "")


async def test_a_disabled_user_cannot_sign_in_and_their_session_stops_working(desk):
    client = await signed_in(desk, "bea")
    assert (await client.get("/approvals")).status_code == 200
    ledger = desk.ledger()
    try:
        ledger.update_user("bea", disabled=True)
    finally:
        ledger.close()
    answer = await client.get("/approvals")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")
    again = await sign_in(desk.client(), "bea")
    assert again.status_code == 401 and "do not match an active user" in again.text


async def test_a_new_password_ends_the_sessions_of_the_old_one(desk):
    from pipeline.jobs import users
    client = await signed_in(desk, "uma")
    ledger = desk.ledger()
    try:
        ledger.update_user("uma", password_hash=users.hasher().hash("another password entirely"))
    finally:
        ledger.close()
    assert (await client.get("/upload")).status_code == 303


async def test_a_session_ends_when_idle_and_after_its_life_whatever_happens(desk):
    client = await signed_in(desk, "uma")
    desk.replace(idle_seconds=0)
    time.sleep(0.01)
    assert (await client.get("/upload")).status_code == 303              # idle too long
    desk.replace(idle_seconds=1800, session_seconds=0)
    client = await signed_in(desk, "uma")
    time.sleep(0.01)
    assert (await client.get("/upload")).status_code == 303              # past its life, though active


async def test_sign_out_ends_the_session(desk):
    client = await signed_in(desk, "uma")
    answer = await client.post("/signout", data={"csrf_token": await token(client)})
    assert answer.status_code == 303 and "Max-Age=0" in answer.headers["set-cookie"]
    assert (await client.get("/upload")).status_code == 303


async def test_sign_in_is_throttled_by_name_and_by_address_and_says_how_long(desk):
    clock = [1000.0]
    desk.app.state.desk.throttle = Throttle(clock=lambda: clock[0])
    for _ in range(5):
        assert (await sign_in(desk.client("10.0.0.1"), "uma", "wrong password")).status_code == 401
    by_name = await sign_in(desk.client("10.0.0.2"), "uma")              # the right password, another address
    assert by_name.status_code == 429 and "Too many failed sign-ins: wait 31 seconds" in by_name.text
    for n in range(5):                                                   # one address, many names
        await sign_in(desk.client("10.0.0.3"), f"guess{n}", "wrong password")
    assert (await sign_in(desk.client("10.0.0.3"), "ada")).status_code == 429
    assert (await signed_in(desk, "ada", "10.0.0.4")) is not None        # others are not held up
    clock[0] += 31
    assert (await sign_in(desk.client("10.0.0.2"), "uma")).status_code == 303
    for _ in range(5):
        await sign_in(desk.client("10.0.0.5"), "bea", "wrong password")
    clock[0] += 31                                                       # waited, and failed again: it grows
    assert (await sign_in(desk.client("10.0.0.6"), "bea", "wrong again")).status_code == 401
    assert "wait 61 seconds" in (await sign_in(desk.client("10.0.0.7"), "bea")).text


def test_the_throttles_wait_doubles_up_to_its_cap():
    now = [0.0]
    throttle = Throttle(free=2, base=10, cap=35, clock=lambda: now[0])
    waits = []
    for _ in range(5):
        throttle.failed("k")
        waits.append(throttle.wait("k"))
    assert waits == [0, 10, 20, 35, 35]
    throttle.succeeded("k")
    assert throttle.wait("k") == 0


async def test_every_page_without_a_session_redirects_to_sign_in_and_every_download_is_401(desk):
    client = desk.client()
    for (_, path) in PAGES:
        answer = await client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == f"/signin?next={path}", path
    for path in DOWNLOADS:
        assert (await client.get(path)).status_code == 401, path
    for path in POSTS:
        answer = await client.post(path, data={"csrf_token": "x"})
        assert answer.status_code == 303 and answer.headers["location"] == "/signin", path


async def test_every_route_is_known_to_these_tests(desk):
    """A route added later must be added to PAGES, DOWNLOADS or POSTS above, and so be tested."""
    known = {p.replace(SHA, "{sha256}").replace("j" * 24, "{job}").replace("/runs/1", "/runs/{run_id}")
             for p in [p for _, p in PAGES] + DOWNLOADS + POSTS}
    public = {"/", "/signin"}
    routes = {r.path for m in (account, approving, files, pages) for r in m.router.routes}  # type: ignore[attr-defined]
    assert routes - public == known


async def test_roles_are_enforced_on_every_page(desk):
    for name, role in (("uma", "uploader"), ("bea", "approver"), ("ada", "admin")):
        client = await signed_in(desk, name)
        for (_, path), roles in PAGES.items():
            answer = await client.get(path, follow_redirects=False)
            if role in roles:
                assert answer.status_code in (200, 404), (name, path, answer.status_code)
            else:
                assert answer.status_code == 403, (name, path)
                assert "This page is for approvers and admins only" in answer.text


async def test_an_uploader_cannot_post_a_decision(desk):
    client = await signed_in(desk, "uma")
    answer = await client.post(f"/approvals/{SHA}", data={"csrf_token": await token(client), "decision": "approve"})
    assert answer.status_code == 403
    ledger = desk.ledger()
    try:
        assert ledger.decision(SHA) is None
    finally:
        ledger.close()


@pytest.mark.parametrize("path", POSTS)
async def test_every_post_without_its_csrf_token_or_with_a_wrong_one_is_refused(desk, path):
    client = await signed_in(desk, "ada")
    for data in ({}, {"csrf_token": "forged"}):
        answer = await client.post(path, data={**data, "decision": "approve"}, files={"file": ("a.csv", b"x,y\n")}
                                   if path == "/upload" else None)
        assert answer.status_code == 403, (path, data)
        assert "security token is missing or wrong" in answer.text
    assert (await client.get("/upload")).status_code == 200              # still signed in: nothing happened


async def test_sign_in_itself_needs_its_csrf_token(desk):
    client = desk.client()
    await client.get("/signin")
    answer = await client.post("/signin", data={"name": "uma", "password": PASSWORD})
    assert answer.status_code == 403 and "tango_batch_session" not in answer.headers.get("set-cookie", "x")[:0]
    assert (await client.get("/upload")).status_code == 303


async def test_sign_in_goes_back_only_to_a_page_of_this_site(desk):
    for wanted, goes in (("/files/" + SHA, "/files/" + SHA), ("https://evil.example/", "/upload"),
                         ("//evil.example/x", "/upload"), ("/\\evil.example", "/upload")):
        client = desk.client()
        page = await client.get("/signin", params={"next": wanted})
        answer = await client.post("/signin", data={"name": "uma", "password": PASSWORD, "csrf_token": csrf(page),
                                                    "next": wanted})
        assert answer.headers["location"] == goes


async def test_security_headers_are_on_every_response(desk):
    client = await signed_in(desk, "ada")
    for path in ["/signin", "/upload", "/approvals", "/account", "/static/desk.css", "/static/desk.js",
                 "/no-such-page", f"/files/{SHA}"]:
        answer = await client.get(path)
        for name, value in HEADERS.items():
            assert answer.headers.get(name) == value, (path, name)
    csp = HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    page = (await client.get("/upload")).text
    assert "<script>" not in page and "<style" not in page and ' style="' not in page   # nothing inline
    assert (await client.get("/upload")).headers["cache-control"] == "no-store"


async def test_what_a_user_wrote_is_escaped_in_the_pages(desk):
    ledger = desk.ledger()
    try:
        ledger.file_event(SHA, "uploaded", "uma", {"name": "<script>alert(1)</script>.xlsx"})
        ledger.decide(Decision(SHA, "rejected", "bea", "approver", "2026-01-01T00:00:00", 0, 0,  # type: ignore[arg-type]
                               '"><img src=x onerror=alert(2)>', False))
    finally:
        ledger.close()
    client = await signed_in(desk, "ada")
    page = (await client.get(f"/files/{SHA}")).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;.xlsx" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page


async def test_the_access_log_holds_the_route_not_the_path_nor_the_query(desk, caplog):
    client = await signed_in(desk, "ada")
    with caplog.at_level(logging.INFO, logger="tango_batch.web.access"):
        await client.get(f"/files/{SHA}", params={"status": "someone@example.com"})
    lines = [r.getMessage() for r in caplog.records if r.name == "tango_batch.web.access"]
    assert any(line.startswith("GET /files/{sha256} 404 ") and line.endswith("user=ada") for line in lines), lines
    assert not any(SHA in line or "example.com" in line for line in lines)


def test_the_secret_key_is_made_once_readable_by_its_owner_only(tmp_path):
    first = secret_key({}, tmp_path / "desk")
    path = tmp_path / "desk" / "secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    os.chmod(path, 0o644)
    assert secret_key({}, tmp_path / "desk") == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key({SECRET_ENV: "k" * 40}, tmp_path / "other") == "k" * 40
    assert not (tmp_path / "other").exists()
    with pytest.raises(UsageError, match="at least 32 characters"):
        secret_key({SECRET_ENV: "short"}, tmp_path / "desk")


def test_the_desk_serves_over_real_http_on_a_free_port(tmp_path, check_pool):
    """uvicorn on 127.0.0.1, as a browser test would start it (``pipeline.web.app.running``)."""
    import httpx

    from pipeline.web.app import running
    settings = settings_for(tmp_path)
    add_users(settings)
    with running(Desk(settings, check_pool).app) as url, httpx.Client(base_url=url) as client:
        assert url.startswith("http://127.0.0.1:")
        page = client.get("/signin")
        assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
        assert "server" not in page.headers
        answer = client.post("/signin", data={"name": "uma", "password": PASSWORD, "csrf_token": csrf(page),
                                              "next": "/upload"})
        assert answer.status_code == 303
        assert 'data-testid="upload-input"' in client.get("/upload").text


def test_tango_batch_serve_starts_the_desk_and_refuses_a_missing_inbox(tmp_path):
    import socket
    import subprocess
    import sys

    import httpx

    from tests.helpers import ROOT, cli
    missing = cli("serve", "--config", ROOT / "samples" / "campaign-desk.toml", "--inbox", tmp_path / "nope",
                  cwd=tmp_path)
    assert missing.returncode == 64 and "--inbox" in missing.stderr and "no such folder" in missing.stderr
    (tmp_path / "inbox").mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANGO_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--config", str(ROOT / "samples" / "campaign-desk.toml"),
         "--inbox", str(tmp_path / "inbox"), "--ledger", str(tmp_path / "ledger.sqlite"), "--port", str(port),
         "--output", str(tmp_path / "out")], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ends, page = time.monotonic() + 60, None
        while time.monotonic() < ends and page is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/signin", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200 and "Sign in" in page.text
        key = tmp_path / "state" / "tango-batch" / "desk" / "secret-key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    assert "no users yet" in err and "GET /signin 200" in err


def test_the_demo_users_are_made_once_with_passwords_printed_once(tmp_path, capsys):
    from pipeline.jobs.users import check_password
    from pipeline.ledger import Ledger
    from pipeline.web.demo import main
    ledger_path = tmp_path / "demo.sqlite"
    assert main(["--ledger", str(ledger_path)]) == 0
    printed = dict(line.split(": password ") for line in capsys.readouterr().out.splitlines())
    assert set(printed) == {"demo-uploader (uploader)", "demo-approver (approver)", "demo-admin (admin)"}
    ledger = Ledger(ledger_path, "")
    try:
        assert check_password(ledger.user("demo-approver"), printed["demo-approver (approver)"])
    finally:
        ledger.close()
    assert main(["--ledger", str(ledger_path)]) == 0
    assert "password" not in capsys.readouterr().out.replace("its password was printed", "")
