"""Request validation of ``POST /asyncOrders`` as Tango documents it (seed 004), written for the simulator.

This is deliberately independent of ``rules/`` and the rest of ``pipeline/``: the simulator plays
Tango, so a mistake in the pipeline's own checks must not be mirrored here. Every problem of a
request is collected (with a ``path`` such as ``lineItems[3].recipient.email``, 0-based) and the
caller answers once with a 422.

Where Tango's sources disagree (see ``shared/tango-api.md``) the simulator takes the seed's side, and
is lenient on the points the seeds themselves dispute (postal-code length). The one exception is
the spelling of bulk shipping, which is a setting (``BULK_SHIPPING_FORMS``): seed 004's
``shipping{contactName, contactPhoneNumber, ...}``, the reference's ``bulkShipping{contactFirstName*,
contactLastName*, contactMobileNumber, ..., address*}``, or either; the other one is refused.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

__all__ = ["BULK_SHIPPING_FORMS", "DELIVERY_METHODS", "SHIPPING_METHODS", "validate_order"]

# i18nKeys by kind of problem (Tango's own numbering per field is not public; these are stable).
REQUIRED, TOO_LONG, TOO_SHORT, BAD_FORMAT, NOT_ALLOWED, BAD_VALUE = (
    "422.100", "422.101", "422.102", "422.103", "422.104", "422.105")

DELIVERY_METHODS = ("EMAIL", "PHONE", "EMBEDDED", "ADDRESS", "NONE", "BULKDIGITAL", "BULKSHIPMENT")
BULK = {"BULKDIGITAL", "BULKSHIPMENT"}
RECIPIENT_REQUIRED = {"EMAIL", "PHONE", "EMBEDDED", "ADDRESS", "NONE"}
# which spelling of the BULKSHIPMENT object the server takes: the seed's, the reference's, or either
BULK_SHIPPING_FORMS = ("seed", "reference", "either")
SHIPPING_METHODS = ("upsground", "upsgroundsignature", "ups2ndday", "ups2nddaysignature",
                    "upsnextday", "upsnextdaysignature", "uspspriority", "uspsprioritysig",
                    "usps1stclass")

ALNUM = re.compile(r"^[A-Za-z0-9]+$")
IDENTIFIER = re.compile(r"^[-a-zA-Z0-9]+$")
DIGITAL_NAME = re.compile(r"^[^<>/]*$")
PHYSICAL_NAME = re.compile(r"^[0-9a-zA-Z .,&-]+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
US_MOBILE = re.compile(r"^\+1\d{10}$")  # "initial release: only US numbers" (seed 004)
STREET = re.compile(r"^[0-9a-zA-Z .,/&%#@'-]+$")
CITY = re.compile(r"^[0-9a-zA-Z .&'-]+$")
COUNTRY = re.compile(r"^[A-Za-z]{2}$")
US_ZIP = re.compile(r"^\d{5}$")
OTHER_POSTAL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z -]{2,9}$")

US_REGIONS = frozenset([
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "AS", "GU", "MP", "PR", "VI", "UM", "AA", "AE", "AP"])
CA_REGIONS = frozenset(["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"])


class _Errors:
    """Collects Tango-style error entries ``{path, i18nKey, message, invalidValue, constraint}``."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, path: str, key: str, message: str, value: Any = None,
            constraint: str | None = None) -> None:
        # Objects are not echoed back: the path already says which one is wrong.
        shown = None if isinstance(value, (dict, list)) else value
        self.items.append({"path": path, "i18nKey": key, "message": f"{path}: {message}",
                           "invalidValue": shown, "constraint": constraint})


def _string(errors: _Errors, obj: dict[str, Any], field: str, parent: str, *,
            required: bool = False, why: str = "", min_len: int | None = None,
            max_len: int | None = None, pattern: re.Pattern[str] | None = None,
            allowed: str = "") -> str | None:
    """Check one string field; returns it when present and a string (even if it broke a rule)."""
    value = obj.get(field)
    if value is None:
        if required:
            errors.add(_join(parent, field), REQUIRED, f"is required{why}", value, "required")
        return None
    if not isinstance(value, str):
        errors.add(_join(parent, field), BAD_VALUE, "must be a string", value, "string")
        return None
    if not value.strip():
        if required:
            errors.add(_join(parent, field), REQUIRED, f"is required{why}", value, "required")
        return None
    if max_len is not None and len(value) > max_len:
        errors.add(_join(parent, field), TOO_LONG, f"must be at most {max_len} characters (got {len(value)})",
                   value, f"maxLength={max_len}")
    if min_len is not None and len(value) < min_len:
        errors.add(_join(parent, field), TOO_SHORT, f"must be at least {min_len} characters (got {len(value)})",
                   value, f"minLength={min_len}")
    if pattern is not None and not pattern.match(value):
        errors.add(_join(parent, field), BAD_FORMAT, f"has characters or a format that is not allowed{allowed}",
                   value, f"pattern={pattern.pattern}")
    return value


def _join(parent: str, field: str) -> str:
    """A field's path, made only for an error: a valid request has every field checked, none reported."""
    return f"{parent}.{field}" if parent else field


def _object(errors: _Errors, value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.add(path, BAD_VALUE, "must be an object", value, "object")
        return None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------- order level

def validate_order(body: dict[str, Any], today: dt.date, bulk_shipping: str = "seed") -> list[dict[str, Any]]:
    """Every validation error of one ``POST /asyncOrders`` body; an empty list means valid.

    ``today`` (UTC) is needed for the "deliveryDate at least 7 days ahead" rule; ``bulk_shipping``
    is the spelling of the BULKSHIPMENT object this server takes (``BULK_SHIPPING_FORMS``).
    """
    errors = _Errors()
    _string(errors, body, "externalRefID", "", required=True, max_len=100, pattern=ALNUM,
            allowed=" (letters and digits only)")
    for field in ("customerIdentifier", "accountIdentifier"):
        _string(errors, body, field, "", required=True, min_len=5, max_len=100,
                pattern=IDENTIFIER, allowed=" (letters, digits and '-')")
    sender = _object(errors, body.get("sender"), "sender")
    if sender is not None:
        _string(errors, sender, "firstName", "sender", max_len=100)
        _string(errors, sender, "lastName", "sender", max_len=100)
        _string(errors, sender, "email", "sender", pattern=EMAIL)
    _string(errors, body, "campaign", "", max_len=1024)
    _string(errors, body, "purchaseOrderNumber", "", max_len=100)
    _string(errors, body, "notes", "", max_len=150)
    _line_items(errors, body.get("lineItems"), today, bulk_shipping)
    return errors.items


def _line_items(errors: _Errors, lines: Any, today: dt.date, bulk_shipping: str) -> None:
    if lines is None:
        errors.add("lineItems", REQUIRED, "is required (at least one line item)", None, "required")
    elif not isinstance(lines, list):
        errors.add("lineItems", BAD_VALUE, "must be an array", lines, "array")
    elif not lines:
        errors.add("lineItems", TOO_SHORT, "needs at least one line item", None, "minItems=1")
    else:
        for index, line in enumerate(lines):
            _line_item(errors, line, f"lineItems[{index}]", today, bulk_shipping)


# ---------------------------------------------------------------- line level

def _line_item(errors: _Errors, line: Any, path: str, today: dt.date, bulk_shipping: str) -> None:
    if line is None:
        errors.add(path, BAD_VALUE, "must be a line item object, not null", None, "object")
        return
    line = _object(errors, line, path)
    if line is None:
        return
    _string(errors, line, "externalRefLineItemID", path, required=True, max_len=150)
    _string(errors, line, "utid", path, required=True)
    _amount(errors, line, path)
    method = _delivery_method(errors, line, path)
    _quantity(errors, line, path, method)
    _recipient(errors, line, path, method)
    _bulk_shipping(errors, line, path, method, bulk_shipping)
    _shipping_method(errors, line, path, method)
    _string(errors, line, "emailSubject", path)
    _string(errors, line, "message", path, max_len=1024)
    _string(errors, line, "lineItemNote", path, max_len=150)
    _delivery_date(errors, line, path, today)


def _amount(errors: _Errors, line: dict[str, Any], parent: str) -> None:
    path, value = f"{parent}.amount", line.get("amount")
    if value is None:
        errors.add(path, REQUIRED, "is required (even for fixed-value items)", None, "required")
    elif not _is_number(value) or not math.isfinite(value):
        errors.add(path, BAD_VALUE, "must be a number", value, "number")
    elif value < 0:
        errors.add(path, BAD_VALUE, "must be 0 or more", value, "min=0")


def _delivery_method(errors: _Errors, line: dict[str, Any], parent: str) -> str | None:
    """The line's delivery method, or None when missing or unknown (the matrix is then skipped)."""
    path, value = f"{parent}.deliveryMethod", line.get("deliveryMethod")
    if value is None or value == "":
        errors.add(path, REQUIRED, "is required", value, "required")
        return None
    if not isinstance(value, str) or value not in DELIVERY_METHODS:
        errors.add(path, BAD_VALUE, f"must be one of {', '.join(DELIVERY_METHODS)}", value,
                   f"enum={'|'.join(DELIVERY_METHODS)}")
        return None
    return value


def _quantity(errors: _Errors, line: dict[str, Any], parent: str, method: str | None) -> None:
    path, value = f"{parent}.quantity", line.get("quantity")
    if value is None:
        return  # defaults to 1
    if not _is_number(value) or not math.isfinite(value) or value != int(value):
        errors.add(path, BAD_VALUE, "must be a whole number", value, "integer")
    elif value < 1:
        errors.add(path, BAD_VALUE, "must be 1 or greater", value, "min=1")
    elif value > 1 and method is not None and method not in BULK:
        errors.add(path, NOT_ALLOWED, f"quantity greater than 1 needs deliveryMethod BULKDIGITAL or "
                   f"BULKSHIPMENT, not {method}", value, "max=1")


def _recipient(errors: _Errors, line: dict[str, Any], parent: str, method: str | None) -> None:
    path, value = f"{parent}.recipient", line.get("recipient")
    if method in BULK:
        if value is not None:
            errors.add(path, NOT_ALLOWED, f"is not allowed for deliveryMethod {method}", value,
                       "absent")
        return
    if value is None:
        if method in RECIPIENT_REQUIRED:
            errors.add(path, REQUIRED, f"is required for deliveryMethod {method}", None, "required")
        return
    recipient = _object(errors, value, path)
    if recipient is None:
        return
    physical = method == "ADDRESS"
    _name(errors, recipient, "firstName", path, required=True, physical=physical)
    _name(errors, recipient, "lastName", path, required=physical, physical=physical)
    needs_email = method in ("EMAIL", "EMBEDDED")
    _string(errors, recipient, "email", path, required=needs_email, pattern=EMAIL,
            why=f" for deliveryMethod {method}", allowed=" (an email address)")
    _string(errors, recipient, "mobileNumber", path, required=method == "PHONE", pattern=US_MOBILE,
            why=" for deliveryMethod PHONE", allowed=" (+1 and 10 digits)")
    _recipient_address(errors, recipient.get("address"), f"{path}.address", method)


def _name(errors: _Errors, recipient: dict[str, Any], field: str, parent: str, *,
          required: bool, physical: bool) -> None:
    if physical:
        _string(errors, recipient, field, parent, required=required, max_len=25,
                pattern=PHYSICAL_NAME, why=" for deliveryMethod ADDRESS",
                allowed=" (physical rewards: letters, digits, space . , & -)")
    else:
        _string(errors, recipient, field, parent, required=required, max_len=100,
                pattern=DIGITAL_NAME, why=" when a recipient is sent", allowed=" (no < > /)")


def _recipient_address(errors: _Errors, value: Any, path: str, method: str | None) -> None:
    if method == "ADDRESS":
        if value is None:
            errors.add(path, REQUIRED, "is required for deliveryMethod ADDRESS", None, "required")
        else:
            _address(errors, value, path, city_max=30)
    elif value is not None and method is not None:
        # "Providing an address for digital orders will result in validation failure" (seed 004).
        errors.add(path, NOT_ALLOWED, f"is not allowed for digital deliveryMethod {method}", value,
                   "absent")


def _bulk_shipping(errors: _Errors, line: dict[str, Any], parent: str, method: str | None, form: str) -> None:
    """The BULKSHIPMENT object, in the spelling(s) this server takes; never on another method."""
    sent = [key for key in ("shipping", "bulkShipping") if line.get(key) is not None]
    taken = {"seed": ["shipping"], "reference": ["bulkShipping"]}.get(form, ["shipping", "bulkShipping"])
    for key in sent:
        if method is not None and method != "BULKSHIPMENT":
            errors.add(f"{parent}.{key}", NOT_ALLOWED, f"is not allowed for deliveryMethod {method}", line[key],
                       "absent")
        elif key not in taken:
            errors.add(f"{parent}.{key}", NOT_ALLOWED, f"is not accepted: this server takes {taken[0]} for "
                       "deliveryMethod BULKSHIPMENT", line[key], "absent")
    if method == "BULKSHIPMENT" and not any(key in taken for key in sent):
        errors.add(f"{parent}.{taken[0]}", REQUIRED, "is required for deliveryMethod BULKSHIPMENT", None,
                   "required")
    if method == "BULKSHIPMENT" and "shipping" in sent and "shipping" in taken:
        _seed_shipping(errors, line["shipping"], f"{parent}.shipping")
    if method == "BULKSHIPMENT" and "bulkShipping" in sent and "bulkShipping" in taken:
        _reference_shipping(errors, line["bulkShipping"], f"{parent}.bulkShipping")


def _seed_shipping(errors: _Errors, value: Any, path: str) -> None:
    """Seed 004's ``shipping``: contactName (50 max), contactPhoneNumber, and the address."""
    shipping = _object(errors, value, path)
    if shipping is None:
        return
    for field in ("companyName", "contactEmail", "contactPhoneNumber"):
        _string(errors, shipping, field, path)
    _string(errors, shipping, "contactName", path, max_len=50)
    # The seed spells it once as "shipping.Address" next to "shipping.address.*": accept both.
    address = shipping.get("address", shipping.get("Address"))
    if address is None:
        errors.add(f"{path}.address", REQUIRED, "is required", None, "required")
    else:
        _address(errors, address, f"{path}.address", city_max=35)


def _reference_shipping(errors: _Errors, value: Any, path: str) -> None:
    """The reference's ``bulkShipping`` (ShippingCriteria): contactFirstName, contactLastName and
    address required; companyName, contactEmail, contactMobileNumber optional."""
    shipping = _object(errors, value, path)
    if shipping is None:
        return
    for field in ("companyName", "contactEmail", "contactMobileNumber"):
        _string(errors, shipping, field, path)
    for field in ("contactFirstName", "contactLastName"):
        _string(errors, shipping, field, path, required=True)
    if shipping.get("address") is None:
        errors.add(f"{path}.address", REQUIRED, "is required", None, "required")
    else:
        _address(errors, shipping["address"], f"{path}.address", city_max=35)


def _address(errors: _Errors, value: Any, path: str, *, city_max: int) -> None:
    address = _object(errors, value, path)
    if address is None:
        return
    _string(errors, address, "companyName", path)
    street = " (letters, digits, space . , - / & % # @ ')"
    _string(errors, address, "streetLine1", path, required=True, max_len=35, pattern=STREET,
            allowed=street)
    _string(errors, address, "streetLine2", path, max_len=35, pattern=STREET, allowed=street)
    _string(errors, address, "city", path, required=True, max_len=city_max, pattern=CITY,
            allowed=" (letters, digits, space . - & ')")
    country = _string(errors, address, "country", path, required=True, pattern=COUNTRY,
                      allowed=" (a 2-letter ISO 3166-1 code)")
    country = (country or "").upper()
    _region(errors, address, path, country)
    _postal_code(errors, address, path, country)


def _region(errors: _Errors, address: dict[str, Any], parent: str, country: str) -> None:
    region = _string(errors, address, "stateOrProvince", parent, required=True)
    if region is None:
        return
    path = f"{parent}.stateOrProvince"
    known = {"US": US_REGIONS, "CA": CA_REGIONS}.get(country)
    if known is not None and region not in known:
        errors.add(path, BAD_FORMAT, f"must be a 2-letter uppercase {country} state or province code",
                   region, "enum")
    elif known is None and len(region) >= 36:
        errors.add(path, TOO_LONG, "must be under 36 characters", region, "maxLength=35")


def _postal_code(errors: _Errors, address: dict[str, Any], parent: str, country: str) -> None:
    # US: the five-digit ZIP only (seed 004). Elsewhere the seeds disagree (5 vs 5-10): be lenient.
    if country == "US":
        _string(errors, address, "postalCode", parent, required=True, pattern=US_ZIP,
                allowed=" (US: the five-digit ZIP code only)")
    else:
        _string(errors, address, "postalCode", parent, required=True, pattern=OTHER_POSTAL,
                allowed=" (3-10 letters, digits, spaces or '-')")


def _shipping_method(errors: _Errors, line: dict[str, Any], parent: str,
                     method: str | None) -> None:
    required = method in ("ADDRESS", "BULKSHIPMENT")
    value = _string(errors, line, "shippingMethod", parent, required=required,
                    why=f" for deliveryMethod {method}")
    if value is not None and value.lower() not in SHIPPING_METHODS:
        errors.add(f"{parent}.shippingMethod", BAD_VALUE,
                   f"must be one of {', '.join(SHIPPING_METHODS)}", value,
                   f"enum={'|'.join(SHIPPING_METHODS)}")


def _delivery_date(errors: _Errors, line: dict[str, Any], parent: str, today: dt.date) -> None:
    value = _string(errors, line, "deliveryDate", parent)
    if value is None:
        return
    path = f"{parent}.deliveryDate"
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        errors.add(path, BAD_FORMAT, "must be an ISO 8601 date (YYYY-MM-DD)", value, "date")
        return
    earliest = today + dt.timedelta(days=7)
    if day < earliest:
        errors.add(path, BAD_VALUE, f"must be at least 7 days in the future ({earliest} or later)",
                   value, f"min={earliest}")
