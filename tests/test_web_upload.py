"""Uploads on the desk: checked off the request path with a progress to follow, put into the inbox
whole under a name the server makes, the same content known as the same file; refused when too large
(413, while the body streams, nothing kept), when the content is not what the name says (a picture
renamed .xlsx, a binary .csv), or of a kind the reader does not take; path tricks in names never reach
the file system."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from tests.helpers import people, write_csv
from tests.web import SAMPLE, checked, events, signed_in, token, upload

pytestmark = pytest.mark.anyio

NAME = re.compile(r"^upload-\d{8}-\d{6}-[0-9a-f]{12}\.(csv|xlsx)$")


def csv_bytes(tmp_path: Path, n: int = 3, **cells: str) -> bytes:
    return write_csv(tmp_path / "rows.csv", people(n, **cells)).read_bytes()


def kept(desk) -> list[str]:
    """What the inbox and the desk's job folders hold."""
    inbox = sorted(p.name for p in desk.settings.inbox.iterdir())
    jobs = sorted(str(p.relative_to(desk.settings.jobs)) for p in desk.settings.jobs.rglob("*") if p.is_file())
    return inbox + jobs


async def test_an_upload_is_checked_in_a_worker_and_put_into_the_inbox_under_the_servers_name(desk, tmp_path):
    client = await signed_in(desk, "uma")
    answer = await upload(client, "March bonus.csv", csv_bytes(tmp_path, 3))
    progress = await checked(client, answer)
    assert progress["state"] == "done" and progress["url"].startswith("/files/")
    sha = progress["url"].rsplit("/", 1)[1]
    page = await client.get(progress["job"])                            # the check's page, once done: the file's
    assert page.status_code == 303 and page.headers["location"] == f"/files/{sha}"
    inbox = [p.name for p in desk.settings.inbox.iterdir()]
    assert len(inbox) == 1 and NAME.match(inbox[0]) and sha[:12] in inbox[0]
    assert [e for e, _ in events(desk, sha)] == ["uploaded", "checked"]
    ledger = desk.ledger()
    try:
        uploaded, check = ledger.file_events(sha)
    finally:
        ledger.close()
    assert uploaded.actor == "uma" and uploaded.detail["name"] == "March bonus.csv"
    assert check.detail["counts"] == {"VALID": 3, "INVALID": 0} and check.detail["total"] == "75"
    assert check.detail["lines"] == 3 and check.detail["inbox"] == inbox[0]
    file_page = (await client.get(f"/files/{sha}")).text
    assert '<dd data-status="VALID">3</dd>' in file_page and 'data-testid="total-to-send">$75.00<' in file_page
    assert 'id="download-report"' in file_page and 'id="download-failures"' not in file_page   # nothing to fix
    report = await client.get(f"/files/{sha}/report.xlsx")
    assert report.status_code == 200 and report.content[:2] == b"PK"
    assert (await client.get(f"/files/{sha}/failures.xlsx")).status_code == 404


async def test_the_progress_of_a_check_is_json_for_its_uploader_only(desk, tmp_path):
    client = await signed_in(desk, "uma")
    answer = await upload(client, "a.csv", csv_bytes(tmp_path, 2))
    job = answer.headers["location"]
    first = (await client.get(f"{job}/progress")).json()
    assert first["state"] in ("queued", "running", "done") and set(first) >= {"phase", "done", "total"}
    other = await signed_in(desk, "bea")
    assert (await other.get(job)).status_code == 404 and (await other.get(f"{job}/progress")).status_code == 404
    await checked(client, answer)
    assert (await (await signed_in(desk, "ada")).get(f"{job}/progress")).json()["state"] == "done"   # an admin may
    assert (await client.get("/checks/..%2F..%2Fetc")).status_code == 404


async def test_the_same_content_uploaded_twice_is_the_same_file_and_says_so(desk, tmp_path):
    client = await signed_in(desk, "uma")
    content = csv_bytes(tmp_path, 2)
    sha = (await checked(client, await upload(client, "first.csv", content)))["url"].rsplit("/", 1)[1]
    again = await upload(await signed_in(desk, "ada"), "renamed copy.csv", content)
    assert again.status_code == 303 and again.headers["location"] == f"/files/{sha}"
    ada = await signed_in(desk, "ada")
    await upload(ada, "renamed copy.csv", content)
    page = (await ada.get(f"/files/{sha}")).text
    assert "The same file (the same content) was uploaded before by uma" in page and "as &#39;first.csv&#39;" in page
    assert len(list(desk.settings.inbox.iterdir())) == 1
    assert [e for e, _ in events(desk, sha)] == ["uploaded", "checked"]


async def test_an_upload_over_the_limit_is_413_and_nothing_of_it_is_kept(desk, tmp_path):
    desk.replace(max_upload_bytes=1 << 20)
    client = await signed_in(desk, "uma")
    answer = await upload(client, "big.csv", b"First Name,Email\n" + b"Ann,ann@example.com\n" * 60_000)
    assert answer.status_code == 413 and "larger than 1 MB: nothing of it was kept" in answer.text
    assert kept(desk) == []


async def test_the_limit_holds_while_the_body_streams_without_a_length(desk):
    """A body sent in chunks with no Content-Length: refused once past the limit, the rest never read."""
    desk.replace(max_upload_bytes=1 << 20)
    client = await signed_in(desk, "uma")
    form_token = await token(client)
    boundary = "b0undary"
    sent = []

    async def body():
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{form_token}\r\n'
               f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.csv"\r\n'
               "Content-Type: text/csv\r\n\r\n").encode()
        for _ in range(1024):                                           # 64 MB, if it were all read
            sent.append(1)
            yield b"x" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = await client.post("/upload", content=body(),
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert answer.status_code == 413 and kept(desk) == []
    assert len(sent) < 100                                              # stopped at about 1 MB, not at 64


async def test_a_declared_length_over_the_limit_is_refused_before_reading(desk):
    desk.replace(max_upload_bytes=1 << 20)
    client = await signed_in(desk, "uma")
    answer = await client.post("/upload", content=b"x" * 10, headers={
        "Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(50 << 20)})
    assert answer.status_code == 413


@pytest.mark.parametrize(("name", "content", "why"), [
    ("photo.xlsx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "named .xlsx but its content is not an Excel workbook"),
    ("photo.ods", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "named .ods but its content is not an OpenDocument"),
    ("old.xls", b"PK\x03\x04" + b"\x00" * 200, "named .xls but its content is not a legacy Excel workbook"),
    ("rows.csv", b"First Name,Email\nAnn\x00,a@example.com\n", "named .csv but its content is not a CSV text"),
    ("rows.csv", b"\xff\xfe\x81\x8d\x8f\x90\x9d" * 10, "named .csv but its content is not a CSV text"),
    ("notes.txt", b"First Name\nAnn\n", ".txt files are not read"),
    ("run.exe", b"MZ\x90\x00", ".exe files are not read"),
    ("noextension", b"First Name\nAnn\n", "a file without an extension is not read"),
    ("empty.csv", b"", "the file is empty"),
])
async def test_a_file_whose_content_is_not_what_its_name_says_is_refused_and_not_kept(desk, name, content, why):
    client = await signed_in(desk, "uma")
    answer = await upload(client, name, content)
    assert answer.status_code == 415 and why in answer.text
    assert kept(desk) == []


async def test_a_zip_that_is_not_a_workbook_is_refused(desk):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    client = await signed_in(desk, "uma")
    assert (await upload(client, "archive.xlsx", buffer.getvalue())).status_code == 415


async def test_a_workbook_the_reader_cannot_read_is_said_and_not_put_in_the_inbox(desk):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "not xml at all <<<")
    client = await signed_in(desk, "uma")
    progress = await checked(client, await upload(client, "broken.xlsx", buffer.getvalue()))
    assert progress["state"] == "failed" and progress["error"]
    page = await client.get(progress["job"])
    assert page.status_code == 200 and "Not checked:" in page.text
    assert list(desk.settings.inbox.iterdir()) == []


@pytest.mark.parametrize("name", ["../../etc/passwd.csv", "..\\..\\windows\\x.csv", "/etc/cron.d/evil.csv",
                                  "C:\\Users\\hr\\evil.csv", "a\x00b.csv", "....csv", "%2e%2e%2fup.csv"])
async def test_path_tricks_in_a_file_name_never_reach_the_file_system(desk, tmp_path, name):
    client = await signed_in(desk, "uma")
    progress = await checked(client, await upload(client, name, csv_bytes(tmp_path, 1)))
    assert progress["state"] == "done"
    inbox = list(desk.settings.inbox.iterdir())
    assert len(inbox) == 1 and NAME.match(inbox[0].name)
    base = re.split(r"[\\/]", name)[-1].replace("\x00", "")
    assert not [p for p in tmp_path.rglob("*") if p.name == base or p.name.startswith(base[:2] + "\x00")]
    assert not Path("/etc/cron.d/evil.csv").exists() and not (tmp_path.parent / "up.csv").exists()
    sha = progress["url"].rsplit("/", 1)[1]
    ledger = desk.ledger()
    try:
        recorded = ledger.file_events(sha)[0].detail["name"]
    finally:
        ledger.close()
    assert "/" not in recorded and "\\" not in recorded and "\x00" not in recorded
    assert recorded.endswith(".csv")


async def test_the_upload_of_the_page_script_carries_its_token_in_a_header(desk, tmp_path):
    client = await signed_in(desk, "uma")
    header = {"X-CSRF-Token": await token(client)}
    answer = await client.post("/upload", headers=header, files={"file": ("js.csv", csv_bytes(tmp_path, 1))})
    assert (await checked(client, answer))["state"] == "done"


async def test_the_sample_shows_its_rows_to_fix_with_their_messages(desk):
    client = await signed_in(desk, "uma")
    progress = await checked(client, await upload(client, "recipients.xlsx", SAMPLE.read_bytes()))
    page = (await client.get(progress["url"])).text
    assert '<dd data-status="VALID">47</dd>' in page and '<dd data-status="INVALID">13</dd>' in page
    assert 'data-testid="total-to-send">$2,700.00<' in page and 'data-testid="lines-to-send">47<' in page
    table = page.split('data-testid="rows-table">')[1].split("</table>")[0]
    assert table.count('<tr data-status="INVALID">') == 13               # the rows to fix, by default
    assert 'id="verdict-chart"' in page and 'id="download-failures"' in page
    failures = await client.get(progress["url"] + "/failures.xlsx")
    assert failures.status_code == 200 and failures.headers["content-disposition"].startswith("attachment")
    every = (await client.get(progress["url"], params={"status": "all"})).text
    assert every.split('data-testid="rows-table">')[1].count("<tr data-status=") == 60
    template = await client.get("/template.xlsx")
    assert template.status_code == 200 and template.content[:2] == b"PK"


def test_a_checks_progress_names_each_phase_as_it_begins_and_counts_every_row_of_its_report(tmp_path, monkeypatch):
    """What the check's page shows moves through the check's phases, in order: the sheet read and
    checked, compared with the catalog and the ledger, the report written row by row (every row
    counted, not only the last tick's), the verdict recorded; then done."""
    from pipeline.web import worker
    from tests.web import settings_for
    settings = settings_for(tmp_path)
    folder = tmp_path / "desk" / "jobs" / "job"
    folder.mkdir(parents=True)
    staged = write_csv(folder / "upload.csv", people(4))
    seen: list[dict[str, object]] = []
    write = worker.write_progress

    def recorded(path: Path, **state: object) -> None:
        seen.append(state)
        write(path, **state)
    monkeypatch.setattr(worker, "write_progress", recorded)
    worker.run_check(worker.CheckJob("j" * 24, folder, staged, "0" * 64, "uma", settings.campaign, settings.target,
                                     settings.ledger, settings.output, settings.inbox))
    assert list(dict.fromkeys(s["phase"] for s in seen)) == [*worker.PHASES, "done"]
    recording = next(s for s in seen if s["phase"] == worker.PHASES[-1])
    assert recording["done"] == recording["total"] == 4 and recording["state"] == "running"


def test_the_desks_own_worker_is_started_before_the_first_upload_and_a_given_one_left_alone(tmp_path, check_pool):
    from pipeline.web.checker import Checker
    own = Checker(tmp_path, 1)
    try:
        warming = own.warm()
        assert warming is not None and warming.result(timeout=60) is None   # a worker, its libraries imported
    finally:
        own.close()
    assert Checker(tmp_path, 1, check_pool).warm() is None
