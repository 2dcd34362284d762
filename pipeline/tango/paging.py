"""Reading Tango's long answers page by page, by cursor, as its reference defines it.

- Order detail (``GET /asyncOrders/customers/{c}/accounts/{a}/{externalRefID}``): query
  ``maxResults`` (1 to 500, default 100) and ``nextCursor``; the answer's ``pagination`` holds
  ``nextCursor`` and ``nextPageAvailable``.
- Order list (``GET /asyncOrders``): the same query; the cursors sit at the top of the answer.
- Line items with credentials (``.../{externalRefID}/lineItems``, 1 to 100, default 50): never
  called: it returns the rewards' codes, which the pipeline must not hold.

A server that answers the same page again (it ignores the cursor, or hands back one it gave
before) would have the client read forever: that is an error, and so is an answer of more pages
than any order can have.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.errors import BadAnswer

__all__ = ["DETAIL_MAX_RESULTS", "LIST_MAX_RESULTS", "bounded", "detail_cursor", "detail_pages", "list_cursor",
           "pages", "query"]

DETAIL_MAX_RESULTS = 500
LIST_MAX_RESULTS = 100        # the reference types it as a string and publishes no bounds: a modest page
MAX_PAGES = 10_000            # an order list of a million orders
MAX_ORDER_LINES = 50_000      # the most line items the pipeline puts in one order (MAX_BATCH_SIZE)

Page = dict[str, Any]


def bounded(size: int, top: int) -> int:
    return max(1, min(int(size), top))


def query(size: int, cursor: str | None) -> dict[str, Any]:
    return {"maxResults": size, **({"nextCursor": cursor} if cursor else {})}


def _next(holder: dict[str, Any]) -> str | None:
    if holder.get("nextPageAvailable") is False:
        return None
    cursor = holder.get("nextCursor")
    if not cursor and holder.get("nextPageAvailable") is True:
        raise BadAnswer("Tango said another page follows but gave no cursor to it: stopped reading rather "
                        "than take the pages read for the whole")
    return str(cursor) if cursor else None


def detail_cursor(page: Page) -> str | None:
    return _next(page.get("pagination") or {})


def list_cursor(page: Page) -> str | None:
    return _next(page)


def _fingerprint(page: Page) -> str:
    items = page.get("lineItems") or page.get("orders") or []
    return json.dumps([len(items), items[:1], items[-1:]], sort_keys=True, default=str)


def pages(fetch: Callable[[str | None], Page | None], cursor_of: Callable[[Page], str | None], what: str,
          max_pages: int = MAX_PAGES) -> Iterator[Page | None]:
    """Each page in turn (None, first page only: there is no such thing, a 404), from ``fetch(cursor)``."""
    cursors: set[str] = set()
    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(max_pages):
        page = fetch(cursor)
        if page is None and cursor is not None:
            raise BadAnswer(f"Tango answered 404 for a later page of {what}, after its first page: not taken "
                            "to mean there is no such thing")
        yield page
        if page is None:
            return
        following = cursor_of(page)
        if not following:
            return
        mark = _fingerprint(page)
        if following in cursors or mark in seen:
            raise BadAnswer(f"Tango answered the same page of {what} twice (the cursor it returned was "
                            f"{'one it had returned before' if following in cursors else 'new, the page was not'}): "
                            "stopped reading rather than loop. Nothing was marked on the strength of it; "
                            "rerun later, and tell Tango's support if it persists")
        cursors.add(following)
        seen.add(mark)
        cursor = following
    raise BadAnswer(f"{what} ran past {max_pages} pages: stopped reading rather than loop")


def detail_pages(size: int) -> int:
    """The most pages an order's detail can have at ``size`` lines a page, and one more."""
    return -(-MAX_ORDER_LINES // size) + 1
