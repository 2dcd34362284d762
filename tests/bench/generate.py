"""Generated uploads for the benchmarks: every delivery method, about 10% bad rows."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import xlsxwriter

HEADER = ["Employee ID", "First Name", "Last Name", "Email", "Mobile", "Delivery Method", "UTID",
          "Amount", "Qty", "Address 1", "City", "State", "ZIP", "Country", "Shipping Method",
          "Message", "Reference"]
METHODS = ["EMAIL"] * 5 + ["PHONE", "ADDRESS", "EMBEDDED", "NONE", "BULKDIGITAL", "BULKSHIPMENT"]
FIRST = ["Olivia", "Liam", "Emma", "Noah", "Ava", "José", "Sophia", "James", "Mia", "Lucas"]
LAST = ["Smith", "Johnson", "Garcia", "Brown", "Lee", "Martinez", "Davis", "Wilson"]
STATES = [("MA", 2108, "Boston"), ("CA", 94105, "San Francisco"), ("NY", 10001, "New York"),
          ("TX", 78701, "Austin")]


# the typical mistakes, one of which lands on about one row in ten
MISTAKES: list[tuple[str, object]] = [("Email", "not-an-email"), ("Amount", "25.005"), ("UTID", "761382"),
                                      ("Delivery Method", "PIGEON"), ("Qty", 3)]


def row(i: int, rng: random.Random) -> list[object]:
    method = METHODS[i % len(METHODS)]
    first, last = FIRST[i % len(FIRST)], LAST[(i // 10) % len(LAST)]
    if method == "ADDRESS" and first == "José":
        first = "Jose"
    state, zipcode, city = STATES[i % len(STATES)]
    cells: dict[str, object] = {
        "Employee ID": f"E{i:07d}", "First Name": first, "Last Name": last,
        "Email": f"{first.lower().replace('é', 'e')}.{last.lower()}.{i}@example.com", "Delivery Method": method,
        "UTID": "U761382", "Amount": 25 + (i % 4) * 25, "Message": "Thank you!" if i % 3 else None,
    }
    if method == "PHONE":
        cells["Mobile"] = 4155550000 + (i % 9999) + 2_000_000
    if method in ("ADDRESS", "BULKSHIPMENT"):
        cells.update({"Address 1": f"{i % 900 + 1} Main St", "City": city, "State": state,
                      "ZIP": zipcode, "Country": "US", "Shipping Method": "usps1stclass"})
    if method.startswith("BULK"):
        cells["Qty"] = 10
        if method == "BULKDIGITAL":
            for k in ("First Name", "Last Name", "Email"):
                cells[k] = None
            cells["Reference"] = f"BULK-{i}"     # lots with no recipient are told apart by reference
    if rng.random() < 0.10:  # one typical mistake
        key, wrong = MISTAKES[rng.randrange(len(MISTAKES))]
        cells[key] = wrong
    return [cells.get(h) for h in HEADER]


def write_xlsx(path: Path, n: int, seed: int = 7, first: int = 0) -> None:
    """``n`` rows from row number ``first`` on (other numbers: other people, other content)."""
    rng = random.Random(seed)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    ws = book.add_worksheet("Recipients")
    ws.write_string(0, 0, "Generated upload")
    ws.write_row(2, 0, HEADER)
    for i in range(n):
        for c, value in enumerate(row(first + i, rng)):
            if value is None:
                continue
            if isinstance(value, (int, float)):
                ws.write_number(3 + i, c, value)
            else:
                ws.write_string(3 + i, c, value)
    book.close()


def write_csv(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(n):
            out.writerow(["" if v is None else v for v in row(i, rng)])
