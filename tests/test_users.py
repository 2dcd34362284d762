"""``tango-batch users``: the HR desk's people, in the ledger's database (SQLite or PostgreSQL), with
an argon2 hash of their password and never the password itself."""

from __future__ import annotations

import subprocess

import argon2
import pytest

from pipeline.jobs.users import check_password
from pipeline.ledger import Ledger
from pipeline.state import LedgerURL
from tests.helpers import ROOT, cli


def users(*args: str, ledger, stdin: str = "") -> subprocess.CompletedProcess[str]:
    where = ledger.url if isinstance(ledger, LedgerURL) else str(ledger)
    return cli("users", *args, "--ledger", where, cwd=ROOT, input=stdin)


def test_users_are_added_listed_and_disabled_with_only_a_hash_kept(backend):
    added = users("add", "ann.lee", "--role", "uploader", ledger=backend, stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert "user ann.lee (uploader) added" in added.stderr and "correct horse" not in added.stderr + added.stdout
    assert users("add", "bea", "--role", "approver", ledger=backend, stdin="another long one\n").returncode == 0
    listed = users("list", ledger=backend)
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [
        ["ann.lee", "uploader", "active"], ["bea", "approver", "active"]]
    ledger = Ledger(backend, "")
    try:
        ann = ledger.user("ann.lee")
        assert ann is not None and ann.password_hash.startswith("$argon2id$")
        # argon2's recommended parameters (the tests' own desks use its cheapest: see conftest)
        assert argon2.extract_parameters(ann.password_hash) == argon2.profiles.RFC_9106_LOW_MEMORY
        assert "correct horse" not in ann.password_hash
        assert check_password(ann, "correct horse battery") and not check_password(ann, "correct horse")
        assert not check_password(None, "correct horse battery")
    finally:
        ledger.close()
    assert users("disable", "ann.lee", ledger=backend).returncode == 0
    assert users("list", ledger=backend).stdout.splitlines()[0].split("\t")[2] == "disabled"
    assert users("enable", "ann.lee", ledger=backend).returncode == 0
    assert users("list", ledger=backend).stdout.splitlines()[0].split("\t")[2] == "active"


@pytest.mark.parametrize(("args", "stdin", "said"), [
    (("add", "cid", "--role", "uploader"), "short\n", "at least 10 characters"),
    (("add", "../etc", "--role", "uploader"), "long enough pass\n", "letters, digits"),
    (("add", "cid", "--role", "owner"), "long enough pass\n", "invalid choice"),
    (("disable", "nobody-here"), "", "no user 'nobody-here'"),
])
def test_what_users_refuses(tmp_path, args, stdin, said):
    done = users(*args, ledger=tmp_path / "l.sqlite", stdin=stdin)
    assert done.returncode == 64 and said in done.stderr


def test_a_name_is_taken_once(tmp_path):
    ledger = tmp_path / "l.sqlite"
    assert users("add", "cid", "--role", "admin", ledger=ledger, stdin="long enough pass\n").returncode == 0
    again = users("add", "cid", "--role", "uploader", ledger=ledger, stdin="long enough pass\n")
    assert again.returncode == 64 and "there is a user 'cid' already" in again.stderr
