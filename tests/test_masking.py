"""Personal data and credentials outside the report: every message that leaves the program (console,
log file, JSON logs, summary.json, the inbox's *.why.txt notes, exception text) has e-mail
addresses and phone numbers masked, quotes no cell of a file it could not parse, and shows file
names that are not UTF-8, or hold control characters, escaped."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.errors import InputError
from pipeline.masking import mask, shown, without_userinfo
from tests.helpers import cli, people, write_csv

CAMPAIGN = 'customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n'
PERSONAL = ("ann@example.com", "+14155550101", "4155550101", "Zelda")


def broken_csv(path: Path) -> Path:
    """A CSV whose third line no CSV reader can take: its cells must not be echoed."""
    path.write_text("First Name,Last Name,Email,Mobile,Delivery Method,UTID,Amount\n"
                    "Ann,Lee,ann.lee@example.com,,EMAIL,U761382,25\n"
                    'Zelda,"Lee"x,ann@example.com,+14155550101,EMAIL,U761382,25\n')
    return path


def clean(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, (value, text)


def test_a_csv_that_cannot_be_parsed_is_said_without_its_cells(tmp_path):
    broken_csv(tmp_path / "broken.csv")
    done = cli("validate", "broken.csv", "--output", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "broken.csv: not a readable CSV file: the record that starts on line 3 cannot be read" in done.stderr
    clean(done.stdout + done.stderr)


def test_the_nightly_note_logs_and_json_logs_of_a_rejected_file_hold_no_personal_data(tmp_path, tango):
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    broken_csv(inbox / "broken.csv")
    done = cli("nightly", "--inbox", inbox, "--config", "c.toml", "--target", tango, "--output", "out",
               "--ledger", tmp_path / "ledger.sqlite", "--log-format", "json", "--no-wait", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    note = (inbox / "rejected" / "broken.csv.why.txt").read_text()
    assert "line 3 cannot be read" in note
    logs = [p.read_text() for p in (tmp_path / "out" / "logs").glob("*.log")]
    assert logs and all(json.loads(line)["message"] for line in done.stderr.splitlines())
    for text in (note, done.stderr, *logs):
        clean(text)


def test_a_file_named_after_a_person_is_masked_wherever_its_name_leaves(tmp_path, tango):
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    write_csv(tmp_path / "ann@example.com.csv", people(2))
    done = cli("run", "ann@example.com.csv", "--config", "c.toml", "--target", tango, "--output", "out",
               "--ledger", tmp_path / "ledger.sqlite", "--log-format", "json", "--no-wait", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "a***@example.com.csv" in done.stderr
    summary = next((tmp_path / "out").glob("*/summary.json")).read_text()
    assert "a***@example.com.csv" in summary
    for text in (done.stderr, summary, *(p.read_text() for p in (tmp_path / "out" / "logs").glob("*.log"))):
        assert "ann@example.com" not in text


def test_file_names_that_are_not_utf8_or_hold_control_characters_are_shown_escaped(tmp_path):
    names = [b"caf\xe9.csv", b"two\nlines.csv", b"esc\x1b[31mred.csv"]
    for name in names:
        write_csv(Path(os.fsdecode(bytes(tmp_path) + b"/" + name)), people(1))
    done = cli("validate", *(os.fsdecode(n) for n in names), "--output", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for escaped in ("caf\\xe9.csv", "two\\nlines.csv", "esc\\x1b[31mred.csv"):
        assert f"{escaped}: 1 rows" in done.stderr
    assert "\x1b" not in done.stderr
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*/summary.json")]
    assert sorted(Path(s["file"]).name for s in summaries) == sorted(["caf\\xe9.csv", "two\\nlines.csv",
                                                                      "esc\\x1b[31mred.csv"])


def test_mask_shown_and_userinfo():
    assert mask("see http://user:pass@tango.example/raas and ann@example.com") == \
        "see http://***@tango.example/raas and a***@example.com"
    assert without_userinfo("https://u:p@host:8443/raas/v2") == "https://host:8443/raas/v2"
    assert without_userinfo("https://host/raas/v2") == "https://host/raas/v2"
    assert shown("caf\udce9\u202e.csv") == "caf\\xe9\\u202e.csv"
    assert shown("شیوا\u200c.csv") == "شیوا\u200c.csv"           # a joiner Persian names need stays


def test_an_exception_that_quotes_a_cell_is_masked():
    exc = InputError("upload\n.csv", "value ann@example.com or +1 415 555 0101 not allowed", sheet="S\x1b")
    assert str(exc) == "upload\\n.csv, sheet 'S\\x1b': value a***@example.com or +* *** *** **01 not allowed"
