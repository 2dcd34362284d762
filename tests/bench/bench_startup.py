"""Benchmark (not part of the test run): start-up, what a person waits for on a small job.

Goals on a 2-core machine (issue 12):
- ``tango-batch --help``: <= 0.3 s wall, <= 80 MB peak RSS
- ``tango-batch validate`` of a 5-row .xlsx: <= 0.6 s wall

Each run is a fresh process, measured from outside: its wall time, and its own CPU time and peak RSS
(``os.wait4`` gives each child's resource usage; CPU time depends less on the machine's load than
wall). The package's modules are byte-compiled once by a warm-up run into a cache under the
temporary folder (``PYTHONPYCACHEPREFIX``), as an installed package is, so the figures do not
depend on ``PYTHONDONTWRITEBYTECODE``. Output, state, ledger and the catalog
cache all live in that folder. Run:

    python tests/bench/bench_startup.py [REPEATS] [--against OTHER_CHECKOUT]

``--against`` runs another checkout's ``.venv/bin/tango-batch`` too, interleaved run by run, so the
two are compared under the same load. ``measure(tmp, repeats)`` is what other benchmarks import.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from generate import write_xlsx

GOALS = {"help": (0.3, 80.0), "validate": (0.6, None), "validate_campaign": (0.6, None)}
CAMPAIGN = 'customerIdentifier = "bench-corp"\naccountIdentifier = "bench-acct"\n'


def default_cli() -> list[str]:
    """This environment's ``tango-batch`` (the script beside its Python), else ``python -m pipeline``."""
    script = Path(sys.executable).with_name("tango-batch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline"]


def _cases(tmp: Path) -> dict[str, list[str]]:
    upload = tmp / "five.xlsx"
    if not upload.exists():
        write_xlsx(upload, 5)
        (tmp / "campaign.toml").write_text(CAMPAIGN, encoding="utf-8")
    out = str(tmp / "out")
    return {
        "help": ["--help"],
        "validate": ["validate", str(upload), "--output", out],
        # with a campaign file: the ledger read only and the catalog from its cache (the warm-up fetched it)
        "validate_campaign": ["validate", str(upload), "--config", str(tmp / "campaign.toml"), "--output", out],
    }


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TANGO_BATCH_LEDGER",
                                                            "TANGO_BASE_URL")}
    env.update(XDG_STATE_HOME=str(tmp / "state"), PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
    return env


def _run_once(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MB and exit code of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def _summary(walls: list[float], cpu: list[float], rss: list[float], codes: list[int]) -> dict[str, Any]:
    return {"wall_min_s": min(walls), "wall_median_s": statistics.median(walls), "cpu_min_s": min(cpu),
            "cpu_median_s": statistics.median(cpu), "rss_min_mb": min(rss),
            "rss_median_mb": statistics.median(rss), "rss_max_mb": max(rss), "exit_codes": sorted(set(codes)),
            "runs": len(walls)}


def measure_many(tmp: Path, repeats: int, clis: dict[str, list[str]]) -> dict[str, Any]:
    """Each case of each CLI ``repeats`` times, the CLIs interleaved run by run; per CLI and case,
    min and median wall and peak RSS, and the machine's load average before and after."""
    cases, env = _cases(tmp), _env(tmp)
    load_before = os.getloadavg()
    for cli in clis.values():                  # warm-up: byte-compile, fetch and cache the catalog
        for args in cases.values():
            _run_once([*cli, *args], env)
    raw: dict[str, dict[str, tuple[list[float], list[float], list[float], list[int]]]] = {
        name: {case: ([], [], [], []) for case in cases} for name in clis}
    for _ in range(repeats):
        for case, args in cases.items():
            for name, cli in clis.items():
                wall, cpu, rss, code = _run_once([*cli, *args], env)
                walls, cpus, peaks, codes = raw[name][case]
                walls.append(wall)
                cpus.append(cpu)
                peaks.append(rss)
                codes.append(code)
    result: dict[str, Any] = {name: {case: _summary(*raw[name][case]) for case in cases} for name in clis}
    result["load"] = {"before": load_before, "after": os.getloadavg(), "cpus": os.cpu_count()}
    result["repeats"] = repeats
    return result


def measure(tmp: Path, repeats: int) -> dict[str, Any]:
    """This environment's ``tango-batch``: {"help": {...}, "validate": {...}, "validate_campaign": {...},
    "load": {...}, "repeats": n}, each case with wall_min_s, wall_median_s, cpu_min_s, cpu_median_s,
    rss_min_mb, rss_median_mb, rss_max_mb and exit_codes."""
    many = measure_many(tmp, repeats, {"this": default_cli()})
    return {**many["this"], "load": many["load"], "repeats": repeats}


def show(results: dict[str, Any]) -> None:
    names = [k for k in results if k not in ("load", "repeats")]
    load = results["load"]
    print(f"{results['repeats']} runs each, fresh processes; load average {load['before'][0]:.2f} before, "
          f"{load['after'][0]:.2f} after, on {load['cpus']} CPUs")
    for case, (wall_goal, rss_goal) in GOALS.items():
        goal = f"goal <= {wall_goal} s" + (f", <= {rss_goal:.0f} MB" if rss_goal else "")
        print(f"{case} ({goal}):")
        for name in names:
            r = results[name][case]
            print(f"  {name:>12}: wall min {r['wall_min_s']:.3f} s, median {r['wall_median_s']:.3f} s; "
                  f"CPU median {r['cpu_median_s']:.3f} s; "
                  f"peak RSS median {r['rss_median_mb']:.0f} MB (max {r['rss_max_mb']:.0f}); "
                  f"exit {'/'.join(map(str, r['exit_codes']))}")


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    clis = {"this": default_cli()}
    if "--against" in args:
        at = args.index("--against")
        other = Path(args[at + 1]).resolve()
        del args[at:at + 2]
        clis[other.name] = [str(other / ".venv" / "bin" / "tango-batch")]
    repeats = int(args[0]) if args else 7
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        show(measure_many(Path(tmp), repeats, clis))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
