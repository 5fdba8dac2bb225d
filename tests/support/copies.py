"""Many records at once, for list pages, exports and their benchmarks: copies of
one made through the services (an application with its uses and quotes, an
agreement, an invoice with its lines), each with a name or number of its own.
Making each through the services would only slow the set-up; the lists and
exports read rows, and the copies are rows like the original's.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, UniqueConstraint, func, insert, inspect, select, update
from sqlalchemy.orm import Session, undefer

from licensing import db
from licensing.agreements.models import Agreement, Application, ApplicationUse, QuoteVersion
from licensing.billing.models import Invoice, InvoiceLine
from licensing.billing.states import ROYALTY_REPORT
from licensing.db import Base
from licensing.royalties.models import ReportingPeriod, RoyaltyReport, RoyaltyReportLine
from licensing.royalties.periods import reporting_periods
from licensing.royalties.schedule import stored_period_rows


def _columns(record: Any, *skip: str) -> dict[str, Any]:
    keys = [attribute.key for attribute in inspect(type(record)).column_attrs]
    return {key: getattr(record, key) for key in keys if key not in ("id", *skip)}


def copy_application(
    session: Session, application_id: int, copies: int, product: str = "Invented Feed"
) -> list[int]:
    """`copies` more applications like this one, the n-th's products named
    `f"{product} {n}"`; their ids, in the order made. Commits."""
    original = session.get(Application, application_id)
    assert original is not None
    uses = list(original.uses)
    quotes = list(
        session.scalars(select(QuoteVersion).where(QuoteVersion.application_id == application_id))
    )
    made = []
    for number in range(copies):
        copy = Application(**_columns(original))
        copy.uses = [
            ApplicationUse(
                **{**_columns(use, "application_id"), "product_name": f"{product} {number}"}
            )
            for use in uses
        ]
        session.add(copy)
        session.flush()
        session.add_all(
            QuoteVersion(**{**_columns(quote), "application_id": copy.id}) for quote in quotes
        )
        made.append(copy.id)
    session.commit()
    return made


def requote(session: Session, application_id: int, **changes: Any) -> QuoteVersion:
    """A later quote version of the application, like its latest with `changes` (as a
    staff modification makes one: priced again, the term changed). Flushes."""
    last = session.scalars(
        select(QuoteVersion)
        .where(QuoteVersion.application_id == application_id)
        .order_by(QuoteVersion.version.desc())
        .limit(1)
    ).one()
    later = QuoteVersion(
        **{**_columns(last), "version": last.version + 1, "kind": "modified", **changes}
    )
    session.add(later)
    session.flush()
    session.expire(last.application, ["quotes"])
    return later


def copy_agreement(
    session: Session,
    agreement_id: int,
    application_ids: list[int],
    *,
    term: tuple[date, date],
    number_from: int = 900000,
) -> list[int]:
    """An active agreement like this one for each of `application_ids` (copies of
    its application, `copy_application`), over `term`, numbered from `number_from`
    in the term's year, with its reporting periods stored as acceptance stores them;
    their ids. Commits."""
    # Its bytes too, which a read leaves behind unless asked (round 51).
    original = session.get(
        Agreement, agreement_id, options=[undefer(Agreement.pdf)], populate_existing=True
    )
    assert original is not None
    reports = select(ReportingPeriod.id).where(ReportingPeriod.agreement_id == agreement_id)
    assert session.scalar(reports.limit(1)) is not None, "the original reports no usage"
    version = original.quote.version
    found = session.execute(
        select(QuoteVersion.application_id, QuoteVersion.id).where(
            QuoteVersion.application_id.in_(application_ids), QuoteVersion.version == version
        )
    )
    quotes = {row.application_id: row.id for row in found}
    made = []
    skip = ("number", "application_id", "quote_id", "term_start", "term_end", "renewal_of_id")
    for offset, application_id in enumerate(application_ids):
        copy = Agreement(
            **_columns(original, *skip),
            number=f"CPT-{term[0].year}-{number_from + offset:06d}",
            application_id=application_id,
            quote_id=quotes[application_id],
            term_start=term[0],
            term_end=term[1],
        )
        session.add(copy)
        session.flush()
        periods = reporting_periods(*term)
        session.execute(insert(ReportingPeriod), stored_period_rows(copy, periods))
        made.append(copy.id)
    session.commit()
    return made


def copy_row(table: Table, match: Any, **changes: Any) -> int:
    """A copy of the row of `table` that `match` selects, with a new id and
    `changes`: its id."""
    session = db.session()
    values = dict(session.execute(select(table).where(match)).one()._mapping)
    values.pop("id")
    values.update(changes)
    return int(session.execute(insert(table).values(values).returning(table.c.id)).scalar_one())


def copy_invoice(invoice_id: int, **changes: Any) -> int:
    """A copy of an invoice and its lines, the invoice with `changes`: its id."""
    session = db.session()
    invoices, lines = Invoice.__table__, InvoiceLine.__table__
    copy_id = copy_row(invoices, invoices.c.id == invoice_id, **changes)  # type: ignore[arg-type, attr-defined]
    for (line_id,) in session.execute(
        select(lines.c.id).where(lines.c.invoice_id == invoice_id)  # type: ignore[attr-defined]
    ).all():
        copy_row(lines, lines.c.id == line_id, invoice_id=copy_id)  # type: ignore[arg-type, attr-defined]
    return copy_id


def invoiced_agreements(invoice: Invoice, count: int, start: int) -> None:
    """`count` more agreements like `invoice`'s, each on an application of its
    own, with an up-front invoice of its own like `invoice` (its lines too). Every
    other one asks for its uses in the other order, so that its lines' uses differ
    from its neighbours' (a line given another agreement's use shows)."""
    session = db.session()
    agreement = session.get(Agreement, invoice.source_id)
    assert agreement is not None
    applications = Application.__table__
    uses = ApplicationUse.__table__
    asked = session.execute(
        select(uses.c.id, uses.c.use)
        .where(uses.c.application_id == agreement.application_id)
        .order_by(uses.c.position)
    ).all()
    assert len({use for _id, use in asked}) > 1, "the agreement asks for one use"
    for index in range(start, start + count):
        application_id = copy_row(applications, applications.c.id == agreement.application_id)
        order = asked if index % 2 else asked[::-1]
        for (use_id, _use), (_other, use) in zip(asked, order, strict=True):
            copy_row(uses, uses.c.id == use_id, application_id=application_id, use=use)
        agreement_id = copy_row(
            Agreement.__table__,  # type: ignore[arg-type]
            Agreement.__table__.c.id == agreement.id,  # type: ignore[attr-defined]
            application_id=application_id,
            number=f"CPT-2027-9{index:05d}",
            pdf_sha256=f"{index:064d}",
        )
        copy_invoice(invoice.id, number=f"INV-2027-9{index:05d}", source_id=agreement_id)
    session.commit()


def invoiced_reports(report_id: int, count: int, start: int) -> None:
    """`count` more reports like `report_id` (each over a period of its own), each
    with a royalty invoice of its own like its invoice (its lines too). Every
    other one has no due on its first line, so its invoice's first line takes the
    second report line's use and its second line none (a line given another
    report's use, or period, shows)."""
    session = db.session()
    reports = RoyaltyReport.__table__
    report_lines = RoyaltyReportLine.__table__
    report = session.get(RoyaltyReport, report_id)
    assert report is not None
    invoice_id = session.scalars(
        select(Invoice.id).where(
            Invoice.source_type == ROYALTY_REPORT, Invoice.source_id == report_id
        )
    ).one()
    for index in range(start, start + count):
        shift = timedelta(days=index + 1)
        copy_id = copy_row(
            reports,  # type: ignore[arg-type]
            reports.c.id == report_id,  # type: ignore[attr-defined]
            period_start=report.period_start + shift,
            period_end=report.period_end + shift * 2,
        )
        for (line_id,) in session.execute(
            select(report_lines.c.id).where(report_lines.c.report_id == report_id)  # type: ignore[attr-defined]
        ).all():
            copy_row(report_lines, report_lines.c.id == line_id, report_id=copy_id)  # type: ignore[arg-type, attr-defined]
        if index % 2:
            session.execute(
                update(RoyaltyReportLine)
                .where(RoyaltyReportLine.report_id == copy_id, RoyaltyReportLine.line == 1)
                .values(due=Decimal(0))
            )
        copy_invoice(invoice_id, number=f"INV-2027-8{index:05d}", source_id=copy_id)
    session.commit()


# --- every row one step of set-up made, copied (round 64) ------------------------------

# Tables whose rows a step changes in place or that hold one row a series (or the
# one row of `late_entry_checks`, written with its id): never copied.
_NOT_COPIED = (
    "audit_chain_head",
    "agreement_number_sequences",
    "billing_number_sequences",
    "late_entry_checks",
)
# Columns naming a row by id without a foreign key: (table, column) -> the table named,
# or a column saying which (`source_type` "agreement" names a row of "agreements").
_NAMED_BY_TYPE = {
    ("invoices", "source_id"): "source_type",
    ("audit_events", "entity_id"): "entity_type",
    ("outbox_attachments", "kept_id"): "kept_kind",
}
_USERS = ("actor_user_id", "user_id", "published_by_id", "looked_at_by_id")


def last_ids() -> dict[str, int]:
    """The highest id of every table, before a step whose rows `copy_rows_since` copies."""
    session = db.session()
    return {
        table.name: session.scalar(select(func.max(table.c.id))) or 0
        for table in Base.metadata.sorted_tables
        if "id" in table.c and table.name not in _NOT_COPIED
    }


def _soft_target(table: Table, column: str, row: dict[str, Any]) -> str | None:
    """The table a column without a foreign key names a row of, if it does."""
    if (table.name, column) in _NAMED_BY_TYPE:
        kind = row[_NAMED_BY_TYPE[table.name, column]]
        return f"{kind}s" if kind else None
    if column in _USERS or column.endswith("_by_id"):
        return "users"
    return None


def _unique_value(value: Any, counter: int) -> Any:
    """A value of a unique column for the `counter`-th copy: a digest stays a digest,
    a number keeps its form (`INV-2027-000123` -> `INV-2027-500123`), an address gets
    a part of its own."""
    if isinstance(value, int):
        return 10**9 + counter
    if not isinstance(value, str):
        return value
    if re.fullmatch(r"[0-9a-f]{64}", value):
        return hashlib.sha256(f"{value}{counter}".encode()).hexdigest()
    if "@" in value:
        return f"c{counter}.{value}"
    found = re.fullmatch(r"(.*?)(\d{6,})", value)
    if found:
        return f"{found[1]}{500000 + counter:0{len(found[2])}d}"
    return f"{value}-{counter}"


def copy_rows_since(since: dict[str, int], copies: int) -> None:
    """`copies` copies of every row made since `since` (`last_ids()`), each copy's rows
    naming each other as the originals did: a foreign key, or an id named without one
    (an invoice's source, an audit event's record, who took a step), to a row made
    since is to that row's copy, to any other row stays; a unique value is the copy's
    own. Commits.

    A list reads the copies as it reads the rows made through the services, so a list
    that runs a query per record runs one per copy too (copies naming the original's
    records would be answered from the session's identity map, hiding it)."""
    session = db.session()
    tables = [table for table in Base.metadata.sorted_tables if table.name in since]
    made = {
        table.name: [
            dict(row._mapping)
            for row in session.execute(
                select(table).where(table.c.id > since[table.name]).order_by(table.c.id)
            )
        ]
        for table in tables
    }
    # Each copy's ids, given here (after each table's highest), so that a row may name
    # one of a table copied after it; the rows of a table go in at once.
    ids: list[dict[str, dict[int, int]]] = [{} for _copy in range(copies)]
    for table in tables:
        last = session.scalar(select(func.max(table.c.id))) or 0
        for copied in ids:
            copied[table.name] = {}
            for original in made[table.name]:
                last += 1
                copied[table.name][original["id"]] = last
    counter = 0
    for table in tables:
        keys = {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
        unique = _unique_columns(table) - set(keys)
        rows = []
        for copied in ids:
            for original in made[table.name]:
                counter += 1
                row = dict(original, id=copied[table.name][original["id"]])
                for name, value in original.items():
                    target = keys.get(name) or _soft_target(table, name, original)
                    if name != "id" and target in copied and str(value).isdigit():
                        new = copied[target].get(int(value))
                        row[name] = value if new is None else type(value)(new)
                for name in unique:
                    if row.get(name) is not None:
                        row[name] = _unique_value(row[name], counter)
                if table.name == "permission_requests" and row.get("application_id"):
                    row["application_id"] = 10**6 + counter  # unique with its line
                rows.append(row)
        if rows:
            session.execute(insert(table), rows)
            if session.get_bind().dialect.name == "postgresql":
                # Ids given by hand: the table's sequence moved past them.
                highest = select(func.max(table.c.id)).scalar_subquery()
                session.execute(
                    select(func.setval(func.pg_get_serial_sequence(table.name, "id"), highest))
                )
    session.commit()


def _unique_columns(table: Table) -> set[str]:
    """The columns of `table` unique on their own (its id apart)."""
    found = {column.name for column in table.c if column.unique}
    constraints: list[Any] = [*table.constraints, *table.indexes]
    for constraint in constraints:
        if isinstance(constraint, UniqueConstraint) or getattr(constraint, "unique", False):
            columns = list(constraint.columns)
            if len(columns) == 1:
                found.add(columns[0].name)
    return found - {"id"}
