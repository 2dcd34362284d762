"""A file's page (its history, its rows as the ledger knows them, its reports), the downloads of its
reports, and a run's page: the pages the nightly notifications link to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from pipeline.approvals import why_not
from pipeline.model import RUN_STATUSES
from pipeline.web.guard import Refused, who
from pipeline.web.records import FIX, SHA256, file_view, rows_of
from pipeline.web.runtime import desk_of

__all__ = ["router"]

router = APIRouter()
SHOWN_ROWS = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# the statuses a rows table may be filtered by, and "to fix" (every status a person must act on)
FILTERS = ["to-fix", "all", *(s.value for s in RUN_STATUSES)]


def _not_found() -> Refused:
    return Refused(404, "There is no such file on the desk.", "Not found")


def _filtered(rows: list[dict[str, Any]], wanted: str | None) -> list[dict[str, Any]]:
    if wanted == "to-fix":
        return [r for r in rows if r["status"] in FIX or r["now"] in FIX]
    if wanted and wanted != "all":
        return [r for r in rows if wanted in (r["status"], r["now"])]
    return rows


@router.get("/files/{sha256}")
def file_page(request: Request, sha256: str, status: str | None = None) -> Response:
    desk = desk_of(request)
    with desk.ledger() as ledger:
        user = who(request, ledger, desk.settings)
        view = file_view(ledger, sha256)
        if view is None:
            raise _not_found()
        source, rows = rows_of(ledger, view)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["now"] or row["status"]] = counts.get(row["now"] or row["status"], 0) + 1
    to_fix = sum(n for s, n in counts.items() if s in FIX)
    wanted = status if status in FILTERS or status in counts else ("to-fix" if to_fix else "all")
    shown = _filtered(rows, wanted)
    may = why_not(user, view.uploader, view.total, desk.settings.campaign) if view.waiting else None
    return desk.page(request, "file.html", user=user, view=view, source=source, rows=shown[:SHOWN_ROWS],
                     total_rows=len(rows), matching=len(shown), counts=counts, filters=FILTERS, wanted=wanted,
                     to_fix=to_fix,
                     may_decide=view.waiting and may is None, why_not=may,
                     reports={w: view.report(w) is not None for w in ("report", "failures")})


def _download(request: Request, sha256: str, which: str) -> Response:
    desk = desk_of(request)
    with desk.ledger() as ledger:
        who(request, ledger, desk.settings, page=False)
        view = file_view(ledger, sha256) if SHA256.match(sha256) else None
    path = view.report(which) if view is not None else None
    if path is None:
        raise Refused(404, f"This file has no {which}.xlsx.", "Not found")
    name = f"{which}-{sha256[:12]}.xlsx"
    return FileResponse(path, filename=name, media_type=XLSX)


@router.get("/files/{sha256}/report.xlsx")
def report(request: Request, sha256: str) -> Response:
    return _download(request, sha256, "report")


@router.get("/files/{sha256}/failures.xlsx")
def failures(request: Request, sha256: str) -> Response:
    return _download(request, sha256, "failures")


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: int) -> Response:
    desk = desk_of(request)
    with desk.ledger() as ledger:
        user = who(request, ledger, desk.settings)
        run = next((r for r in ledger.runs_since(None) if r["id"] == run_id), None)
        if run is None:
            raise Refused(404, "There is no such run in the ledger.", "Not found")
        files = ledger.run_files([run_id]).get(run_id, [])
    return desk.page(request, "run.html", user=user, run=run, files=files)
