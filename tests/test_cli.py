"""The command as an operator runs it: exit codes, messages, campaign files, the bundled sample."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.cli.settings import rate
from pipeline.target import resolve_target
from tests.helpers import base_row, people, statuses, write_csv

ROOT = Path(__file__).resolve().parents[1]
GOOD_CAMPAIGN = """customerIdentifier = "acme-corp"
accountIdentifier = "acme-rewards"
campaign = "Q4"
[defaults]
utid = "U761382"
amount = 25
"""


@pytest.fixture
def campaign(tmp_path):
    path = tmp_path / "campaign.toml"
    path.write_text(GOOD_CAMPAIGN)
    return path


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_all_valid_exits_0(tmp_path, capsys, campaign):
    upload = write_csv(tmp_path / "ok.csv", [base_row("EMAIL"), base_row("PHONE")])
    code, text = cli(capsys, "validate", upload, "--config", campaign, "--output", tmp_path / "out")
    assert code == 0
    assert "ok.csv: 2 rows: 2 VALID, 0 INVALID" in text


def test_some_invalid_exits_1_and_names_the_reports(tmp_path, capsys, campaign):
    upload = write_csv(tmp_path / "bad.csv", [base_row("EMAIL"), base_row("PHONE", Mobile="1")])
    code, text = cli(capsys, "validate", upload, "--config", campaign, "--output", tmp_path / "out")
    assert code == 1
    assert "1 VALID, 1 INVALID" in text
    assert "report.xlsx" in text and "failures.xlsx" in text


def test_unreadable_file_exits_2_and_the_others_are_still_processed(tmp_path, capsys, campaign):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    good = write_csv(tmp_path / "good.csv", [base_row("EMAIL")])
    code, text = cli(capsys, "validate", broken, good, "--config", campaign, "--output", tmp_path / "out")
    assert code == 2
    assert "broken.xlsx: not a readable Excel workbook" in text
    assert "good.csv: 1 rows: 1 VALID" in text
    assert len(list((tmp_path / "out").glob("good-*/report.xlsx"))) == 1
    assert "Traceback" not in text


def test_bad_header_file_names_file_sheet_row_and_columns(tmp_path, capsys):
    upload = tmp_path / "dup.csv"
    upload.write_text("Phone,First Name,Mobile\n1,Ann,2\n")
    code, text = cli(capsys, "validate", upload, "--output", tmp_path / "out")
    assert code == 2
    assert "dup.csv, row 1: columns 'Phone' (A) and 'Mobile' (C) both mean Mobile" in text


def test_usage_errors_exit_64(tmp_path, capsys):
    code, _ = cli(capsys, "validate")
    assert code == 64
    code, _ = cli(capsys, "frobnicate")
    assert code == 64


@pytest.mark.parametrize("content, message", [
    ('accountIdentifier = "acme-rewards"', "'customerIdentifier' is missing"),
    ('customerIdentifier = "ac"\naccountIdentifier = "acme-rewards"', "'customerIdentifier' must be 5 to 100"),
    ('customerIdentifier = "acme corp!"\naccountIdentifier = "acme-rewards"', "'customerIdentifier' must be 5 to 100"),
    ('customerIdentifier = "acme-corp"\naccountIdentifier = 12345', "'accountIdentifier' must be 5 to 100"),
    ('colour = "red"\n' + GOOD_CAMPAIGN, "unknown key 'colour'"),
    (GOOD_CAMPAIGN.replace('campaign = "Q4"', "campaign = 4"), "'campaign' must be text"),
    (GOOD_CAMPAIGN + 'shoeSize = "9"\n', "[defaults] 'shoeSize' is not a line-item field"),
    (GOOD_CAMPAIGN.replace("amount = 25", "amount = true"), "[defaults] 'amount' must be a number"),
    (GOOD_CAMPAIGN + 'externalRefLineItemID = "x"\n', "'externalRefLineItemID' cannot have a default"),
    ('customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n[sender]\nphone = "1"',
     "unknown key 'sender.phone'"),
    ('customerIdentifier = "acme-corp"\nnotes = "' + "n" * 151 + '"\naccountIdentifier = "acme-rewards"',
     "'notes' may have at most 150 characters"),
    ("customerIdentifier = ", "not valid TOML"),
    (GOOD_CAMPAIGN.replace('campaign = "Q4"', 'campaign = "Q4\\u0000x"'), "'campaign' holds a NUL character"),
    ('bulk_shipping = "both"\n' + GOOD_CAMPAIGN, "'bulk_shipping' must be \"seed\" or \"reference\"; got 'both'"),
])
def test_bad_campaign_file_is_a_usage_error_naming_the_key(tmp_path, capsys, content, message):
    config = tmp_path / "c.toml"
    config.write_text(content)
    upload = write_csv(tmp_path / "u.csv", [base_row("EMAIL")])
    code, text = cli(capsys, "validate", upload, "--config", config, "--output", tmp_path / "out")
    assert code == 64
    assert message in text
    assert not (tmp_path / "out").exists()        # nothing read, nothing written


def test_missing_campaign_file(tmp_path, capsys):
    upload = write_csv(tmp_path / "u.csv", [base_row("EMAIL")])
    code, text = cli(capsys, "validate", upload, "--config", tmp_path / "none.toml")
    assert code == 64 and "campaign file not found" in text


def test_defaults_in_a_toml_date_and_float(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(GOOD_CAMPAIGN.replace("amount = 25", "amount = 12.5\ndeliveryDate = 2030-01-15"))
    row = base_row("EMAIL")
    del row["Amount"]
    upload = write_csv(tmp_path / "u.csv", [row])
    code, _ = cli(capsys, "validate", upload, "--config", config, "--output", tmp_path / "out")
    assert code == 0
    summary = json.loads(next((tmp_path / "out").glob("u-*/summary.json")).read_text())
    assert summary["total_amount_valid"] == 12.5


def test_the_bundled_sample_as_the_readme_runs_it(tmp_path):
    """The README's demo: the sample has deliberate mistakes, so exit 1 with reports written."""
    proc = subprocess.run([sys.executable, "-m", "pipeline", "validate", "samples/recipients.xlsx",
                           "--config", "samples/campaign.toml", "--output", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads(next(tmp_path.glob("recipients-*/summary.json")).read_text())
    assert summary["rows"] == 60
    assert summary["header_row"] == 4
    assert set(summary["delivery_methods"]) >= {"EMAIL", "PHONE", "ADDRESS", "EMBEDDED", "NONE",
                                                "BULKDIGITAL", "BULKSHIPMENT"}
    assert 5 <= summary["status_counts"]["INVALID"] <= 20


def test_progress_is_plain_lines_when_not_on_a_terminal(tmp_path, campaign):
    upload = write_csv(tmp_path / "u.csv", [base_row("EMAIL")])
    proc = subprocess.run([sys.executable, "-m", "pipeline", "validate", str(upload), "--config",
                           str(campaign), "--output", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "\r" not in proc.stderr
    assert "u.csv: 1 rows, header on row 1" in proc.stderr


def test_a_long_file_on_a_terminal_gets_a_progress_bar():
    import io

    from pipeline.progress import BAR_THRESHOLD, Progress
    stream = io.StringIO()
    progress = Progress(stream, bar=True)
    with progress.rows("writing report", BAR_THRESHOLD) as tick:
        tick(BAR_THRESHOLD)
    assert "writing report" in stream.getvalue() and "\r" in stream.getvalue()
    plain = io.StringIO()
    with Progress(plain, bar=True).rows("writing report", 10) as tick:   # short file: one line
        tick(10)
    assert plain.getvalue() == "  writing report (10 rows)\n"


def test_a_real_target_without_credentials_is_refused_before_anything_is_read(tmp_path, capsys, campaign,
                                                                              monkeypatch):
    monkeypatch.delenv("TANGO_PLATFORM_NAME", raising=False)
    monkeypatch.delenv("TANGO_PLATFORM_KEY", raising=False)
    code, text = cli(capsys, "run", tmp_path / "does-not-exist.xlsx", "--config", campaign,
                     "--target", "production", "--output", tmp_path / "out")
    assert code == 64
    assert "needs credentials: set TANGO_PLATFORM_NAME and TANGO_PLATFORM_KEY" in text
    assert not (tmp_path / "out").exists()


def test_run_against_the_simulator_from_the_command_line(tmp_path, capsys, campaign):
    upload = write_csv(tmp_path / "cli.csv", [base_row("EMAIL"), base_row("PHONE", Mobile="1")])
    code, text = cli(capsys, "run", upload, "--config", campaign, "--output", tmp_path / "out", "--no-wait")
    assert code == 1
    assert "SIMULATOR" in text and "1 INVALID, 1 SUBMITTED" in text
    code, text = cli(capsys, "status", "--output", tmp_path / "out", "--wait", "10", "--json")
    assert code == 0
    assert '"COMPLETE": 1' in text


def _http_times(out: Path) -> list[dt.datetime]:
    """When each call to Tango was answered, from the run's log file."""
    lines = [line for f in (out / "logs").iterdir() for line in f.read_text(encoding="utf-8").splitlines()]
    return [dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") for line in lines if " -> " in line]


def test_calls_are_paced_by_rate_else_tango_batch_rate_else_at_tangos_one_a_second(tmp_path, capsys, campaign,
                                                                                  monkeypatch):
    monkeypatch.delenv("TANGO_BATCH_RATE")
    assert rate(argparse.Namespace(rate=None)) == 1.0
    monkeypatch.setenv("TANGO_BATCH_RATE", " 4.5 ")
    assert rate(argparse.Namespace(rate=None)) == 4.5
    assert rate(argparse.Namespace(rate=2.0)) == 2.0           # --rate wins
    upload = write_csv(tmp_path / "paced.csv", [base_row("EMAIL", Email=f"p{i}@example.com") for i in range(3)])
    monkeypatch.setenv("TANGO_BATCH_RATE", "4")                # a call every 0.25 s
    code, text = cli(capsys, "run", upload, "--config", campaign, "--output", tmp_path / "out", "--no-wait",
                     "--batch-size", "1")
    assert code == 0, text
    times = _http_times(tmp_path / "out")
    assert len(times) >= 5                                     # catalog, orders, account, 3 orders
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.2, gaps
    for bad, said in [("fast", "TANGO_BATCH_RATE must be a number of calls per second; it is 'fast'"),
                      ("0", "TANGO_BATCH_RATE must be a number more than 0"),
                      ("nan", "TANGO_BATCH_RATE must be a number more than 0")]:
        monkeypatch.setenv("TANGO_BATCH_RATE", bad)
        code, text = cli(capsys, "validate", upload, "--config", campaign, "--output", tmp_path / "v")
        assert code == 64 and said in text, text
    code, text = cli(capsys, "validate", upload, "--config", campaign, "--output", tmp_path / "v", "--rate", "-1")
    assert code == 64 and "--rate must be a number more than 0" in text, text


def test_the_built_in_simulator_holds_orders_for_tango_simulator_delay_seconds(tmp_path, capsys, campaign,
                                                                              monkeypatch):
    monkeypatch.delenv("TANGO_SIMULATOR_DELAY")
    assert resolve_target("simulator", os.environ, None).processing_delay == 2.0
    upload = write_csv(tmp_path / "held.csv", people(2))
    for seconds, counts in (("3600", {"SUBMITTED": 2}), ("0", {"COMPLETE": 2})):
        monkeypatch.setenv("TANGO_SIMULATOR_DELAY", seconds)
        out = tmp_path / f"out-{seconds}"
        assert cli(capsys, "run", upload, "--config", campaign, "--output", out, "--no-wait")[0] == 0
        assert main(["status", "--output", str(out), "--wait", "0", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["rows"] == counts, seconds
    for bad in ("soon", "-1", "nan", "3601"):
        monkeypatch.setenv("TANGO_SIMULATOR_DELAY", bad)
        code, text = cli(capsys, "run", upload, "--config", campaign, "--output", tmp_path / "v", "--no-wait")
        assert code == 64 and f"TANGO_SIMULATOR_DELAY must be a number of seconds from 0 to 3600; it is '{bad}'" \
            in text, text


def test_batch_size_has_the_documented_maximum(tmp_path, capsys, campaign):
    upload = write_csv(tmp_path / "u.csv", [base_row("EMAIL")])
    code, text = cli(capsys, "run", upload, "--config", campaign, "--output", tmp_path / "out",
                     "--batch-size", "50001")
    assert code == 64 and "--batch-size must be from 1 to 50,000" in text
    assert not (tmp_path / "out").exists()


def test_unknown_status_words_are_not_final_and_are_logged(caplog):
    from pipeline.tango import line_state, order_final
    with caplog.at_level("WARNING"):
        assert line_state("TELEPORTED") is None and order_final("SOMEWHERE") is False
    assert "TELEPORTED" in caplog.text and "SOMEWHERE" in caplog.text
    assert line_state("complete") == "COMPLETE" and line_state("Pending") is None
    assert order_final("PARTIAL") is True


def test_status_lists_runs_since_a_date(tmp_path, capsys, campaign):
    upload = write_csv(tmp_path / "s.csv", [base_row("EMAIL")])
    assert cli(capsys, "run", upload, "--config", campaign, "--output", tmp_path / "out", "--no-wait")[0] == 0
    assert main(["status", "--output", str(tmp_path / "out"), "--since", "2000-01-01", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["command"] for r in report["runs"]] == ["run"] and report["runs"][0]["exit_code"] == 0
    assert main(["status", "--output", str(tmp_path / "out"), "--since", "2999-01-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == []
    assert cli(capsys, "status", "--output", tmp_path / "out", "--since", "last week")[0] == 64


def test_status_counts_each_row_by_its_real_outcome_and_names_each_runs_files(tmp_path, capsys, campaign):
    """A sheet run twice: its second run's report says DUPLICATE (not ordered twice), but the rewards were
    delivered by the first run, and status counts them as delivered. A re-upload with one row more
    (another file) counts its new row, and its old rows as the duplicates they are: each reward once."""
    first = write_csv(tmp_path / "first.csv", people(3))
    out = tmp_path / "out"
    for _ in range(2):
        assert cli(capsys, "run", first, "--config", campaign, "--output", out, "--wait", "20")[0] == 0
    assert statuses(sorted(out.glob("first-*/report.xlsx"))[-1]) == ["DUPLICATE"] * 3
    assert main(["status", "--output", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == {"COMPLETE": 3}      # not 3 DUPLICATE
    new = base_row("EMAIL", First_Name="New", Email="new@example.com")
    second = write_csv(tmp_path / "second.csv", [*people(3), new])
    assert cli(capsys, "run", second, "--config", campaign, "--output", out, "--wait", "20")[0] == 0
    assert main(["status", "--output", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == {"COMPLETE": 4, "DUPLICATE": 3}
    assert report["line_items"] == {"COMPLETE": 4}             # four rewards, each ordered once
    assert [[(f["file"], f["rows"], f["status_counts"]) for f in r["files"]] for r in report["runs"]] == [
        [("first.csv", 3, {"COMPLETE": 3})], [("first.csv", 3, {"DUPLICATE": 3})],
        [("second.csv", 4, {"COMPLETE": 1, "DUPLICATE": 3})]]
    code, said = cli(capsys, "status", "--output", out)
    assert code == 0
    assert "second.csv: 4 rows: 1 COMPLETE, 3 DUPLICATE" in said and "4 COMPLETE, 3 DUPLICATE" in said


def test_two_files_of_one_name_in_one_run_are_listed_apart(tmp_path, capsys, campaign):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_csv(tmp_path / "a" / "r.csv", people(2))
    two = write_csv(tmp_path / "b" / "r.csv", [base_row("EMAIL", First_Name="Z", Email="z@example.com")])
    assert cli(capsys, "run", one, two, "--config", campaign, "--output", tmp_path / "out", "--wait", "20")[0] == 0
    assert main(["status", "--output", str(tmp_path / "out"), "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["runs"][0]["files"]
    assert sorted((f["file"], f["rows"]) for f in files) == [("r.csv", 1), ("r.csv", 2)]


@pytest.mark.parametrize("command", ["validate", "run", "nightly", "status", "template"])
def test_help_gives_examples_every_exit_code_and_describes_every_argument(capsys, command):
    from pipeline.model import ExitCode
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example" in out
    for code in ExitCode:
        assert f"\n  {code.value:<4}" in out, code
    if command in ("validate", "run"):
        assert "a sheet of recipients: .xlsx, .xlsm, .xls, .ods or .csv" in " ".join(out.split())
    from pipeline.cli.parser import parser
    sub = next(a for a in parser()._actions if a.dest == "command").choices[command]
    undescribed = [a.dest for a in sub._actions if not a.help]
    assert undescribed == [], undescribed


def test_the_simulators_help_goes_by_its_real_name():
    done = subprocess.run([sys.executable, "-m", "pipeline", "simulate", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: tango-batch simulate")


def test_the_readmes_campaign_file_example_loads_as_it_is_written(tmp_path):
    """A stranger copies the README's campaign file: it must load, every key of it."""
    from pipeline.config import load_campaign
    from rules import load
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## The campaign file", 1)[1]
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "campaign.toml").write_text(example, encoding="utf-8")
    campaign = load_campaign(tmp_path / "campaign.toml", load())
    assert campaign.date_order == "MDY" and campaign.require_approval is False
    assert campaign.accounts == {"Marketing": "acme-marketing", "Sales": "acme-sales"}
    assert campaign.notify is not None and campaign.sender == {"firstName": "Acme"}
