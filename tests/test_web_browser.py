"""The HR desk in a real browser: headless Chromium from the system's packages, driven by Playwright
(never a downloaded browser; see ../shared/recipes/browser-tests.md and ``conftest``'s launch
arguments). The desk is served by uvicorn on a free port, as ``tango-batch serve`` serves it.

An uploader signs in, uploads the bundled sample, sees the verdict and the rows to fix, and filters
them; an approver signs in and approves; the nightly job runs against the simulator; the file's
page shows it done with its history, and its report downloads. A screenshot of each page is saved
(``output/screenshots/``, or ``TANGO_BATCH_SCREENSHOTS``)."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pipeline.web.app import create_app, running
from tests.helpers import ROOT, nightly_on, run_settings, statuses
from tests.web import DESK_CAMPAIGN, PASSWORD, SAMPLE, add_users, settings_for

SHOTS = Path(os.environ.get("TANGO_BATCH_SCREENSHOTS") or ROOT / "output" / "screenshots")


@pytest.fixture
def desk_url(tmp_path):
    settings = settings_for(tmp_path)
    add_users(settings)
    with running(create_app(settings)) as url:
        yield url, settings


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/signin")
    page.fill("#signin-name", name)
    page.fill("#signin-password", PASSWORD)
    page.click("#signin-button")
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(name)


def sign_out(page: Page) -> None:
    page.click("#signout-button")
    expect(page.locator("#signin-form")).to_be_visible()


def test_upload_approve_the_night_sends_and_the_report_downloads(page: Page, desk_url, tmp_path, sim, clock):
    url, settings = desk_url
    page.goto(f"{url}/signin")
    expect(page.locator("#signin-form")).to_be_visible()
    shot(page, "01-sign-in")

    # the uploader: upload the sample, watch it checked, see the verdict and the rows to fix
    sign_in(page, url, "uma")
    shot(page, "02-upload")
    page.set_input_files("#upload-input", str(SAMPLE))
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/files/[0-9a-f]{64}"), timeout=60_000)
    sha = page.url.rsplit("/", 1)[1].split("?")[0]
    expect(page.get_by_test_id("lines-to-send")).to_have_text("47")
    expect(page.locator('[data-testid="verdict-counts"] dd[data-status="INVALID"]')).to_have_text("13")
    expect(page.get_by_test_id("verdict-chart")).to_be_visible()
    expect(page.locator("#next-step")).to_contain_text("an approver approves the file, then the nightly run orders")
    rows = page.locator('[data-testid="rows-table"] tbody tr')
    expect(rows).to_have_count(13)                              # the rows to fix, with their messages
    with_email = rows.filter(has_text="Email Address").count()
    assert 0 < with_email < 13
    page.fill("#rows-filter", "Email Address")                  # filter them in the page
    shown = page.locator('[data-testid="rows-table"] tbody tr:visible')
    expect(shown).to_have_count(with_email)
    page.fill("#rows-filter", "")
    expect(shown).to_have_count(13)
    shot(page, "03-verdict")
    sign_out(page)

    # the approver: the file waits, approve it
    sign_in(page, url, "bea")
    page.click("#nav-approvals")
    card = page.locator(f'[data-testid="waiting-file"][data-sha256="{sha}"]')
    expect(card).to_be_visible()
    expect(card.get_by_test_id("total-to-send")).to_have_text("$2,700.00")
    shot(page, "04-approvals")
    card.get_by_test_id("approve-button").click()
    expect(page.get_by_test_id("flash")).to_contain_text("pprove")
    expect(page.locator(f'[data-testid="waiting-file"][data-sha256="{sha}"]')).to_have_count(0)

    # the night: the approved file is sent, against the simulator
    result = nightly_on(sim, clock, settings.inbox, run_settings(tmp_path, campaign=DESK_CAMPAIGN))
    assert statuses(result).count("COMPLETE") == 47

    # the file's page: done, its history, its report
    page.goto(f"{url}/files/{sha}")
    expect(page.get_by_test_id("file-state")).to_have_text("done")
    events = page.locator('[data-testid="history"] [data-event]')
    assert [events.nth(i).get_attribute("data-event") for i in range(events.count())] == [
        "uploaded", "checked", "approved", "sent", "done"]
    shot(page, "05-file-done")
    with page.expect_download() as download:
        page.click("#download-report")
    saved = tmp_path / "report.xlsx"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as book:
        assert "xl/workbook.xml" in book.namelist()
    page.click("#nav-account")
    expect(page.get_by_test_id("last-night")).to_contain_text(f"Run {result.run_id}")
    shot(page, "06-account")
