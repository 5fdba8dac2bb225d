"""Export throughput and memory: N invoice lines streamed to /dev/null.

Seeds a fresh database (SQLite in a temporary directory, or an empty
PostgreSQL database given with --database-url) with invented invoices of five
lines each, in a child process, then exports them through the same service the
API and CLI use and prints the time and the process's peak RSS. The goal for
1,000,000 lines is flat memory (peak RSS under 150 MB); asserts nothing.

    .venv/bin/python bench/exports.py --rows 20000 [--format csv|jsonl|xlsx]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import secrets
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from flask import Flask
from sqlalchemy import insert

from licensing import db, migrations
from licensing.accounts import services as accounts
from licensing.app import create_app
from licensing.billing.models import Invoice, InvoiceLine
from licensing.config import Config
from licensing.exports import services

LINES_PER_INVOICE = 5
BATCH = 2000


def _app(url: str) -> Flask:
    return create_app(
        Config(
            environment="testing",
            database_url=url,
            secret_key=secrets.token_hex(16),
            audit_hmac_key=secrets.token_hex(16),
        )
    )


def seed(url: str, rows: int) -> None:
    """Invoices and lines inserted in batches (no audit or mail: not what is measured)."""
    app = _app(url)
    with app.app_context():
        with db.transaction() as session:
            organization = accounts.create_organization(
                session,
                legal_name="Quillstone Clinical Data Inc.",
                organization_type="commercial",
                address_line1="12 Harbor Way",
                address_line2=None,
                city="Portland",
                region="OR",
                postal_code="97201",
                country="US",
                billing_contact_name="Robin Castellanos",
                billing_email="billing@quillstone.example",
                tax_id=None,
            )
            organization_id = organization.id
        invoices = (rows + LINES_PER_INVOICE - 1) // LINES_PER_INVOICE
        now = datetime(2027, 1, 1, tzinfo=UTC)
        for start in range(0, invoices, BATCH):
            numbers = range(start + 1, min(start + BATCH, invoices) + 1)
            with db.transaction() as session:
                session.execute(
                    insert(Invoice),
                    [
                        {
                            "id": n,
                            "organization_id": organization_id,
                            "number": f"INV-2027-{n:06d}",
                            "state": "open",
                            "currency": "USD",
                            "source_type": "manual",
                            "payment_terms_days": 30,
                            "late_fee_monthly_percent": Decimal("1.5"),
                            "issue_date": date(2027, 1, 1) + timedelta(days=n % 365),
                            "due_date": date(2027, 1, 31) + timedelta(days=n % 365),
                            "total": Decimal("62.50") * LINES_PER_INVOICE,
                            "amount_paid": Decimal(0),
                            "amount_credited": Decimal(0),
                            "created_at": now,
                            "reminder_count": 0,
                            "late_fee_months_charged": 0,
                        }
                        for n in numbers
                    ],
                )
                session.execute(
                    insert(InvoiceLine),
                    [
                        {
                            "invoice_id": n,
                            "position": p,
                            "description": f"Harborlight Coder seats, bundle {p}",
                            "amount": Decimal("62.50"),
                        }
                        for n in numbers
                        for p in range(1, LINES_PER_INVOICE + 1)
                        if (n - 1) * LINES_PER_INVOICE + p <= rows
                    ],
                )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="invoice lines (20000)")
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl", "xlsx"])
    parser.add_argument("--dataset", default="invoice_lines")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite:///{Path(directory) / 'bench.db'}"
        migrations.upgrade(url)
        started = time.perf_counter()
        child = multiprocessing.get_context("fork").Process(target=seed, args=(url, args.rows))
        child.start()
        child.join()
        print(f"seeded {args.rows} lines in {time.perf_counter() - started:.1f} s")
        app = _app(url)
        with app.app_context():
            before = peak_rss_mb()
            request = services.prepare(args.dataset, args.format, {})
            tally = services.Tally()
            started = time.perf_counter()
            with open("/dev/null", "wb") as sink:
                for chunk in services.stream(request, tally=tally):
                    sink.write(chunk)
            elapsed = time.perf_counter() - started
        print(
            f"{args.dataset} as {args.format}: {tally.rows} rows, {tally.bytes / 1e6:.1f} MB "
            f"in {elapsed:.2f} s ({tally.rows / elapsed:,.0f} rows/s); "
            f"peak RSS {peak_rss_mb():.0f} MB (before the export {before:.0f} MB)"
        )


if __name__ == "__main__":
    main()
