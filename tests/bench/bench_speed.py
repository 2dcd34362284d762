"""Benchmark (not part of the test run): issue 12's speed goals, every figure of its table in one run.

Each figure comes from the product's real entry points in a fresh process (``python -m pipeline``;
for the stage figures, the stage functions as ``bench_validate.py`` calls them), with its state,
ledger and caches in a temporary folder. Its two yardsticks run on the same machine in the same
round, so a busy machine slows both sides alike:
- plain xlsxwriter (the project's pin), in a fresh process, writing the cells of the report that
  ``validate`` just wrote, one ``write_string`` each, sheet by sheet, in constant_memory mode; only
  the writing is timed (the cells are read with fastexcel first);
- frictionless-py (``FRICTIONLESS``, pinned), installed by this script into a venv of its own under
  output/bench-env/ (reused on the next run), validating the same upload against a Table Schema of
  the rules a Table Schema can express, taken from the rule book (``table_schema``), every error
  counted (its default stops at 1,000).

The rounds are interleaved (every figure once, then again), each figure is printed as min / median
of the rounds, and the load average before and after each round. Exit 0 when every median meets
its goal, 1 otherwise.

``validate`` runs with a campaign file, as ``run`` would check the upload (catalog and ledger checks
included); the workbook is also checked without one, a figure printed below the table.

Run: make bench   (about 15 minutes on this 2-core machine, most of it the test suite;
``--no-suite`` skips the suite, ``--quick`` makes every input ten to twenty times smaller for working
on this script: its marks then mean nothing)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import bench_run
import bench_startup
from bench_validate import CAMPAIGN, STAGES
from fresh import Measured, isolated_env, run
from generate import HEADER, write_csv, write_xlsx

ROOT = Path(__file__).resolve().parents[2]
FRICTIONLESS_VERSION = "5.21.0"         # the newest on PyPI when this was written
FRICTIONLESS = f"frictionless[excel]=={FRICTIONLESS_VERSION}"
BENCH_ENV = ROOT / "output" / "bench-env" / f"frictionless-{FRICTIONLESS_VERSION}"   # output/ is git-ignored
FRICTIONLESS_TIMEOUT = 600.0    # past this, frictionless is taken not to read the workbook: CSV for both sides
HEADER_ROW, SHEET = 3, "Recipients"     # where generate.write_xlsx puts them


@dataclass(frozen=True)
class Goal:
    key: str
    what: str
    metric: str
    unit: str               # "s", "MB" or "x"
    today: str              # the figure for main when it was filed
    goal: float
    at_most: bool = True    # False: the figure must be at least the goal

    def met(self, value: float) -> bool:
        return value <= self.goal if self.at_most else value >= self.goal


GOALS = [
    Goal("xlsx_s", "1 100k-row .xlsx, validate with report", "wall", "s", "5.3-6.0 s", 3.0),
    Goal("xlsx_mb", "", "peak RSS", "MB", "415-435 MB", 350),
    Goal("vs_xlsxwriter", "2 (1) / plain xlsxwriter, same cells", "ratio", "x", "0.55-0.74x", 0.4),
    Goal("vs_frictionless", "3 frictionless validate / (1)", "x faster", "x", "2.8-3.0x", 6.0, at_most=False),
    Goal("csv_s", "4 1M-row CSV, validate with report", "wall", "s", "38 s", 20),
    Goal("csv_mb", "", "peak RSS", "MB", "1500 MB", 1000),
    Goal("stages_s", "5 1M-row CSV, ingest+normalize+validate", "wall", "s", "7.2 s", 4),
    Goal("stages_mb", "  (stage functions, no report)", "peak RSS", "MB", "1300 MB", 600),
    Goal("help_s", "6 tango-batch --help", "wall", "s", "0.78 s", 0.3),
    Goal("help_mb", "", "peak RSS", "MB", "164 MB", 80),
    Goal("validate5_s", "7 validate of a 5-row file", "wall", "s", "1.07 s", 0.6),
    Goal("run_s", "8 run of 100k valid rows, simulator", "wall", "s", "56-62 s", 20),
    Goal("suite_s", "9 full test suite (pytest)", "wall", "s", "90-136 s", 75),
]

# figures printed below the table, without a goal: (key, label, unit)
DETAILS = [
    ("xlsx_sheet_only_s", "(1) without --config: no catalog or ledger checks", "s"),
    ("xlsx_sheet_only_mb", "(1) without --config: peak RSS", "MB"),
    ("writer_s", "plain xlsxwriter writing the report's cells (2)", "s"),
    ("frictionless_s", "frictionless validate, whole process (3)", "s"),
    ("frictionless_mb", "frictionless peak RSS (3)", "MB"),
    ("ours_csv100k_s", "our validate of the same rows as CSV (3, fallback)", "s"),
    ("import", "(5) import", "s"), ("ingest", "(5) ingest", "s"), ("normalize", "(5) normalize", "s"),
    ("validate", "(5) validate", "s"),
    ("run_mb", "run peak RSS (8)", "MB"),
    ("ledger_bytes_per_row", "ledger bytes per row (8; issue: 1.16 KB)", "B"),
]

WRITER = r"""
import json, sys, time
import fastexcel, xlsxwriter
source, target = sys.argv[1], sys.argv[2]
book = fastexcel.read_excel(source)
sheets = [(name, book.load_sheet(name, header_row=None, dtypes="string").to_polars().rows())
          for name in book.sheet_names]
cells = sum(v is not None for _, rows in sheets for row in rows for v in row)
start = time.perf_counter()
out = xlsxwriter.Workbook(target, {"constant_memory": True})
for name, rows in sheets:
    sheet = out.add_worksheet(name)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write_string(r, c, value)
out.close()
print(json.dumps({"write_s": time.perf_counter() - start, "cells": cells, "version": xlsxwriter.__version__}))
"""

FRICTIONLESS_VALIDATE = r"""
import json, sys
from frictionless import Dialect, Resource, Schema
from frictionless.formats import ExcelControl
path, schema, header_row, sheet = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
controls = [ExcelControl(sheet=sheet)] if path.endswith(".xlsx") else []
resource = Resource(path, schema=Schema.from_descriptor(json.loads(schema)),
                    dialect=Dialect(header_rows=[header_row], controls=controls))
task = resource.validate(limit_errors=sys.maxsize).tasks[0]
print(json.dumps({"rows": task.stats.get("rows"), "errors": len(task.errors),
                  "invalid_rows": len({e.row_number for e in task.errors if getattr(e, "row_number", None)}),
                  "kinds": sorted({e.type for e in task.errors}),
                  "other": [e.message for e in task.errors if not getattr(e, "row_number", None)][:3]}))
"""


@dataclass
class Bench:
    """What every round shares: the inputs, made once, and the choices made on the way."""
    tmp: Path
    xlsx_rows: int
    csv_rows: int
    run_rows: int
    suite: bool
    frictionless_python: Path
    schema: str                             # the Table Schema, as JSON
    xlsx: Path = field(init=False)
    csv: Path = field(init=False)
    campaign: Path = field(init=False)
    csv_fallback: Path | None = None        # set once frictionless could not read the workbook
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.xlsx, self.csv, self.campaign = self.tmp / "big.xlsx", self.tmp / "big.csv", self.tmp / "campaign.toml"

    @property
    def env(self) -> dict[str, str]:
        return isolated_env(self.tmp)

    def validate(self, upload: Path, out: Path, *, campaign: bool = True) -> Measured:
        """``tango-batch validate`` with a campaign file, as ``run`` would check the upload (its catalog
        and ledger checks too); without one, the sheet's own checks only."""
        checks = ["--config", str(self.campaign), "--ledger", str(self.tmp / "ledger.sqlite")] if campaign else []
        m = run([sys.executable, "-m", "pipeline", "validate", str(upload), *checks, "--output", str(out)],
                env=self.env, cwd=self.tmp)
        _expect(m, (0, 1), f"validate {upload.name}")      # 1: some rows to fix, as meant
        return m

    def frictionless(self, upload: Path) -> tuple[Measured, dict[str, Any]]:
        header = HEADER_ROW if upload.suffix == ".xlsx" else 1
        # the upload by a path relative to its folder, the schema as text: frictionless refuses an
        # absolute path as "not safe"
        m = run([str(self.frictionless_python), "-c", FRICTIONLESS_VALIDATE, upload.name, self.schema,
                 str(header), SHEET], env=self.env, cwd=upload.parent, timeout=FRICTIONLESS_TIMEOUT)
        return m, (_last_json(m.stdout) if m.returncode == 0 else {})


def _expect(m: Measured, codes: tuple[int, ...], what: str) -> None:
    if m.timed_out or m.returncode not in codes:
        raise RuntimeError(f"{what}: exit {m.returncode}{' (timed out)' if m.timed_out else ''}: "
                           f"{(m.stderr or m.stdout)[-1500:]}")


def _last_json(text: str) -> dict[str, Any]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {}


def _summary(out: Path) -> dict[str, Any]:
    found = sorted(out.glob("*/summary.json"))
    return dict(json.loads(found[-1].read_text())) if found else {}


# --- the rounds --------------------------------------------------------------------------------

def round_of(bench: Bench, n: int) -> dict[str, float]:
    """Every figure once; a step that fails says why and leaves its figures out."""
    here = bench.tmp / f"round-{n}"
    figures: dict[str, float] = {}
    steps: list[tuple[str, Callable[[], None]]] = [
        ("1-3 validate .xlsx, xlsxwriter, frictionless", lambda: _workbook(bench, here, figures)),
        ("4 validate 1M CSV", lambda: _big_csv(bench, here, figures)),
        ("5 stages", lambda: _stages(bench, here, figures)),
        ("6-7 start-up", lambda: _startup(here, figures)),
        ("8 run", lambda: _run(bench, here, figures)),
    ]
    if bench.suite:
        steps.append(("9 test suite", lambda: _suite(bench, here, figures)))
    for name, step in steps:
        here.mkdir(parents=True, exist_ok=True)
        try:
            step()
        except Exception as exc:               # one step failing leaves the others' figures
            print(f"  ! {name} failed: {type(exc).__name__}: {exc}", flush=True)
    shutil.rmtree(here, ignore_errors=True)
    return figures


def _say(text: str) -> None:
    print(f"  {text}", flush=True)


def _workbook(bench: Bench, here: Path, figures: dict[str, float]) -> None:
    m = bench.validate(bench.xlsx, here / "xlsx")
    summary = _summary(here / "xlsx")
    invalid = summary.get("status_counts", {}).get("INVALID", "?")
    figures.update(xlsx_s=m.wall_s, xlsx_mb=m.peak_rss_mb)
    _say(f"1 validate {bench.xlsx_rows:,}-row .xlsx: {m.wall_s:.2f} s, {m.peak_rss_mb:.0f} MB "
         f"(exit {m.returncode}, {invalid} rows INVALID)")
    report = Path(summary.get("report") or min((here / "xlsx").glob("*/report.xlsx")))
    w = run([sys.executable, "-c", WRITER, str(report), str(here / "plain.xlsx")], env=bench.env, cwd=here)
    _expect(w, (0,), "plain xlsxwriter")
    written = _last_json(w.stdout)
    figures.update(writer_s=written["write_s"], vs_xlsxwriter=m.wall_s / written["write_s"])
    _say(f"2 plain xlsxwriter {written['version']}, {written['cells']:,} cells of report.xlsx: "
         f"{written['write_s']:.2f} s -> ratio {figures['vs_xlsxwriter']:.2f}x")
    _frictionless(bench, here, figures, m.wall_s)
    alone = bench.validate(bench.xlsx, here / "sheet-only", campaign=False)
    figures.update(xlsx_sheet_only_s=alone.wall_s, xlsx_sheet_only_mb=alone.peak_rss_mb)
    _say(f"1 again without --config (the sheet's own checks): {alone.wall_s:.2f} s, {alone.peak_rss_mb:.0f} MB")


def _frictionless(bench: Bench, here: Path, figures: dict[str, float], ours_xlsx_s: float) -> None:
    if bench.csv_fallback is None:
        f, report = bench.frictionless(bench.xlsx)
        if report.get("rows") == bench.xlsx_rows:
            _frictionless_figures(figures, f, report, ours_xlsx_s, ".xlsx")
            return
        why = "timed out" if f.timed_out else f"read {report.get('rows')} rows, exit {f.returncode}"
        note = (f"frictionless could not read the .xlsx ({why}: {(f.stderr or str(report))[-300:]}); "
                f"row 3 compares both sides on the same {bench.xlsx_rows:,} rows as CSV")
        bench.notes.append(note)
        _say("! " + note)
        bench.csv_fallback = bench.tmp / "same-rows.csv"
        write_csv(bench.csv_fallback, bench.xlsx_rows)
    ours = bench.validate(bench.csv_fallback, here / "csv100k")
    figures["ours_csv100k_s"] = ours.wall_s
    f, report = bench.frictionless(bench.csv_fallback)
    if report.get("rows") != bench.xlsx_rows:
        raise RuntimeError(f"frictionless on CSV: exit {f.returncode}, {report}: {f.stderr[-1000:]}")
    _frictionless_figures(figures, f, report, ours.wall_s, ".csv (fallback)")


def _frictionless_figures(figures: dict[str, float], f: Measured, report: dict[str, Any], ours_s: float,
                          source: str) -> None:
    figures.update(frictionless_s=f.wall_s, frictionless_mb=f.peak_rss_mb, vs_frictionless=f.wall_s / ours_s)
    _say(f"3 frictionless on {source}: {f.wall_s:.2f} s, {f.peak_rss_mb:.0f} MB, {report['invalid_rows']:,} rows "
         f"with errors ({', '.join(report['kinds'])}) -> ours {figures['vs_frictionless']:.2f}x faster")


def _big_csv(bench: Bench, here: Path, figures: dict[str, float]) -> None:
    m = bench.validate(bench.csv, here / "csv")
    figures.update(csv_s=m.wall_s, csv_mb=m.peak_rss_mb)
    _say(f"4 validate {bench.csv_rows:,}-row CSV: {m.wall_s:.2f} s, {m.peak_rss_mb:.0f} MB")


def _stages(bench: Bench, here: Path, figures: dict[str, float]) -> None:
    m = run([sys.executable, "-c", STAGES, str(bench.csv), str(here / "stages"), "0", str(bench.campaign)],
            env=bench.env, cwd=here)
    _expect(m, (0,), "stages")
    marks = _last_json(m.stdout)
    figures.update(stages_s=m.wall_s, stages_mb=m.peak_rss_mb,
                   **{k: marks[k] for k in ("import", "ingest", "normalize", "validate")})
    _say(f"5 stages on {bench.csv_rows:,}-row CSV: {m.wall_s:.2f} s, {m.peak_rss_mb:.0f} MB ("
         + ", ".join(f"{k} {marks[k]:.2f} s" for k in ("import", "ingest", "normalize", "validate")) + ")")


def _startup(here: Path, figures: dict[str, float]) -> None:
    got = bench_startup.measure(here, 3)
    figures.update(help_s=got["help"]["wall_median_s"], help_mb=got["help"]["rss_median_mb"],
                   validate5_s=got["validate"]["wall_median_s"])
    _say(f"6 --help: {figures['help_s']:.3f} s, {figures['help_mb']:.0f} MB; "
         f"7 validate of 5 rows: {figures['validate5_s']:.3f} s (medians of 3)")


def _run(bench: Bench, here: Path, figures: dict[str, float]) -> None:
    got = bench_run.measure(bench.run_rows, here)
    figures.update(run_s=got["wall_s"], run_mb=got["peak_rss_mb"], ledger_bytes_per_row=got["ledger_bytes_per_row"])
    _say(f"8 run of {bench.run_rows:,} rows: {got['wall_s']:.2f} s, {got['peak_rss_mb']:.0f} MB, "
         f"ledger {got['ledger_bytes_per_row']:.0f} bytes per row")


def _suite(bench: Bench, here: Path, figures: dict[str, float]) -> None:
    """The README's test command's pytest part, from the repository's root, as a developer runs it."""
    m = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"], env=isolated_env(here), cwd=ROOT)
    said = [line.strip("= ") for line in m.stdout.splitlines() if " passed" in line or " failed" in line]
    _say(f"9 test suite: {m.wall_s:.1f} s, exit {m.returncode}" + (f" ({said[-1]})" if said else ""))
    _expect(m, (0,), "test suite")              # a failing suite has no figure to compare
    figures["suite_s"] = m.wall_s


# --- the yardsticks' set-up ----------------------------------------------------------------------

def frictionless_env() -> Path:
    """frictionless in a venv of its own, made once and reused while it holds the pinned version."""
    python, marker = BENCH_ENV / "bin" / "python", BENCH_ENV / "installed.txt"
    if python.exists() and marker.exists() and marker.read_text().strip() == FRICTIONLESS:
        print(f"{FRICTIONLESS}: reusing {BENCH_ENV.relative_to(ROOT)}")
        return python
    start = time.perf_counter()
    shutil.rmtree(BENCH_ENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_ENV)], check=True)
    pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                          FRICTIONLESS], capture_output=True, text=True)
    if pip.returncode != 0:
        raise SystemExit(f"could not install {FRICTIONLESS} into {BENCH_ENV}:\n{pip.stderr[-3000:]}")
    marker.write_text(FRICTIONLESS + "\n")
    print(f"{FRICTIONLESS}: installed into {BENCH_ENV.relative_to(ROOT)} in {time.perf_counter() - start:.0f} s")
    return python


def table_schema() -> tuple[dict[str, Any], list[str]]:
    """A Table Schema of generate.HEADER's columns with the rules a Table Schema can express, their
    values taken from the rule book; and what it leaves out. A Table Schema has no condition on another
    column, so a rule is in when it holds for every row that fills the cell: everywhere, where the
    cell's only other rows must leave it empty (e-mail, mobile), or where, in this upload, only the rows
    it is for fill the cell (the address, country and shipping method of mailed rows). Where lengths
    differ by method, the loosest is taken, so no valid row is refused."""
    import rules
    from rules.patterns import FORMULA_START_RE
    book = rules.load()
    params = {(r.id, r.field): r.params for r in book.rules}

    def most(field_name: str, *ids: str) -> int:
        return max(int(params[(i, field_name)]["max"]) for i in ids)

    text = f"(?!{FORMULA_START_RE.removeprefix('^')})[\\s\\S]*"     # not a formula: = + - @ or a control character

    def name(f: str) -> dict[str, Any]:
        return {"maxLength": most(f, f"{f}.digital.length", f"{f}.physical.length"), "pattern": text}

    charset = {k: v["pattern"] for k, v in book.charsets.items()}
    by_field: dict[str, tuple[str, dict[str, Any]]] = {
        "firstName": ("string", name("firstName")),
        "lastName": ("string", name("lastName")),
        "email": ("string", {"pattern": params[("email.format", "email")]["pattern"]}),
        "mobileNumber": ("integer", {"minimum": 0, "maximum": 10**15 - 1}),   # E.164: at most 15 digits
        "deliveryMethod": ("string", {"required": True, "enum": list(book.methods)}),
        "utid": ("string", {"required": True, "pattern": params[("utid.pattern", "utid")]["pattern"]}),
        "amount": ("number", {"required": True, "minimum": 0.01, "maximum": float(book.max_row_amount)}),
        "quantity": ("integer", {"minimum": params[("quantity.whole_number", "quantity")]["min"]}),
        "streetLine1": ("string", {"maxLength": most("streetLine1", "street.length"), "pattern": charset["street"]}),
        "city": ("string", {"maxLength": most("city", "city.recipient.length", "city.shipping.length"),
                            "pattern": charset["city"]}),
        "stateOrProvince": ("string", {"maxLength": params[("stateOrProvince.region", "stateOrProvince")][
            "max_international"]}),
        "postalCode": ("any", {}),
        "country": ("string", {"enum": sorted(book.countries)}),
        "shippingMethod": ("string", {"enum": list(book.shipping_methods)}),
        "message": ("string", {"maxLength": most("message", "message.length"), "pattern": text}),
        "externalRefLineItemID": ("string", {"maxLength": most("externalRefLineItemID", "externalRefLineItemID.length"),
                                             "unique": True}),
    }
    fields = []
    for header, meaning in zip(HEADER, book.meanings(list(HEADER)), strict=True):
        kind, constraints = by_field.get(meaning or "", ("string", {}))
        fields.append({"name": header, "type": kind, **({"constraints": constraints} if constraints else {})})
    covered = [
        "required + enum of the 7 delivery methods; required UTID with its pattern; required Amount, a number",
        f"  from 0.01 to {book.max_row_amount} (one row's cap at quantity 1); Qty a whole number >= 1",
        "E-mail pattern; Mobile a number of at most 15 digits; names and Message: their longest allowed",
        "  length and no formula start; street and city: length and character set; State <= 35 characters;",
        "  Country in the ISO list; Shipping Method in Tango's list; Reference <= 100 characters and unique",
        "left out (conditions on another column, or code): what each delivery method requires or forbids,",
        "  quantity > 1 for bulk methods only, 2 decimals at most, amount x quantity cap, US mobile and E.164",
        "  parsing, states and ZIPs by country, the mailed-name character set, duplicate recipients, the",
        "  catalog; the upload has no date columns (delivery and expiration date rules not exercised)",
    ]
    return {"fields": fields}, covered


# --- the printing --------------------------------------------------------------------------------

def _fmt(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit in ("MB", "B"):
        return f"{value:,.0f} {unit}"
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _stats(rounds: list[dict[str, float]], key: str) -> tuple[float, float] | None:
    values = [r[key] for r in rounds if key in r]
    return (min(values), statistics.median(values)) if values else None


def report(rounds: list[dict[str, float]], loads: list[tuple[str, tuple[float, ...]]], bench: Bench) -> bool:
    print(f"\n{'':<54}{'issue: today':>12} {'goal':>11} {'min':>10} {'median':>10}")
    ok = True
    for g in GOALS:
        got = _stats(rounds, g.key)
        skipped = g.key == "suite_s" and not bench.suite
        met = skipped or (got is not None and g.met(got[1]))
        ok &= met
        mark = "skipped (--no-suite)" if skipped else "pass" if met else "FAIL" if got else "NO FIGURE"
        sign = "<=" if g.at_most else ">="
        print(f"{g.what:<44}{g.metric:<10}{g.today:>12} {sign + ' ' + _fmt(g.goal, g.unit):>11} "
              f"{_fmt(got[0] if got else None, g.unit):>10} {_fmt(got[1] if got else None, g.unit):>10}  {mark}")
    print(f"\nalso measured ({len(rounds)} rounds, min / median):")
    for key, label, unit in DETAILS:
        got = _stats(rounds, key)
        if got:
            print(f"  {label:<75} {_fmt(got[0], unit):>10} {_fmt(got[1], unit):>10}")
    print(f"\nload average (1, 5, 15 min) on {os.cpu_count()} CPUs:")
    for when, load in loads:
        print(f"  {when:<22}" + " ".join(f"{x:5.2f}" for x in load))
    for note in bench.notes:
        print(f"note: {note}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds, each measuring every figure once (default 3)")
    ap.add_argument("--quick", action="store_true", help="small inputs, for working on this script")
    ap.add_argument("--no-suite", action="store_true", help="leave out the test suite (row 9)")
    args = ap.parse_args()
    xlsx_rows, csv_rows, run_rows = (10_000, 100_000, 5_000) if args.quick else (100_000, 1_000_000, 100_000)
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    print(f"issue 12 speed goals: {commit or 'no git'} on {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, {dt.datetime.now():%Y-%m-%d %H:%M}"
          + (" -- QUICK: inputs smaller than the goals are for, marks mean nothing" if args.quick else ""))
    python = frictionless_env()
    schema, covered = table_schema()
    print("the frictionless Table Schema covers:\n" + "\n".join(f"  {line}" for line in covered))
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        bench = Bench(Path(tmp), xlsx_rows, csv_rows, run_rows, not args.no_suite, python, json.dumps(schema))
        bench.campaign.write_text(CAMPAIGN)
        start = time.perf_counter()
        write_xlsx(bench.xlsx, xlsx_rows)
        write_csv(bench.csv, csv_rows)
        print(f"inputs: {xlsx_rows:,}-row .xlsx, {csv_rows:,}-row CSV, made in {time.perf_counter() - start:.0f} s")
        _warm_up(bench)
        rounds: list[dict[str, float]] = []
        loads: list[tuple[str, tuple[float, ...]]] = []
        for n in range(1, args.repeat + 1):
            loads.append((f"round {n} before", os.getloadavg()))
            print(f"round {n}/{args.repeat}, load average {' '.join(f'{x:.2f}' for x in loads[-1][1])}", flush=True)
            began = time.perf_counter()
            rounds.append(round_of(bench, n))
            loads.append((f"round {n} after", os.getloadavg()))
            print(f"round {n} took {time.perf_counter() - began:.0f} s, load average after it "
                  + " ".join(f"{x:.2f}" for x in loads[-1][1]), flush=True)
        ok = report(rounds, loads, bench)
    print("every median meets its goal" if ok else "OUTSIDE GOALS")
    return 0 if ok else 1


def _warm_up(bench: Bench) -> None:
    """One untimed pass on tiny inputs, so no round pays for writing .pyc files, a cold disk cache
    or fetching the simulator's catalog (then cached beside the ledger, as for a user)."""
    tiny = bench.tmp / "warm-up"
    tiny.mkdir()
    write_xlsx(tiny / "tiny.xlsx", 20)
    bench.validate(tiny / "tiny.xlsx", tiny / "out")
    bench.frictionless(tiny / "tiny.xlsx")
    run([sys.executable, "-c", WRITER, str(next((tiny / "out").glob("*/report.xlsx"))), str(tiny / "plain.xlsx")],
        env=bench.env, cwd=tiny)
    shutil.rmtree(tiny)


if __name__ == "__main__":
    sys.exit(main())
