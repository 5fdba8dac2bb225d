"""The staff console's audit log: filters and CSV export (admins)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date

from flask import Blueprint, Response, render_template, request
from sqlalchemy.orm import Session

from licensing import access, arguments, db, limits
from licensing.audit import queries
from licensing.audit.models import AuditEvent
from licensing.calendar import parse_day
from licensing.db import utcnow
from licensing.downloads import document_rate_limit
from licensing.streaming import stream_rows
from licensing.web import records
from licensing.web.paging import numbered, page_count, requested_page

bp = Blueprint("audit_console", __name__, url_prefix="/console")

PER_PAGE = 50
# Each filter's label: the page's form draws them from here, and its refusals
# (`arguments`) and unreadable dates name the field by them.
FILTER_LABELS = {
    "entity_type": "Record type",
    "entity_id": "Record id or reference",
    "actor": "Actor",
    "action": "Action",
    "since": "From",
    "until": "To",
}
FILTER_NAMES = tuple(FILTER_LABELS)
CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "note",
    "request_id",
    "client_ip",
    "hash",
)


def filters_from(args: Mapping[str, str]) -> tuple[queries.AuditFilter, list[str]]:
    """The filter a query string describes, and what in it could not be read."""
    problems: list[str] = []
    dates: dict[str, date | None] = {}
    for name in ("since", "until"):
        label = FILTER_LABELS[name]
        raw = (args.get(name) or "").strip()
        try:
            dates[name] = parse_day(raw) if raw else None
        except ValueError:
            problems.append(f"{label}: {raw!r} is not a date such as 2026-01-31.")
            dates[name] = None

    def text(name: str) -> str | None:
        return (args.get(name) or "").strip()[:200] or None

    entity_type, entity_id = text("entity_type"), text("entity_id")
    # A reference people use (APP-000042) rather than a record id (ASCII digits).
    if entity_id and limits.record_id(entity_id) is None:
        named = records.find_reference(entity_id)
        if named and entity_type in (None, named[0]):
            entity_type, entity_id = named
    return (
        queries.AuditFilter(
            entity_type=entity_type,
            entity_id=entity_id,
            actor=text("actor"),
            # Round 59: by the name the page shows beside the address, too.
            actor_by_name=True,
            action=text("action"),
            since=dates["since"],
            until=dates["until"],
        ),
        problems,
    )


@bp.route("/audit")
@access.staff("admin")
def audit_log() -> tuple[str, int]:
    filters, problems = filters_from(request.args)
    page = requested_page()
    session = db.session()
    # A filter given twice is refused beside its field (`arguments`), a date that
    # cannot be read above the form: either way nothing is listed, as the CSV
    # exports nothing, rather than every event as if the filter had been read.
    refused = arguments.repeated(request.args, labels=FILTER_LABELS)
    unread = bool(refused or problems)
    events, total = (
        ([], 0) if unread else queries.page(session, filters, page=page, per_page=PER_PAGE)
    )
    if (
        page > (last := page_count(total, PER_PAGE)) and not unread
    ):  # a stale link: the last page, as lists do
        page = last
        events, total = queries.page(session, filters, page=page, per_page=PER_PAGE)
    entity_types, actions = queries.vocabulary(session)
    empty = total == 0 and not unread and any(request.args.get(k) for k in FILTER_NAMES)
    return render_template(
        "console/audit_log.html",
        events=events,
        **numbered(page, total, PER_PAGE),
        filters=filters,
        problems=problems,
        why_empty=(
            queries.why_nothing_matches(session, filters, records.record_type_in_sentence)
            if empty
            else []
        ),
        refs=records.record_refs((e.entity_type, e.entity_id) for e in events),
        entity_types=entity_types,
        actions=actions,
        query={key: value for key, value in request.args.items() if key != "page" and value},
        filter_errors=refused,
        filter_labels=FILTER_LABELS,
        unread=unread,
    ), (400 if refused else 422 if problems else 200)


def _row(event: AuditEvent) -> list[object]:
    return [getattr(event, column) for column in CSV_COLUMNS]


@bp.route("/audit.csv")
@access.staff("admin")
@document_rate_limit()
def audit_log_csv() -> Response | tuple[str, int]:
    """Every event the filters match, oldest first, as CSV. A filter given twice
    or a date that cannot be read exports nothing: the audit page instead, with
    the message beside the filter (it exported by the first value, or unfiltered)."""
    filters, problems = filters_from(request.args)
    if problems or arguments.repeated(request.args, among=FILTER_NAMES):
        return audit_log()

    def rows(session: Session) -> Iterator[list[object]]:
        for event in queries.iterate(session, filters):
            yield _row(event)

    return stream_rows(rows, header=CSV_COLUMNS, filename=f"audit-log-{utcnow():%Y%m%d-%H%M%S}.csv")
