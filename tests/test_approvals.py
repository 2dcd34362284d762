"""The night obeys the HR desk's approvals (``require_approval = true``): only approved files are run,
only as approved (the same content, no more lines, no larger total); a rejected file moves out with
the reason; an admin's approval over ``max_run_amount`` is its override, while ``run`` by hand still
stops; ``run`` by hand is an operator's act, recorded as such. And who may approve: never the file's
own uploader, unless a one-person team says so; an admin above the limit; never a disabled user.

Against the in-process simulator, on an SQLite and a PostgreSQL ledger (the ``backend`` fixture)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.approvals import why_not
from pipeline.ledger import Ledger
from pipeline.ledger.desk import Decision, UserRecord
from tests.helpers import (
    CAMPAIGN,
    assert_each_once,
    ledger_of,
    nightly_on,
    people,
    run_on,
    run_settings,
    statuses,
    write_csv,
)

pytestmark = pytest.mark.usefixtures("backend")     # each test on an SQLite and a PostgreSQL ledger

APPROVING = dataclasses.replace(CAMPAIGN, require_approval=True)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decide(tmp_path: Path, path: Path, decision: str = "approved", *, total: str = "75", lines: int = 3,
           by: str = "bea", role: str = "approver", over_limit: bool = False, reason: str | None = None) -> None:
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    try:
        ledger.decide(Decision(sha(path), decision, by, role, dt.datetime.now(dt.UTC).isoformat(), Decimal(total),
                               lines, reason, over_limit))
    finally:
        ledger.close()


def history(tmp_path: Path, path_or_sha: Path | str) -> list[tuple[str, str | None]]:
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    try:
        key = path_or_sha if isinstance(path_or_sha, str) else sha(path_or_sha)
        return [(e.event, e.actor) for e in ledger.file_events(key)]
    finally:
        ledger.close()


def night(tmp_path, inbox, sim, clock, campaign=APPROVING, **kw):
    return nightly_on(sim, clock, inbox, run_settings(tmp_path, campaign=campaign, **kw))


def test_the_night_runs_only_approved_files_and_leaves_the_others_waiting(tmp_path, inbox, sim, clock, capsys):
    approved = write_csv(inbox / "approved.csv", people(3))             # 3 rows of $25
    waiting = write_csv(inbox / "waiting.csv", people(2, Last_Name="Other"))
    rejected = write_csv(inbox / "rejected.csv", people(2, Last_Name="Third"))
    decide(tmp_path, approved)
    decide(tmp_path, rejected, "rejected", reason="wrong cost centre")
    result = night(tmp_path, inbox, sim, clock)
    err = capsys.readouterr().err
    assert [Path(o.path).name for o in result.outcomes] == ["approved.csv"]
    assert statuses(result) == ["COMPLETE"] * 3
    assert_each_once(sim, 3)                                          # nothing of the others was sent
    assert waiting.exists() and "waiting.csv: waiting for approval" in err
    moved = inbox / "rejected" / "rejected.csv"
    assert moved.exists() and "wrong cost centre" in moved.with_name("rejected.csv.why.txt").read_text()
    assert (inbox / "processed" / "approved.csv").exists()
    assert history(tmp_path, moved) == [("rejected", "bea")]
    events = history(tmp_path, inbox / "processed" / "approved.csv")
    assert events == [("approved", "bea"), ("sent", "nightly"), ("done", None)]


def test_without_require_approval_the_night_runs_everything_as_before(tmp_path, inbox, sim, clock):
    write_csv(inbox / "a.csv", people(2))
    result = night(tmp_path, inbox, sim, clock, campaign=CAMPAIGN)
    assert statuses(result) == ["COMPLETE"] * 2


def test_a_file_changed_after_its_approval_waits_for_approval_again(tmp_path, inbox, sim, clock):
    path = write_csv(inbox / "march.csv", people(3))
    decide(tmp_path, path)
    write_csv(path, people(4))                                       # one more row, after the approval
    result = night(tmp_path, inbox, sim, clock)
    assert result.outcomes == [] and path.exists()
    assert sim.post_attempts() == 0


def test_the_night_never_sends_more_than_was_approved(tmp_path, inbox, sim, clock, capsys):
    """The same content, but tonight more of it would be sent than the approver saw (say a row that
    was a duplicate then is not now): held, nothing sent, approval asked again."""
    path = write_csv(inbox / "more.csv", people(3))
    decide(tmp_path, path, total="50", lines=2)
    result = night(tmp_path, inbox, sim, clock)
    assert sim.post_attempts() == 0
    assert statuses(result) == ["PENDING"] * 3 and path.exists()    # recorded, not sent, still in the inbox
    assert "more than approved (2 lines for $50.00)" in capsys.readouterr().err
    assert ("held", "nightly") in history(tmp_path, path)


def test_an_admins_approval_over_the_limit_is_the_override_and_run_by_hand_still_stops(tmp_path, inbox, sim,
                                                                                    clock):
    capped = dataclasses.replace(APPROVING, max_run_amount=Decimal(50))
    path = write_csv(inbox / "big.csv", people(3))                   # $75: over the $50 limit
    decide(tmp_path, path, by="ada", role="admin", over_limit=True)
    other = write_csv(tmp_path / "by-hand.csv", people(3, Last_Name="Hand"))
    by_hand = run_on(sim, clock, [other], run_settings(tmp_path, campaign=capped))
    assert by_hand.code == 3 and sim.post_attempts() == 0            # the command line still stops
    result = night(tmp_path, inbox, sim, clock, campaign=capped)
    assert statuses(result) == ["COMPLETE"] * 3
    assert_each_once(sim, 3)


def test_run_by_hand_is_an_operators_act_and_recorded_as_such(tmp_path, sim, clock):
    path = write_csv(tmp_path / "hand.csv", people(2))
    result = run_on(sim, clock, [path], run_settings(tmp_path, campaign=APPROVING))
    assert statuses(result) == ["COMPLETE"] * 2                       # require_approval binds the night only
    [(event, actor), done] = history(tmp_path, path)
    assert event == "sent" and actor is not None and actor.endswith("(tango-batch run, by hand)")
    assert done == ("done", None)


# --- who may approve ------------------------------------------------------------------------------------

def user(name: str, role: str, disabled: bool = False) -> UserRecord:
    return UserRecord(name, role, "hash", disabled, "2026-12-02")


def test_who_may_approve():
    capped = dataclasses.replace(CAMPAIGN, max_run_amount=Decimal(100))
    assert why_not(user("bea", "approver"), "ann", Decimal(50), capped) is None
    assert "only approvers and admins" in why_not(user("ann", "uploader"), "bob", Decimal(50), capped)
    assert "nobody approves a file they uploaded" in why_not(user("bea", "approver"), "bea", Decimal(50), capped)
    assert "nobody approves a file they uploaded" in why_not(user("ada", "admin"), "ada", Decimal(50), capped)
    single = dataclasses.replace(capped, approvals="single")
    assert why_not(user("bea", "approver"), "bea", Decimal(50), single) is None
    assert "needs an admin's approval" in why_not(user("bea", "approver"), "ann", Decimal(150), capped)
    assert why_not(user("ada", "admin"), "ann", Decimal(150), capped) is None
    assert "disabled" in why_not(user("bea", "approver", disabled=True), "ann", Decimal(50), capped)
    assert why_not(user("bea", "approver"), None, Decimal(50), capped) is None      # from the inbox folder


def test_a_run_stopped_before_sending_records_no_sent_and_the_file_can_still_be_decided(tmp_path, sim, clock):
    """max_run_amount stops a run by hand before anything goes out: its history says nothing was sent,
    so the desk still offers the file for a decision (a "sent" would have taken it off for good)."""
    capped = dataclasses.replace(APPROVING, max_run_amount=Decimal(1))
    path = write_csv(tmp_path / "stopped.csv", people(2))
    result = run_on(sim, clock, [path], run_settings(tmp_path, campaign=capped))
    assert result.code == 3 and sim.post_attempts() == 0
    assert [e for e, _ in history(tmp_path, path)] == []


def test_two_decisions_at_once_the_first_wins_and_the_second_records_nothing(tmp_path):
    """Two approvers press at the same moment: the first decision is recorded; the second finds one
    there and records nothing (the page then says someone decided a moment ago). A held file's new
    decision replaces only the decision it was made against."""
    def made(by: str, what: str = "approved") -> Decision:
        return Decision("f" * 64, what, by, "approver", dt.datetime.now(dt.UTC).isoformat(), Decimal(75), 3, None,
                        False)
    ledger = Ledger(ledger_of(tmp_path), "simulator")
    try:
        first = made("bea")
        assert ledger.decide(first) is True
        assert ledger.decide(made("ann", "rejected")) is False
        assert ledger.decision("f" * 64).by_user == "bea"
        again = made("ada")
        assert ledger.decide(again, replacing=first) is True
        assert ledger.decide(made("cid"), replacing=first) is False                # made against a stale one
        assert ledger.decision("f" * 64).by_user == "ada"
        assert [(e.event, e.actor) for e in ledger.file_events("f" * 64)] == [("approved", "bea"), ("approved", "ada")]
    finally:
        ledger.close()
