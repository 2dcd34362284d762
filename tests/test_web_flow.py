"""The desk's journeys: an uploader uploads the sample, sees its counts and rows to fix; an approver
approves it (the Decision records the check's total and lines to send); the nightly job, in-process
against the simulator, sends it; the file's page shows it done with its history. And the approvals'
rules as the page applies them (``pipeline.approvals.why_not``): never one's own upload unless
``approvals = "single"`` (then every page says so), an admin over ``max_run_amount``, a reason to
reject. The account and run pages. On an SQLite and a PostgreSQL ledger where the ledger matters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from decimal import Decimal

import openpyxl
import pytest

from tests.helpers import nightly_on, run_settings, statuses
from tests.web import (
    CSRF,
    DESK_CAMPAIGN,
    SAMPLE,
    Desk,
    add_users,
    checked,
    events,
    settings_for,
    signed_in,
    upload,
)
from tests.web import (
    decision as decision_of,
)

pytestmark = pytest.mark.anyio


def sample_people() -> set[str]:
    """The names and e-mail addresses in the sample's rows."""
    sheet = openpyxl.load_workbook(SAMPLE, read_only=True)["Recipients"]
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(c or "") for c in rows[3]]
    wanted = [i for i, h in enumerate(header) if h in ("First Name", "Last Name", "Email")]
    return {str(row[i]).strip() for row in rows[4:] for i in wanted if row[i] and len(str(row[i]).strip()) > 3}


async def uploaded(desk: Desk, name: str = "uma") -> tuple[str, object]:
    client = await signed_in(desk, name)
    progress = await checked(client, await upload(client, "Q4 recipients (Ann Lee).xlsx", SAMPLE.read_bytes()))
    assert progress["state"] == "done", progress
    return progress["url"].rsplit("/", 1)[1], client


async def decide(client, sha: str, decision: str = "approve", reason: str = "", seen: tuple[str, str] | None = None):
    """Approve or reject as the approvals page's form does: with the lines and total it shows for the file."""
    page = (await client.get("/approvals")).text
    form = CSRF.search(page)[1]
    shown = re.search(rf'action="/approvals/{sha}".*?name="lines" value="([^"]*)".*?name="total" value="([^"]*)"',
                      page, re.S)
    lines, total = seen or (shown.groups() if shown else ("", ""))
    return await client.post(f"/approvals/{sha}", data={"csrf_token": form, "decision": decision, "reason": reason,
                                                         "lines": lines, "total": total})


@pytest.mark.usefixtures("backend")
async def test_upload_approve_send_at_night_and_the_file_is_done_with_its_history(tmp_path, sim, clock, caplog):
    settings = settings_for(tmp_path)
    add_users(settings)
    desk = Desk(settings, None)                          # its own worker process, as tango-batch serve has
    caplog.set_level(logging.INFO, logger="tango_batch")
    try:
        sha, uma = await uploaded(desk)
        page = (await uma.get(f"/files/{sha}")).text
        assert '<dd data-status="INVALID">13</dd>' in page and 'data-testid="lines-to-send">47<' in page
        assert "waiting for approval" in page
        assert (await uma.get("/approvals")).status_code == 403
        bea = await signed_in(desk, "bea")
        waiting = (await bea.get("/approvals")).text
        assert f'data-sha256="{sha}"' in waiting and 'data-testid="approve-button"' in waiting
        assert waiting.count('data-testid="rows-to-fix"') == 1
        answer = await decide(bea, sha)
        assert answer.status_code == 303 and answer.headers["location"] == "/approvals"
        decision = decision_of(desk, sha)
        assert decision is not None and decision.decision == "approved" and decision.by_user == "bea"
        assert (decision.total, decision.line_count, decision.over_limit) == (Decimal("2700"), 47, False)
        approvals = (await bea.get("/approvals")).text
        assert f'data-sha256="{sha}"' not in approvals and 'data-testid="approved-files"' in approvals
        result = nightly_on(sim, clock, settings.inbox,
                            run_settings(tmp_path, campaign=DESK_CAMPAIGN, today=dt.date.today()))
        assert statuses(result).count("COMPLETE") == 47 and statuses(result).count("INVALID") == 13
        assert [e for e, _ in events(desk, sha)] == ["uploaded", "checked", "approved", "sent", "done"]
        page = (await uma.get(f"/files/{sha}")).text
        assert 'data-testid="file-state">done<' in page
        history = page.split('data-testid="history">')[1].split("</ol>")[0]
        assert re.findall(r'data-event="(\w+)"', history) == ["uploaded", "checked", "approved", "sent", "done"]
        assert "by uma" in history and "by bea" in history and "by nightly" in history
        assert f"as run {result.run_id} left them" in page
        every = (await uma.get(f"/files/{sha}", params={"status": "COMPLETE"})).text
        assert every.split('data-testid="rows-table">')[1].count('<tr data-status="COMPLETE">') == 47
        report = await uma.get(f"/files/{sha}/report.xlsx")
        assert report.status_code == 200 and report.content[:2] == b"PK"
        run = (await uma.get(f"/runs/{result.run_id}")).text
        assert f'href="/files/{sha}"' in run and "47 COMPLETE" in run
        account = (await uma.get("/account")).text
        assert f"Run {result.run_id}</a>" in account and "some rows to fix" in account
    finally:
        desk.close()
    people = sample_people()
    lines = [r.getMessage() for r in caplog.records if r.name == "tango_batch.web.access"]
    assert len(lines) > 10 and any(line.startswith("POST /upload 303 ") for line in lines)
    leaks = [(p, line) for line in lines for p in people if p in line] + [line for line in lines if "@" in line]
    assert leaks == [] and not any("Ann Lee" in line for line in lines)


async def test_nobody_approves_a_file_they_uploaded_and_the_page_says_why(desk):
    sha, ada = await uploaded(desk, "ada")
    page = (await ada.get("/approvals")).text
    assert "nobody approves a file they uploaded" in page and 'data-testid="approve-button"' not in page
    answer = await decide(ada, sha)
    assert answer.status_code == 403 and "nobody approves a file they uploaded" in answer.text
    assert events(desk, sha) == [("uploaded", "ada"), ("checked", None)]
    assert 'data-testid="single-banner"' not in page


async def test_with_single_approvals_every_page_says_so_and_one_may_approve_ones_own(desk):
    desk.replace(campaign=dataclasses.replace(DESK_CAMPAIGN, approvals="single"))
    sha, ada = await uploaded(desk, "ada")
    for path in ("/upload", "/approvals", "/account", f"/files/{sha}"):
        assert 'data-testid="single-banner"' in (await ada.get(path)).text, path
    assert 'data-testid="single-banner"' in (await desk.client().get("/signin")).text
    assert (await decide(ada, sha)).status_code == 303
    assert events(desk, sha)[-1] == ("approved", "ada")


async def test_a_file_over_max_run_amount_needs_an_admin_whose_approval_is_the_override(desk):
    desk.replace(campaign=dataclasses.replace(DESK_CAMPAIGN, max_run_amount=Decimal(1000)))
    sha, _ = await uploaded(desk, "uma")
    bea = await signed_in(desk, "bea")
    assert "it needs an admin&#39;s approval" in (await bea.get("/approvals")).text
    refused = await decide(bea, sha)
    assert refused.status_code == 403 and "over the campaign&#39;s max_run_amount of $1,000.00" in refused.text
    ada = await signed_in(desk, "ada")
    assert (await decide(ada, sha)).status_code == 303
    decision = decision_of(desk, sha)
    assert decision is not None and decision.over_limit and decision.role == "admin"


async def test_a_rejection_needs_a_reason_and_a_decided_file_is_not_decided_again(desk):
    sha, uma = await uploaded(desk, "uma")
    bea = await signed_in(desk, "bea")
    assert (await decide(bea, sha, "reject", "   ")).status_code == 400
    assert (await decide(bea, sha, "reject", "wrong cost centre <b>")).status_code == 303
    assert (await decide(await signed_in(desk, "ann"), sha, "approve")).status_code == 409
    page = (await uma.get(f"/files/{sha}")).text
    assert "Reason: <q>wrong cost centre &lt;b&gt;</q>" in page and 'data-testid="file-state">rejected by bea<' in page
    assert f'data-sha256="{sha}"' not in (await bea.get("/approvals")).text
    assert (await decide(bea, sha, "maybe")).status_code == 400
    assert (await decide(bea, "0" * 64)).status_code == 404


async def test_the_account_page_shows_the_balance_the_catalogs_age_and_no_night_yet(desk):
    await uploaded(desk, "uma")                          # the check reads the catalog: cached beside the ledger
    page = (await (await signed_in(desk, "bea")).get("/account")).text
    row = page.split('data-account="acme-rewards"')[1].split("</tr>")[0]
    assert 'data-testid="account-status">ACTIVE<' in row and "$100,000.00 USD" in row
    assert re.search(r"Read from Tango at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(0\.\d hours ago\)", page)
    assert "No nightly run yet." in page


async def test_an_unknown_file_or_run_is_404(desk):
    client = await signed_in(desk, "uma")
    for path in ("/files/" + "0" * 64, "/files/not-a-hash", "/runs/999", "/files/" + "0" * 64 + "/report.xlsx"):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.get("/runs/abc")).status_code == 400


async def test_the_approvals_page_shows_a_files_first_rows_to_fix_without_reading_every_row(desk):
    """A page listing every file waiting reads each one's first rows to fix from a small file of their
    own (a 100,000-row file's verdict.json is megabytes); a check made before there was one: from
    every row."""
    import json
    from pathlib import Path

    from pipeline.web.worker import TO_FIX_HEAD, VERDICT
    sha, _ = await uploaded(desk)
    ledger = desk.ledger()
    try:
        folder = Path(ledger.file_events(sha)[-1].detail["folder"])
    finally:
        ledger.close()
    head = json.loads((folder / TO_FIX_HEAD).read_text(encoding="utf-8"))["rows"]
    assert len(head) == 13 and {row[2] for row in head} == {"INVALID"}
    bea = await signed_in(desk, "bea")

    async def shown() -> int:
        page = (await bea.get("/approvals")).text
        return page.split('data-testid="rows-to-fix">')[1].split("</table>")[0].count("<tr><td>")
    (folder / VERDICT).rename(folder / "elsewhere.json")
    assert await shown() == 10
    (folder / "elsewhere.json").rename(folder / VERDICT)
    (folder / TO_FIX_HEAD).unlink()
    assert await shown() == 10


async def test_the_account_page_asks_tango_at_most_every_30_seconds(desk, monkeypatch):
    """Tango's pace is one call a second for the whole platform: two people on the page at once do not
    wait on each other; the page says when Tango said it."""
    from pipeline.web import account
    asked: list[str] = []

    class Counting:
        def get_account(self, name: str) -> dict:
            asked.append(name)
            return {"status": "ACTIVE", "currentBalance": 1234.5, "currencyCode": "USD"}

        def close(self) -> None:
            pass

    desk.replace(client=Counting)
    bea = await signed_in(desk, "bea")
    for _ in range(3):
        page = (await bea.get("/account")).text
        assert "$1,234.50 USD" in page and re.search(r'account-read-at">\d\d:\d\d:\d\d UTC<', page)
    assert asked == ["acme-rewards"]
    monkeypatch.setattr(account, "BALANCE_SECONDS", 0.0)
    await bea.get("/account")
    assert asked == ["acme-rewards", "acme-rewards"]


async def test_a_file_the_night_held_for_more_than_approved_is_decided_again_on_what_it_would_send(
        desk, tmp_path, sim, clock):
    """Approved for fewer lines than the night finds to send (say rows that were duplicates at the check
    are not now): the night holds it, the approvals page offers it again with tonight's figures, and
    once approved again the night sends it."""
    from pipeline.ledger.desk import Decision
    sha, _ = await uploaded(desk)
    ledger = desk.ledger()
    try:                                    # as if the check had found 40 lines for $2,000 to send
        ledger.decide(Decision(sha, "approved", "bea", "approver", dt.datetime.now(dt.UTC).isoformat(),
                               Decimal(2000), 40, None, False))
    finally:
        ledger.close()

    def night():
        return nightly_on(sim, clock, desk.settings.inbox,
                          run_settings(tmp_path, campaign=DESK_CAMPAIGN, today=dt.date.today()))

    night()
    assert sim.post_attempts() == 0
    ann = await signed_in(desk, "ann")
    waiting = (await ann.get("/approvals")).text
    assert f'data-sha256="{sha}"' in waiting and "Approve 47 lines for $2,700.00" in waiting
    assert "held by the night" in (await ann.get(f"/files/{sha}")).text
    assert (await decide(ann, sha)).status_code == 303
    again = decision_of(desk, sha)
    assert again is not None and (again.by_user, again.total, again.line_count) == ("ann", Decimal(2700), 47)
    result = night()
    assert statuses(result).count("COMPLETE") == 47
    assert [e for e, _ in events(desk, sha)] == ["uploaded", "checked", "approved", "held", "approved", "sent",
                                                 "done"]
    assert (await decide(ann, sha)).status_code == 409                   # done: nothing more to decide



async def test_a_decision_is_on_the_figures_the_approver_saw(desk):
    """The form carries the lines and total the page showed: figures that changed since (the night held
    the file for more, say) are not decided on unseen."""
    sha, _ = await uploaded(desk)
    bea = await signed_in(desk, "bea")
    answer = await decide(bea, sha, seen=("40", "2000"))
    assert answer.status_code == 409 and "now 47 lines for $2,700.00" in answer.text
    assert events(desk, sha)[-1][0] == "checked"                           # nothing decided
    assert (await decide(bea, sha)).status_code == 303
