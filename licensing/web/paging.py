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
        return self.url(self.number - 1) if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.url(self.number + 1) if self.number < self.pages else None

    @property
    def next_count(self) -> int:
        """How many rows the next page shows."""
        return min(self.per_page, self.total - self.last_shown)

    def url(self, number: int) -> str:
        """The list on page `number`, with the same filters and order."""
        pairs = [*self.query, (self.parameter, str(number))] if number > 1 else list(self.query)
        fragment = f"#{self.anchor}" if self.anchor else ""
        return (f"{self.path}?{urlencode(pairs)}" if pairs else self.path) + fragment


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
    the pager's links lead to."""
    args = request.args if args is None else args
    bound = dict(parameters or {})
    assert count is not None or not bound, "a statement with parameters: give its count"
    total = (
        db.count_rows(session, statement)
        if count is None
        else int(session.scalar(count, bound) or 0)
    )
    number = min(requested_page(args, parameter), max(1, -(-total // per_page)))
    window = _window(statement)
    paged = {**bound, LIMIT: per_page, OFFSET: (number - 1) * per_page}
    items = rows(window, paged) if rows else list(session.scalars(window, paged))
    query = tuple((key, value) for key, value in args.items(multi=True) if key != parameter)
    return Page(items, number, per_page, total, path or request_path(), query, parameter, anchor)


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
