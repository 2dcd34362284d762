"""Before money moves: ``run`` on a terminal shows what it is about to order (rows, total, counts per
reward and delivery method, amounts per account when rows name several; from run's own verdict:
the catalog, the ledger's DUPLICATE and HELD, read only) and asks. Nothing is locked, sent or
written while the person reads; no answer within the time allowed is a no. ``--yes`` skips the
question, and so does a run without a terminal (cron).
"""

from __future__ import annotations

import hashlib
import select
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import polars as pl

from pipeline.config import CheckSettings, RunSettings
from pipeline.errors import InputError
from pipeline.jobs.validate import Preview
from pipeline.model import Status
from pipeline.stages.check import check_file
from pipeline.stages.report.summary import row_value

__all__ = ["ANSWER_SECONDS", "Order", "about_to_order", "ask", "changed_since"]

ANSWER_SECONDS = 300.0


@dataclass
class Order:
    """What a run would send: its rows, their amount, and their counts per reward and method."""
    rows: int = 0
    amount: float = 0.0
    held_back: int = 0                           # rows not sent: to fix, duplicates, held
    by_reward: Counter[str] = field(default_factory=Counter)
    amount_by_reward: dict[str, float] = field(default_factory=dict)
    by_method: Counter[str] = field(default_factory=Counter)
    amount_by_account: dict[str, float] = field(default_factory=dict)   # accountIdentifier -> amount
    default_account: str = ""                    # the campaign's: a row that names no account orders from it
    files: dict[str, str] = field(default_factory=dict)   # each file shown -> its content's SHA-256

    def add(self, frame: pl.DataFrame) -> None:
        """A file's rows after run's verdict: those VALID are what run would send."""
        sent = frame.filter(pl.col("status") == Status.VALID.value).with_columns(
            row_value().fill_null(0.0).alias("_value"), pl.col("utid", "deliveryMethod").fill_null("?"))
        self.rows += sent.height
        self.held_back += frame.height - sent.height
        self.amount += float(sent["_value"].sum())
        for utid, n, value in sent.group_by("utid").agg(pl.len(), pl.col("_value").sum()).iter_rows():
            self.by_reward[utid] += n
            self.amount_by_reward[utid] = self.amount_by_reward.get(utid, 0.0) + value
        self.by_method.update(dict(sent.group_by("deliveryMethod").len().iter_rows()))
        account = pl.col("account").fill_null(self.default_account) if "account" in sent.columns \
            else pl.lit(self.default_account)
        for name, value in sent.group_by(account.alias("account")).agg(pl.col("_value").sum()).iter_rows():
            self.amount_by_account[name] = self.amount_by_account.get(name, 0.0) + value

    def lines(self, target: str) -> list[str]:
        out = [f"About to order on {target}: {self.rows:,} rows, ${self.amount:,.2f} in all (amount x quantity)"]
        out += [f"  reward {utid}: {n:,} rows, ${self.amount_by_reward[utid]:,.2f}"
                for utid, n in self.by_reward.most_common()]
        out.append("  by delivery method: " + ", ".join(f"{m} {n:,}" for m, n in self.by_method.most_common()))
        if len(self.amount_by_account) > 1:          # rows name accounts of their own
            accounts = sorted(self.amount_by_account.items())
            out.append("  by account: " + ", ".join(f"{a} ${v:,.2f}" for a, v in accounts))
        if self.held_back:
            out.append(f"  {self.held_back:,} other rows will not be sent (to fix, already ordered, or held): "
                       "the reports say why")
        return out


def about_to_order(files: list[str], settings: RunSettings) -> Order:
    """run's verdict on ``files``, read only; a file that cannot be read is left to the run to say."""
    check = CheckSettings(book=settings.book, output=settings.output, today=settings.today, sheets=settings.sheets,
                          campaign=settings.campaign, target=settings.target, ledger=settings.ledger,
                          rate=settings.rate)
    order = Order(default_account=settings.campaign.accountIdentifier)
    preview = Preview(check)
    try:
        for file in files:
            try:
                checked = check_file(file, settings.book, today=settings.today, sheet=settings.sheets,
                                     defaults=settings.defaults)
            except InputError:
                continue
            order.files[file] = checked.sheet.sha256
            order.add(preview.verdict(checked)[0].frame)
    finally:
        preview.close()
    return order


def changed_since(order: Order) -> list[str]:
    """The files whose content is not what the person was shown (edited, replaced while they read)."""
    out = []
    for file, digest in order.files.items():
        try:
            now = hashlib.sha256(Path(file).read_bytes()).hexdigest()
        except OSError:
            now = None
        if now != digest:
            out.append(file)
    return out


def ask(question: str, stdin: TextIO, out: TextIO, seconds: float = ANSWER_SECONDS) -> bool:
    """``question`` on ``out``; True only for a yes typed within ``seconds``."""
    out.write(f"{question} Type yes to send, anything else to stop (no answer in {seconds / 60:g} min is a no): ")
    out.flush()
    ready, _, _ = select.select([stdin], [], [], seconds)
    if not ready:
        out.write("\nno answer: nothing sent\n")
        return False
    return stdin.readline().strip().casefold() in ("y", "yes")
