"""Tango's line-item rules as data: fields and their header aliases, the delivery-method matrix,
character sets, region and country lists, and the list of rules the validator enforces.

``load()`` reads the TOML files in ``rules/data`` into one ``RuleBook``, which the caller loads once
and passes down (the CLI, the library face, the tests' fixture), so the schema, the messages and
the tests read the same facts. Each rule's kind is checked against ``rules.kinds`` as it loads.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from rules.accounts import ACCOUNT, AccountTable

DATA = Path(__file__).parent / "data"

__all__ = ["ACCOUNT", "FULL_NAME", "AccountTable", "Rule", "RuleBook", "ShippingForm", "header_key", "load"]

FULL_NAME = "fullName"      # a column with the whole name, split into firstName and lastName (not sent as such)


def header_key(text: str) -> str:
    """The form in which headers and aliases are compared: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


@dataclass(frozen=True)
class Rule:
    id: str
    field: str
    kind: str
    methods: tuple[str, ...] | None  # None: every row
    params: dict[str, Any]
    fix: str
    seed: str
    form: str | None = None          # the bulk-shipping spelling it belongs to; None: both


@dataclass(frozen=True)
class ShippingForm:
    """One spelling of the BULKSHIPMENT object: its key in the line item, and its fields from cells."""
    name: str
    object: str                      # "shipping" (seed 004) or "bulkShipping" (the reference)
    fields: dict[str, str]           # its field -> the row's field(s), "a b" joining two cells
    hint: str                        # said when Tango refuses this spelling
    source: str


@dataclass(frozen=True)
class RuleBook:
    labels: dict[str, str]                 # field -> label used when the sheet has no column
    aliases: dict[str, str]                # header_key(alias) -> field
    report_columns: tuple[str, ...]        # columns written by the pipeline, dropped on input
    lookalikes: dict[str, str]             # header word -> field it probably means
    methods: dict[str, dict[str, Any]]     # the delivery-method matrix
    method_aliases: dict[str, str]
    groups: dict[str, tuple[str, ...]]
    charsets: dict[str, dict[str, str]]
    us_states: frozenset[str]
    ca_provinces: frozenset[str]
    countries: frozenset[str]
    country_names: dict[str, str]
    shipping_methods: tuple[str, ...]
    shipping_forms: dict[str, ShippingForm] = field(default_factory=dict)
    shipping_form: str = "seed"            # the spelling sent (the campaign's ``bulk_shipping``)
    default_form: str = "seed"             # the rule data's default spelling
    max_row_amount: Decimal = Decimal(5000)  # the most one row may order (amount x quantity)
    rules: tuple[Rule, ...] = field(default=())
    full_name_label: str = "Full Name"
    particles: frozenset[str] = frozenset()   # words that begin a last name ("van", "de"...)
    chosen: dict[str, str] = field(default_factory=dict)   # header_key -> field, from a campaign's [columns]
    weak: frozenset[str] = frozenset()     # header keys of ``more_aliases``: they give way to an alias
    region_names: dict[str, str] = field(default_factory=dict)   # "MASSACHUSETTS" -> "MA", "QUEBEC" -> "QC"
    date_order: str = "MDY"                # how a date written 01/02/2027 is read: a campaign's date_order
    account_label: str = "Account"         # the Account column (``rules.accounts``): which account a row orders from
    accounts: AccountTable | None = None   # a campaign's accounts; None: no campaign, the column is not checked

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.labels)

    @property
    def columns_known(self) -> tuple[str, ...]:
        """What a header may be mapped to: the line-item fields, the full name and the account."""
        return (*self.labels, FULL_NAME, ACCOUNT)

    def label(self, field_name: str) -> str:
        return {FULL_NAME: self.full_name_label, ACCOUNT: self.account_label}.get(field_name) \
            or self.labels[field_name]

    def mapping(self, columns: dict[str, str]) -> RuleBook:
        """This book for a campaign whose ``[columns]`` maps header texts to fields."""
        if not columns:
            return self
        chosen = {header_key(header): name for header, name in columns.items()}
        return replace(self, aliases={**self.aliases, **chosen}, chosen=chosen)

    def accounting(self, accounts: AccountTable | None) -> RuleBook:
        """This book for a campaign whose rows may name their account (``rules.accounts``)."""
        return self if accounts == self.accounts else replace(self, accounts=accounts)

    def dating(self, order: str | None) -> RuleBook:
        """This book for a campaign whose sheets write dates day first ("DMY") or month first ("MDY")."""
        return self if order is None or order == self.date_order else replace(self, date_order=order)

    def meanings(self, headers: list[str | None]) -> list[str | None]:
        """The field each header of a header row names, if any: a campaign's ``[columns]`` first; a
        built-in alias of a field the campaign maps from another header of the same row means
        nothing (the campaign chose "Work Email" over "Personal Email")."""
        keys = [header_key(h or "") for h in headers]
        chosen_here = {self.chosen[k] for k in keys if k in self.chosen}
        meant = [self.chosen.get(k) or self.aliases.get(k) if k else None for k in keys]
        return [m if m is None or k in self.chosen or m not in chosen_here else None
                for k, m in zip(keys, meant, strict=True)]

    def expand(self, names: list[str] | None) -> tuple[str, ...] | None:
        """Delivery methods named directly or through a group."""
        if names is None:
            return None
        out: list[str] = []
        for name in names:
            for method in self.groups.get(name, (name,)):
                if method not in self.methods:
                    raise ValueError(f"rules: unknown delivery method or group {name!r}")
                if method not in out:
                    out.append(method)
        return tuple(out)

    def value_list(self, name: str) -> tuple[str, ...]:
        return {
            "methods": tuple(self.methods),
            "countries": tuple(sorted(self.countries)),
            "shipping_methods": self.shipping_methods,
        }[name]

    def rules_for(self, field_name: str) -> list[Rule]:
        """The rules of a field, for the spelling of bulk shipping this book sends."""
        return [r for r in self.rules if r.field == field_name and r.form in (None, self.shipping_form)]

    @property
    def bulk_shipping(self) -> ShippingForm:
        return self.shipping_forms[self.shipping_form]

    def sending(self, form: str | None) -> RuleBook:
        """This book for a campaign that sends bulk shipping spelled ``form`` (None: the default)."""
        form = form or self.default_form
        if form == self.shipping_form:
            return self
        if form not in self.shipping_forms:
            raise ValueError(f"unknown bulk_shipping {form!r}; known: {', '.join(self.shipping_forms)}")
        return replace(self, shipping_form=form)

    def capped(self, max_row_amount: Decimal) -> RuleBook:
        """This book for a campaign whose rows may each order at most ``max_row_amount``."""
        return self if max_row_amount == self.max_row_amount else replace(self, max_row_amount=max_row_amount)


def _read(name: str) -> dict[str, Any]:
    with open(DATA / name, "rb") as fh:
        return tomllib.load(fh)


def _aliases(fields: dict[str, Any]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    specs = {**fields["fields"], FULL_NAME: fields["full_name"], ACCOUNT: fields["account"]}
    for name, spec in specs.items():
        for alias in [name, *spec["aliases"], *spec.get("more_aliases", [])]:
            key = header_key(alias)
            if aliases.setdefault(key, name) != name:
                raise ValueError(f"rules: alias {alias!r} names two fields")
    return aliases


def _book(fields: dict[str, Any], tango: dict[str, Any], regions: dict[str, Any]) -> RuleBook:
    return RuleBook(
        labels={name: spec["label"] for name, spec in fields["fields"].items()},
        aliases=_aliases(fields),
        report_columns=tuple(fields["report"]["columns"]),
        lookalikes={word: name for name, spec in fields["fields"].items() for word in spec.get("lookalikes", [])},
        methods=tango["methods"],
        method_aliases=tango["method_aliases"],
        groups={k: tuple(v) for k, v in tango["groups"].items()},
        charsets=tango["charsets"],
        us_states=frozenset(regions["us_states"]["codes"]),
        ca_provinces=frozenset(regions["ca_provinces"]["codes"]),
        countries=frozenset(regions["countries"]["codes"]),
        country_names=regions["country_names"],
        region_names={**regions["us_state_names"], **regions["ca_province_names"]},
        shipping_methods=tuple(regions["shipping_methods"]["codes"]),
        shipping_forms={name: ShippingForm(name, spec["object"], dict(spec["fields"]), spec["hint"], spec["source"])
                        for name, spec in tango["bulk_shipping"].items() if isinstance(spec, dict)},
        shipping_form=tango["bulk_shipping"]["default"],
        default_form=tango["bulk_shipping"]["default"],
        full_name_label=fields["full_name"]["label"],
        account_label=fields["account"]["label"],
        weak=frozenset(header_key(a) for spec in fields["fields"].values() for a in spec.get("more_aliases", [])),
        particles=frozenset(fields["full_name"]["particles"]),
    )


def _rules(specs: list[dict[str, Any]], book: RuleBook) -> tuple[Rule, ...]:
    from rules.kinds import KINDS  # the kinds need polars; the rule data alone does not
    rules: list[Rule] = []
    for raw in specs:
        spec = dict(raw)
        targets = spec.pop("fields", None) or [spec.pop("field")]
        rid, kind = spec.pop("id"), spec.pop("kind")
        if kind not in KINDS:
            raise ValueError(f"rules: {rid} has unknown kind {kind!r}")
        methods = book.expand(spec.pop("methods", None))
        fix, seed, form = spec.pop("fix", ""), spec.pop("seed", ""), spec.pop("form", None)
        if form is not None and form not in book.shipping_forms:
            raise ValueError(f"rules: {rid} names unknown bulk-shipping form {form!r}")
        for target in targets:
            if target not in book.labels:
                raise ValueError(f"rules: {rid} names unknown field {target!r}")
            rules.append(Rule(rid, target, kind, methods, spec, fix, seed, form))
    return tuple(rules)


def load() -> RuleBook:
    """The rule data of ``rules/data``, checked as it loads."""
    tango = _read("tango.toml")
    book = _book(_read("fields.toml"), tango, _read("regions.toml"))
    return replace(book, rules=_rules(tango["rules"], book))
