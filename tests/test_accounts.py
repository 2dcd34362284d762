"""Several Tango accounts in one campaign (issue 13): the campaign file's ``[accounts]`` table, the
sheet's Account column, batches of one account each, funding checked per account, line-item IDs
that never depend on the row's account, and one pace for every account of one set of credentials.

Runs go through ``run_files`` against the in-process simulator, their output, ledger and caches
under the test's ``tmp_path`` (``tests.helpers.run_settings``).
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from pipeline.config import Campaign, CheckSettings, StatusSettings, load_campaign
from pipeline.errors import UsageError
from pipeline.jobs.confirm import about_to_order
from pipeline.jobs.ledger import rebuild
from pipeline.jobs.reports import rewrite_reports
from pipeline.jobs.run import run_files
from pipeline.jobs.template import write_template
from pipeline.jobs.validate import validate_file
from pipeline.ledger import Ledger
from pipeline.simulator import Faults, Simulator, SimulatorTransport
from pipeline.stages.plan import BatchPlan, LineItem, line_item_ids, order_fields, plan_batches
from pipeline.tango import TangoClient
from pipeline.tango.connect import connect
from rules import AccountTable
from tests.helpers import (
    AUTH,
    BOOK,
    TARGET,
    Clock,
    assert_each_once,
    base_row,
    messages,
    quiet,
    report_rows,
    run_settings,
    sim_client,
    statuses,
    write_csv,
)

NAMES = {"Marketing": "acme-marketing", "Sales": "acme-sales"}
CAMPAIGN = Campaign("acme-corp", "acme-rewards", campaign="Q4", path="c.toml", accounts=NAMES)
TABLE = CAMPAIGN.account_table
HEAD = 'customerIdentifier = "acme-corp"\naccountIdentifier = "acme-rewards"\n'


def row(n: int, account: str | None = None) -> dict[str, Any]:
    """An EMAIL row for person ``n``; ``account``: its Account cell (None: the sheet has none)."""
    cells = base_row("EMAIL", First_Name=f"P{n}", Email=f"p{n}@example.com")
    return cells if account is None else {**cells, "Account": account}


def campaign_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaign.toml"
    path.write_text(HEAD + text, encoding="utf-8")
    return path


def run(tmp_path: Path, sim: Simulator, clock: Clock, files: list[Path], client: TangoClient | None = None,
        **kw: Any):
    client = client or sim_client(SimulatorTransport(sim), clock)
    try:
        return run_files([str(f) for f in files], run_settings(tmp_path, **{"campaign": CAMPAIGN, **kw}), quiet(),
                         client)
    finally:
        client.close()


def account_of_lines(sim: Simulator) -> dict[str, str]:
    """externalRefLineItemID -> the accountIdentifier of the order the simulator created it in."""
    return {li["externalRefLineItemID"]: o["accountIdentifier"] for o in sim.orders() for li in o["lineItems"]}


def ids_by_email(result) -> dict[str, str]:
    return {r["Email"]: r["Line item ID"] for r in report_rows(result)}


# --- the campaign file -------------------------------------------------------------------------
def test_the_accounts_table_is_read_and_every_identifier_is_listed_once_sorted(tmp_path):
    path = campaign_file(tmp_path, '[accounts]\n"Marketing" = "acme-marketing"\n"Brand" = "acme-marketing"\n'
                                   '"Sales" = "acme-sales"\n')
    campaign = load_campaign(path, BOOK)
    assert campaign.accounts == {"Marketing": "acme-marketing", "Brand": "acme-marketing", "Sales": "acme-sales"}
    assert campaign.account_identifiers == ("acme-marketing", "acme-rewards", "acme-sales")
    assert campaign.account_table.names_of("acme-marketing") == ("Marketing", "Brand")


def test_without_an_accounts_table_the_campaign_has_its_one_account(tmp_path):
    campaign = load_campaign(campaign_file(tmp_path, ""), BOOK)
    assert campaign.accounts == {} and campaign.account_identifiers == ("acme-rewards",)


@pytest.mark.parametrize(("text", "said"), [
    ('accounts = "acme-marketing"\n', "'accounts' must be a table: [accounts]"),
    ('[accounts]\n"Marketing" = "mk"\n', "accounts.'Marketing' must be a Tango accountIdentifier, 5 to 100 letters, "
                                         "digits or hyphens; got 'mk'"),
    ('[accounts]\n"Marketing" = 12345\n', "accounts.'Marketing' must be a Tango accountIdentifier"),
    ('[accounts]\n"Marketing" = "acme marketing"\n', "accounts.'Marketing' must be a Tango accountIdentifier"),
    ('[accounts]\n"  " = "acme-marketing"\n', "accounts: the name '  ' is empty"),
    ('[accounts]\n"Marketing" = "acme-marketing"\n"marketing " = "acme-sales"\n',
     "accounts: 'Marketing' and 'marketing ' are the same name (case and spaces are ignored); keep one"),
    ('[accounts]\n"Acme-Sales" = "acme-marketing"\n"Sales" = "acme-sales"\n',
     "accounts.'Acme-Sales' is spelled like the accountIdentifier 'acme-sales' of another account"),
    ('[accounts]\n"Marketing" = "ACME-REWARDS"\n',
     "the accountIdentifiers 'ACME-REWARDS' and 'acme-rewards' differ only in case"),
])
def test_a_campaign_file_with_a_wrong_accounts_table_is_refused_naming_the_key(tmp_path, text, said):
    with pytest.raises(UsageError, match="accounts") as caught:
        load_campaign(campaign_file(tmp_path, text), BOOK)
    assert said in str(caught.value)


def test_a_name_may_be_its_own_accounts_identifier(tmp_path):
    campaign = load_campaign(campaign_file(tmp_path, '[accounts]\n"acme-sales" = "acme-sales"\n'), BOOK)
    assert campaign.account_table.resolve(" ACME-Sales ") == "acme-sales"


# --- the Account column ------------------------------------------------------------------------
def test_an_account_cell_names_an_account_whatever_its_case_and_spaces_or_by_its_identifier(check):
    cells = ["Marketing", "  marketing ", "SALES", "Sales  ", "", "acme-sales", "ACME-REWARDS"]
    result = check([row(n, cell) for n, cell in enumerate(cells)], book=BOOK.accounting(TABLE))
    assert result.frame["status"].to_list() == ["VALID"] * len(cells)
    assert result.frame["account"].to_list() == ["acme-marketing", "acme-marketing", "acme-sales", "acme-sales",
                                                 None, "acme-sales", "acme-rewards"]


def test_an_unknown_account_name_makes_the_row_invalid_with_a_message_hr_can_act_on(check):
    result = check([row(0, "Marketting"), row(1, "Sales")], book=BOOK.accounting(TABLE))
    assert result.frame["status"].to_list() == ["INVALID", "VALID"]
    assert messages(result, 0) == [
        "Account 'Marketting' is not an account of this campaign. Known names: Marketing, Sales. Fix the cell, or "
        "add the name under [accounts] in the campaign file (an empty cell orders from the campaign's account "
        "'acme-rewards')."]
    issue = result.issues.filter(result.issues["__idx__"] == 0).row(0, named=True)
    assert issue["field"] == "account" and issue["rule"] == "account.known"


def test_a_long_list_of_names_is_shortened_in_the_message(check):
    table = AccountTable("acme-rewards", {f"Team {n:02}": f"acme-team-{n:02}" for n in range(20)})
    result = check([row(0, "Team 99")], book=BOOK.accounting(table))
    [message] = messages(result, 0)
    assert "Known names: Team 00, Team 01," in message and "Team 11 and 8 more (see [accounts]" in message
    assert "Team 12" not in message


def test_without_an_accounts_table_a_filled_account_cell_is_invalid(check):
    result = check([row(0, "Marketing"), row(1, "")], book=BOOK.accounting(AccountTable("acme-rewards")))
    assert result.frame["status"].to_list() == ["INVALID", "VALID"]
    [message] = messages(result, 0)
    assert message.startswith("Account 'Marketing' names an account, but the campaign file has no [accounts] table.")
    assert "account 'acme-rewards'" in message


def test_without_a_campaign_file_the_account_column_is_not_checked(check):
    result = check([row(0, "Anything")])
    assert result.frame["status"].to_list() == ["VALID"] and result.frame["account"].to_list() == [None]


def test_a_cost_centre_column_is_read_as_the_account_through_columns(tmp_path):
    path = campaign_file(tmp_path, '[columns]\n"Cost Centre" = "account"\n[accounts]\n"Marketing" = "acme-marketing"\n'
                                   '[defaults]\nutid = "U761382"\n')
    settings = CheckSettings(book=BOOK, campaign=load_campaign(path, BOOK), output=tmp_path / "out")
    upload = write_csv(tmp_path / "cc.csv", [{**row(0), "Cost Centre": "marketing"}, {**row(1), "Cost Centre": "R&D"}])
    result = validate_file(upload, settings)
    assert result.validated.frame["account"].to_list() == ["acme-marketing", None]
    assert result.validated.frame["status"].to_list() == ["VALID", "INVALID"]
    assert "Cost Centre 'R&D' is not an account of this campaign" in messages(result.validated, 1)[0]


def test_the_report_shows_the_account_column_and_an_unknown_account_in_red(tmp_path):
    settings = CheckSettings(book=BOOK, campaign=CAMPAIGN, output=tmp_path / "out")
    result = validate_file(write_csv(tmp_path / "r.csv", [row(0, "Sales"), row(1, "Nowhere")]), settings)
    ws = openpyxl.load_workbook(result.paths["report"])["Rows"]
    header = [c.value for c in ws[1]]
    column = header.index("Account") + 1
    good, bad = ws.cell(row=2, column=column), ws.cell(row=3, column=column)
    assert (good.value, bad.value) == ("Sales", "Nowhere")
    assert bad.fill.fgColor.rgb == "FFFFC7CE" and good.fill.fgColor.rgb != "FFFFC7CE"
    assert bad.comment.text.startswith("Account 'Nowhere' is not an account of this campaign")
    assert [r["Status"] for r in report_rows(result.paths["report"])] == ["VALID", "INVALID"]


# --- line-item IDs and batches -----------------------------------------------------------------
def test_line_item_ids_do_not_depend_on_the_rows_account(check):
    book = BOOK.accounting(TABLE)
    named = check([row(0, "Marketing"), row(1, "Sales"), row(2, "")], book=book)
    plain = check([row(0), row(1), row(2)])
    assert line_item_ids(named.frame, CAMPAIGN).to_list() == line_item_ids(plain.frame, CAMPAIGN).to_list()
    # the campaign's default account still makes the ID, as in every ledger written so far
    single = Campaign("acme-corp", "acme-rewards", campaign="Q4")
    assert line_item_ids(plain.frame, single).to_list() == line_item_ids(named.frame, CAMPAIGN).to_list()


def _item(n: int, account: str | None) -> LineItem:
    return LineItem(id=f"L{n:04}", idx=n, row=n + 2, amount=Decimal(25), quantity=1, delivery_method="EMAIL",
                    fields={"externalRefLineItemID": f"L{n:04}"}, account=account)


def test_batches_never_mix_accounts_and_their_refs_are_deterministic_and_distinct():
    order = order_fields(CAMPAIGN)
    plan = BatchPlan(order, 2)
    items = [_item(0, "acme-sales"), _item(1, None), _item(2, "acme-marketing"), _item(3, "acme-rewards"),
             _item(4, "acme-sales"), _item(5, "acme-sales")]
    batches = plan.batches(items)
    assert [(b.order["accountIdentifier"], [m.id for m in b.members]) for b in batches] == [
        ("acme-marketing", ["L0002"]), ("acme-rewards", ["L0001", "L0003"]), ("acme-sales", ["L0000", "L0004"]),
        ("acme-sales", ["L0005"])]
    assert all(b.payload["accountIdentifier"] == b.order["accountIdentifier"] for b in batches)
    assert [b.ref for b in plan.batches(list(reversed(items)))] == [b.ref for b in batches]
    # the default account's batches keep the refs every earlier version gave them
    default = [i for i in items if i.account in (None, "acme-rewards")]
    assert [b.ref for b in plan.batches(default)] == [b.ref for b in plan_batches(default, order, 2)]
    # the same members in another account are another order
    elsewhere = plan.batches([_item(1, "acme-sales"), _item(3, "acme-sales")])
    assert elsewhere[0].ref != batches[1].ref and elsewhere[0].member_key != batches[1].member_key


# --- runs ----------------------------------------------------------------------------------------
def test_two_accounts_in_one_file_go_in_orders_of_one_account_each(tmp_path, sim, clock):
    cells = ["Marketing", "", "sales", "Marketing", "", "Marketing"]
    upload = write_csv(tmp_path / "two.csv", [row(n, cell) for n, cell in enumerate(cells)])
    result = run(tmp_path, sim, clock, [upload], batch_size=2)
    assert result.code == 0 and statuses(result) == ["COMPLETE"] * 6
    orders = sim.orders()
    assert sorted((o["accountIdentifier"], len(o["lineItems"])) for o in orders) == [
        ("acme-marketing", 1), ("acme-marketing", 2), ("acme-rewards", 2), ("acme-sales", 1)]
    expected = {"Marketing": "acme-marketing", "": "acme-rewards", "sales": "acme-sales"}
    where = account_of_lines(sim)
    ids = ids_by_email(result)
    assert {f"p{n}@example.com": where[ids[f"p{n}@example.com"]] for n in range(6)} == {
        f"p{n}@example.com": expected[cell] for n, cell in enumerate(cells)}
    assert all(o["customerIdentifier"] == "acme-corp" for o in orders)
    ledger = Ledger(tmp_path / "out" / "ledger.sqlite", "simulator")
    try:
        recorded = {b.external_ref_id: b.account for b in ledger.batches()}
    finally:
        ledger.close()
    assert recorded == {o["externalRefID"]: o["accountIdentifier"] for o in orders}
    assert_each_once(sim, 6)


def test_a_dry_run_plans_the_payloads_of_each_account(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "dry.csv", [row(0, "Marketing"), row(1, "")])
    result = run(tmp_path, sim, clock, [upload], dry_run=True)
    assert statuses(result) == ["PLANNED", "PLANNED"] and sim.post_attempts() == 0
    planned = [json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "out").glob("dry-run-*/batches/*.json")]
    assert sorted((p["accountIdentifier"], len(p["lineItems"])) for p in planned) == [
        ("acme-marketing", 1), ("acme-rewards", 1)]


def test_funding_is_checked_per_account_and_a_short_one_stops_the_run_naming_it(tmp_path, sim, clock, capsys):
    sim.set_balance("acme-corp", "acme-marketing", 30.0)        # two Marketing rows: $50
    upload = write_csv(tmp_path / "funds.csv", [row(0, "Marketing"), row(1, "Marketing"), row(2, ""), row(3, "Sales")])
    result = run(tmp_path, sim, clock, [upload])
    assert result.code == 3
    assert sim.post_attempts() == 0 and sim.orders() == []
    assert statuses(result) == ["PENDING"] * 4
    said = capsys.readouterr().err
    assert ("insufficient funds: account 'acme-marketing' (Marketing) holds $30.00, the rows to send from it total "
            "$50.00, short by $20.00") in said
    sim.set_balance("acme-corp", "acme-marketing", 50.0)        # topped up: the same command continues
    again = run(tmp_path, sim, clock, [upload])
    assert again.code == 0 and statuses(again) == ["COMPLETE"] * 4
    assert sim.balance("acme-corp", "acme-marketing") == 0.0
    assert_each_once(sim, 4)


class NoSuchAccount(httpx.BaseTransport):
    """Tango answers 404 for one account; the simulator answers the rest."""

    def __init__(self, sim: Simulator, account: str) -> None:
        self.inner, self.path = SimulatorTransport(sim), f"/accounts/{account}"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith(self.path):
            return httpx.Response(404, json={"httpCode": 404, "message": "No such account"})
        return self.inner.handle_request(request)


def test_an_account_tango_does_not_know_is_named_with_its_campaign_name(tmp_path, sim, clock, capsys):
    campaign = Campaign("acme-corp", "acme-rewards", path="c.toml", accounts={"Lab": "acme-lab"})
    upload = write_csv(tmp_path / "lab.csv", [row(0, "Lab"), row(1, "")])
    client = sim_client(NoSuchAccount(sim, "acme-lab"), clock)
    result = run(tmp_path, sim, clock, [upload], client=client, campaign=campaign)
    assert result.code == 3 and sim.post_attempts() == 0
    assert statuses(result) == ["PENDING", "PENDING"]
    assert "Tango does not know account 'acme-lab' (Lab) (404): check [accounts] in the campaign file" in \
        capsys.readouterr().err


def test_an_ordered_row_whose_account_cell_is_corrected_is_not_ordered_again(tmp_path, sim, clock):
    first = run(tmp_path, sim, clock, [write_csv(tmp_path / "v1.csv", [row(0, "Marketing"), row(1, ""),
                                                                       row(2, "Sales")])])
    assert statuses(first) == ["COMPLETE"] * 3
    orders = sim.orders()
    # the person fixes the Account cells of rows already ordered, and uploads the sheet again
    second = run(tmp_path, sim, clock, [write_csv(tmp_path / "v2.csv", [row(0, "Sales"), row(1, "Marketing"),
                                                                        row(2, "")])])
    assert second.code == 0
    assert statuses(second) == ["DUPLICATE"] * 3
    assert all(r["Warnings"].startswith("Already ordered by run 1") for r in report_rows(second))
    assert ids_by_email(second) == ids_by_email(first)
    assert sim.orders() == orders and sim.post_attempts() == 3
    assert_each_once(sim, 3)


def test_orders_of_several_accounts_share_the_one_pace_of_their_credentials(tmp_path, clock, monkeypatch):
    """One set of credentials, one pacer: every call of a run, whatever account it is for, waits on
    the same limiter, so a Tango counting calls per second (1 here) never sees too many."""
    def no_second_client(*args: Any, **kw: Any) -> None:
        raise AssertionError("a client was made for an account")
    monkeypatch.setattr("pipeline.jobs.run.client_for", no_second_client)
    monkeypatch.setattr("pipeline.tango.connect.connect", no_second_client)
    sim = Simulator(None, faults=Faults(tps=1.0), processing_delay=0.0, clock=clock, sleep=clock.sleep)
    answers: list[int | None] = []
    client = TangoClient(TARGET.base_url, AUTH, transport=SimulatorTransport(sim), rate=1.0, sleep=clock.sleep,
                         clock=clock, on_response=lambda method, path, status, rid, outcome: answers.append(status))
    paced: list[float] = []
    wait = client.limiter.wait

    def counted() -> None:
        wait()
        paced.append(clock())
    monkeypatch.setattr(client.limiter, "wait", counted)
    cells = ["Marketing", "Sales", "", "Sales"]
    upload = write_csv(tmp_path / "paced.csv", [row(n, cell) for n, cell in enumerate(cells)])
    result = run(tmp_path, sim, clock, [upload], client=client, batch_size=1)
    assert statuses(result) == ["COMPLETE"] * 4
    assert {o["accountIdentifier"] for o in sim.orders()} == {"acme-marketing", "acme-rewards", "acme-sales"}
    assert 429 not in answers and result.figures["retries"] == 0
    assert len(paced) == len(answers) > 4                # every call, to every account, through the one pacer
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(paced))


def test_one_set_of_credentials_has_one_pacer_in_a_process(tmp_path):
    one = connect(TARGET, simulator_state=tmp_path / "s.json", rate=7.0)
    other = connect(TARGET, simulator_state=tmp_path / "s.json", rate=7.0)
    try:
        assert one.limiter is other.limiter
    finally:
        one.close()
        other.close()


def test_a_new_ledger_checks_every_account_of_the_campaign_and_rebuild_reads_them_all(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "lost.csv", [row(0, "Marketing"), row(1, "Sales")])
    first = run(tmp_path, sim, clock, [upload])
    assert statuses(first) == ["COMPLETE"] * 2
    # another machine, or a lost ledger, and a sheet whose rows order from the campaign's default account,
    # where Tango holds nothing: the orders of the other accounts stop it all the same
    fresh = tmp_path / "fresh" / "ledger.sqlite"
    other = write_csv(tmp_path / "other.csv", [row(7)])
    stopped = run(tmp_path, sim, clock, [other], ledger=fresh)
    assert stopped.code == 3 and statuses(stopped) == ["PENDING"] and sim.post_attempts() == 2
    client = sim_client(SimulatorTransport(sim), clock)
    ledger = Ledger(fresh, "simulator")
    try:
        rebuilt = rebuild(client, ledger, run_settings(tmp_path, campaign=CAMPAIGN, ledger=fresh), quiet())
    finally:
        ledger.close()
        client.close()
    assert (rebuilt.orders, rebuilt.read, rebuilt.line_items) == (2, 2, 2)
    again = run(tmp_path, sim, clock, [upload, other], ledger=fresh)
    assert statuses(again, 0) == ["DUPLICATE"] * 2 and statuses(again, 1) == ["COMPLETE"]
    assert_each_once(sim, 3)


def test_a_report_written_again_later_checks_the_account_cells_as_the_run_did(tmp_path, sim, clock):
    upload = write_csv(tmp_path / "again.csv", [row(0, "Marketing"), row(1, "Nowhere")])
    result = run(tmp_path, sim, clock, [upload])
    assert statuses(result) == ["COMPLETE", "INVALID"]
    ledger = Ledger(tmp_path / "out" / "ledger.sqlite", "simulator")
    try:
        record = ledger.file(result.outcomes[0].sha256 or "")
        assert record is not None and record.campaign["accounts"] == NAMES
        settings = StatusSettings(book=BOOK, target=TARGET, output=tmp_path / "out",
                                  ledger=tmp_path / "out" / "ledger.sqlite")
        assert rewrite_reports(ledger, [record], settings, quiet()) == 1
    finally:
        ledger.close()
    report = Path(str(record.report_folder)) / "report.xlsx"
    assert statuses(report) == ["COMPLETE", "INVALID"]
    ws = openpyxl.load_workbook(report)["Rows"]
    cell = ws.cell(row=3, column=[c.value for c in ws[1]].index("Account") + 1)
    assert cell.fill.fgColor.rgb == "FFFFC7CE" and cell.comment.text.startswith("Account 'Nowhere' is not")


def test_the_confirmation_shows_the_amount_of_each_account(tmp_path):
    upload = write_csv(tmp_path / "ask.csv", [row(0, "Marketing"), row(1, ""), row(2, "Marketing"), row(3, "Nope")])
    order = about_to_order([str(upload)], run_settings(tmp_path, campaign=CAMPAIGN))
    lines = order.lines("the simulator")
    assert order.rows == 3 and order.held_back == 1
    assert "  by account: acme-marketing $50.00, acme-rewards $25.00" in lines
    single = about_to_order([str(write_csv(tmp_path / "one.csv", [row(0)]))], run_settings(tmp_path / "b"))
    assert not any("by account" in line for line in single.lines("the simulator"))


# --- the template --------------------------------------------------------------------------------
def test_the_template_of_a_campaign_with_accounts_has_an_account_dropdown(tmp_path):
    path = write_template(tmp_path / "t.xlsx", BOOK, CAMPAIGN)
    wb = openpyxl.load_workbook(path)
    ws = wb["Recipients"]
    header = [c.value for c in ws[1]]
    assert header[-1] == "Account"
    letter = openpyxl.utils.get_column_letter(len(header))
    [dv] = [dv for dv in ws.data_validations.dataValidation if f"{letter}2:{letter}5001" in str(dv.sqref)]
    sheet, cells = dv.formula1.split("!")
    assert dv.type == "list" and [c.value for r in wb[sheet][cells.replace("$", "")] for c in r] == list(NAMES)
    plain = openpyxl.load_workbook(write_template(tmp_path / "p.xlsx", BOOK, Campaign("acme-corp", "acme-rewards")))
    assert "Account" not in [c.value for c in plain["Recipients"][1]]
