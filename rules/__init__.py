"""Tango's line-item rules as data: fields and their header aliases, the delivery-method matrix,
character sets, region and country lists, and the list of rules the validator enforces.

``load()`` reads the TOML files in ``rules/data`` into one ``RuleBook``, which the caller loads once
and passes down (the CLI, the library face, the tests' fixture), so the schema, the messages and
the tests read the same facts. Each rule's kind is checked against ``rules.kinds`` as it loads.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"

__all__ = ["Rule", "RuleBook", "header_key", "load"]


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


@dataclass(frozen=True)
class RuleBook:
    labels: dict[str, str]                 # field -> label used when the sheet has no column
    aliases: dict[str, str]                # header_key(alias) -> field
    report_columns: tuple[str, ...]        # columns written by the pipeline, dropped on input
    report_markers: tuple[str, ...]        # their presence says the sheet is one of our reports
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
    rules: tuple[Rule, ...] = field(default=())

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.labels)

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
        return [r for r in self.rules if r.field == field_name]


def _read(name: str) -> dict[str, Any]:
    with open(DATA / name, "rb") as fh:
        return tomllib.load(fh)


def load() -> RuleBook:
    from rules.kinds import KINDS  # the kinds need polars; the rule data alone does not
    fields = _read("fields.toml")
    tango = _read("tango.toml")
    regions = _read("regions.toml")
    labels = {name: spec["label"] for name, spec in fields["fields"].items()}
    aliases: dict[str, str] = {}
    for name, spec in fields["fields"].items():
        for alias in [name, *spec["aliases"]]:
            key = header_key(alias)
            if aliases.setdefault(key, name) != name:
                raise ValueError(f"rules: alias {alias!r} names two fields")
    book = RuleBook(
        labels=labels,
        aliases=aliases,
        report_columns=tuple(fields["report"]["columns"]),
        report_markers=tuple(fields["report"]["markers"]),
        lookalikes={word: name for name, spec in fields["fields"].items() for word in spec.get("lookalikes", [])},
        methods=tango["methods"],
        method_aliases=tango["method_aliases"],
        groups={k: tuple(v) for k, v in tango["groups"].items()},
        charsets=tango["charsets"],
        us_states=frozenset(regions["us_states"]["codes"]),
        ca_provinces=frozenset(regions["ca_provinces"]["codes"]),
        countries=frozenset(regions["countries"]["codes"]),
        country_names=regions["country_names"],
        shipping_methods=tuple(regions["shipping_methods"]["codes"]),
    )
    rules: list[Rule] = []
    for spec in tango["rules"]:
        spec = dict(spec)
        targets = spec.pop("fields", None) or [spec.pop("field")]
        rid, kind = spec.pop("id"), spec.pop("kind")
        if kind not in KINDS:
            raise ValueError(f"rules: {rid} has unknown kind {kind!r}")
        methods = book.expand(spec.pop("methods", None))
        fix, seed = spec.pop("fix", ""), spec.pop("seed", "")
        for target in targets:
            if target not in labels:
                raise ValueError(f"rules: {rid} names unknown field {target!r}")
            rules.append(Rule(rid, target, kind, methods, spec, fix, seed))
    return RuleBook(**{**book.__dict__, "rules": tuple(rules)})
