"""``validate`` with a campaign gives ``run``'s verdict, row by row, without sending anything or
writing the ledger: the catalog of the target (or its cache), the ledger's DUPLICATE and HELD.
Against the loopback simulator, through the command line, as HR would run it."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import openpyxl

from tests.helpers import base_row, cli, created, people, write_csv

CAMPAIGN = 'customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\ncampaign = "Q4"\n'


def rows_of(folder: Path) -> dict[int, tuple[str, str | None]]:
    """Row -> (Status, Errors) of a report."""
    ws = openpyxl.load_workbook(next(folder.glob("*/report.xlsx"))).worksheets[1]
    rows = list(ws.iter_rows(values_only=True))
    at = {name: rows[0].index(name) for name in ("Row", "Status", "Errors")}
    return {r[at["Row"]]: (r[at["Status"]], r[at["Errors"]]) for r in rows[1:] if r[at["Row"]] is not None}


def snapshot(ledger: Path) -> tuple[object, ...]:
    """What the ledger holds: its files' bytes (a WAL with content too) and every table's rows."""
    files = [(p.name, hashlib.sha256(p.read_bytes()).hexdigest())
             for p in sorted(ledger.parent.glob(ledger.name + "*"))
             if not p.name.endswith("-shm") and p.stat().st_size > 0]
    with sqlite3.connect(f"{ledger.as_uri()}?mode=ro", uri=True) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        content = [sorted(map(repr, db.execute(f"SELECT * FROM {t}").fetchall())) for t in tables]
    return tuple(files), tuple(tables), repr(content)


def test_validate_with_a_target_and_run_agree_row_by_row(tmp_path, tango):
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    ledger = tmp_path / "ledger.sqlite"
    common = ("--config", "c.toml", "--target", tango, "--ledger", ledger)
    earlier = people(3)
    earlier[1]["Last Name"] = "Smtih"
    first = cli("run", write_csv(tmp_path / "october.csv", earlier), *common, "--output", "out0", "--wait", "5",
                "--rate", "20", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(created(tango)) == 3

    fixed = dict(earlier[1], **{"Last Name": "Smith"})
    sheet = write_csv(tmp_path / "november.csv", [
        earlier[0],                                                   # row 2: ordered in October
        fixed,                                                        # row 3: the typo corrected: HELD
        base_row("EMAIL", First_Name="Cy", Email="cy@example.com", UTID="U000404"),   # 4: not in the catalog
        base_row("EMAIL", First_Name="Di", Email="di@example.com", UTID="U123456", Amount="30"),  # 5: fixed $25
        base_row("EMAIL", First_Name="Ed", Email="ed@example.com", UTID="U999999"),   # 6: not active
        base_row("EMAIL", First_Name="Flo", Email="flo@@example.com"),                # 7: a bad address
        base_row("EMAIL", First_Name="Gus", Email="gus@example.com", Amount="1e308"),  # 8: absurd
        base_row("EMAIL", First_Name="Hal", Email="hal@example.com"),                 # 9: new and fine
        base_row("EMAIL", First_Name="Ivy", Email="ivy@example.com"),                 # 10: new and fine
    ])
    before = snapshot(ledger)
    preview = cli("validate", sheet, *common, "--output", "preview", cwd=tmp_path)
    assert preview.returncode == 1, preview.stderr                  # rows to fix (INVALID, HELD)
    assert "read only; nothing is sent" in preview.stderr
    assert snapshot(ledger) == before                                 # the ledger is not written
    assert len(created(tango)) == 3                                 # and nothing is sent

    run = cli("run", sheet, *common, "--output", "run", "--wait", "5", "--rate", "20", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    said, done = rows_of(tmp_path / "preview"), rows_of(tmp_path / "run")
    assert set(said) == set(done) == set(range(2, 11))
    for row in said:
        expected = ("COMPLETE", None) if said[row] == ("VALID", None) else said[row]
        assert done[row] == expected, (row, said[row], done[row])
    assert {row: s for row, (s, _) in said.items()} == {
        2: "DUPLICATE", 3: "HELD", 4: "INVALID", 5: "INVALID", 6: "INVALID", 7: "INVALID", 8: "INVALID",
        9: "VALID", 10: "VALID"}
    assert "Last Name was 'Smtih', now 'Smith'" in (said[3][1] or "")
    assert "not in this account's Tango catalog" in (said[4][1] or "")
    counts = created(tango)
    assert len(counts) == 5 and set(counts.values()) == {1}

    summary = json.loads(next((tmp_path / "preview").glob("*/summary.json")).read_text())
    assert [(c["check"], c["ran"]) for c in summary["checks"]] == [
        ("Sheet rules", True), ("Catalog (reward, amount)", True), ("Ordered before (DUPLICATE)", True),
        ("Same recipient (HELD)", True)]
    assert summary["status_counts"] == {"VALID": 2, "INVALID": 5, "DUPLICATE": 1, "HELD": 1}


def test_validate_says_plainly_when_the_catalog_could_not_be_checked(tmp_path):
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    ledger = tmp_path / "no-ledger-yet.sqlite"
    sheet = write_csv(tmp_path / "a.csv", people(2))
    done = cli("validate", sheet, "--config", "c.toml", "--target", "http://127.0.0.1:9/raas/v2",
               "--ledger", ledger, "--output", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Catalog (reward, amount): NOT CHECKED: could not read the Tango catalog" in done.stderr
    assert not ledger.exists()                                       # read only: not even created
    summary = json.loads(next((tmp_path / "out").glob("a-*/summary.json")).read_text())
    catalog = summary["checks"][1]
    assert catalog["ran"] is False and "Rows the catalog would refuse show as VALID" in catalog["how"]
    assert summary["checks"][2] == {"check": "Ordered before (DUPLICATE)", "ran": True,
                                    "how": f"no ledger at {ledger} yet: no earlier order is known"}
    report = openpyxl.load_workbook(next((tmp_path / "out").glob("a-*/report.xlsx")))["Summary"]
    cells = [c for row in report.iter_rows(values_only=True) for c in row if c is not None]
    assert "Catalog (reward, amount)" in cells and "NO" in cells


def test_without_a_campaign_file_only_the_sheet_is_checked_and_the_summary_says_so(tmp_path):
    done = cli("validate", write_csv(tmp_path / "a.csv", people(1)), "--output", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "only the sheet's own checks: no campaign file" in done.stderr
    summary = json.loads(next((tmp_path / "out").glob("a-*/summary.json")).read_text())
    assert [c["ran"] for c in summary["checks"]] == [True, False, False, False]
    refused = cli("validate", tmp_path / "a.csv", "--target", "sandbox", "--output", "out", cwd=tmp_path)
    assert refused.returncode == 64 and "need --config FILE" in refused.stderr


def test_validate_reads_an_old_ledger_under_output_as_run_would_merge_it(tmp_path):
    """A ledger an older version kept in OUTPUT/ledger.sqlite: run merges it first, so validate
    reads it too (merged into a copy in memory; neither file is written)."""
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    sheet = write_csv(tmp_path / "a.csv", people(3))
    old = tmp_path / "out" / "ledger.sqlite"
    first = cli("run", sheet, "--config", "c.toml", "--ledger", old, "--output", "out", "--wait", "5",
                cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = snapshot(old)
    said = cli("validate", sheet, "--config", "c.toml", "--output", "out", cwd=tmp_path)
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("a-*/summary.json")]
    checks = next(s["checks"] for s in summaries if s["mode"] == "validate")
    assert "with the older ledger at out/ledger.sqlite, which the next run merges" in checks[2]["how"]
    assert "3 DUPLICATE" in said.stderr, said.stderr
    assert snapshot(old) == before and old.is_file()
    run = cli("run", sheet, "--config", "c.toml", "--output", "out", "--wait", "5", cwd=tmp_path)
    assert "3 DUPLICATE" in run.stderr, run.stderr                 # and run agrees


def test_validate_of_two_files_repeating_a_row_says_duplicate_as_run_does(tmp_path):
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    a = write_csv(tmp_path / "a.csv", people(2))
    b = write_csv(tmp_path / "b.csv", [people(2)[1], *people(3)[2:]])
    common = ("--config", "c.toml", "--ledger", tmp_path / "l.sqlite", "--wait", "5")
    said = cli("validate", a, b, *common[:4], "--output", "pv", cwd=tmp_path)
    assert "b.csv: 2 rows: 1 VALID, 0 INVALID, 1 DUPLICATE" in said.stderr, said.stderr
    run = cli("run", a, b, *common, "--output", "rn", cwd=tmp_path)
    assert "b.csv: 2 rows: 1 DUPLICATE, 1 COMPLETE" in run.stderr, run.stderr
