"""One measured command in a fresh process: its wall time and its own peak RSS.

On Linux a child's peak RSS starts at its parent's RSS at the fork (exec keeps the high-water
mark), so a command started straight from a benchmark that holds data would be charged for it.
Each command is therefore started by a tiny wrapper (``python -I -S``, about 10 MB, less than any
command measured here) that times it and reads its peak with ``os.wait4`` on that one child: not
``getrusage(RUSAGE_CHILDREN)``, the largest of every child waited for so far. The wrapper and the
command get a session of their own, so a time-out or Ctrl-C ends the command and its children too.
Output goes to temporary files, never to a pipe that could fill and stall the command.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

WRAPPER = """\
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as fh:
    json.dump({"wall_s": wall, "peak_rss_kb": usage.ru_maxrss, "returncode": os.waitstatus_to_exitcode(status)}, fh)
"""


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def isolated_env(tmp: Path) -> dict[str, str]:
    """The environment for a measured command: the state, cache, config and data folders in ``tmp``,
    and no TANGO_* variable, so no run reads or writes the user's ledgers or reaches a real target."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANGO_", "XDG_"))}
    for name in ("STATE", "CACHE", "CONFIG", "DATA"):
        env[f"XDG_{name}_HOME"] = str(tmp / "xdg" / name.lower())
    return env


def run(cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float | None = None) -> Measured:
    """Run ``cmd`` in a fresh process and measure it; past ``timeout`` seconds it is killed."""
    with tempfile.TemporaryDirectory() as scratch, \
            open(Path(scratch) / "out", "w+b") as out, open(Path(scratch) / "err", "w+b") as err:
        result = Path(scratch) / "result.json"
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", WRAPPER, str(result), *cmd], cwd=cwd,
                                env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _kill(proc.pid)

        timer = threading.Timer(timeout, expire) if timeout else None
        try:
            if timer:
                timer.start()
            proc.wait()
        except BaseException:                      # Ctrl-C: the command must not outlive the benchmark
            _kill(proc.pid)
            raise
        finally:
            if timer:
                timer.cancel()
        stdout, stderr = (_text(fh) for fh in (out, err))
        if expired.is_set() or not result.exists():
            return Measured(float(timeout or 0), 0.0, proc.returncode, stdout, stderr, timed_out=expired.is_set())
        figures = json.loads(result.read_text())
    return Measured(figures["wall_s"], figures["peak_rss_kb"] / 1024, figures["returncode"], stdout, stderr)


def _text(fh: BinaryIO) -> str:
    fh.seek(0)
    return fh.read().decode(errors="replace")


def _kill(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
