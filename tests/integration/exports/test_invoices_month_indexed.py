"""Round 56: the invoices and invoice-lines exports of a month by issue date (the
default basis) read the month's invoices through `ix_invoices_issue_order`
(billing_0024: issue date, then id, the exports' order), where they read the whole
invoices table (at 30,006 invoices a sequential scan of 2,510 buffers for 60 rows on
PostgreSQL; SQLite every organization's invoices and a sort; BENCHMARKS.md). The rows
are the exports' own, held by their tests; here the month's are checked too."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import issue
from tests.support import factories
from tests.support.plans import analyzed, plan_of, sent_with_values

INDEX = "ix_invoices_issue_order"


def _a_year_of_invoices() -> None:
    """An invoice issued every third day from January 2026, the database's statistics
    then read: November has ten."""
    organization = factories.make_organization(db.session()).id
    for n in range(120):
        issue(organization, "100.00", date(2026, 1, 2) + timedelta(days=3 * n))
    analyzed("invoices", "invoice_lines", "organizations", "royalty_reports")


@pytest.mark.parametrize("dataset", ["invoices", "invoice_lines"])
def test_a_months_invoices_export_reads_the_month_through_the_issue_date_index(
    app: Flask, client: FlaskClient, billing_staff: User, dataset: str
) -> None:
    _a_year_of_invoices()
    with sent_with_values(app.extensions["licensing.db"].engine) as statements:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": "jsonl", "from": "2026-11-01", "to": "2026-11-30"},
            headers=factories.bearer(billing_staff),
        )
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = read_jsonl(response.get_data())[1]
    assert len(rows) == 10
    assert all(row["issue_date"].startswith("2026-11") for row in rows)
    asked = [(sql, values) for sql, values in statements if "invoices.issue_date >=" in sql]
    assert asked
    for sql, values in asked:
        plan = "\n".join(plan_of(sql, values, sorts_priced_out=False))
        assert INDEX in plan, plan
        assert "SCAN invoices\n" not in plan + "\n", plan
        assert "Seq Scan on invoices " not in plan, plan
