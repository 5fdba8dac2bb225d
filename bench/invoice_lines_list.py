"""The console's *Invoice lines* list (`/console/finance/lines`) at a busy office's size.

The Finance page's *License revenue by classification* links each of its figures to
the list (round 60, linesfig60), which read and classified every line of the months
asked before showing a page of 50 (round 61, lines61, measured it and pages in the
database what SQL can decide). This times the list's requests through the Flask test
client on a fresh SQLite database and, with `--postgresql`, an empty PostgreSQL one,
for a month and a year, unfiltered, by kind and by a classification, and the second
page.

The ledger: one agreement applied for, approved and accepted through the services
(two licensed lines invoiced up front, a development fee and a distribution
minimum, each classified by its quote), copied `--invoices` times with the ORM's bulk
INSERT (its application, uses, quote and agreement, and an up-front invoice of two
lines each, issued over 2026): so each invoice's lines are classified from a quote
of their own, as at an office, not read once and reused. No royalty invoices (their
classifier reads the agreement behind each report in the same way). Round 61
(classified61): the copied lines carry the kind and classification the original's were
given when it was issued (billing_0032's columns), which the narrowed views now read.

Prints, per view, the statements a request ran and the medians of the request's wall
clock and of this process's CPU (SQLite runs in it; on PostgreSQL the server's CPU is
in the wall clock only). Asserts nothing.

Round 62 (lines62): every tenth invoice has a credit note (a copy of one the services
issued), and after the list the reads of the stored classification are timed as
figure, floor and ratio (medians of `--requests`, wall clock and this process's CPU):

- the Finance page's *License revenue by classification* for the year
  (`finance.queries.revenue`), against its one grouped statement run alone;
- the `invoice_lines` and `credit_note_lines` exports narrowed to a kind and a use
  for the year, as CSV through the service the API streams (`exports.services.stream`),
  against the same rows' SELECT read through the driver and written by the csv module
  (what any export of those rows costs); `invoice_lines`' Python writer (its path
  until round 62) beside them.

`--index` adds an index on each line's stored use (`invoice_lines (use, invoice_id)`)
before measuring, to see whether a classification over a busy year needs one.

    .venv/bin/python bench/invoice_lines_list.py [--invoices 30000] [--requests 5]
        [--index] [--lists-only] [--postgresql URL|auto]
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from harness import POSTGRESQL_HELP, bench_app, postgresql, quiet_migrations

MOMENT = datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
FIRST_ISSUE = date(2026, 1, 1)
VIEWS = {
    "a month, every line": "month=2026-06&currency=USD",
    "a month, a use": "month=2026-06&currency=USD&kind=fee&use=development",
    "a year, every line": "from=2026-01&to=2026-12&currency=USD",
    "a year, up-front fees": "from=2026-01&to=2026-12&currency=USD&kind=fee",
    "a year, a use": "from=2026-01&to=2026-12&currency=USD&kind=fee&use=development",
    "a year, its second page": "from=2026-01&to=2026-12&currency=USD&page=2",
    # Round 62: a classification no line has (what an index on it would find at once).
    "a year, a use of none": "from=2026-01&to=2026-12&currency=USD&use=translation",
}


def _table_rows(session: Any, table: Any, column: Any, value: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    return [dict(row._mapping) for row in session.execute(select(table).where(column == value))]


def seed(app: Any, invoices: int) -> str:
    """The ledger above, and a billing clerk to read it; the clerk's email."""
    from sqlalchemy import func, insert, select

    from licensing import db
    from licensing.agreements.models import Agreement, Application, ApplicationUse, QuoteVersion
    from licensing.billing.models import CreditNote, Invoice, InvoiceLine
    from licensing.ratecards import cli as ratecards_cli
    from tests.integration.agreements.conftest import DEVELOPMENT_USE, SMALL_USE
    from tests.support import factories
    from tests.support.agreements import make_active_agreement, up_front_invoice
    from tests.support.billing import credited

    with app.app_context():
        ratecards_cli.load_samples()
        session = db.session()
        clerk = factories.make_staff(session, roles=("billing",), email="clerk@bench.example")
        staff = factories.make_staff(session, roles=("licensing",), email="staff@bench.example")
        vendor = factories.make_vendor(session, email="vendor@bench.example")
        email = str(clerk.email)
        agreement = make_active_agreement(
            vendor,
            staff,
            DEVELOPMENT_USE,
            SMALL_USE,
            now=MOMENT,
            term=(FIRST_ISSUE, date(2026, 12, 31)),
        )
        invoice = up_front_invoice(agreement)
        credited(invoice.id, "100.00", "Bench", now=MOMENT)
        tables: dict[str, tuple[Any, Any, int]] = {
            "application": (Application.__table__, Application.id, agreement.application_id),
            "uses": (
                ApplicationUse.__table__,
                ApplicationUse.application_id,
                agreement.application_id,
            ),
            "quote": (QuoteVersion.__table__, QuoteVersion.id, agreement.quote_id),
            "agreement": (Agreement.__table__, Agreement.id, agreement.id),
            "invoice": (Invoice.__table__, Invoice.id, invoice.id),
            "lines": (InvoiceLine.__table__, InvoiceLine.invoice_id, invoice.id),
            "credit": (CreditNote.__table__, CreditNote.invoice_id, invoice.id),
        }
        original = {name: _table_rows(session, *spec) for name, spec in tables.items()}
        assert len(original["lines"]) == 2, original["lines"]
        starts = {
            name: (session.scalar(select(func.max(spec[0].c.id))) or 0) + 1
            for name, spec in tables.items()
        }
    with app.app_context(), db.transaction() as session:
        batch = 2000
        for first in range(0, invoices, batch):
            made: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
            for n in range(first, min(invoices, first + batch)):
                application_id = starts["application"] + n
                quote_id = starts["quote"] + n
                agreement_id = starts["agreement"] + n
                invoice_id = starts["invoice"] + n
                issued = FIRST_ISSUE + timedelta(days=n % 365)
                made["application"].append({**original["application"][0], "id": application_id})
                made["uses"].extend(
                    {**use, "id": None, "application_id": application_id}
                    for use in original["uses"]
                )
                made["quote"].append(
                    {**original["quote"][0], "id": quote_id, "application_id": application_id}
                )
                made["agreement"].append(
                    {
                        **original["agreement"][0],
                        "id": agreement_id,
                        "application_id": application_id,
                        "quote_id": quote_id,
                        "number": f"CPT-2026-{800000 + n:06d}",
                    }
                )
                made["invoice"].append(
                    {
                        **original["invoice"][0],
                        "id": invoice_id,
                        "number": f"INV-2026-{700000 + n:06d}",
                        "source_id": agreement_id,
                        "issue_date": issued,
                        "due_date": issued + timedelta(days=30),
                        "created_at": datetime(
                            issued.year, issued.month, issued.day, 15, tzinfo=UTC
                        ),
                    }
                )
                made["lines"].extend(
                    {**line, "id": None, "invoice_id": invoice_id} for line in original["lines"]
                )
                if n % 10 == 0:  # a credit note on every tenth invoice, issued with it
                    made["credit"].append(
                        {
                            **original["credit"][0],
                            "id": starts["credit"] + n // 10,
                            "number": f"CN-2026-{700000 + n:06d}",
                            "invoice_id": invoice_id,
                            "issue_date": issued,
                        }
                    )
            for name, rows in made.items():
                if not rows:
                    continue
                for row in rows:
                    if row.get("id") is None:
                        row.pop("id", None)
                session.execute(insert(tables[name][0]), rows)
    if app.extensions["licensing.db"].dialect == "postgresql":
        with app.extensions["licensing.db"].engine.begin() as connection:
            # The copies' ids are given: nothing is inserted into their tables after.
            connection.exec_driver_sql("ANALYZE")
    return email


class Statements:
    def __init__(self) -> None:
        self.count = 0

    def after(self, *_args: Any) -> None:
        self.count += 1


def measure(
    backend: str,
    url: str,
    invoices: int,
    requests: int,
    index: bool = False,
    lists_only: bool = False,
) -> None:
    from sqlalchemy import event

    from tests.support.factories import DEFAULT_PASSWORD

    app = bench_app(url, overrides={"WTF_CSRF_ENABLED": False})
    logging.getLogger("licensing").setLevel(logging.WARNING)
    started = time.perf_counter()
    email = seed(app, invoices)
    print(f"  {backend}: seeded {invoices:,} invoices in {time.perf_counter() - started:.1f} s")
    if index:
        with app.extensions["licensing.db"].engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE INDEX bench_invoice_lines_use ON invoice_lines (use, invoice_id)"
            )
            connection.exec_driver_sql("ANALYZE")
        print(f"  {backend}: with an index on invoice_lines (use, invoice_id)")
    client = app.test_client()
    signed = client.post("/sign-in", data={"email": email, "password": DEFAULT_PASSWORD})
    if signed.status_code != 302:
        raise SystemExit(f"sign-in: {signed.status_code}")
    statements = Statements()
    engine = app.extensions["licensing.db"].engine
    event.listen(engine, "after_cursor_execute", statements.after)
    for label, query in VIEWS.items():
        walls, cpus = [], []
        for attempt in range(requests + 1):
            statements.count = 0
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.get(f"/console/finance/lines?{query}")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if response.status_code != 200:
                raise SystemExit(f"{label}: {response.status_code}")
            if attempt:  # the first warms the caches
                walls.append(wall)
                cpus.append(cpu)
        print(
            f"  {backend:<10} {label:<26} {statements.count:>3} statements: request "
            f"{statistics.median(walls) * 1000:,.0f} ms, CPU "
            f"{statistics.median(cpus) * 1000:,.0f} ms (medians of {requests})"
        )
    event.remove(engine, "after_cursor_execute", statements.after)
    if not lists_only:
        with app.app_context():
            stored_reads(backend, app, requests)


Timed = tuple[float, float]  # median wall and CPU seconds


def _timed(call: Callable[[], object], requests: int) -> Timed:
    """Medians of `requests` calls after one that warms the caches."""
    walls, cpus = [], []
    for attempt in range(requests + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        if attempt:
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def _report(backend: str, label: str, figure: Timed, floor: Timed, floor_name: str) -> None:
    print(
        f"  {backend:<10} {label}: figure {figure[0] * 1000:,.0f} ms (CPU "
        f"{figure[1] * 1000:,.0f} ms), floor {floor[0] * 1000:,.0f} ms (CPU "
        f"{floor[1] * 1000:,.0f} ms; {floor_name}), ratio {figure[0] / floor[0]:.1f}x "
        f"(CPU {figure[1] / max(floor[1], 1e-6):.1f}x)"
    )


def _dumped(session: Any, statement: Any) -> int:
    """The statement's rows read through the driver and written by the csv module to
    nothing: the floor of any export of them. The rows written."""
    engine = session.get_bind()
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    written = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql)
        with open(os.devnull, "w", encoding="utf-8") as sink:
            while batch := cursor.fetchmany(1000):
                writer.writerows(batch)
                written += len(batch)
                sink.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
        cursor.close()
    finally:
        raw.close()
    return written


def stored_reads(backend: str, app: Any, requests: int) -> None:
    """Round 62: the Finance page's revenue tables and the exports' classification
    filters, which read the classification lines keep (billing_0032), as figure,
    floor and ratio."""
    from sqlalchemy import select

    from licensing import db
    from licensing.billing.models import Invoice, InvoiceLine
    from licensing.config import current_config
    from licensing.db import money_sum
    from licensing.exports import services
    from licensing.exports.base import ExportContext
    from licensing.exports.datasets import credit_note_lines, invoice_lines
    from licensing.exports.formats import Header, write_csv
    from licensing.exports.ledger import Ledger
    from licensing.finance import queries
    from licensing.finance.classification import AXES

    session = db.session()
    year = queries.Filters(date(2026, 1, 1), date(2026, 12, 1), currency="USD")
    stored = [getattr(InvoiceLine, axis) for axis in AXES]
    grouped = (
        select(Invoice.source_type, *stored, money_sum(InvoiceLine.amount))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            *queries.issued_where(year.currency, year.start, year.end),
            Invoice.source_type.in_(sorted(queries.REVENUE_KINDS)),
        )
        .group_by(Invoice.source_type, *stored)
    )
    _report(
        backend,
        "revenue by classification, a year",
        _timed(lambda: queries.revenue(session, year), requests),
        _timed(lambda: session.execute(grouped).all(), requests),
        "its grouped statement alone",
    )
    accounts = current_config().gl_accounts
    asked = {"by": "issued", "from": "2026-01-01", "to": "2026-12-31", "currency": "USD"}
    narrowed = {**asked, "kind": "fee", "use": "development"}
    for name in ("invoice_lines", "credit_note_lines"):
        request = services.prepare(name, "csv", narrowed)

        def streamed(request: Any = request) -> None:
            for _chunk in services.stream(request, gl_accounts=accounts):
                pass

        if name == "invoice_lines":
            statement = invoice_lines.ordered(invoice_lines.classified_lines(request.filter))
        else:
            statement = credit_note_lines.with_a_line_kept(
                credit_note_lines.credited_lines(request.filter), request.filter
            )
        rows = _dumped(session, statement)

        def floor(statement: Any = statement) -> None:
            _dumped(session, statement)

        _report(
            backend,
            f"{name} CSV, a year, kind=fee&use=development ({rows:,} rows read)",
            _timed(streamed, requests),
            _timed(floor, requests),
            "its SELECT through the driver and the csv module",
        )
        if name == "invoice_lines":

            def by_python(request: Any = request) -> None:
                context = ExportContext(session, Ledger(session, accounts))
                header = Header(request.dataset, MOMENT, request.filter.describe())
                for _chunk in write_csv(header, request.dataset.rows(context, request.filter)):
                    pass

            wall, cpu = _timed(by_python, requests)
            print(
                f"  {backend:<10} {name} CSV by the Python writer (until round 62): "
                f"{wall * 1000:,.0f} ms (CPU {cpu * 1000:,.0f} ms)"
            )
            # The same lines by the ledger's use alone, the unfiltered path's statement.
            ledger_use = services.prepare(name, "csv", {**asked, "use": "development"})
            wall, cpu = _timed(functools.partial(streamed, ledger_use), requests)
            print(
                f"  {backend:<10} {name} CSV, use=development (the ledger's use, no "
                f"classification): {wall * 1000:,.0f} ms (CPU {cpu * 1000:,.0f} ms)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=30_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--index", action="store_true", help="index the lines' stored use")
    parser.add_argument("--lists-only", action="store_true", help="time the list alone")
    parser.add_argument("--postgresql", help=POSTGRESQL_HELP)
    args = parser.parse_args()
    quiet_migrations()
    print(f"the console's invoice lines list, {args.invoices:,} invoices of two lines")
    with tempfile.TemporaryDirectory() as directory:
        measure(
            "SQLite",
            f"sqlite:///{directory}/bench.db",
            args.invoices,
            args.requests,
            args.index,
            args.lists_only,
        )
    with postgresql(args.postgresql, "bench_invoice_lines") as (url, _server):
        if url:
            measure("PostgreSQL", url, args.invoices, args.requests, args.index, args.lists_only)


if __name__ == "__main__":
    main()
