"""Text that leaves the program for a person: e-mail addresses and phone numbers masked, file names
and other outside text made printable, URLs without their user-info.

Every message that is not the report itself passes through here: the console (``Progress.say``),
the log file and JSON logs (``pipeline.logs``), ``summary.json``, the inbox's ``*.why.txt`` notes
and the message of an exception (``InputError``). Nothing here imports more than the standard library.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

__all__ = ["mask", "shown", "shown_lines", "without_userinfo"]

EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# E.164, or the North-American shapes people write; not digits inside paths, dates, times or IDs
PHONE = re.compile(r"(?<![\w+/.:-])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,5}|\+\d{8,15}"
                   r"|\+?1?[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4})(?![\w/:-])")
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def mask(text: str) -> str:
    """'jane.doe@example.com' -> 'j***@example.com'; '+14155552671' -> '+*********71'; a URL's
    'user:password@' -> '***@'."""
    text = USERINFO.sub(r"\1***@", text)
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return PHONE.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    number = match.group()
    if sum(ch.isdigit() for ch in number) < 8:      # too short to be a phone number: an amount
        return number
    return re.sub(r"\d", "*", number[:-2]) + number[-2:]


def shown(text: str) -> str:
    """A name from outside (a file name, a sheet name) as it can be printed and stored: bytes that
    were not UTF-8 (Python keeps them as lone surrogates) as ``\\xe9``, and control characters (a
    newline, an escape sequence, a right-to-left override) as ``\\n``, ``\\x1b``, ``\\u202e``."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:                  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable() or ch in " \u200c\u200d" or unicodedata.category(ch) in ("Zs", "Mn", "Mc"):
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1] if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def shown_lines(text: str) -> str:
    """A message as printable lines: its own line breaks kept, no other control character."""
    return "\n".join(shown(line) for line in text.split("\n"))


def without_userinfo(url: str) -> str:
    """The URL with any 'user:password@' taken out (for the logs and the ledger)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return USERINFO.sub(r"\1", url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
