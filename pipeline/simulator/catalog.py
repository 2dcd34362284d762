"""The simulator's fixed reward catalog, and the per-line checks Tango makes against it.

The items are chosen to exercise every catalog rule of ``POST /asyncOrders``: a wide and a narrow
variable-value item, a fixed-value item, a whole-amounts-only item, an inactive item, and U000666,
which passes every check at order time but FAILS while the order is processed.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["BRANDS", "CATALOG_NAME", "FAILING_UTID", "catalog_body", "find_item", "i18n_key",
           "item_errors"]

CATALOG_NAME = "Simulator Catalog"

# U000666 is accepted at order time; every line item with it ends FAILED during processing.
FAILING_UTID = "U000666"


def _variable(utid: str, name: str, low: float, high: float, *, whole: bool = False,
              status: str = "active") -> dict[str, Any]:
    return {"utid": utid, "rewardName": name, "currencyCode": "USD", "status": status,
            "valueType": "VARIABLE_VALUE", "minValue": low, "maxValue": high,
            "isWholeAmountValueRequired": whole, "countries": ["US"]}


def _fixed(utid: str, name: str, face: float) -> dict[str, Any]:
    return {"utid": utid, "rewardName": name, "currencyCode": "USD", "status": "active",
            "valueType": "FIXED_VALUE", "faceValue": face,
            "isWholeAmountValueRequired": False, "countries": ["US"]}


BRANDS: list[dict[str, Any]] = [
    {"brandKey": "B000001", "brandName": "Acme Market", "items": [
        _variable("U761382", "Acme Market eGift Card", 1, 2000),
        _fixed("U123456", "Acme Market $25 Gift Card", 25),
    ]},
    {"brandKey": "B000002", "brandName": "Globex Rewards", "items": [
        _variable("U579023", "Globex Rewards Card", 5, 500),
        _variable("U222222", "Globex Whole-Dollar Card", 10, 100, whole=True),
    ]},
    {"brandKey": "B000003", "brandName": "Initech Legacy", "items": [
        _variable("U999999", "Initech Legacy Card (retired)", 1, 100, status="inactive"),
    ]},
    {"brandKey": "B000004", "brandName": "Umbrella Test Brand", "items": [
        _variable(FAILING_UTID, "Umbrella Card (always fails in processing)", 1, 1000),
    ]},
]

_ITEMS = {item["utid"]: item for brand in BRANDS for item in brand["items"]}


def find_item(utid: str) -> dict[str, Any] | None:
    """The catalog item for ``utid`` (case-insensitive, as Tango's pattern is ``^[uU]\\d+$``)."""
    return _ITEMS.get(utid.upper()) if isinstance(utid, str) else None


_SINCE = "2024-01-02T03:04:05.000Z"


def _verbose_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item with every field the reference's ``ItemViewVerbose`` requires."""
    return {**copy.deepcopy(item), "rewardType": "gift card", "isExpirable": False,
            "quantityConstraints": {"minQuantity": 1, "maxQuantity": 50_000},
            "fee": {"type": "PERCENTAGE", "value": 0}, "createdDate": _SINCE, "lastUpdateDate": _SINCE,
            "credentialTypes": ["claimCode"], "redemptionInstructions": "Redeem online.", "attributes": []}


def _verbose_brand(brand: dict[str, Any]) -> dict[str, Any]:
    """A brand with every field the reference's ``BrandViewWithItemsVerbose`` requires."""
    return {"brandKey": brand["brandKey"], "brandName": brand["brandName"], "disclaimer": "",
            "description": f"{brand['brandName']} (simulated)", "shortDescription": brand["brandName"],
            "terms": "Simulated terms.", "createdDate": _SINCE, "lastUpdateDate": _SINCE, "imageUrls": {},
            "status": "active", "categories": [{"identifier": "simulated", "description": "Simulated"}],
            "items": [_verbose_item(item) for item in brand["items"]]}


def catalog_body() -> dict[str, Any]:
    """The ``GET /catalogs`` body (the reference's ``CatalogViewVerbose``), built afresh each time."""
    return {"catalogName": CATALOG_NAME, "brands": [_verbose_brand(brand) for brand in BRANDS]}


# errorCodeValue is the numeric part of the matching i18nKey in Tango's messages (422.0xx).
_CODES = {
    "INVALID_UTID": 24,
    "AMOUNT_OUT_OF_RANGE": 25,
    "WHOLE_AMOUNT_REQUIRED": 26,
    "FIXED_VALUE_MISMATCH": 27,
    "ITEM_NOT_ACTIVE": 30,
}


def _error(field: str, name: str, message: str) -> dict[str, Any]:
    return {"field": field, "errorCodeValue": _CODES[name], "errorCodeName": name, "message": message}


def i18n_key(error: dict[str, Any]) -> str:
    """The ``422.0xx`` key of a catalog error (used when every line failed and a 422 is returned)."""
    return f"422.{error['errorCodeValue']:03d}"


def item_errors(utid: str, amount: float) -> list[dict[str, Any]]:
    """Why a line with this utid and amount cannot be ordered; empty when it can."""
    item = find_item(utid)
    if item is None:
        return [_error("utid", "INVALID_UTID", f"utid '{utid}' is not in the catalog")]
    if item["status"] != "active":
        return [_error("utid", "ITEM_NOT_ACTIVE", f"utid '{utid}' is not active")]
    errors = []
    if item["valueType"] == "FIXED_VALUE":
        if amount != item["faceValue"]:
            errors.append(_error("amount", "FIXED_VALUE_MISMATCH",
                                 f"utid '{utid}' is a fixed-value item: amount must be "
                                 f"{item['faceValue']}, got {amount}"))
    elif not item["minValue"] <= amount <= item["maxValue"]:
        errors.append(_error("amount", "AMOUNT_OUT_OF_RANGE",
                             f"amount {amount} is outside {item['minValue']}-{item['maxValue']} "
                             f"for utid '{utid}'"))
    if item["isWholeAmountValueRequired"] and amount != int(amount):
        errors.append(_error("amount", "WHOLE_AMOUNT_REQUIRED",
                             f"utid '{utid}' accepts whole amounts only, got {amount}"))
    return errors
