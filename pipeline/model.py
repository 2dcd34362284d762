"""The pipeline's vocabulary, spelled once: row statuses and their named sets, the issue record and
its frame schema, the frame's bookkeeping columns, batch and file states, and exit codes.

Nothing here imports polars at module level, so the command line can answer ``--help`` without
loading it; the polars-side pieces (``issue_schema``, ``same_reward``) import it when called.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "ADDRESS_FIELDS",
    "AT_TANGO",
    "CHECK_STATUSES",
    "FILL",
    "IDENTITY",
    "IDX",
    "MEANING",
    "ORDERED",
    "RECIPIENT_DETAILS",
    "REPORT_MARKER",
    "ROW",
    "RUN_STATUSES",
    "SENT",
    "SHEET",
    "TEMPLATE_MARKER",
    "TO_FIX",
    "BatchState",
    "Decision",
    "ExitCode",
    "FileState",
    "Issue",
    "RunRule",
    "Severity",
    "Status",
    "issue_schema",
    "recipient_keys",
    "recipient_of",
    "same_reward",
]


class Status(StrEnum):
    """What happened to a row (and, in the ledger, to its line item)."""
    VALID = "VALID"             # passed every check (validate only: nothing is sent)
    INVALID = "INVALID"         # fails a rule: not sent
    HELD = "HELD"               # its recipient already has this reward in the campaign: not sent
    DUPLICATE = "DUPLICATE"     # already ordered (earlier run, another file, another row): not sent again
    PENDING = "PENDING"         # valid, not yet accepted: the next run sends it
    PLANNED = "PLANNED"         # a dry run's row that a run would send: nothing was sent
    SENDING = "SENDING"         # ledger only: in a batch whose outcome is not known yet
    SUBMITTED = "SUBMITTED"     # accepted by Tango, not final yet
    COMPLETE = "COMPLETE"       # ordered and delivered
    REJECTED = "REJECTED"       # Tango refused the line
    FAILED = "FAILED"           # accepted, but Tango could not deliver it


# the statuses a report counts, in the order it shows them
CHECK_STATUSES = (Status.VALID, Status.INVALID)
RUN_STATUSES = (Status.INVALID, Status.HELD, Status.DUPLICATE, Status.PENDING, Status.SUBMITTED, Status.COMPLETE,
                Status.REJECTED, Status.FAILED)
# rows a person must look at, fix (or, for HELD, confirm with a Reference) and upload again
TO_FIX = frozenset({Status.INVALID, Status.HELD, Status.REJECTED, Status.FAILED})
# rows whose line went to Tango in an order
SENT = frozenset({Status.SUBMITTED, Status.COMPLETE, Status.REJECTED, Status.FAILED})
# rows whose reward Tango took and has not failed: the amount counted as accepted
ORDERED = frozenset({Status.SUBMITTED, Status.COMPLETE})
# line items Tango has (DUPLICATE: Tango said it already had the ID): never sent again, by any run
AT_TANGO = frozenset({Status.SUBMITTED, Status.COMPLETE, Status.FAILED, Status.DUPLICATE})

# how a report fills a Status cell (see stages.report.workbook.FILLS): green done, red to fix, amber
# waiting, grey not sent again
FILL = {Status.VALID: "done", Status.COMPLETE: "done", Status.INVALID: "fix", Status.REJECTED: "fix",
        Status.FAILED: "fix", Status.PENDING: "wait", Status.SUBMITTED: "wait", Status.HELD: "wait",
        Status.SENDING: "wait", Status.PLANNED: "wait", Status.DUPLICATE: "grey"}

MEANING = {
    Status.VALID: "Passed every check; ready to be ordered.",
    Status.INVALID: "Not ordered: fix the cells named in Errors and upload the row again.",
    Status.HELD: "Not ordered: the recipient already has this reward in this campaign (see Errors). If the row "
                 "corrects that one, nothing more is needed; to send a second reward, give it its own Reference.",
    Status.DUPLICATE: "Not ordered again: the same reward was already ordered (see Warnings for when).",
    Status.PENDING: "Valid but not yet sent: the run stopped early. The next run sends it.",
    Status.PLANNED: "Dry run: a run would send this row; nothing was sent.",
    Status.SUBMITTED: "Accepted by Tango, not yet delivered. The next run or 'tango-batch status' updates it.",
    Status.COMPLETE: "Ordered and delivered.",
    Status.REJECTED: "Tango refused this line: see Errors, fix it and upload the row again.",
    Status.FAILED: "Accepted by Tango but the delivery failed: see Errors.",
}


class BatchState(StrEnum):
    """A batch (one POST /asyncOrders) in the ledger."""
    SENDING = "sending"         # written ahead of the POST; outcome unknown until settled
    ACCEPTED = "accepted"       # Tango created the order
    REJECTED = "rejected"       # Tango refused the request: nothing was created
    FAILED = "failed"           # a definite failure (credentials, funds): nothing was created


class FileState(StrEnum):
    PROCESSING = "processing"   # being worked on: rows may still be pending
    DONE = "done"               # every row settled or reported


# The custom document property every report workbook carries: a workbook with it is one of this
# pipeline's reports come back as input, whose own columns (Status, Errors...) are dropped on reading.
REPORT_MARKER = "tango-batch report"
# the custom document property of a workbook made by ``tango-batch template``: its value names the
# template's own sheets (instructions with example rows, the lists of its dropdowns), which are never read
TEMPLATE_MARKER = "tango-batch template"


class ExitCode(IntEnum):
    OK = 0                      # every row fine
    ROWS_TO_FIX = 1             # some rows invalid, refused or failed: reports written
    UNREADABLE = 2              # a file could not be read; the others were processed
    STOPPED = 3                 # the run stopped early; everything is recorded, a rerun continues
    DECLINED = 4                # run on a terminal, not confirmed: nothing was read into the ledger or sent
    USAGE = 64                  # a usage or campaign-file error: nothing was read
    INTERNAL = 70               # a bug
    LOCKED = 75                 # another run holds the lock: try again later (EX_TEMPFAIL)
    INTERRUPTED = 130           # Ctrl-C


class Severity(StrEnum):
    ERROR = "error"             # the row cannot go (or went wrong)
    WARNING = "warning"         # said for the record; the row goes


class RunRule(StrEnum):
    """Rule ids of the issues a run adds after the checks (the checks' ids come from ``rules/``)."""
    CATALOG_UTID = "catalog.utid"              # the reward is not in the catalog, or not active
    CATALOG_AMOUNT = "catalog.amount"          # the amount does not fit the catalog item
    ORDERED_BEFORE = "ledger.duplicate"        # an earlier run already ordered this reward
    HELD = "ledger.recipient"                  # the recipient already has this reward in the campaign
    ORDERED_DESPITE = "ledger.ordered"         # ordered by an earlier run of this file; today's checks refuse it
    SAME_IN_RUN = "run.same_reward"            # another row of this run orders the same reward
    DRY_RUN = "run.dry_run"                    # planned, not sent
    EARLIER_RUN = "ledger.earlier_run"         # as the run that last worked on the file recorded it
    TANGO_REFUSED = "tango.refused"            # Tango refused the line
    TANGO_FAILED = "tango.failed"              # Tango could not deliver it
    TANGO_DUPLICATE = "tango.duplicate"        # Tango said it already had the line


# frame bookkeeping columns: a row's position in its upload's frame, the row number Excel shows, and
# the sheet it is on ('' for a CSV file)
IDX = "__idx__"
ROW = "__row__"
SHEET = "__sheet__"


@dataclass(frozen=True)
class Issue:
    """One thing to say about one row: a failed rule, a changed value, a submission outcome."""
    idx: int                    # the row's position in its sheet's frame
    field: str | None           # the Tango field it is about (None: the whole row)
    rule: str
    severity: Severity
    text: str


@dataclass(frozen=True)
class Decision:
    """What a run decided for a row before sending, and why; ``stages.outcome`` turns it into the
    row's status. ``status`` None: the ledger's record of the row's line item says (a row ordered
    by an earlier run of this file), or, for ``SAME_IN_RUN``, the fate of the row it repeats."""
    rule: RunRule
    severity: Severity
    text: str
    status: Status | None = None
    field: str | None = None


def issue_schema() -> dict[str, pl.DataType]:
    """The frame form of ``Issue`` (one row per issue), which every stage adds to."""
    import polars as pl
    return {IDX: pl.UInt32(), "field": pl.String(), "rule": pl.String(), "severity": pl.String(),
            "text": pl.String()}


# the line-item fields of a postal address (Tango's ``address`` object)
ADDRESS_FIELDS = ("companyName", "streetLine1", "streetLine2", "city", "stateOrProvince", "postalCode", "country")
# who a reward is for, in the recipient guard: the e-mail, else the mobile, else (mailed) name, street, ZIP
RECIPIENT_DETAILS = ("firstName", "lastName", "email", "mobileNumber", "streetLine1", "postalCode", "utid",
                     "amount", "quantity", "deliveryMethod")


def recipient_keys(row: Mapping[str, str | None]) -> tuple[str, ...]:
    """Every way the row names its recipient, written the same way whoever typed it: the e-mail, the
    mobile, and (mailed) name, street and ZIP; none for the bulk methods, which have no recipient.
    The recipient guard matches on any of them, so a row that names its recipient by one more
    detail than before (a column a newer version reads, a cell filled in) is still the same person."""
    def norm(value: str | None) -> str:
        return " ".join((value or "").split()).casefold()
    if row.get("deliveryMethod") in ("BULKDIGITAL", "BULKSHIPMENT"):
        return ()
    keys = []
    if row.get("email"):
        keys.append("email:" + norm(row["email"]))
    if row.get("mobileNumber"):
        keys.append("mobile:" + norm(row["mobileNumber"]))
    if row.get("deliveryMethod") == "ADDRESS" and row.get("streetLine1"):
        name = norm(f"{row.get('firstName') or ''} {row.get('lastName') or ''}")
        keys.append(f"address:{name}|{norm(row.get('streetLine1'))}|{norm(row.get('postalCode'))}")
    return tuple(keys)


def recipient_of(row: Mapping[str, str | None]) -> str | None:
    """The recipient a row's reward goes to (its first key: the e-mail, else the mobile, else the
    address), as the ledger records it; None for the bulk methods, which have none."""
    keys = recipient_keys(row)
    return keys[0] if keys else None


# what makes two rows order "the same reward for the same recipient"
IDENTITY = ("firstName", "lastName", "email", "mobileNumber", "streetLine1", "postalCode")


def same_reward() -> list[pl.Expr]:
    """The parts of "the same reward for the same recipient": duplicate checks and line-item IDs
    both use them, so a row flagged "duplicate" is the row that would get the same ID."""
    import polars as pl
    ident = [pl.col(f).str.to_lowercase().fill_null("") for f in IDENTITY]
    amount = pl.col("amount").cast(pl.Decimal(18, 2), strict=False).cast(pl.String).fill_null("")
    return [*ident, pl.col("utid").str.to_uppercase().fill_null(""), amount,
            pl.col("quantity").fill_null("1"), pl.col("deliveryMethod").fill_null("")]
