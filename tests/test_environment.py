"""A hostile machine: a read-only or full output disk, a ledger locked by another program, a ledger
that is read-only, a folder, not a database, cut off or emptied, a campaign file that is not
UTF-8, a target URL with credentials in it. Each has its exit code and a message naming the path
and what to do; none is an "internal error", none prints a traceback, and nothing recorded is lost.

Tests run as root, for whom a folder made read-only with chmod is still writable: the read-only and
the full disks here are real file systems (tmpfs), mounted for one command only, in a mount
namespace of its own (``unshare``), which vanishes with the command.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import base_row, cli, created, people, user_env, write_csv

CAMPAIGN = 'customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n'


def cli_mounted(*args: object, cwd: Path, mounts: list[str], env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``tango-batch ARGS`` after the shell commands ``mounts``, in a mount namespace of its own."""
    script = " && ".join([*mounts, 'exec "$@"'])
    command = ["unshare", "--mount", "--map-root-user", "--propagation", "private", "sh", "-c", script, "sh",
               sys.executable, "-m", "pipeline", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180, env=user_env(**(env or {})))


def read_only(folder: Path) -> list[str]:
    """Shell commands that make ``folder`` (as it is) read-only for the command."""
    return [f"mount --bind '{folder}' '{folder}'", f"mount -o remount,bind,ro '{folder}'"]


def tiny(folder: Path, kilobytes: int) -> list[str]:
    """Shell commands that put an empty file system of ``kilobytes`` at ``folder`` for the command."""
    return [f"mkdir -p '{folder}'", f"mount -t tmpfs -o size={kilobytes}k tmpfs '{folder}'"]


def calm(done: subprocess.CompletedProcess[str]) -> str:
    """The command's console, asserted free of tracebacks and internal errors."""
    text = done.stdout + done.stderr
    assert "Traceback" not in text and "internal error" not in text, text
    return text


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "c.toml").write_text(CAMPAIGN)
    write_csv(tmp_path / "upload.csv", people(3))
    return tmp_path


# --- the output folder -------------------------------------------------------------------------
def test_output_on_a_read_only_disk_stops_with_exit_3_before_anything_is_sent(folder, tango):
    (folder / "out").mkdir()
    done = cli_mounted("run", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out",
                       "--ledger", folder / "ledger.sqlite", "--no-wait", cwd=folder, mounts=read_only(folder / "out"))
    text = calm(done)
    assert done.returncode == 3, text
    assert "the run stopped; nothing already recorded was lost" in text and "read-only" in text
    assert str(folder / "out") in text and "--output" in text
    assert created(tango) == {}
    done = cli_mounted("validate", "upload.csv", "--output", "out", cwd=folder, mounts=read_only(folder / "out"))
    assert done.returncode == 3 and "read-only" in calm(done)


def test_a_full_output_disk_stops_the_reports_with_exit_3_and_a_rerun_finishes_them(folder, tango):
    """The orders went out and are recorded; the reports could not be written. The rerun elsewhere
    sends nothing again and writes them."""
    out = folder / "out"
    fill = f"head -c $(( $(stat -f -c '%a*%S' '{out}') - 12288 )) /dev/zero > '{out}/filler'"
    done = cli_mounted("run", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out",
                       "--ledger", folder / "ledger.sqlite", "--no-wait", cwd=folder,
                       mounts=[*tiny(out, 256), fill])
    text = calm(done)
    assert done.returncode == 3, text
    assert "the disk is full" in text and "nothing already recorded was lost" in text
    assert sum(created(tango).values()) == 3
    again = cli("run", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out2",
                "--ledger", folder / "ledger.sqlite", "--no-wait", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert sum(created(tango).values()) == 3 and list((folder / "out2").glob("upload-*/report.xlsx"))


def test_a_log_file_that_cannot_be_written_is_said_once_and_the_run_goes_on(folder, tango):
    """The disk fills up from the start: the log says once that it goes on the console only; the
    orders are sent and recorded; the reports cannot be written (exit 3)."""
    out = folder / "out"
    prepare = [*tiny(out, 64), f"mkdir '{out}/logs'", f"head -c $(( $(stat -f -c '%a*%S' '{out}') )) /dev/zero "
               f"> '{out}/filler' || true"]
    done = cli_mounted("run", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out",
                       "--ledger", folder / "ledger.sqlite", "--no-wait", cwd=folder, mounts=prepare)
    text = calm(done)
    assert done.returncode == 3, text
    assert text.count("cannot be written (") >= 1 and "the log goes on on the console only" in text
    assert text.count("the log goes on on the console only") == 1
    assert sum(created(tango).values()) == 3


def test_output_under_a_file_is_exit_3_naming_it(folder):
    (folder / "plain").write_text("a file, not a folder")
    done = cli("validate", "upload.csv", "--output", folder / "plain" / "out", cwd=folder)
    text = calm(done)
    assert done.returncode == 3 and "not a folder" in text and "plain" in text, text


# --- the ledger --------------------------------------------------------------------------------
def a_ledger(folder: Path, tango: str) -> Path:
    """A ledger with the three rows of upload.csv ordered, in a folder of its own."""
    ledger = folder / "ledgers" / "ledger.sqlite"
    done = cli("run", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out", "--ledger", ledger,
               "--no-wait", cwd=folder)
    assert done.returncode == 0, done.stderr
    return ledger


def test_a_ledger_locked_by_another_program_is_exit_75_after_a_few_seconds(folder, tango):
    ledger = a_ledger(folder, tango)
    holder = sqlite3.connect(ledger, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        done = cli("run", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out",
                   "--ledger", ledger, "--no-wait", cwd=folder)
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    text = calm(done)
    assert done.returncode == 75, text
    assert f"the ledger {ledger} is locked by another program (waited 5 s)" in text
    assert took < 30
    assert sum(created(tango).values()) == 3


@pytest.mark.parametrize("damage, said", [
    ("garbage", "is not a readable ledger (file is not a database)"),
    ("cut", "is damaged"),
    ("empty", "is empty (0 bytes)"),
    ("folder", "is a folder, not a file"),
])
def test_a_damaged_ledger_is_exit_3_naming_it_and_the_way_back(folder, tango, damage, said):
    ledger = a_ledger(folder, tango)
    content = ledger.read_bytes()
    if damage == "garbage":
        ledger.write_bytes(os.urandom(8192))
    elif damage == "cut":
        assert len(content) > 8192
        ledger.write_bytes(content[: len(content) // 2])
    elif damage == "empty":
        ledger.write_bytes(b"")
    else:
        ledger.unlink()
        ledger.mkdir()
    kept = ledger.read_bytes() if ledger.is_file() else None
    for command in (["run", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out", "--no-wait"],
                    ["validate", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out"],
                    ["status", "--config", "c.toml", "--target", tango, "--output", "out"]):
        done = cli(*command, "--ledger", ledger, cwd=folder)
        text = calm(done)
        assert done.returncode == 3, (command, text)
        assert f"the ledger {ledger} {said}" in text, text
        if damage != "folder":
            assert "ledger rebuild" in text and "Keep a copy" in text
    assert sum(created(tango).values()) == 3                      # nothing sent again
    assert (ledger.read_bytes() if ledger.is_file() else None) == kept        # nor the ledger touched


def test_a_ledger_on_a_read_only_disk_is_exit_3_and_nothing_is_sent(folder, tango):
    ledger = a_ledger(folder, tango)
    write_csv(folder / "more.csv", [base_row("EMAIL", Email=f"q{i}@example.com") for i in range(2)])
    done = cli_mounted("run", "more.csv", "--config", "c.toml", "--target", tango, "--output", "out",
                       "--ledger", ledger, "--no-wait", cwd=folder, mounts=read_only(ledger.parent))
    text = calm(done)
    assert done.returncode == 3, text
    assert f"the ledger {ledger} cannot be used" in text and "read-only" in text
    assert sum(created(tango).values()) == 3


def test_a_new_ledger_is_never_left_empty(folder):
    """A ledger is made whole beside its place and moved in: an empty file is always damage."""
    done = cli("validate", "upload.csv", "--config", "c.toml", "--output", "out", cwd=folder)
    assert done.returncode == 0
    from pipeline.ledger import Ledger
    ledger = Ledger(folder / "new" / "ledger.sqlite", "simulator")
    ledger.close()
    assert (folder / "new" / "ledger.sqlite").stat().st_size > 0
    assert [p.name for p in (folder / "new").iterdir() if p.name.startswith(".")] == []


# --- the command line --------------------------------------------------------------------------
def test_a_campaign_file_that_is_not_utf8_or_not_a_file_is_exit_64(folder):
    (folder / "latin.toml").write_bytes('customerIdentifier = "caf\xe9-corp"\n'.encode("latin-1"))
    done = cli("validate", "upload.csv", "--config", "latin.toml", "--output", "out", cwd=folder)
    assert done.returncode == 64 and "latin.toml: the campaign file is not UTF-8 text" in calm(done)
    os.mkfifo(folder / "pipe.toml")
    done = cli("validate", "upload.csv", "--config", "pipe.toml", "--output", "out", cwd=folder)
    assert done.returncode == 64 and "pipe.toml: this is a named pipe, not a file" in calm(done)


def test_a_target_url_with_credentials_is_refused_and_never_stored(folder, tango):
    with_credentials = tango.replace("http://", "http://user:pass@")
    ledger = folder / "ledger.sqlite"
    for command in ("run", "validate"):
        done = cli(command, "upload.csv", "--config", "c.toml", "--target", with_credentials, "--output", "out",
                   "--ledger", ledger, cwd=folder)
        text = calm(done)
        assert done.returncode == 64, text
        assert "TANGO_PLATFORM_NAME / TANGO_PLATFORM_KEY" in text and "user:pass" not in text
    assert not ledger.exists() and created(tango) == {}


def test_an_unreadable_file_in_the_inbox_is_rejected_and_the_others_go_on(folder, tango):
    """As root every file is readable: the nightly run here has its file-permission override
    dropped (setpriv), as a service account has."""
    inbox = folder / "inbox"
    inbox.mkdir()
    write_csv(inbox / "a.csv", people(2))
    write_csv(inbox / "b.csv", [base_row("EMAIL", Email="bo@example.com")]).chmod(0)
    done = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable, "-m",
                           "pipeline", "nightly", "--inbox", str(inbox), "--config", "c.toml", "--target", tango,
                           "--output", "out", "--ledger", str(folder / "ledger.sqlite"), "--no-wait"],
                          cwd=folder, capture_output=True, text=True, timeout=180, env=user_env())
    text = calm(done)
    assert done.returncode == 2, text
    assert (inbox / "processed" / "a.csv").exists() and sum(created(tango).values()) == 2
    note = (inbox / "rejected" / "b.csv.why.txt").read_text()
    assert "permission denied: the pipeline may not read this file" in note


def test_validate_reads_a_ledger_on_read_only_media(folder, tango):
    """validate only reads the ledger: on a read-only disk it gives its verdict (the rows ordered
    before are DUPLICATE), it does not stop."""
    ledger = a_ledger(folder, tango)
    done = cli_mounted("validate", "upload.csv", "--config", "c.toml", "--target", tango, "--output", "out",
                       "--ledger", ledger, cwd=folder, mounts=read_only(ledger.parent))
    text = calm(done)
    assert done.returncode == 0 and "3 DUPLICATE" in text, text


def test_a_ledger_that_is_a_named_pipe_is_refused_at_once(folder):
    os.mkfifo(folder / "pipe.sqlite")
    for command in ("validate", "status"):
        args = ["upload.csv", "--output", "out"] if command == "validate" else ["--output", "out"]
        done = cli(command, *args, "--config", "c.toml", "--ledger", folder / "pipe.sqlite", cwd=folder)
        assert done.returncode == 3 and "is a named pipe, not a file" in calm(done), done.stderr


def test_a_bug_met_in_the_ledger_is_not_called_damage():
    """An IntegrityError is the program's fault, not the file's: it stays a bug (exit 70)."""
    import sqlite3 as sql

    from pipeline.ledger.opening import failures_of
    with pytest.raises(sql.IntegrityError), failures_of(Path("ledger.sqlite")):
        raise sql.IntegrityError("UNIQUE constraint failed")
