"""``tango-batch template``: a blank workbook to start from, in the shape the reader knows best.

- **Recipients**: the canonical headers (the rule data's labels), each with an input message saying
  what goes there and for which delivery methods it is required; dropdowns for delivery method,
  shipping method, state or province, country and, with a campaign, its rewards (from the catalog,
  cached beside the ledger) and, with a campaign that has ``[accounts]``, an Account column whose
  dropdown holds their names; text format for ZIP, phone and ID columns so Excel keeps their zeros;
  number and date formats for amount, quantity and delivery date. It starts empty: nothing in the
  template is ever ordered.
- **Instructions**: how to fill it, what each delivery method needs (from the rules), two example
  rows, the campaign's defaults.
- **Lists** (hidden): the values of the dropdowns.

The template carries ``TEMPLATE_MARKER``, naming its own sheets: the reader skips them, unsaid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from pipeline.config import Campaign
from pipeline.model import TEMPLATE_MARKER
from pipeline.stages.preflight import Catalog
from rules import ACCOUNT, RuleBook

__all__ = ["DATA_SHEET", "FIELDS", "required_for", "write_template"]

DATA_SHEET, INSTRUCTIONS, LISTS = "Recipients", "Instructions", "Lists"
ROWS = 5000                   # rows the dropdowns and formats cover
# the columns of the template, in order, and what each holds (its input message, with where it is required)
FIELDS = {
    "firstName": "The recipient's first name.",
    "lastName": "The recipient's last name.",
    "email": "The recipient's e-mail address.",
    "mobileNumber": "A mobile number: (415) 555-2671 or +14155552671.",
    "deliveryMethod": "How the reward is delivered: pick from the list.",
    "utid": "The reward's ID (UTID) in your Tango catalog: pick from the list.",
    "amount": "The reward's face value in dollars, such as 25 or 25.50.",
    "quantity": "How many rewards on this line: 1, or more for BULKDIGITAL and BULKSHIPMENT.",
    "companyName": "The company, for a mailed reward.",
    "streetLine1": "Street address, for a mailed reward.",
    "streetLine2": "Apartment, suite, floor (optional).",
    "city": "City, for a mailed reward.",
    "stateOrProvince": "US state or Canadian province: pick its 2-letter code.",
    "postalCode": "ZIP or postal code (kept as text, with its leading zeros).",
    "country": "2-letter country code: pick from the list (US, CA...).",
    "shippingMethod": "For a mailed reward: the shipping method, from the list.",
    "message": "A message to the recipient (optional).",
    "deliveryDate": "Send later: the date, such as 2027-01-15 (optional).",
    "externalRefLineItemID": "Your own reference for the row (optional; give one to send the same reward "
                             "twice to one person).",
}
ACCOUNT_NOTE = ("The account the reward is paid from: pick a name from the list. Leave it empty for the campaign's "
                "account.")
TEXT_FIELDS = {"mobileNumber", "postalCode", "utid", "externalRefLineItemID", "firstName", "lastName", "email"}
EXAMPLES = [
    {"firstName": "Ann", "lastName": "Lee", "email": "ann.lee@example.com", "deliveryMethod": "EMAIL",
     "amount": "25", "quantity": "1", "message": "Thank you for a great year!"},
    {"firstName": "Bob", "lastName": "Ng", "deliveryMethod": "ADDRESS", "amount": "50", "quantity": "1",
     "streetLine1": "1 Main St", "city": "Boston", "stateOrProvince": "MA", "postalCode": "02134",
     "country": "US", "shippingMethod": "usps1stclass"},
]


def required_for(book: RuleBook) -> dict[str, list[str]]:
    """Field -> the delivery methods for which the rules require it."""
    out: dict[str, list[str]] = {}
    for rule in book.rules:
        if rule.kind != "required" or rule.form not in (None, book.shipping_form):
            continue
        methods = list(rule.methods) if rule.methods is not None else list(book.methods)
        out.setdefault(rule.field, [])
        out[rule.field] += [m for m in methods if m not in out[rule.field]]
    return out


def _columns(campaign: Campaign | None) -> dict[str, str]:
    """The template's columns and what each holds: ``FIELDS``, and Account when the campaign names accounts."""
    return {**FIELDS, ACCOUNT: ACCOUNT_NOTE} if campaign is not None and campaign.accounts else FIELDS


def _list_values(rules: RuleBook, catalog: Catalog | None, campaign: Campaign | None) -> dict[str, list[str]]:
    """Field -> the values of its dropdown."""
    values = {
        "deliveryMethod": list(rules.methods),
        "shippingMethod": list(rules.shipping_methods),
        "stateOrProvince": sorted(rules.us_states) + sorted(rules.ca_provinces),
        "country": sorted(rules.countries),
    }
    if catalog is not None and catalog.items:
        values["utid"] = sorted(catalog.items)
    if campaign is not None and campaign.accounts:
        values[ACCOUNT] = list(campaign.accounts)
    return values


def _ranges(values: dict[str, list[str]]) -> dict[str, str]:
    """Field -> where its dropdown's values are on the Lists sheet."""
    out = {}
    for c, (field, items) in enumerate(values.items()):
        letter = xl_col_to_name(c)
        out[field] = f"={LISTS}!${letter}$2:${letter}${len(items) + 1}"
    return out


def _lists(wb: Any, rules: RuleBook, values: dict[str, list[str]], catalog: Catalog | None) -> None:
    ws = wb.add_worksheet(LISTS)
    ws.hide()
    for c, (field, items) in enumerate(values.items()):
        ws.write_string(0, c, rules.label(field))
        for r, value in enumerate(items, start=1):
            ws.write_string(r, c, value)
    if catalog is not None and "utid" in values:          # the reward names beside their UTIDs
        c = len(values)
        ws.write_string(0, c, "Reward name")
        for r, utid in enumerate(values["utid"], start=1):
            ws.write_string(r, c, str(catalog.items[utid].get("rewardName") or ""))


def _data_sheet(wb: Any, rules: RuleBook, ranges: dict[str, str], needs: dict[str, list[str]],
                columns: dict[str, str]) -> None:
    ws = wb.add_worksheet(DATA_SHEET)
    ws.activate()
    header = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    formats = {"text": wb.add_format({"num_format": "@"}), "amount": wb.add_format({"num_format": "0.00"}),
               "quantity": wb.add_format({"num_format": "0"}), "date": wb.add_format({"num_format": "yyyy-mm-dd"})}
    for c, (field, what) in enumerate(columns.items()):
        label = rules.label(field)
        ws.write_string(0, c, label, header)
        style = formats["text"] if field in TEXT_FIELDS else formats.get(field) or \
            (formats["date"] if field == "deliveryDate" else None)
        ws.set_column(c, c, max(12, len(label) + 4), style)
        required = needs.get(field, [])
        said = what + (f" Required for {', '.join(required)}." if required else "")
        column = {"input_title": label[:32], "input_message": said[:255]}
        options: dict[str, Any]
        if field in ranges:
            options = {"validate": "list", "source": ranges[field], "error_type": "warning",
                       "error_title": label[:32], "error_message": f"Pick {label} from the list."}
        elif field == "amount":
            options = {"validate": "decimal", "criteria": ">", "value": 0, "error_type": "warning",
                       "error_message": "An amount in dollars, more than 0."}
        elif field == "quantity":
            options = {"validate": "integer", "criteria": ">=", "value": 1, "error_type": "warning",
                       "error_message": "A whole number, 1 or more."}
        else:
            options = {"validate": "any"}
        ws.data_validation(0, c, 0, c, {"validate": "any", **column})          # the header says what goes there
        ws.data_validation(1, c, ROWS, c, {**options, **column})
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)


def _instructions(wb: Any, rules: RuleBook, needs: dict[str, list[str]], campaign: Campaign | None,
                  rewards: int) -> None:
    ws = wb.add_worksheet(INSTRUCTIONS)
    bold = wb.add_format({"bold": True})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.set_column(0, 0, 24)
    ws.set_column(1, len(FIELDS), 14)

    def line(r: int, key: str, text: str, style: Any = None) -> None:
        ws.write_string(r, 0, key, bold)
        ws.merge_range(r, 1, r, 10, text, style or wrap)          # our own sentence, across the example's width
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.write_string(0, 0, "How to fill in this workbook", wb.add_format({"bold": True, "font_size": 14}))
    lines = [
        ("1.", f"Type one recipient per row in the '{DATA_SHEET}' sheet, from row 2; keep its header row."),
        ("2.", "Click a header to see what goes in its column. Pick delivery method, state, country"
               + (" and reward" if rewards else "") + " from their lists."),
        ("3.", "Check it: tango-batch validate THIS-FILE.xlsx --config campaign.toml. Nothing is sent."),
        ("4.", "Then order it: tango-batch run THIS-FILE.xlsx --config campaign.toml."),
        ("", "This sheet and the hidden Lists sheet are never read: the examples below are never ordered."),
    ]
    r = 2
    for key, text in lines:
        line(r, key, text)
        r += 1
    r += 1
    line(r, "Delivery method", "What each row needs", wb.add_format({"bold": True}))
    for method in rules.methods:
        r += 1
        line(r, method, ", ".join(rules.labels[f] for f, methods in needs.items() if method in methods))
    if campaign is not None and campaign.accounts:
        r += 2
        names = ", ".join(campaign.accounts)
        line(r, rules.account_label, f"the name of the account the reward is paid from ({names}); an empty cell: "
             f"the campaign's account {campaign.accountIdentifier}")
    if campaign is not None and campaign.defaults:
        r += 2
        line(r, "Empty cells take", "the campaign's defaults: " + ", ".join(
            f"{rules.labels[k]} {v}" for k, v in campaign.defaults.items()))
    r += 2
    ws.write_string(r, 0, "Two example rows", bold)
    examples = [f for f in FIELDS if any(f in e for e in EXAMPLES)]
    for c, field in enumerate(examples):
        ws.write_string(r, c + 1, rules.labels[field], bold)
    for example in EXAMPLES:
        r += 1
        for c, field in enumerate(examples):
            if field in example:
                ws.write_string(r, c + 1, example[field])


def write_template(path: Path, rules: RuleBook, campaign: Campaign | None = None,
                   catalog: Catalog | None = None) -> Path:
    """The template workbook at ``path``, written whole or not at all."""
    tmp = path.with_name(f".{path.name}.part")
    wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_numbers": False,
                                        "strings_to_urls": False})
    wb.set_custom_property(TEMPLATE_MARKER, f"{INSTRUCTIONS}\n{LISTS}")
    needs = required_for(rules)
    values = _list_values(rules, catalog, campaign)
    _data_sheet(wb, rules, _ranges(values), needs, _columns(campaign))
    _instructions(wb, rules, needs, campaign, len(values.get("utid", [])))
    _lists(wb, rules, values, catalog)
    try:
        wb.close()
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
