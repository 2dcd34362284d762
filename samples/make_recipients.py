"""Writes samples/recipients.xlsx: an HR export of the shape uploads really have.

Title rows above the header, columns the pipeline does not know (Employee ID, Department), ZIP
codes and phone numbers stored as numbers (so Excel dropped the leading zeros), every delivery
method, and a handful of the mistakes people make. Run it again to regenerate the file:

    python samples/make_recipients.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter

HEADER = ["Employee ID", "First Name", "Last Name", "Email Address", "Mobile Phone", "Department",
          "Delivery Method", "Reward ID", "Amount", "Qty", "Address Line 1", "Address Line 2",
          "City", "State", "Zip Code", "Country", "Shipping Method", "Gift Message", "Delivery Date"]

FIRST = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
         "Mia", "Mason", "Amelia", "Ethan", "Harper", "Logan", "Evelyn", "Aiden", "Abigail", "Jacob",
         "Emily", "Michael", "Ella", "Daniel", "Scarlett", "Henry", "Grace", "Jackson", "Chloe",
         "Sebastian", "Victoria", "Jack", "Riley", "Owen", "Aria"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
        "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
        "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
        "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright"]
DEPTS = ["Sales", "Engineering", "Support", "Finance", "Operations"]
ADDRESSES = [  # street, city, state, ZIP as a number (Excel drops leading zeros), country
    ("12 Beacon St", "Boston", "MA", 2108, "USA"),
    ("450 Market Street", "San Francisco", "CA", 94105, "US"),
    ("77 Elm Ave Apt 4", "Hartford", "CT", 6103, "United States"),
    ("901 Congress Ave", "Austin", "tx", 78701, "US"),
    ("3 Pine Rd", "Burlington", "VT", 5401, "US"),
    ("1600 Amphitheatre Pkwy", "Mountain View", "CA", 94043, "U.S."),
]


def rows() -> list[list[object]]:
    out: list[list[object]] = []

    def person(i: int) -> tuple[str, str, str, str]:
        first, last = FIRST[i % len(FIRST)], LAST[(i * 3 + i // len(FIRST)) % len(LAST)]
        return f"E{10230 + i}", first, last, f"{first.lower()}.{last.lower()}@acme-example.com"

    def add(i: int, **cells: object) -> None:
        eid, first, last, email = person(i)
        base = {"Employee ID": eid, "First Name": first, "Last Name": last,
                "Email Address": email, "Department": DEPTS[i % len(DEPTS)]}
        base.update(cells)
        out.append([base.get(h) for h in HEADER])

    # 30 plain email rewards: reward and amount come from the campaign defaults
    for i in range(30):
        add(i, **({"Amount": 50} if i % 10 == 3 else {}))
    # SMS rewards: phones as numbers and in the shapes people type
    phones = [4155552671, "(212) 555-0147", "646.555.0198", "1-312-555-0170", "+1 617 555 0123",
              "+1 (303) 555-0111"]
    for k, phone in enumerate(phones):
        add(30 + k, **{"Mobile Phone": phone, "Delivery Method": "sms" if k % 2 else "PHONE"})
    # mailed gift cards
    for k, (street, city, state, zipcode, country) in enumerate(ADDRESSES):
        add(36 + k, **{"Delivery Method": "ADDRESS", "Reward ID": "U579023", "Amount": 100,
                       "Address Line 1": street, "City": city, "State": state,
                       "Zip Code": zipcode, "Country": country, "Shipping Method": "usps1stclass"})
    # embedded (a link shown in the company's own portal) and NONE (kept for reporting)
    add(42, **{"Delivery Method": "EMBEDDED"})
    add(43, **{"Delivery Method": "NONE", "Email Address": None})
    # bulk: codes for the booth, and a box of cards shipped to the office manager
    add(44, **{"First Name": None, "Last Name": None, "Email Address": None,
               "Delivery Method": "BULKDIGITAL", "Qty": 25, "Amount": 10})
    add(45, **{"Delivery Method": "BULKSHIPMENT", "Qty": 40, "Reward ID": "U579023", "Amount": 20,
               "Address Line 1": "200 Main St Suite 300", "City": "Cambridge", "State": "MA",
               "Zip Code": "02142-1234", "Country": "US", "Shipping Method": "upsground",
               "Mobile Phone": 6175550100})
    # scheduled and with a message
    add(46, **{"Gift Message": "Thank you for ten great years!", "Delivery Date": dt.date(2030, 1, 15)})
    add(47, **{"Gift Message": "=HYPERLINK(\"http://evil.example\",\"Click\")"})
    # --- the mistakes -----------------------------------------------------------------------
    add(48, **{"Email Address": "noah.brown@@acme-example"})                      # bad email
    add(49, **{"Delivery Method": "PHONE", "Mobile Phone": 12345})                # short phone
    add(50, **{"Delivery Method": "PHONE", "Mobile Phone": "+44 20 7946 0958"})   # UK number
    add(51, **{"Amount": "25.005"})                                               # 3 decimals
    add(52, **{"Delivery Method": "ADDRESS", "First Name": "José", "Reward ID": "U579023",
               "Amount": 100, "Address Line 1": "8 Rue Lafayette", "City": "Montréal",
               "State": "QC", "Zip Code": "H2X 1Y4", "Country": "Canada",
               "Shipping Method": "usps1stclass"})                                # accents
    add(53, **{"Delivery Method": "ADDRESS", "Reward ID": "U579023", "Amount": 100,
               "Address Line 1": "55 Water St", "City": "New York", "Zip Code": 10041,
               "Country": "US", "Shipping Method": "usps1stclass"})               # no state
    add(54, **{"Delivery Method": "EMAIL", "Qty": 5})                            # bulk on email
    add(55, **{"Delivery Method": "BULKDIGITAL", "Qty": 10, "Amount": 10})       # name on bulk
    add(56, **{"Delivery Date": dt.date(2026, 1, 5)})                            # in the past
    add(57, **{"Delivery Method": "Carrier pigeon"})                             # unknown method
    out.append(list(out[3]))                                                     # a duplicate
    add(58, **{"Reward ID": "761382"})                                           # UTID without U
    return out


def write(path: Path) -> None:
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    ws = book.add_worksheet("Recipients")
    bold = book.add_format({"bold": True})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_string(0, 0, "Acme Corp - Q4 Recognition Rewards", book.add_format({"bold": True, "font_size": 14}))
    ws.write_string(1, 0, "Exported from Workday on 2026-11-20 by hr-ops")
    for c, h in enumerate(HEADER):
        ws.write_string(3, c, h, bold)
    for r, row in enumerate(rows(), start=4):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date)
            elif isinstance(value, (int, float)):
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, value)
    ws.set_column(0, len(HEADER) - 1, 16)
    book.close()


if __name__ == "__main__":
    write(Path(__file__).with_name("recipients.xlsx"))
