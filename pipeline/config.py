"""The campaign file (TOML), the target, and the typed settings of each job, which the CLI (or a
library caller) builds once and passes down; stage code never reads the environment.

A campaign file holds the order-level values of Tango's POST /asyncOrders body and the defaults
that fill a row's empty line-item cells::

    customerIdentifier = "acme-corp"
    accountIdentifier = "acme-rewards"
    campaign = "Q4 recognition"
    [sender]
    firstName = "Acme"
    [defaults]
    utid = "U761382"
    amount = 25
    deliveryMethod = "EMAIL"
    [columns]                 # a sheet's own header names, for the field each holds
    "Work Email" = "email"
    [accounts]                # optional: the Account column's names -> accountIdentifier (pipeline.identifiers)
    "Marketing" = "acme-marketing"

Anything wrong in it is a ``UsageError`` whose message names the key.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline.campaign_keys import approval_keys, columns, date_order, guard_window, shipping_form
from pipeline.errors import UsageError
from pipeline.files import NotRegular, TooLarge, regular_bytes
from pipeline.identifiers import IDENTIFIER_RE, accounts, identifier
from pipeline.masking import shown
from pipeline.notify.settings import NotifySettings, notify_settings
from pipeline.state import Where, beside, masked_url
from pipeline.target import Target, resolve_target
from rules import AccountTable, RuleBook

__all__ = ["IDENTIFIER_RE", "Campaign", "CheckSettings", "RunSettings", "StatusSettings", "Target", "load_campaign",
           "resolve_target"]    # re-exported: Target (the settings name one), IDENTIFIER_RE (see pipeline.identifiers)

# order-level text keys and their maximum length (seed 004)
ORDER_TEXT = {"campaign": 1024, "purchaseOrderNumber": 100, "notes": 150}
SENDER_KEYS = {"firstName": 100, "lastName": 100, "email": 254}
CAMPAIGN_FILE_LIMIT = 1 << 20     # bytes: a campaign file is a few lines of TOML
NUMERIC_DEFAULTS = {"amount", "quantity"}
NO_DEFAULT = {"externalRefLineItemID": "each row needs its own reference"}


@dataclass(frozen=True)
class Campaign:
    customerIdentifier: str
    accountIdentifier: str
    campaign: str | None = None
    purchaseOrderNumber: str | None = None
    notes: str | None = None
    sender: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    path: str = ""
    target: str | None = None
    bulk_shipping: str | None = None    # the spelling of bulk shipping sent; None: the rule data's default
    ledger: str | None = None           # the campaign file's ``ledger``: a path (relative to the file) or a URL
    recipient_guard: str | int = "campaign"   # "campaign", a number of days, or "off" (see stages.guard)
    max_row_amount: Decimal = Decimal(5000)   # the most one row may order (amount x quantity)
    max_run_amount: Decimal | None = None     # the most one run may send; None: no limit
    columns: dict[str, str] = field(default_factory=dict)   # header text -> field (``[columns]``)
    date_order: str | None = None       # "MDY" (12/24/2026, the default) or "DMY" (24/12/2026)
    accounts: dict[str, str] = field(default_factory=dict)  # [accounts]: Account cell name -> accountIdentifier
    require_approval: bool = False      # the night sends only files approved on the page (see pipeline.approvals)
    approvals: str = "two-person"       # or "single": the uploader may approve their own file
    notify: NotifySettings | None = None    # [notify]: who hears of each nightly run (pipeline.notify)

    @property
    def account_identifiers(self) -> tuple[str, ...]:
        """Every accountIdentifier the campaign may order from (the default and [accounts]'s), unique, sorted."""
        return self.account_table.identifiers

    @property
    def account_table(self) -> AccountTable:
        """How a row's Account cell names an account (``rules.accounts``)."""
        return AccountTable(self.accountIdentifier, self.accounts)


def _narrow(settings: CheckSettings | RunSettings, campaign: Campaign | None) -> None:
    """The rule book a job gets is the campaign's: the bulk-shipping spelling it sends, and the
    rules that go with it."""
    book = settings.book.sending(campaign.bulk_shipping if campaign else None)
    if campaign:
        book = (book.capped(campaign.max_row_amount).mapping(campaign.columns).dating(campaign.date_order)
                .accounting(campaign.account_table))
    object.__setattr__(settings, "book", book)


@dataclass(frozen=True, kw_only=True)
class CheckSettings:
    """What ``validate`` needs: read, normalize and check files, write their reports."""
    book: RuleBook                              # the rule data; narrowed to the campaign's (see _narrow)
    output: Path
    today: dt.date = field(default_factory=dt.date.today)
    sheets: tuple[str, ...] = ()                # the sheets to read; none named: every sheet of recipients
    campaign: Campaign | None = None            # its defaults fill empty cells
    # with a campaign: run's verdict too, from its target's catalog and its ledger (read only)
    target: Target | None = None
    ledger: Where | None = None
    rate: float = 1.0
    offline: str | None = None                  # why run's checks are not made, when they are not

    def __post_init__(self) -> None:
        _narrow(self, self.campaign)

    @property
    def defaults(self) -> dict[str, str]:
        return self.campaign.defaults if self.campaign else {}


@dataclass(frozen=True, kw_only=True)
class StatusSettings:
    """What ``status`` needs: a target, its ledger, and the rules to rewrite reports with."""
    book: RuleBook                              # a run's is narrowed to its campaign's (see _narrow)
    target: Target
    output: Path                                # reports and logs
    ledger: Where                               # the customer's ledger; what serves it lives beside it
    rate: float = 1.0                           # calls to Tango per second, every endpoint together
    wait: float = 0.0                           # seconds to keep following unfinished orders
    delivery_days: float = 30.0                 # how long a physical reward's delivery is followed

    def beside_ledger(self, what: str) -> Path:
        """The simulator's state, the catalog cache: kept with the ledger, not with the reports."""
        return beside(self.ledger, what)


# Tango publishes no limit of line items per order for the API; its portal's bulk upload takes
# 50,000 rows per order, and an order's detail is read 500 lines a page: the pipeline stays within both.
MAX_BATCH_SIZE = 50_000


@dataclass(frozen=True, kw_only=True)
class RunSettings(StatusSettings):
    """What ``run`` and ``nightly`` need: all of ``status``, a campaign, and how to send."""
    campaign: Campaign
    today: dt.date = field(default_factory=dt.date.today)
    sheets: tuple[str, ...] = ()                # as CheckSettings.sheets
    batch_size: int = 100
    wait: float = 300.0
    dry_run: bool = False
    by: str = "run"                             # "run" (a person, by hand) or "nightly" (obeys approvals)

    def __post_init__(self) -> None:
        _narrow(self, self.campaign)
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise UsageError(f"--batch-size must be from 1 to {MAX_BATCH_SIZE:,} line items per order; "
                             f"got {self.batch_size:,}")

    @property
    def defaults(self) -> dict[str, str]:
        return self.campaign.defaults


def _text(path: str, key: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{path}: '{key}' must be text in quotes, got {type(value).__name__} {value!r}")
    if len(value) > limit:
        raise UsageError(f"{path}: '{key}' may have at most {limit} characters, got {len(value)}")
    if "\x00" in value:
        raise UsageError(f"{path}: '{key}' holds a NUL character (\\u0000): take it out")
    return value


def _ledger_text(path: str, value: Any) -> str:
    """``ledger``: a path or a URL, whose password belongs in PGPASSWORD or ~/.pgpass, not in a shared file."""
    if masked_url(text := _text(path, "ledger", value, 4096)) != text and "://" in text:
        raise UsageError(f"{path}: 'ledger' holds a password ({masked_url(text)}): a campaign file is shared and "
                         "copied; keep the URL without it and give the password in PGPASSWORD or ~/.pgpass")
    return text


def _default(path: str, key: str, value: Any, book: RuleBook) -> str:
    if key not in book.fields:
        known = ", ".join(book.fields)
        raise UsageError(f"{path}: [defaults] '{key}' is not a line-item field; known fields: {known}")
    if key in NO_DEFAULT:
        raise UsageError(f"{path}: [defaults] '{key}' cannot have a default: {NO_DEFAULT[key]}")
    if key in NUMERIC_DEFAULTS:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise UsageError(f"{path}: [defaults] '{key}' must be a number, got {value!r}")
        return format(value, "f").rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return _text(path, f"[defaults] {key}", value, 10_000)


def _money(path: str, key: str, value: Any) -> Decimal:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        amount = Decimal(str(value))
        if amount.is_finite() and amount > 0:
            return amount
    raise UsageError(f"{path}: '{key}' must be a number of dollars above 0, such as 5000; got {value!r}")


def _toml(p: str, path: str | Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(regular_bytes(Path(path), CAMPAIGN_FILE_LIMIT).decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{p}: campaign file not found") from None
    except (NotRegular, TooLarge) as exc:
        raise UsageError(f"{p}: {exc}: give the campaign file (a small TOML text file)") from None
    except OSError as exc:
        raise UsageError(f"{p}: cannot read the campaign file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{p}: the campaign file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                         f"position {exc.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{p}: not valid TOML: {exc}") from None
    return data


def load_campaign(path: str | Path, book: RuleBook) -> Campaign:
    p = shown(str(path))
    data = _toml(p, path)
    known = {"customerIdentifier", "accountIdentifier", "sender", "defaults", "columns", "date_order", "target",
             "bulk_shipping", "accounts", "ledger", "recipient_guard", "max_row_amount", "max_run_amount", "notify",
             "require_approval", "approvals", *ORDER_TEXT}
    for key in data:
        if key not in known:
            raise UsageError(f"{p}: unknown key '{key}'; known keys: {', '.join(sorted(known))}")
    sender = data.get("sender", {})
    if not isinstance(sender, dict):
        raise UsageError(f"{p}: 'sender' must be a table: [sender]")
    for key in sender:
        if key not in SENDER_KEYS:
            raise UsageError(f"{p}: unknown key 'sender.{key}'; known: {', '.join(SENDER_KEYS)}")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise UsageError(f"{p}: 'defaults' must be a table: [defaults]")
    customer, account = identifier(p, data, "customerIdentifier"), identifier(p, data, "accountIdentifier")
    return Campaign(
        customerIdentifier=customer,
        accountIdentifier=account,
        accounts=accounts(p, data, account),
        **{k: _text(p, k, data[k], n) for k, n in ORDER_TEXT.items() if k in data},
        sender={k: _text(p, f"sender.{k}", v, SENDER_KEYS[k]) for k, v in sender.items()},
        defaults={k: _default(p, k, v, book) for k, v in defaults.items()},
        path=p,
        target=_text(p, "target", data["target"], 500) if "target" in data else None,
        bulk_shipping=shipping_form(p, data, book),
        recipient_guard=guard_window(p, data.get("recipient_guard", "campaign")),
        max_row_amount=_money(p, "max_row_amount", data.get("max_row_amount", 5000)),
        max_run_amount=_money(p, "max_run_amount", data["max_run_amount"]) if "max_run_amount" in data else None,
        columns=columns(p, data, book),
        date_order=date_order(p, data),
        ledger=_ledger_text(p, data["ledger"]) if "ledger" in data else None,
        require_approval=approval_keys(p, data)[0],
        approvals=approval_keys(p, data)[1],
        notify=notify_settings(p, data.get("notify")),
    )
