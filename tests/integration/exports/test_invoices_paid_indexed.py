"""Round 56 (finance56b): the invoices and invoice-lines exports of some days by paid
date (`by=paid`, the invoices by `paid_at`) read the days' invoices through
`ix_invoices_paid_at` (billing_0025), where they read the whole invoices table (at
30,008 invoices a sequential scan of about 2,400 pages for a month's 450 rows on
PostgreSQL, and the export's check of its currencies walked the issue-date index
whole; SQLite scanned every invoice; BENCHMARKS.md). The rows are the exports' own,
held by their tests; here the month's are checked too."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.plans import analyzed, plan_of, sent_with_values

INDEX = "ix_invoices_paid_at"
JUNE = {"format": "jsonl", "by": "paid", "from": "2026-06-01", "to": "2026-06-30"}


def _a_year_of_paid_invoices() -> None:
    """An invoice issued every sixth day from January 2026 and paid by wire three days
    later, then the database's statistics read: five are paid in June."""
    organization = factories.make_organization(db.session()).id
    for n in range(60):
        issued = date(2026, 1, 2) + timedelta(days=6 * n)
        invoice = issue(organization, "100.00", issued)
        paid = issued + timedelta(days=3)
        paid_offline(invoice.id, "100.00", f"W-{n}", received_on=paid, now=at(paid))
    analyzed("invoices", "invoice_lines", "organizations", "royalty_reports")


@pytest.mark.parametrize("dataset", ["invoices", "invoice_lines"])
def test_a_months_export_by_paid_date_reads_the_month_through_the_paid_at_index(
    app: Flask, client: FlaskClient, billing_staff: User, dataset: str
) -> None:
    _a_year_of_paid_invoices()
    with sent_with_values(app.extensions["licensing.db"].engine) as statements:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string=JUNE,
            headers=factories.bearer(billing_staff),
        )
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = read_jsonl(response.get_data())[1]
    issued = [row["issue_date"] for row in rows]
    assert len(rows) == 5
    assert issued == sorted(issued)
    asked = [(sql, values) for sql, values in statements if "invoices.paid_at >=" in sql]
    assert asked
    for sql, values in asked:
        plan = "\n".join(plan_of(sql, values, sorts_priced_out=False))
        assert INDEX in plan, plan
        assert "SCAN invoices\n" not in plan + "\n", plan
        assert "Seq Scan on invoices " not in plan, plan
