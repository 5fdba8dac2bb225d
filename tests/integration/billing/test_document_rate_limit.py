"""PDFs rendered on request and exports share one budget per caller
(`DOCUMENT_RATE_LIMIT`): each takes a worker for a while, and until round 30 nothing
stopped one caller, or one emailed invoice link, from keeping every worker rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice
from tests.support import factories
from tests.support.factories import bearer


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"document_rate_limit": "3 per minute"}


def test_a_vendors_pdfs_share_one_budget_on_pages_and_the_api(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    browser = signed_in(app.test_client(), vendor)
    assert browser.get(f"/invoices/{invoice.id}.pdf").status_code == 200
    assert browser.get("/portal/statement.pdf").status_code == 200
    api = app.test_client()
    assert api.get(f"/api/v1/invoices/{invoice.id}/pdf", headers=bearer(vendor)).status_code == 200
    refused = api.get(f"/api/v1/invoices/{invoice.id}/pdf", headers=bearer(vendor))
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert "Retry-After" in refused.headers
    page = browser.get("/portal/statement.pdf")
    assert page.status_code == 429
    assert "Try again in" in page.text
    # A colleague, signed in from the same office address, has a budget of their own.
    colleague = factories.make_vendor(db.session(), vendor.organization)
    other = signed_in(app.test_client(), colleague)
    assert other.get(f"/invoices/{invoice.id}.pdf").status_code == 200


def test_exports_count_in_the_same_budget(app: Flask, admin: User) -> None:
    client = app.test_client()
    statuses = [
        client.get(
            "/api/v1/exports/invoices", query_string={"format": "csv"}, headers=bearer(admin)
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_the_audit_logs_csv_counts_in_the_same_budget(
    app: Flask, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)
    statuses = [client.get("/console/audit.csv").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
