"""Benchmark (not part of the test run): the HR desk as its users meet it (issue 14's goals).

The desk is started as a person starts it, `tango-batch serve` in a process of its own on a free port
of 127.0.0.1, on the sample campaign with approvals (samples/campaign-desk.toml), against the built-in
simulator, with its ledger, inbox, output and state (XDG_STATE_HOME) in a temporary folder; its users
are added with `tango-batch users add NAME --role ROLE` (the password on stdin). Everything else goes
over real HTTP with httpx, as a browser would: the sign-in page's CSRF token, the upload form.

1. The verdict of a 10,000-row workbook (generated: every delivery method, about 10% bad rows; other
   people each round, so each round is a new file): from the start of the upload's POST until the
   check's progress says done and the file's page shows its counts; ``--repeat`` rounds, min and
   median. Goal: at most 5 s.
2. A 100,000-row workbook uploaded by one person while another (an admin) asks for the other pages
   again and again (the upload page, the account, the approvals, a file's page, the check's progress,
   the sign-in page, a static file), from the start of the upload until its check is done: each
   answer's time, per page count, median, p95 and max. Goal: every answer within 1 s. Also printed:
   how long the 100k check took, the progress its page showed (polled as the page's script polls),
   and the peak RSS of the server and of its worker process (VmHWM, from /proc). Then ``--after``
   rounds of the same pages and of the big file's own page, the file waiting for approval (printed
   for comparison, not a goal).

The verdict's time is the server's (its progress polled every 50 ms); the page's script polls after
0.3 s then every 0.7 s, and when that would have shown the verdict is printed beside it. The
benchmark itself (its two clients, the workbooks written first) runs on the same machine.

The machine's load average is printed before and after. Exit 0 when every goal is met, else 1.

Run: make bench-desk   (python tests/bench/bench_desk.py [--rows N] [--big N] [--repeat K] [--gap S] [--after K])
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fresh import isolated_env
from generate import write_xlsx

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
TANGO_BATCH = Path(sys.executable).with_name("tango-batch")
CAMPAIGN = ROOT / "samples" / "campaign-desk.toml"
PASSWORD = "a benchmark's password, long enough"
UPLOADER, ADMIN = "uma", "ada"
VERDICT_GOAL, PAGE_GOAL = 5.0, 1.0
PAGE_POLL = (0.3, 0.7)          # the page's script (static/desk.js): first poll after 0.3 s, then every 0.7 s
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COUNT = re.compile(r'<dd data-status="([A-Z]+)">(\d+)</dd>')
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- the desk, as a person starts it ----------------------------------------------------------------

@dataclass
class Desk:
    tmp: Path
    env: dict[str, str]
    url: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def ledger(self) -> Path:
        return self.tmp / "ledger.sqlite"

    def command(self, *args: str, stdin: str | None = None) -> None:
        done = subprocess.run([str(TANGO_BATCH), *args], cwd=self.tmp, env=self.env, input=stdin, text=True,
                              capture_output=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"tango-batch {' '.join(args)}: exit {done.returncode}\n{done.stderr}")

    def start(self) -> None:
        (self.tmp / "inbox").mkdir()
        for name, role in ((UPLOADER, "uploader"), (ADMIN, "admin")):
            self.command("users", "add", name, "--role", role, "--ledger", str(self.ledger), stdin=PASSWORD + "\n")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = open(self.tmp / "serve.log", "wb")     # noqa: SIM115 (the server's, for as long as it runs)
        self.process = subprocess.Popen(
            [str(TANGO_BATCH), "serve", "--config", str(CAMPAIGN), "--inbox", str(self.tmp / "inbox"), "--output",
             str(self.tmp / "out"), "--ledger", str(self.ledger), "--target", "simulator", "--port", str(port)],
            cwd=self.tmp, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        self._wait_up()

    def _wait_up(self, seconds: float = 60) -> None:
        assert self.process is not None
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            if self.process.poll() is not None:
                raise RuntimeError(f"the desk stopped: {(self.tmp / 'serve.log').read_text(errors='replace')}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/signin", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the desk did not answer within {seconds} s")

    def stop(self) -> None:
        """SIGTERM (uvicorn stops, the lifespan stops the worker), then its whole session if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def pids(self) -> dict[int, str]:
        """The server and every process under it (its check worker, multiprocessing's resource tracker)."""
        assert self.process is not None
        found, todo = {self.process.pid: "server"}, [self.process.pid]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    for child in map(int, task.read_text().split()):
                        found[child] = _command_of(child)
                        todo.append(child)
        return found


def _command_of(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = b" ".join(argv).decode(errors="replace")
    return "resource tracker" if "resource_tracker" in text else "check worker" if "spawn_main" in text else text[:60]


def status_kb(pid: int, key: str) -> int:
    """VmRSS or VmHWM (the peak RSS) of a process, in kB; 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# --- a person at the desk ------------------------------------------------------------------------------

def signed_in(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=120)
    token = CSRF.search(client.get("/signin").text)
    assert token, "no CSRF token on the sign-in page"
    answer = client.post("/signin", data={"name": name, "password": PASSWORD, "csrf_token": token[1],
                                          "next": "/upload"})
    assert answer.status_code == 303 and answer.headers["location"] == "/upload", answer.text[:300]
    return client


def upload(client: httpx.Client, path: Path) -> str:
    """The upload form, as the page's script posts it; the check's address (``/checks/JOB``)."""
    token = CSRF.search(client.get("/upload").text)
    assert token, "no CSRF token on the upload page"
    with path.open("rb") as fh:
        answer = client.post("/upload", data={"csrf_token": token[1]}, files={"file": (path.name, fh, XLSX)})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/checks/"), answer.text[:500]
    return answer.headers["location"]


def follow(client: httpx.Client, job: str, first: float, every: float, seconds: float = 600) -> list[dict[str, Any]]:
    """The check's progress until it ends, polled after ``first`` s then every ``every`` s: each answer,
    with ``t`` (time.perf_counter()) when it came."""
    seen: list[dict[str, Any]] = []
    time.sleep(first)
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        progress = client.get(f"{job}/progress").json()
        seen.append({**progress, "t": time.perf_counter()})
        if progress["state"] == "done":
            return seen
        if progress["state"] == "failed":
            raise RuntimeError(f"the check of {job} failed: {progress.get('error')}")
        time.sleep(every)
    raise RuntimeError(f"the check of {job} did not end within {seconds} s")


def counts(page: httpx.Response) -> dict[str, int]:
    assert page.status_code == 200 and 'id="verdict-counts"' in page.text, page.text[:500]
    return {status: int(n) for status, n in COUNT.findall(page.text)}


@dataclass
class Verdict:
    post_s: float               # the upload's POST, until its answer (the check handed to a worker)
    done_s: float               # ... until the progress says done
    total_s: float              # ... until the file's page with its counts has come
    page_s: float               # the file's page alone
    shown_s: float              # when the page's own polling (0.3 s, then every 0.7 s) would have shown it
    counts: dict[str, int]
    sha256: str


def verdict(client: httpx.Client, path: Path, poll: float = 0.05) -> Verdict:
    start = time.perf_counter()
    job = upload(client, path)
    posted = time.perf_counter()
    last = follow(client, job, poll, poll)[-1]
    done = last["t"]
    page = client.get(last["url"])
    end = time.perf_counter()
    waited = max(0.0, done - posted - PAGE_POLL[0])
    polls = -(-waited // PAGE_POLL[1])                  # the page's polls until one comes after the check ended
    shown = posted - start + PAGE_POLL[0] + polls * PAGE_POLL[1] + (end - done)
    return Verdict(posted - start, done - start, end - start, end - done, shown, counts(page),
                   last["url"].rsplit("/", 1)[1])


# --- the other pages, while a big file is checked ----------------------------------------------------

@dataclass
class Prober:
    """An admin clicking through the desk, one page after another, ``gap`` s apart, until stopped."""
    client: httpx.Client
    pages: dict[str, str]
    gap: float
    times: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            self.round()

    def round(self) -> None:
        """Each page once (a page without an address yet is left out)."""
        for label, path in self.pages.items():
            if self.stop.is_set():
                return
            if path:
                self.get(label, path)
                time.sleep(self.gap)

    def get(self, label: str, path: str) -> None:
        start = time.perf_counter()
        try:
            answer = self.client.get(path)
            if answer.status_code != 200:
                self.errors.append(f"{path}: {answer.status_code}")
        except httpx.HTTPError as exc:
            self.errors.append(f"{path}: {type(exc).__name__} {exc}")
        self.times.setdefault(label, []).append(time.perf_counter() - start)


@dataclass
class Memory:
    """The RSS of the server and its processes, sampled every ``every`` s; the peak of their sum."""
    desk: Desk
    every: float = 0.1
    peak_kb: int = 0
    peaks: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.sample()

    def sample(self) -> None:
        pids = self.desk.pids()
        self.peak_kb = max(self.peak_kb, sum(status_kb(pid, "VmRSS") for pid in pids))
        for pid, what in pids.items():
            self.peaks[what] = max(self.peaks.get(what, 0), status_kb(pid, "VmHWM"))


@contextlib.contextmanager
def in_thread(target: Any) -> Iterator[None]:
    thread = threading.Thread(target=target.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        target.stop.set()
        thread.join(60)


def big_check(desk: Desk, path: Path, file_page: str, gap: float, after: int) -> dict[str, Any]:
    """Upload ``path`` as the uploader, follow its check as the page does, and probe the other pages
    meanwhile; then ``after`` rounds of them once it is checked, its own file page and progress too."""
    uploader, admin = signed_in(desk.url, UPLOADER), signed_in(desk.url, ADMIN)
    pages = {"/upload": "/upload", "/account": "/account", "/approvals": "/approvals", "/files/{sha256}": file_page,
             "/checks/{job}/progress": "", "/signin": "/signin", "/static/desk.js": "/static/desk.js"}
    prober, memory = Prober(admin, pages, gap), Memory(desk)
    with in_thread(memory):
        start = time.perf_counter()
        job = _upload_probed(uploader, path, prober, pages)
        posted = time.perf_counter()
        with in_thread(prober):
            seen = follow(uploader, job, *PAGE_POLL)
            done = seen[-1]["t"]
        page = _timed(uploader, seen[-1]["url"])
        later = Prober(admin, {**pages, "/files/{sha256} (this file)": seen[-1]["url"]}, gap)
        for _ in range(after):
            later.round()
        memory.sample()
    uploader.close()
    admin.close()
    progress = [f"{p['t'] - start:.1f}s {p['state']}: {p.get('phase') or ''} {p['done']}/{p['total']}" for p in seen]
    return {"post_s": posted - start, "done_s": done - start, "during": prober, "after": later,
            "progress": progress, "page_s": page[0], "counts": page[1], "memory": memory}


def _upload_probed(uploader: httpx.Client, path: Path, prober: Prober, pages: dict[str, str]) -> str:
    """The upload's POST, the other pages probed meanwhile (their progress page: a finished check's)."""
    with in_thread(prober):
        job = upload(uploader, path)
    pages["/checks/{job}/progress"] = f"{job}/progress"
    prober.stop = threading.Event()
    return job


def _timed(client: httpx.Client, path: str) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    page = client.get(path)
    return time.perf_counter() - start, counts(page)


# --- the figures --------------------------------------------------------------------------------------

def mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def show_verdicts(rows: int, results: list[Verdict]) -> bool:
    for n, v in enumerate(results, 1):
        print(f"  round {n}: verdict in {v.total_s:.2f} s (POST answered {v.post_s:.2f} s, check done {v.done_s:.2f} s,"
              f" file page {v.page_s * 1000:.0f} ms; as the page's polling shows it: {v.shown_s:.2f} s) {v.counts}")
    totals = [v.total_s for v in results]
    ok = max(totals) <= VERDICT_GOAL
    print(f"{rows:,}-row upload to its verdict: min {min(totals):.2f} s, median {statistics.median(totals):.2f} s, "
          f"max {max(totals):.2f} s (goal <= {VERDICT_GOAL:g} s): {mark(ok)}; as the page's polling shows it, median "
          f"{statistics.median(v.shown_s for v in results):.2f} s", flush=True)
    return ok


def show_pages(rows: int, big: dict[str, Any]) -> bool:
    print(f"{rows:,}-row upload: POST answered in {big['post_s']:.1f} s, check done {big['done_s']:.1f} s after the "
          f"POST began; its file page {big['page_s'] * 1000:.0f} ms {big['counts']}")
    print("  progress seen by the check page: " + "; ".join(big["progress"]))
    memory: Memory = big["memory"]
    print("  peak RSS: " + ", ".join(f"{what} {kb / 1024:.0f} MB" for what, kb in memory.peaks.items())
          + f"; all together at most {memory.peak_kb / 1024:.0f} MB")
    print(f"  the other pages while it was uploaded and checked ({big['during'].gap:g} s between requests):")
    during = table(big["during"])
    ok = bool(during) and max(during) <= PAGE_GOAL and not big["during"].errors
    print(f"other pages while {rows:,} rows were checked: {len(during)} answers, median "
          f"{statistics.median(during) * 1000:.0f} ms, p95 {pct(during, 0.95) * 1000:.0f} ms, max "
          f"{max(during) * 1000:.0f} ms (goal: every answer <= {PAGE_GOAL:g} s): {mark(ok)}", flush=True)
    if big["after"].times:
        print("  after the check, the file waiting for approval (not a goal; for comparison):")
        after = table(big["after"])
        print(f"  after: {len(after)} answers, max {max(after) * 1000:.0f} ms")
    return ok


def table(prober: Prober) -> list[float]:
    """Each page's count, median, p95 and max; every answer's time."""
    every: list[float] = []
    print(f"    {'page':30} {'count':>6} {'median':>8} {'p95':>8} {'max':>8}")
    for label, times in prober.times.items():
        every += times
        print(f"    {label:30} {len(times):6} {statistics.median(times) * 1000:6.0f}ms "
              f"{pct(times, 0.95) * 1000:6.0f}ms {max(times) * 1000:6.0f}ms")
    if prober.errors:
        print(f"    {len(prober.errors)} answers not 200: {prober.errors[:5]}")
    return every


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the verdict's upload (default 10,000)")
    parser.add_argument("--big", type=int, default=100_000, help="rows of the big upload (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the verdict's upload (default 3)")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between the other pages' requests")
    parser.add_argument("--after", type=int, default=5, help="rounds of the pages once the big file is checked")
    args = parser.parse_args()
    print(f"load average before: {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-desk-") as folder:
        tmp = Path(folder)
        files = [tmp / f"upload-{n + 1}.xlsx" for n in range(args.repeat)]
        for n, path in enumerate(files):
            write_xlsx(path, args.rows, seed=n, first=n * args.rows)
        big_file = tmp / "upload-big.xlsx"
        write_xlsx(big_file, args.big, seed=99, first=args.repeat * args.rows)
        desk = Desk(tmp, isolated_env(tmp))
        try:
            desk.start()
            with contextlib.closing(signed_in(desk.url, UPLOADER)) as client:
                results = [verdict(client, path) for path in files]
            ok = show_verdicts(args.rows, results)
            big = big_check(desk, big_file, f"/files/{results[-1].sha256}", args.gap, args.after)
            ok = show_pages(args.big, big) and ok
        finally:
            desk.stop()
    print(f"load average after: {load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
