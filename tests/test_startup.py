"""Start-up: a command loads only what it uses. ``--help`` of every command (and a usage error)
loads no data, spreadsheet or HTTP library; ``validate`` loads neither httpx nor the simulator
unless it has to fetch a catalog, and never the phone-number geocoder unless a message needs it.

Each probe runs in a fresh interpreter, so ``sys.modules`` is its own. These are assertions about
what is imported, not timings: the timings are ``tests/bench/bench_startup.py``'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl

from tests.helpers import EMAIL_CAMPAIGN, base_row, write_csv

ROOT = Path(__file__).resolve().parents[1]

# what no --help may load: the data, spreadsheet, validation, HTTP and phone-number libraries
HEAVY = ("polars", "pandera", "pydantic", "numpy", "fastexcel", "xlsxwriter", "openpyxl", "xlrd", "httpx",
         "tenacity", "phonenumbers", "tqdm", "fastapi", "starlette", "jinja2", "uvicorn", "itsdangerous", "argon2",
         "pipeline.web")

# every command's help, every nested command's, and a usage error, in one interpreter: the first
# command to load a heavy module is named with it
HELP_PROBE = r"""
import argparse, contextlib, io, json, sys
from pipeline.cli import main
from pipeline.cli.parser import parser

def commands(p, path=()):
    yield path
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))

heavy = json.loads(sys.argv[1])
first, codes = {}, {}
for path in [*commands(parser()), ("validate",), ("run", "--no-such-option")]:
    argv = [*path, "--help"] if path[-1:] != ("--no-such-option",) and path != ("validate",) else list(path)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            codes[" ".join(argv)] = main(argv)
        except SystemExit as exc:       # the simulator's own parser exits
            codes[" ".join(argv)] = exc.code
    for name in heavy:
        if name in sys.modules:
            first.setdefault(name, " ".join(argv))
print(json.dumps({"loaded": first, "codes": codes}))
"""


def _probe(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                         check=True, env=env)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_no_help_loads_a_heavy_module():
    result = _probe(HELP_PROBE, json.dumps(HEAVY))
    assert result["loaded"] == {}
    codes = result["codes"]
    assert isinstance(codes, dict)
    assert codes["--help"] == 0 and codes["simulate --help"] == 0 and codes["ledger rebuild --help"] == 0
    assert codes["serve --help"] == 0
    assert codes["validate"] == 64 and codes["run --no-such-option"] == 64      # usage errors, as before
    assert len(codes) >= 12         # top level, its 7 commands, ledger's 3, and the two usage errors


VALIDATE_PROBE = r"""
import contextlib, io, json, sys
from pipeline.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(sys.argv[2:])
print(json.dumps({"code": code, "loaded": [m for m in json.loads(sys.argv[1]) if m in sys.modules]}))
"""
NOT_FOR_VALIDATE = ("httpx", "tenacity", "pipeline.simulator", "pipeline.tango.client", "phonenumbers.geocoder",
                    "openpyxl")


def _validate(tmp_path: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return _probe(VALIDATE_PROBE, json.dumps(NOT_FOR_VALIDATE), "validate", *args, "--output",
                  str(tmp_path / "out"), env=env)


def test_validate_loads_no_http_client_nor_the_geocoder(tmp_path):
    upload = write_csv(tmp_path / "five.csv", [base_row("EMAIL"), base_row("PHONE", Mobile="12"),
                                               base_row("ADDRESS"), base_row("NONE"), base_row("EMBEDDED")])
    assert _validate(tmp_path, str(upload)) == {"code": 1, "loaded": []}


def test_validate_with_a_campaign_reads_a_cached_catalog_without_an_http_client(tmp_path):
    upload = write_csv(tmp_path / "ok.csv", [base_row("EMAIL")])
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(EMAIL_CAMPAIGN)
    first = _validate(tmp_path, str(upload), "--config", str(campaign))   # fetches the simulator's catalog
    assert first["code"] == 0 and "httpx" in first["loaded"]
    assert _validate(tmp_path, str(upload), "--config", str(campaign)) == {"code": 0, "loaded": []}


def test_a_foreign_mobile_number_is_still_named_by_its_country(tmp_path):
    upload = write_csv(tmp_path / "uk.csv", [base_row("PHONE", Mobile="+44 20 7946 0958")])
    assert _validate(tmp_path, str(upload)) == {"code": 1, "loaded": ["phonenumbers.geocoder"]}
    book = openpyxl.load_workbook(next((tmp_path / "out").glob("uk-*/report.xlsx")), read_only=True)
    cells = [str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c]
    book.close()
    assert any("it is a United Kingdom number (+44)" in c for c in cells)


ALLOCATOR_PROBE = r"""
import os, sys, pipeline, polars as pl
assert "polars" in sys.modules
print(os.environ["_RJEM_MALLOC_CONF"], pipeline.ALLOCATOR)
"""


def test_polars_allocator_is_set_before_polars_loads_and_an_operators_own_setting_wins():
    # set by ``import pipeline`` (which every command and the library's users pass through first);
    # polars puts its own defaults before it as it loads, and jemalloc takes the last of each setting
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"} | {"PYTHONPATH": str(ROOT)}
    read, ours = subprocess.run([sys.executable, "-c", ALLOCATOR_PROBE], env=env, capture_output=True, text=True,
                                check=True).stdout.split()
    assert read.endswith("," + ours) and "background_thread:true" in ours and "dirty_decay_ms:10," in ours
    read, ours = subprocess.run([sys.executable, "-c", ALLOCATOR_PROBE], env=env | {"_RJEM_MALLOC_CONF": "narenas:2"},
                                capture_output=True, text=True, check=True).stdout.split()
    assert read.endswith(",narenas:2") and ours not in read
