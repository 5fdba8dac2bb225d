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

    .venv/bin/python bench/invoice_lines_list.py [--invoices 30000] [--requests 5]
        [--postgresql URL|auto]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
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
}


def _table_rows(session: Any, table: Any, column: Any, value: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    return [dict(row._mapping) for row in session.execute(select(table).where(column == value))]


def seed(app: Any, invoices: int) -> str:
    """The ledger above, and a billing clerk to read it; the clerk's email."""
    from sqlalchemy import func, insert, select

    from licensing import db
    from licensing.agreements.models import Agreement, Application, ApplicationUse, QuoteVersion
    from licensing.billing.models import Invoice, InvoiceLine
    from licensing.ratecards import cli as ratecards_cli
    from tests.integration.agreements.conftest import DEVELOPMENT_USE, SMALL_USE
    from tests.support import factories
    from tests.support.agreements import make_active_agreement, up_front_invoice

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
            for name, rows in made.items():
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


def measure(backend: str, url: str, invoices: int, requests: int) -> None:
    from sqlalchemy import event

    from tests.support.factories import DEFAULT_PASSWORD

    app = bench_app(url, overrides={"WTF_CSRF_ENABLED": False})
    logging.getLogger("licensing").setLevel(logging.WARNING)
    started = time.perf_counter()
    email = seed(app, invoices)
    print(f"  {backend}: seeded {invoices:,} invoices in {time.perf_counter() - started:.1f} s")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=30_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--postgresql", help=POSTGRESQL_HELP)
    args = parser.parse_args()
    quiet_migrations()
    print(f"the console's invoice lines list, {args.invoices:,} invoices of two lines")
    with tempfile.TemporaryDirectory() as directory:
        measure("SQLite", f"sqlite:///{directory}/bench.db", args.invoices, args.requests)
    with postgresql(args.postgresql, "bench_invoice_lines") as (url, _server):
        if url:
            measure("PostgreSQL", url, args.invoices, args.requests)


if __name__ == "__main__":
    main()
