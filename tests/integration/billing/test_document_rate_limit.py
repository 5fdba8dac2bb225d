"""PDFs rendered on request and exports share one budget per caller
(`DOCUMENT_RATE_LIMIT`): each takes a worker for a while, and until round 30 nothing
stopped one caller, or one emailed invoice link, from keeping every worker rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import links
from licensing.billing.models import Invoice, KeptPdf
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


# --- what a person and a script read at the 429 (round 31) ----------------------------------


def test_a_person_clicking_through_invoice_pdfs_is_told_in_the_sites_page_when_to_open_it_again(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    """It read "Too many attempts came from your address in a short time, so this one
    was refused and nothing was saved": a sign-in's words, and the budget is theirs."""
    invoice = invoice_for(vendor, ("100.00",))
    browser = signed_in(app.test_client(), vendor)
    path = f"/invoices/{invoice.id}.pdf"
    for _ in range(3):
        assert browser.get(path).status_code == 200

    refused = browser.get(path)

    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    page = refused.get_data(as_text=True)
    assert "<h1>Too many documents at once</h1>" in page
    assert (
        "You asked for more documents (PDFs and exports) than the office makes for one "
        "person in a short time (3 per minute), so this one was not made." in page
    )
    seconds = int(refused.headers["Retry-After"])
    assert f"Try again in {seconds} seconds" in page or "Try again in 1 minute" in page
    assert f'<a href="{path}">Open it again</a>' in page
    assert "Go to your dashboard" in page
    assert "nothing was saved" not in page
    assert "Too many attempts" not in page


def test_an_emailed_invoice_links_pdf_over_the_budget_says_it_is_counted_by_address(
    app: Flask, client: FlaskClient, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    path = "/" + links.invoice_url(invoice).split("://", 1)[1].split("/", 1)[1] + "/invoice.pdf"
    for _ in range(3):
        assert client.get(path).status_code == 200

    refused = client.get(path)

    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "More documents were asked for from your address" in page
    assert "(3 per minute)" in page
    assert "Open it again" in page


def test_an_emailed_links_kept_documents_count_in_the_budget_by_address(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # Round 49: the link's kept PDFs were outside the budget (stored bytes, nothing
    # drawn), so whoever held a forwarded link could ask for them without end, with
    # no account and no sign-in; the link's other PDFs were counted.
    invoice = invoice_for(vendor, ("100.00",))
    page = "/" + links.invoice_url(invoice).split("://", 1)[1].split("/", 1)[1]
    kept = db.session().scalars(select(KeptPdf.id).where(KeptPdf.invoice_id == invoice.id)).one()
    for _ in range(3):
        assert client.get(f"{page}/documents/{kept}.pdf").status_code == 200

    refused = client.get(f"{page}/documents/{kept}.pdf")

    assert refused.status_code == 429
    assert "More documents were asked for from your address" in refused.get_data(as_text=True)
    # Signed in, the same kept PDF is the person's: not counted, and not refused.
    portal = signed_in(app.test_client(), vendor)
    for _ in range(4):
        assert portal.get(f"/invoices/{invoice.id}/documents/{kept}.pdf").status_code == 200


EXPORT = "/api/v1/exports/invoices"


def test_a_finance_script_over_the_budget_reads_the_limit_and_when_to_retry(
    app: Flask, admin: User
) -> None:
    client = app.test_client()
    for _ in range(3):
        client.get(EXPORT, query_string={"format": "csv"}, headers=bearer(admin))

    refused = client.get(EXPORT, query_string={"format": "csv"}, headers=bearer(admin))

    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    seconds = refused.headers["Retry-After"]
    assert problem["detail"] == (
        "Too many documents and exports asked for at once: the limit is 3 per minute for "
        "each user, PDFs and exports on pages and the API sharing it; try again in "
        f"{seconds} seconds."
    )
