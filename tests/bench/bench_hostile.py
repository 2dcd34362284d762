"""Benchmark (not part of the test run): ``validate`` on hostile uploads (tests/hostile_files.py).

Each case is written into a temporary folder and checked by a fresh ``python -m pipeline validate
FILE --output TMP/out`` (its state and cache folders in the temporary folder too), in a process group
of its own that is killed after ``--timeout`` seconds, or as soon as its resident memory passes
``--max-rss-mb`` (so a file that would fill memory, say a symlink to /dev/zero, cannot take the
machine down with it). Its peak RSS is the kernel's (``os.wait4``), its own.

One line per case: exit code (or TIMEOUT / RSS CAP / -signal), wall seconds, peak MB, whether a
traceback reached stderr, flags, and the first line of stderr that names the file. Flags:
``PII``: personal data of the file on the console; ``ESC``: raw escape or BEL characters on the
console (a terminal would run them); ``FORMULA``: a report or failures workbook holds a formula.

Cases marked heavy run last. Run:
    .venv/bin/python tests/bench/bench_hostile.py [--only NAME...] [--timeout 120] [--max-rss-mb 8192]
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.hostile_files import CASES, LARGE, Case  # noqa: E402

TRACEBACK = b"Traceback (most recent call last)"
# Each file is written by a process of its own: the bench stays small, and a child's peak RSS (which
# on Linux starts at its parent's RSS at the fork) stays the child's own.
MAKE = r"""
import os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.hostile_files import CASES, LARGE
case = next(c for c in CASES + LARGE if c.name == sys.argv[2])
sys.stdout.write(os.fsencode(case.make(Path(sys.argv[3]))).hex())
"""
WIDTH = 100


@dataclass
class Result:
    name: str
    outcome: str                 # the exit code, TIMEOUT, RSS CAP, -SIGNAL or GEN ERROR
    seconds: float = 0.0
    peak_mb: float = 0.0
    traceback: bool = False
    line: str = ""
    flags: list[str] = field(default_factory=list)

    @property
    def problem(self) -> bool:
        return (self.outcome in ("70", "TIMEOUT", "RSS CAP", "GEN ERROR") or self.outcome.startswith("-")
                or self.traceback or self.seconds > 60 or self.peak_mb > 1024 or bool(self.flags))


def shown(text: str, width: int = WIDTH) -> str:
    """``text`` safe for a terminal: control and unpaired surrogate characters escaped, cut to ``width``."""
    safe = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return safe if len(safe) <= width else safe[: width - 1] + "…"


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _wait(pid: int, timeout: float, cap_mb: float) -> tuple[int, float, str | None]:
    """Wait for the child: (wait status, peak RSS MB, why it was killed or None)."""
    deadline = time.monotonic() + timeout
    why = None
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage.ru_maxrss / 1024, None
        if time.monotonic() > deadline:
            why = "TIMEOUT"
        elif cap_mb and _rss_mb(pid) > cap_mb:
            why = "RSS CAP"
        if why:
            break
        time.sleep(0.02)
    os.killpg(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return status, usage.ru_maxrss / 1024, why


def _mentions(stderr: str, path: Path) -> str:
    """The first line of stderr that names the file (its name, or its case folder), else the first line."""
    raw = os.fsencode(path.name).decode("utf-8", "backslashreplace")     # how a name not in UTF-8 is printed
    needles = [path.name, shown(path.name, 10**6), raw, path.parent.name]
    needles += [part for part in path.name.replace("\x1b", "\n").split("\n") if len(part) > 4]
    lines = [line.replace(f"{path.parent}/", "") for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if any(n and n in line for n in needles):
            return shown(line)
    return shown("(no line names the file) " + lines[0]) if lines else ""


def _formulas(out: Path) -> bool:
    """Whether a workbook the run wrote holds a formula (the reports normally hold none)."""
    for book in out.rglob("*.xlsx"):
        if book.stat().st_size > 50 * 2**20:
            continue
        with zipfile.ZipFile(book) as z:
            for name in z.namelist():
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    xml = z.read(name)
                    if b"<f>" in xml or b"<f " in xml:
                        return True
    return False


def _flags(case: Case, console: bytes, out: Path) -> list[str]:
    text = console.decode("utf-8", "replace")
    flags = ["PII"] if any(p in text for p in case.personal) else []
    if b"\x1b" in console or b"\x07" in console:
        flags.append("ESC")
    if out.exists() and _formulas(out):
        flags.append("FORMULA")
    return flags


def run(case: Case, work: Path, args: argparse.Namespace) -> Result:
    """Write the case into ``work`` and validate it in a fresh process."""
    folder = work / case.name
    folder.mkdir(parents=True)
    made = subprocess.run([sys.executable, "-c", MAKE, str(ROOT), case.name, str(folder)], capture_output=True,
                          timeout=60, check=False)
    if made.returncode:
        last = (made.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
        return Result(case.name, "GEN ERROR", line=shown(last))
    path = Path(os.fsdecode(bytes.fromhex(made.stdout.decode())))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANGO_")}
    env.update(XDG_STATE_HOME=str(work / "state"), XDG_CACHE_HOME=str(work / "cache"), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "pipeline", "validate", str(path), "--output", str(work / "out")]
    command += ["--debug"] if args.debug else []
    with open(work / "stdout", "wb") as out, open(work / "stderr", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        status, peak, why = _wait(proc.pid, args.timeout, args.max_rss_mb)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)     # reaped here: Popen must not wait again
    stderr = (work / "stderr").read_bytes()
    console = (work / "stdout").read_bytes() + stderr
    return Result(case.name, why or str(proc.returncode), seconds, peak, TRACEBACK in console,
                  _mentions(stderr.decode("utf-8", "backslashreplace"), path), _flags(case, console, work / "out"))


def _row(cells: list[str]) -> str:
    return f"{cells[0]:<32} {cells[1]:>9} {cells[2]:>7} {cells[3]:>8} {cells[4]:>3} {cells[5]:<11} {cells[6]}"


def report(results: list[Result]) -> None:
    done = [r for r in results if r.outcome != "GEN ERROR"]
    if done:
        slow = max(done, key=lambda r: r.seconds)
        big = max(done, key=lambda r: r.peak_mb)
        print(f"\nworst time:   {slow.seconds:.1f} s ({slow.name})")
        print(f"worst memory: {big.peak_mb:.0f} MB ({big.name})")
    counts = collections.Counter(r.outcome for r in results)
    print("per exit code: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    problems = [r.name for r in results if r.problem]
    print(f"problems ({len(problems)}): " + (", ".join(problems) or "none")
          + "  [exit 70, signal, timeout, RSS cap, traceback, > 60 s, > 1 GB, or a flag]")


def selected(names: list[str] | None) -> list[Case]:
    cases = [c for c in CASES + LARGE if not names or any(fnmatch.fnmatchcase(c.name, n) for n in names)]
    unknown = [n for n in names or [] if not any(fnmatch.fnmatchcase(c.name, n) for c in CASES + LARGE)]
    if unknown:
        raise SystemExit(f"no case named {', '.join(unknown)}; see --list")
    return sorted(cases, key=lambda c: c.heavy)                # stable: the heavy ones last


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--only", nargs="+", metavar="NAME", help="these cases only (shell patterns allowed)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per case (default 120)")
    ap.add_argument("--max-rss-mb", type=float, default=8192.0, help="kill a run above this RSS (0: never)")
    ap.add_argument("--debug", action="store_true", help="pass --debug (tracebacks of internal errors)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and say where it is")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args()
    cases = selected(args.only)
    if args.list:
        for c in cases:
            print(f"{c.name:<32} {'heavy ' if c.heavy else ''}{c.about}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="hostile-"))
    print(f"{len(cases)} cases, timeout {args.timeout:.0f} s, RSS cap {args.max_rss_mb:.0f} MB, in {tmp}")
    print(_row(["case", "exit", "seconds", "peak MB", "tb", "flags", "first stderr line naming the file"]))
    results = []
    try:
        for i, case in enumerate(cases):
            r = run(case, tmp / f"{i:02d}-{case.name}", args)
            results.append(r)
            print(_row([r.name, r.outcome, f"{r.seconds:.1f}", f"{r.peak_mb:.0f}", "yes" if r.traceback else "",
                        ",".join(r.flags), r.line]), flush=True)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    return 1 if any(r.problem for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
