"""The console's invoice list narrowed to a balance on a day, at a busy office's size.

The Finance page links its *Outstanding* and *Refunds owed* at a period's end and each
row of its aging to the invoice list narrowed so (`owing_on`, `owed_back_on`, `aging`:
round 58, financelinks58); each such list sums the ledger's events of the invoices
something moves on after the day (`finance.queries.balances_on`). This measures those
requests through the Flask test client on a fresh SQLite database and, with
`--postgresql`, an empty PostgreSQL one: how many statements a request runs, how many
of them sum the ledger, and what they cost.

The ledger (no audit or mail: not what is measured) is `--invoices` invoices of
1,000.00 issued over 2025 and 2026 to 40 organizations, written with the ORM's bulk
INSERT: a quarter open and unpaid, a quarter paid in full by wire ten days after issue,
a quarter paid 400.00 twenty days after issue, a quarter paid in full then credited
200.00 forty days after issue (owed back, its refund not sent), each invoice's stored
totals the sums of its events, as the services keep them.

Prints, per view, the statements a request ran, those summing the ledger, and the
medians of the request's wall clock and of this process's CPU (SQLite runs in it);
on PostgreSQL the server's CPU is not read (the wall clock holds it). Asserts nothing.

    .venv/bin/python bench/invoice_balances.py [--invoices 100000] [--requests 5]
        [--postgresql URL|auto]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ORGANIZATIONS = 40
FIRST_ISSUE = date(2025, 1, 1)
DAYS = 730  # issue dates over 2025 and 2026
TOTAL = Decimal("1000.00")
PART = Decimal("400.00")
CREDIT = Decimal("200.00")
# The views measured: the Finance page's links from a year's range ending in 2026.
VIEWS = {
    "outstanding at a recent end": "owing_on=2026-12-31&currency=USD",
    "outstanding at a past end": "owing_on=2026-03-31&currency=USD",
    "refunds owed at a past end": "owed_back_on=2026-03-31&currency=USD",
    "an aging row on a past day": "owing_on=2026-03-31&aging=1_30&currency=USD",
    "its second page": "owing_on=2026-03-31&currency=USD&page=2",
}
# A statement summing the ledger names the balances' subquery.
LEDGER_MARK = "owed_then"


def _app(url: str) -> Any:
    from licensing.app import create_app
    from licensing.config import Config

    return create_app(
        Config(
            environment="testing",
            database_url=url,
            secret_key="bench-secret-key",  # noqa: S106 - a throwaway database
            audit_hmac_key="bench-audit-key",
            overrides={"WTF_CSRF_ENABLED": False},
        )
    )


Rows = tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]


def _rows(count: int, organizations: list[int]) -> Iterator[Rows]:
    """Each invoice's row, its payment's and its credit note's (or None)."""
    for n in range(1, count + 1):
        issued = FIRST_ISSUE + timedelta(days=n % DAYS)
        kind = n % 4
        paid = {0: Decimal(0), 1: TOTAL, 2: PART, 3: TOTAL}[kind]
        credited = CREDIT if kind == 3 else Decimal(0)
        organization_id = organizations[n % len(organizations)]
        invoice: dict[str, Any] = {
            "id": n,
            "organization_id": organization_id,
            "number": f"INV-{issued.year}-{n:07d}",
            "state": "paid" if paid == TOTAL else "open",
            "currency": "USD",
            "source_type": "manual",
            "payment_terms_days": 30,
            "late_fee_monthly_percent": Decimal("1.5"),
            "issue_date": issued,
            "due_date": issued + timedelta(days=30),
            "total": TOTAL,
            "amount_paid": paid,
            "amount_credited": credited,
            "created_at": datetime(issued.year, issued.month, issued.day, 15, tzinfo=UTC),
        }
        payment: dict[str, Any] | None = (
            {
                "invoice_id": n,
                "organization_id": organization_id,
                "method": "wire",
                "state": "succeeded",
                "currency": "USD",
                "amount": paid,
                "recorded_by": "bench@example.org",
                "received_on": issued + timedelta(days=10 if paid == TOTAL else 20),
            }
            if paid
            else None
        )
        credit: dict[str, Any] | None = (
            {
                "number": f"CN-{issued.year}-{n:07d}",
                "invoice_id": n,
                "organization_id": organization_id,
                "currency": "USD",
                "amount": CREDIT,
                "applied_to_balance": Decimal(0),
                "refund_due": CREDIT,
                "reason": "Seats returned",
                "issue_date": issued + timedelta(days=40),
                "issued_by": "bench@example.org",
            }
            if credited
            else None
        )
        yield invoice, payment, credit


def seed(app: Any, invoices: int) -> str:
    """The ledger above, and a billing clerk to read it; the clerk's email."""
    from sqlalchemy import insert

    from licensing import db
    from licensing.billing.models import CreditNote, Invoice, Payment
    from tests.support import factories

    with app.app_context():
        session = db.session()
        clerk = factories.make_staff(session, roles=("billing",), email="clerk@bench.example")
        organizations = [
            factories.make_organization(session, legal_name=f"Bench Licensee {n} Inc.").id
            for n in range(ORGANIZATIONS)
        ]
        email = str(clerk.email)
    with app.app_context(), db.transaction() as session:
        batch: list[Rows] = []
        for rows in _rows(invoices, organizations):
            batch.append(rows)
            if len(batch) == 5000:
                _insert(session, insert, Invoice, Payment, CreditNote, batch)
                batch = []
        if batch:
            _insert(session, insert, Invoice, Payment, CreditNote, batch)
    if app.extensions["licensing.db"].dialect == "postgresql":
        # The statistics autovacuum gathers after a bulk load, here at once: without
        # them the planner guessed the ledger's rows and a page's statement ran for
        # minutes (a nested loop summing the ledger again for each invoice).
        with app.extensions["licensing.db"].engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return email


def _insert(session: Any, insert: Any, *models_and_batch: Any) -> None:
    invoice, payment, credit, batch = models_and_batch
    session.execute(insert(invoice), [rows[0] for rows in batch])
    for index, model in ((1, payment), (2, credit)):
        if made := [rows[index] for rows in batch if rows[index] is not None]:
            session.execute(insert(model), made)


class Statements:
    """Every statement the app runs, with its seconds on the clock."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []
        self._started = 0.0

    def before(self, *_args: Any) -> None:
        self._started = time.perf_counter()

    def after(self, _connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append((statement, time.perf_counter() - self._started))


def measure(backend: str, url: str, invoices: int, requests: int) -> None:
    from sqlalchemy import event

    from licensing import migrations
    from tests.support.factories import DEFAULT_PASSWORD

    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("licensing").setLevel(logging.WARNING)
    migrations.upgrade(url)
    app = _app(url)
    started = time.perf_counter()
    email = seed(app, invoices)
    print(f"  {backend}: seeded {invoices:,} invoices in {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    signed = client.post("/sign-in", data={"email": email, "password": DEFAULT_PASSWORD})
    if signed.status_code != 302:
        raise SystemExit(f"sign-in: {signed.status_code}")
    statements = Statements()
    engine = app.extensions["licensing.db"].engine
    event.listen(engine, "before_cursor_execute", statements.before)
    event.listen(engine, "after_cursor_execute", statements.after)
    for label, query in VIEWS.items():
        walls, cpus = [], []
        for attempt in range(requests + 1):
            statements.seen.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.get(f"/console/invoices?{query}")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if response.status_code != 200:
                raise SystemExit(f"{label}: {response.status_code}")
            if attempt:  # the first warms the caches
                walls.append(wall)
                cpus.append(cpu)
        ledger = [seconds for statement, seconds in statements.seen if LEDGER_MARK in statement]
        print(
            f"  {backend:<10} {label:<28} {len(statements.seen):>3} statements, "
            f"{len(ledger)} summing the ledger ({sum(ledger) * 1000:,.0f} ms of the last "
            f"request's): request {statistics.median(walls) * 1000:,.0f} ms, "
            f"CPU {statistics.median(cpus) * 1000:,.0f} ms (medians of {requests})"
        )
    event.remove(engine, "before_cursor_execute", statements.before)
    event.remove(engine, "after_cursor_execute", statements.after)


def _postgresql(given: str | None) -> tuple[Any, str | None]:
    """(server to stop, URL): `auto` starts a throwaway server as the test suite does,
    or says why it cannot and goes on with SQLite alone."""
    if given != "auto":
        return None, given
    from tests.support.servers import PostgresServer, ServerUnavailable

    try:
        server = PostgresServer().start()
    except ServerUnavailable as why:
        print(f"  PostgreSQL skipped: {why}")
        return None, None
    return server, server.create_database("bench_invoice_balances")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument(
        "--postgresql",
        help="also on PostgreSQL: an empty database's URL, or 'auto' to start a throwaway "
        "server as the test suite does",
    )
    args = parser.parse_args()
    print(f"the invoice list narrowed to a balance on a day, {args.invoices:,} invoices")
    server, postgresql = _postgresql(args.postgresql)
    try:
        with tempfile.TemporaryDirectory() as directory:
            measure("SQLite", f"sqlite:///{directory}/bench.db", args.invoices, args.requests)
        if postgresql:
            measure("PostgreSQL", postgresql, args.invoices, args.requests)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
