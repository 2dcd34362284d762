"""The tests' fork server (tests/forkserver.py) starts a command as a fresh ``python -m pipeline`` runs
it: the same exit code, the same words on stdout and stderr, in the test's folder, with the test's
environment and stdin; a command killed is seen killed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests import forkserver
from tests.helpers import ROOT, cli, user_env

COMMANDS = [
    ("validate", "recipients.xlsx", "--config", "campaign.toml", "--output", "out"),     # 1: rows to fix
    ("validate", "recipients.xlsx", "--output", "out", "--batch-size", "0"),              # 64: a usage error
    ("validate", "missing.xlsx", "--output", "out"),                                      # 2: no such file
    ("run", "recipients.xlsx", "--config", "campaign.toml", "--target", "simulator", "--output", "out",
     "--ledger", "ledger.sqlite", "--no-wait", "--yes"),
    ("status", "--ledger", "ledger.sqlite"),
    ("--help",),
]


MOMENTS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(,\d{3})?|\d{8}-\d{6}|\b\d+(\.\d+)? s\b")


def _timeless(text: str) -> str:
    """What a command says, its clock's times and durations left out."""
    return MOMENTS.sub("WHEN", text)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_a_command_from_the_fork_server_says_and_ends_as_a_fresh_one(tmp_path, args):
    done = {}
    for how in ("fresh", "forked"):
        folder = tmp_path / how                   # each its own folder, named alike in what they say
        folder.mkdir()
        for name in ("recipients.xlsx", "campaign.toml"):
            shutil.copy(ROOT / "samples" / name, folder / name)
        env = {"XDG_STATE_HOME": str(folder / "state")}
        if how == "fresh":
            done[how] = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=folder, capture_output=True,
                                       text=True, timeout=180, env=user_env(**env), input="")
        else:
            done[how] = cli(*args, cwd=folder, env=env)
    fresh, forked = done["fresh"], done["forked"]
    assert forked.returncode == fresh.returncode, (forked.stderr, fresh.stderr)
    for stream in ("stdout", "stderr"):
        said = [_timeless(getattr(p, stream).replace(str(tmp_path / how), "TMP"))
                for p, how in ((fresh, "fresh"), (forked, "forked"))]
        assert said[0] == said[1], stream
    made = [sorted(_timeless(str(p.relative_to(tmp_path / how))) for p in (tmp_path / how).rglob("*"))
            for how in ("fresh", "forked")]
    assert made[0] == made[1]


def test_the_environment_folder_and_stdin_are_the_commands_own(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    added = cli("users", "add", "ann", "--role", "uploader", "--ledger", ledger, cwd=tmp_path,
                input="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    listed = cli("users", "list", "--ledger", "ledger.sqlite", cwd=tmp_path)      # relative: the test's folder
    assert listed.stdout.split("\t")[:2] == ["ann", "uploader"]
    state = tmp_path / "elsewhere"
    shutil.copy(ROOT / "samples" / "campaign.toml", tmp_path / "campaign.toml")
    cli("validate", ROOT / "samples" / "recipients.xlsx", "--config", "campaign.toml", "--output", "out",
        cwd=tmp_path, env={"XDG_STATE_HOME": str(state)})
    assert (tmp_path / "out").is_dir()
    assert list(state.glob("tango-batch/ledgers/*.catalog-*.json"))      # the catalog kept in the state given


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_command_killed_is_seen_killed_and_another_locale_starts_fresh(tmp_path):
    server = forkserver.popen(["simulate", "--port", "0", "--state", str(tmp_path / "sim.json")], cwd=tmp_path,
                              env=user_env(), stdout=True)
    assert server.stdout is not None and "listening on" in server.stdout.readline()
    assert server.poll() is None
    server.send_signal(signal.SIGKILL)
    assert server.wait(timeout=10) == -signal.SIGKILL
    # a test process gone takes its commands with it (its side of their connections closed)
    orphan = forkserver.popen(["simulate", "--port", "0", "--state", ""], cwd=tmp_path, env=user_env(), stdout=True)
    assert orphan.stdout is not None and "listening on" in orphan.stdout.readline()
    orphan.conn.close()
    deadline = time.monotonic() + 10
    while _alive(orphan.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(orphan.pid)
    # what Python reads as it starts cannot be set in a forked child: such a command starts fresh
    assert not forkserver.can_start(user_env(LC_ALL="C"))
    assert forkserver.can_start(user_env(XDG_STATE_HOME="/nowhere"))
    with pytest.raises(ValueError, match="start a fresh process"):
        forkserver.start(["--help"], cwd=tmp_path, env=user_env(LC_ALL="C"), stdin=0, stdout=1, stderr=2)
    fresh = cli("--help", cwd=tmp_path, env={"LC_ALL": "C"})
    assert fresh.returncode == 0 and "usage: tango-batch" in fresh.stdout


def test_an_ended_commands_pid_stays_its_own_until_its_code_is_read_and_only_the_test_may_connect(tmp_path):
    # a ``poll`` then a signal (as the crash test kills a worker) never reaches another process
    ended = forkserver.popen(["--help"], cwd=tmp_path, env=user_env())
    time.sleep(1.0)
    assert _alive(ended.pid)                                       # ended, not yet reaped: still its pid
    ended.send_signal(signal.SIGKILL)                              # harmless
    assert ended.wait(timeout=10) == 0
    deadline = time.monotonic() + 10
    while _alive(ended.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(ended.pid)
    # the server's socket has a name any user of the machine can see: another process is refused
    probe = ("import json, socket, sys\n"
             "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect('\\0' + sys.argv[1])\n"
             "request = {'args': ['--help'], 'cwd': '/', 'env': {}}\n"
             "try:\n"
             "    socket.send_fds(s, [json.dumps(request).encode()], [0, 1, 2])\n"
             "    s.settimeout(10); answer = s.recv(64)\n"
             "except (BrokenPipeError, ConnectionResetError):\n"
             "    answer = b''\n"
             "print('refused' if answer == b'' else answer)\n")
    other = subprocess.run([sys.executable, "-c", probe, forkserver._address()[1:]], capture_output=True, text=True,
                           timeout=30)
    assert other.stdout.strip() == "refused", other.stdout + other.stderr    # closed, nothing started
