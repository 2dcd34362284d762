"""``tango-batch`` commands started for the tests by forking a process that has imported the pipeline.

Starting ``python -m pipeline`` costs about half a second of CPU before the command does anything,
mostly importing polars; the suite starts hundreds of commands, and that start-up was most of its CPU.
A fork server imports the pipeline once (each test process has its own, started at its first command),
and forks a child for each command: a process of its own, with the test's arguments, working folder,
environment and file descriptors, which runs ``python -m pipeline`` as Python would (``runpy``) and
ends as a process does (its exit code, or the signal that killed it; see ``_run``). Only the import is
shared.

What the import itself does is tested with fresh processes (test_startup, the README's sample in
test_cli); so are commands started in a mount namespace of their own (test_environment). A command's
streams may be a pseudo-terminal (test_confirm): its stdout is then line-buffered, as Python makes it
for a terminal. ``start`` refuses an environment whose locale or Python settings differ from the
server's, which only a fresh interpreter would honour; ``helpers.cli`` starts those fresh.

Protocol, one connection per command: the test sends its arguments, folder and environment (JSON) with
three file descriptors (stdin, stdout, stderr); the server forks a keeper, which forks the command and
answers its pid, then its exit code (``returncode`` as ``subprocess`` gives it) when it ends. When the
test's side of the connection closes first (the test process is gone), the keeper kills the command.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pkgutil
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
import uuid
from importlib import import_module
from pathlib import Path
from typing import IO, Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
# what a command's environment may set otherwise than the server's and still be forked from it: what the
# pipeline reads as it runs (its settings, the state folder, an SMTP password, the time zone: tzset), and
# pytest's own; any other difference (a locale, a setting Python or a library reads as it starts or is
# imported: PYTHON*, LC_*, _RJEM_MALLOC_CONF, PSYCOPG_*...) needs a fresh interpreter
MAY_DIFFER = ("TANGO_", "XDG_STATE_HOME", "SMTP_", "TZ", "PYTEST_")


def at_start(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(MAY_DIFFER)}


# --- the server ------------------------------------------------------------------------------------

def _preload() -> None:
    import pipeline
    for module in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
        if not module.name.endswith("__main__"):
            import_module(module.name)


def _serve(name: str) -> list[str] | None:
    """Answer commands until the test process is gone; in a command's child, return its arguments."""
    _preload()
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)     # a request is one message
    listener.bind("\0" + name)
    listener.listen(16)
    listener.settimeout(1.0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)                    # the keepers are reaped at once
    print("ready", flush=True)
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        # the name of an abstract socket is seen by every user of the machine: only the test process
        # that started this server may have it run a command
        peer, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         struct.calcsize("3i")))
        if peer == parent and os.fork() == 0:                            # the keeper
            listener.close()
            try:
                return _keep(conn)
            except BaseException:                                        # said on the command's stderr
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(70)
        conn.close()
    return None


def _keep(conn: socket.socket) -> list[str] | None:
    conn.settimeout(None)
    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    request = json.loads(message)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:                                                         # the command
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdout.reconfigure(line_buffering=os.isatty(1))    # as Python sets it up for a terminal, or not
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        sys.path[0] = request["cwd"]
        return list(request["args"])
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):                                  # the test may have gone
        conn.sendall(f"{pid}\n".encode())
    # the command's end, or the test's: a test process gone (its side of the connection closed) takes
    # its command with it, where a command it had started itself would live on, an orphan
    try:
        ended = os.pidfd_open(pid)
    except OSError:                                                      # a kernel older than 5.3
        ended = None
    while ended is not None and ended not in select.select([ended, conn], [], [])[0]:
        if _gone(conn):
            os.kill(pid, signal.SIGKILL)
            break
    # its code told while it is not yet reaped: its pid stays its own (a signal the test sends after
    # ``poll`` still finds it, and no other process) until the test has the code and lets go
    ended_as = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    assert ended_as is not None
    code = ended_as.si_status if ended_as.si_code == os.CLD_EXITED else -ended_as.si_status
    with contextlib.suppress(OSError):
        conn.sendall(f"{code}\n".encode())
        while not _gone(conn):
            pass
    os.waitpid(pid, 0)
    os._exit(0)


def _gone(conn: socket.socket) -> bool:
    """Whether the test's side of the connection has closed (it sends nothing after its request)."""
    try:
        return conn.recv(64) == b""
    except OSError:
        return True


# --- the test's side --------------------------------------------------------------------------------

class Started:
    """A command the server started: as much of ``subprocess.Popen`` as the tests use."""

    def __init__(self, conn: socket.socket, args: list[str]) -> None:
        self.conn, self.args, self.returncode = conn, args, None
        self.buffer = b""
        self.pid = int(self._line(None))
        self.stdout: IO[str] | None = None

    def _line(self, timeout: float | None) -> str:
        self.conn.settimeout(timeout)
        while b"\n" not in self.buffer:
            try:
                got = self.conn.recv(64)
            except (TimeoutError, BlockingIOError):                      # BlockingIOError: a poll's
                raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
            if not got:
                raise RuntimeError(f"the fork server's keeper of {self.args} ended without an answer")
            self.buffer += got
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = int(self._line(timeout))
            self.conn.close()
            if self.stdout is not None:
                self.stdout.close()
        return self.returncode

    def poll(self) -> int | None:
        try:
            return self.wait(0.0)
        except subprocess.TimeoutExpired:
            return None

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:                 # not reaped before the test has its code: still its pid
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


_server: dict[str, Any] = {}


def _address() -> str:
    """The server's address (an abstract Unix socket: no file to leave behind), the server started
    first when this process has none yet."""
    if _server.get("pid") != os.getpid():
        name = f"tango-forkserver-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TANGO_")} | {"PYTHONPATH": str(ROOT)}
        process = subprocess.Popen([sys.executable, "-m", "tests.forkserver", name], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None and process.stdout.readline() == "ready\n", "the fork server did not start"
        atexit.register(_stop, process)
        _server.update(pid=os.getpid(), address="\0" + name, at_start=at_start(env))
    return str(_server["address"])


def _stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait()


def can_start(env: dict[str, str]) -> bool:
    """Whether a command with the environment ``env`` can come from the fork server."""
    _address()
    return bool(at_start(env) == _server["at_start"])


def start(args: list[str], *, cwd: Path | str, env: dict[str, str], stdin: int, stdout: int,
          stderr: int) -> Started:
    """``python -m pipeline ARGS`` in ``cwd`` with exactly ``env``, its standard streams on the given
    file descriptors (which the caller keeps and closes)."""
    if not can_start(env):
        raise ValueError("this environment changes what Python reads as it starts: start a fresh process")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(_address())
    request = {"args": args, "cwd": os.path.abspath(cwd), "env": env}
    socket.send_fds(conn, [json.dumps(request).encode()], [stdin, stdout, stderr])
    return Started(conn, args)


def popen(args: list[str], *, cwd: Path | str, env: dict[str, str], stdout: bool = False) -> Started:
    """``start`` with nothing on stdin, stderr thrown away, and stdout ``Started.stdout`` to read from
    (``stdout``) or thrown away."""
    with open(os.devnull, "r+b") as nothing:
        if not stdout:
            return start(args, cwd=cwd, env=env, stdin=nothing.fileno(), stdout=nothing.fileno(),
                         stderr=nothing.fileno())
        read, write = os.pipe()
        try:
            started = start(args, cwd=cwd, env=env, stdin=nothing.fileno(), stdout=write, stderr=nothing.fileno())
        finally:
            os.close(write)
        started.stdout = open(read, encoding="utf-8")  # noqa: SIM115 (the caller's, with the command)
        return started


def _run(args: list[str]) -> NoReturn:
    """The command's child: ``python -m pipeline ARGS``, ended as Python ends (non-daemon threads joined,
    ``atexit`` callbacks, the standard streams flushed, the exit code of ``SystemExit`` or 1 and the
    traceback for an uncaught exception), less the teardown of every module the server imported: it
    took 0.2 s of a child's 0.35 s, more than the import it saves."""
    import runpy
    import threading
    sys.argv = ["-m", *args]
    try:
        runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        if not isinstance(stop.code, int | None):
            print(stop.code, file=sys.stderr)
    except BaseException:                                            # as Python prints it
        sys.excepthook(*sys.exc_info())
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    command = _serve(sys.argv[1])
    if command is None:
        sys.exit(0)
    _run(command)
