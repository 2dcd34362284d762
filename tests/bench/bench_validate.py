"""Benchmark (not part of the test run): the offline pipeline on large generated uploads.

Goals on a 2-core machine:
- 100,000-row .xlsx through ingest + normalize + validate + report: <= 10 s wall, <= 600 MB peak RSS
- 1,000,000-row .csv through ingest + normalize + validate (no report): <= 15 s wall

Each measured run is a fresh process, so its peak RSS is its own. Run: make bench-stages
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from generate import write_csv, write_xlsx

STAGES = r"""
import json, resource, sys, time, datetime as dt
from pathlib import Path
t0 = time.perf_counter(); marks = {}
import rules
from pipeline.config import load_campaign
from pipeline.stages.ingest import read_sheet
from pipeline.stages.normalize import normalize
from pipeline.stages.validate import validate
from pipeline.stages.report import new_folder, summarize, write_reports
path, out, report = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
book = rules.load()
campaign = load_campaign(sys.argv[4], book)
marks["import"] = time.perf_counter() - t0
t = time.perf_counter(); sheet = read_sheet(path, book); marks["ingest"] = time.perf_counter() - t
t = time.perf_counter(); norm = normalize(sheet, book, campaign.defaults); marks["normalize"] = time.perf_counter() - t
t = time.perf_counter(); v = validate(sheet, norm, dt.date.today(), book); marks["validate"] = time.perf_counter() - t
if report:
    t = time.perf_counter()
    started = dt.datetime.now().astimezone()
    s = summarize(sheet, v, started=started, mode="validate", campaign_path=None)
    write_reports(new_folder(out, sheet.path, started), sheet, v, s)
    marks["report"] = time.perf_counter() - t
marks["rows"] = sheet.frame.height
marks["invalid"] = int((v.frame["status"] == "INVALID").sum())
marks["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(marks))
"""

CAMPAIGN = 'customerIdentifier = "bench-corp"\naccountIdentifier = "bench-acct"\n'


def measure(path: Path, out: Path, campaign: Path, report: bool) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", STAGES, str(path), str(out), "1" if report else "0",
                           str(campaign)], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    marks = json.loads(proc.stdout.strip().splitlines()[-1])
    marks["wall_s"] = wall
    return marks


def show(title: str, marks: dict, wall_goal: float, rss_goal: float | None) -> None:
    stages = ", ".join(f"{k} {marks[k]:.2f} s" for k in ("import", "ingest", "normalize", "validate",
                                                         "report") if k in marks)
    print(f"{title}: {marks['rows']:,} rows ({marks['invalid']:,} invalid)")
    print(f"  wall {marks['wall_s']:.2f} s (goal <= {wall_goal:.0f} s) — {stages}")
    rss = f"  peak RSS {marks['peak_rss_mb']:.0f} MB"
    print(rss + (f" (goal <= {rss_goal:.0f} MB)" if rss_goal else ""))


def main() -> int:
    rows_xlsx = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rows_csv = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        campaign = tmp_path / "campaign.toml"
        campaign.write_text(CAMPAIGN)
        xlsx, csv_path = tmp_path / "big.xlsx", tmp_path / "big.csv"
        t = time.perf_counter()
        write_xlsx(xlsx, rows_xlsx)
        print(f"generated {xlsx.name} in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        write_csv(csv_path, rows_csv)
        print(f"generated {csv_path.name} in {time.perf_counter() - t:.1f} s")
        a = measure(xlsx, tmp_path / "out", campaign, report=True)
        show("xlsx, ingest + normalize + validate + report", a, 10, 600)
        b = measure(csv_path, tmp_path / "out", campaign, report=False)
        show("csv, ingest + normalize + validate (report off)", b, 15, None)
        ok = a["wall_s"] <= 10 and a["peak_rss_mb"] <= 600 and b["wall_s"] <= 15
        print("within goals" if ok else "OUTSIDE GOALS")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
