"""What an upload is, by its content, not by its name: a workbook is a zip with a workbook's parts
(xlsx, xlsm, ods) or an OLE2 compound file (xls); a CSV file is text (no NUL byte, UTF-8 or
Windows-1252). A file whose content is not what its name says (a picture renamed .xlsx) is refused
before it is kept. The reader's own limits (``pipeline.stages.ingest``) still apply to what passes."""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["ACCEPTED", "problem"]

# the names the reader takes, and what each must be
ACCEPTED = {".xlsx": "an Excel workbook (.xlsx)", ".xlsm": "an Excel workbook (.xlsm)",
            ".xls": "a legacy Excel workbook (.xls)", ".ods": "an OpenDocument spreadsheet (.ods)",
            ".csv": "a CSV text file (.csv)"}
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _zip_names(path: Path) -> set[str] | None:
    try:
        with path.open("rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return None
        with zipfile.ZipFile(path) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def _ods(path: Path, names: set[str]) -> bool:
    if "mimetype" not in names or "content.xml" not in names:
        return False
    with zipfile.ZipFile(path) as archive:
        if archive.getinfo("mimetype").file_size > 100:
            return False
        return archive.read("mimetype").strip() == ODS_MIMETYPE


def _text(path: Path) -> bool:
    data = path.read_bytes()
    if b"\x00" in data or data.startswith((b"PK\x03\x04", OLE2)):
        return False
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            data.decode(encoding)
            return True
        except UnicodeDecodeError:
            continue
    return False


def problem(path: Path, suffix: str) -> str | None:
    """Why the file at ``path``, named ``*suffix``, is refused; None when its content is what its name says."""
    if suffix not in ACCEPTED:
        return (f"{suffix + ' files are' if suffix else 'a file without an extension is'} not read: upload "
                + ", ".join(ACCEPTED) + " (the template is an .xlsx workbook)")
    if path.stat().st_size == 0:
        return "the file is empty"
    if suffix == ".xls":
        with path.open("rb") as fh:
            ok = fh.read(8) == OLE2
    elif suffix == ".csv":
        ok = _text(path)
    else:
        names = _zip_names(path)
        if names is None:
            ok = False
        elif suffix == ".ods":
            ok = _ods(path, names)
        else:
            ok = "[Content_Types].xml" in names and "xl/workbook.xml" in names
    if ok:
        return None
    return (f"the file is named {suffix} but its content is not {ACCEPTED[suffix]}: save it from the spreadsheet "
            "program as one of the kinds the desk reads, and upload that")
