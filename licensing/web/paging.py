"""Pages of a long list: a list page shows `PER_PAGE` rows with "Previous" and "Next",
keeping the query string's filters and order, and says how many there are in all.

A list of 1,000 applications is not read a thousand at a time by anybody; one page
of them renders in a small fraction of the time (see BENCHMARKS.md).

    page = paging.read_page(session, statement)
    render_template(..., rows=page.items, page=page)   # {{ pager(page, 'applications') }}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from flask import request
from sqlalchemy import Select, bindparam
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from licensing import arguments, db
from licensing.limits import page_number
from licensing.links import request_path

T = TypeVar("T")

# Rows a list page shows at once: the API's default page size too.
PER_PAGE = 50


def page_count(total: int, per_page: int) -> int:
    """How many pages `total` rows fill; an empty list is one (empty) page."""
    return max(1, -(-total // per_page))


# The page number as a page's messages name it.
PAGE_LABEL = {"page": "Page"}


def requested_page(args: Mapping[str, str] | None = None, parameter: str = "page") -> int:
    """The page number `args` (by default the request's query string) asks for in
    `parameter` (`page`; a page with two pagers names the second's otherwise).
    Given twice it is refused (400), not read as its first value, as the API's
    page arguments and every filter are; named "Page" as a page names a filter by
    its label (`arguments.field_message`), the pager having no label of its own."""
    args = request.args if args is None else args
    if twice := arguments.repeated(args, labels={parameter: PAGE_LABEL["page"]}):
        raise BadRequest(twice[parameter][0])
    return page_number(args.get(parameter))


def numbered(page: int, total: int, per_page: int) -> dict[str, int]:
    """The template variables of a list paged by number rather than by `Page`:
    `page` of `pages`, and the `total` of rows."""
    return {"page": page, "pages": page_count(total, per_page), "total": total}


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, numbered from 1, and where it sits in the whole list."""

    items: Sequence[T]
    number: int
    per_page: int
    total: int
    path: str = ""  # the list page's path, escaped; and its query string without `page`
    query: tuple[tuple[str, str], ...] = ()
    # The query argument that numbers this list's pages, and the id of the page's
    # element its links lead to (round 47: the organization pages page two lists,
    # each pager keeping the other's page in its links).
    parameter: str = "page"
    anchor: str = ""
    # A list read by key (`Seek`, round 56): the ids of the page's first and last rows,
    # which its "Previous" and "Next" links carry beside the page's number, so the
    # page they lead to is read from that row on rather than counted from the first.
    first_key: int | None = None
    last_key: int | None = None

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)

    @property
    def first_shown(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.items) - 1 if self.items else 0

    @property
    def previous_url(self) -> str | None:
        if self.number <= 1:
            return None
        # Page 1 is the list's start: no key to read it from.
        keyed = self.first_key is not None and self.number > 2
        return self.url(self.number - 1, (BEFORE, self.first_key) if keyed else None)

    @property
    def next_url(self) -> str | None:
        if self.number >= self.pages:
            return None
        keyed = self.last_key is not None
        return self.url(self.number + 1, (AFTER, self.last_key) if keyed else None)

    @property
    def next_count(self) -> int:
        """How many rows the next page shows."""
        return min(self.per_page, self.total - self.last_shown)

    def url(self, number: int, key: tuple[str, int | None] | None = None) -> str:
        """The list on page `number`, with the same filters and order (and, for a
        list read by key, the row `key` names to read it after or before)."""
        pairs = [*self.query, (self.parameter, str(number))] if number > 1 else list(self.query)
        if key is not None:
            pairs.append((key[0], str(key[1])))
        fragment = f"#{self.anchor}" if self.anchor else ""
        return (f"{self.path}?{urlencode(pairs)}" if pairs else self.path) + fragment


# The query arguments of a list read by key: the row a page starts after ("Next") or
# ends before ("Previous").
AFTER, BEFORE = "after", "before"
KEY_LABELS = {AFTER: "Page", BEFORE: "Page"}


@dataclass(frozen=True)
class Seek(Generic[T]):
    """How to read a list's page by key (round 56): OFFSET walks every row before the
    page (the staff royalty queue's page 400 of 20,000 periods read and joined all
    19,950 before it), a page read after (or before) a row's sort key starts there.

    `key`: the id a row is found again by (its sort key is looked up by it, so the
    link carries a number, not the key's values). `rows(id, backwards, size)`: the
    `size` rows after the row of that id in the list's order (or, `backwards`, the
    `size` before it, in the list's order); None when no such row is to be found, and
    the page is then read by its number. `backwards`: whether it reads before a row
    too (the vendor's royalty list does not: its "Previous" is read by number). Page
    numbers stay: a link says both, the number for "page N of M" and the key to read
    it by; a number alone (a link kept, typed, or the pager's first page) is read by
    OFFSET as before."""

    key: Callable[[T], int]
    rows: Callable[[int, bool, int], Sequence[T] | None]
    # Whether `rows` reads backwards too: if not, "Previous" names no row (its page
    # is read by its number).
    backwards: bool = True


def _seek_key(args: Mapping[str, str]) -> tuple[int, bool] | None:
    """The row a request asks its page to start after or end before: (id, backwards);
    None when it names none or one that is not a row's id (the page number then
    decides, as a page number that cannot be read means the first page). Given twice,
    refused (400) as the page number is."""
    if twice := arguments.repeated(args, labels=KEY_LABELS):
        raise BadRequest(next(iter(twice.values()))[0])
    for name, backwards in ((AFTER, False), (BEFORE, True)):
        raw = (args.get(name) or "").strip()
        if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 18:
            return int(raw), backwards
    return None


def read_page(
    session: Session,
    statement: Select[Any],
    *,
    args: MultiDict[str, str] | None = None,
    path: str | None = None,
    per_page: int = PER_PAGE,
    rows: Callable[[Select[Any], dict[str, int]], Sequence[T]] | None = None,
    count: Select[Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    parameter: str = "page",
    anchor: str = "",
    seek: Seek[T] | None = None,
    total: int | None = None,
) -> Page[T]:
    """The page that `args` (by default the request's query string) asks for of what
    `statement` selects; past the last page, the last page. The database counts the
    rows and returns only the page's; `rows` reads them (by default the statement's
    first column, e.g. ORM entities). The page's links lead to `path` (by default the
    request's, escaped here once: `links.request_path`; a caller gives one only for
    another page's, as `url_for` writes it) with `args` kept. `count`, when given,
    selects how many rows `statement` has more cheaply than counting its rows as
    selected. `rows` gets
    the page's statement and the parameters to execute it with. `parameters`: the
    values of the statements' own bound parameters (a statement kept per process
    binds its filters' values per request), given to `count` (then required) too.
    `parameter` names the query argument of the page's number (a second list on
    one page has its own, its pager keeping the first's), `anchor` the element
    the pager's links lead to. `seek`: the list is read by key when the request
    names the row to start after or end before (`Seek`), its links naming them.
    `total`: how many rows `statement` selects, when the caller has counted them
    already (round 59: the invoice list narrowed to a balance on a day counts them
    with its totals, in the statement that sums the ledger once, rather than summing
    it again only to count); no statement counts them then."""
    args = request.args if args is None else args
    bound = dict(parameters or {})
    assert count is not None or total is not None or not bound, (
        "a statement with parameters: give its count"
    )
    if total is None:
        total = (
            db.count_rows(session, statement)
            if count is None
            else int(session.scalar(count, bound) or 0)
        )
    number = min(requested_page(args, parameter), max(1, -(-total // per_page)))
    items: Sequence[T] | None = None
    asked = _seek_key(args) if seek is not None else None  # given twice: refused, as the number
    if seek is not None and asked is not None and number > 1:
        # None (no such row) or none (the row was the list's last): by the number.
        items = seek.rows(asked[0], asked[1], per_page) or None
    if items is None:
        window = _window(statement)
        paged = {**bound, LIMIT: per_page, OFFSET: (number - 1) * per_page}
        items = rows(window, paged) if rows else list(session.scalars(window, paged))
    kept = {parameter, AFTER, BEFORE} if seek is not None else {parameter}
    query = tuple((key, value) for key, value in args.items(multi=True) if key not in kept)
    first_key = seek.key(items[0]) if seek and seek.backwards and items else None
    last_key = seek.key(items[-1]) if seek and items else None
    return Page(
        items,
        number,
        per_page,
        total,
        path or request_path(),
        query,
        parameter,
        anchor,
        first_key,
        last_key,
    )


def page_of(
    items: Sequence[T], *, args: MultiDict[str, str] | None = None, per_page: int = PER_PAGE
) -> Page[T]:
    """The page that `args` (by default the request's query string) asks for of a list
    already computed in Python (a queue built from every agreement's periods, say):
    the same numbering, links and count as `read_page`."""
    args = request.args if args is None else args
    number = min(requested_page(args), page_count(len(items), per_page))
    shown = items[(number - 1) * per_page : number * per_page]
    query = tuple((key, value) for key, value in args.items(multi=True) if key != "page")
    return Page(shown, number, per_page, len(items), request_path(), query)


LIMIT, OFFSET = "paging_limit", "paging_offset"
# Each statement's page window, by the statement's identity; the entry holds the
# statement, so no other object can take its id while it is kept.
_WINDOWS: dict[int, tuple[Select[Any], Select[Any]]] = {}


def _window(statement: Select[Any]) -> Select[Any]:
    """`statement` with LIMIT and OFFSET as bound parameters, kept per statement: a
    statement its query module keeps per process (`agreements.queries`) is then
    executed with SQLAlchemy's cache key computed once, not once per page."""
    kept = _WINDOWS.get(id(statement))
    if kept is not None and kept[0] is statement:
        return kept[1]
    window = statement.limit(bindparam(LIMIT)).offset(bindparam(OFFSET))
    if len(_WINDOWS) >= 256:
        _WINDOWS.clear()
    _WINDOWS[id(statement)] = (statement, window)
    return window
