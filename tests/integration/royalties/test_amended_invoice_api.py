"""An amendment's royalty invoice says which invoice it amends, in the API as in the
invoices export and on the invoice's pages (round 36: the export had
`amends_invoice_number` since round 33, the API's invoice answer did not)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from licensing import db
from tests.integration.royalties.conftest import DATA_FILE, row
from tests.support import factories

# Printed copies: priced by the copy, with no minimum, so an empty quarter owes nothing.
PRINTED = {
    **{key: value for key, value in DATA_FILE.items() if key != "revenue"},
    "product_name": "Fernhill Code Book",
    "product_type": "print",
    "delivery": "print",
    "quantity": {"copies": 100},
}


def _file_and_amend(file_report: Any, vendor: Any, agreement: Any) -> tuple[str, str]:
    """The first quarter filed (60,000.00 revenue) and amended up (70,000.00):
    the original's invoice number, and the amendment's."""
    first = file_report(vendor, agreement, 1, [row(1, "A", unit="", revenue="60000.00")])
    amended = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", unit="", revenue="70000.00")],
        amends=first.report.id,
        reason="Customer A's revenue was restated",
    )
    assert first.invoice_number, first
    assert amended.invoice_number, amended
    return first.invoice_number, amended.invoice_number


def _by_number(client: FlaskClient, vendor: Any) -> dict[str, Any]:
    listed = client.get("/api/v1/invoices", headers=factories.bearer(vendor))
    assert listed.status_code == 200
    return {invoice["number"]: invoice for invoice in listed.get_json()}


def test_an_amendments_royalty_invoice_names_the_invoice_it_amends_in_the_api(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    original, amendment = _file_and_amend(file_report, vendor, agreement)
    invoices = _by_number(client, vendor)
    # Both share source_reference (the agreement and period); only the amendment's
    # names the other, in the list and read alone, to its vendor and to staff.
    assert invoices[original]["source_reference"] == invoices[amendment]["source_reference"]
    assert invoices[amendment]["amends_invoice_number"] == original
    assert invoices[original]["amends_invoice_number"] is None
    assert all(
        invoice["amends_invoice_number"] is None
        for number, invoice in invoices.items()
        if number != amendment
    )
    alone = client.get(
        f"/api/v1/invoices/{invoices[amendment]['id']}", headers=factories.bearer(vendor)
    )
    assert alone.get_json()["amends_invoice_number"] == original
    first_alone = client.get(
        f"/api/v1/invoices/{invoices[original]['id']}", headers=factories.bearer(vendor)
    )
    assert first_alone.get_json()["amends_invoice_number"] is None
    staff = factories.bearer(factories.make_staff(db.session(), ("billing",)))
    read_by_staff = client.get(f"/api/v1/invoices/{invoices[amendment]['id']}", headers=staff)
    assert read_by_staff.get_json()["amends_invoice_number"] == original


def test_an_amendments_invoice_names_the_report_it_amends_when_that_report_issued_no_invoice(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    """Round 68: a quarter of printed copies (no minimum, nothing up front) first
    reported with nothing to report (no invoice: nothing due) and amended up.
    `amends_invoice_number` is null (there is none to name), so the invoice said nothing
    of what it amends where its pages, PDF and email name the report; `amends_report`
    names it, in the list and read alone."""
    agreement = active_agreement(vendor, PRINTED)
    first = file_report(vendor, agreement, 1, [])
    assert first.invoice_number is None, first
    amended = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", unit="copies", quantity=100)],
        amends=first.report.id,
        reason="Customer A was left out",
    )
    invoices = _by_number(client, vendor)
    listed = invoices[amended.invoice_number]
    assert listed["amends_invoice_number"] is None
    named = {
        "id": first.report.id,
        "reference": first.report.reference,
        "period_start": first.period.start.isoformat(),
    }
    assert listed["amends_report"] == named
    alone = client.get(f"/api/v1/invoices/{listed['id']}", headers=factories.bearer(vendor))
    assert alone.get_json()["amends_report"] == named
    assert all(
        invoice["amends_report"] is None
        for number, invoice in invoices.items()
        if number != amended.invoice_number
    )


def test_the_invoice_list_reads_every_rows_amended_invoice_in_its_own_statement(
    app: Flask, client: FlaskClient, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    """No statement per row: the list reads the amended invoice's number with the
    invoices (a correlated subquery), however many invoices the page holds."""
    agreement = active_agreement(vendor, DATA_FILE)
    _file_and_amend(file_report, vendor, agreement)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = db.session().get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        invoices = _by_number(client, vendor)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(invoices) >= 2
    reading_invoices = [s for s in statements if "FROM invoices" in s and "royalty_reports" in s]
    assert len(reading_invoices) == 1, reading_invoices


def test_the_amendments_invoice_page_links_the_invoice_it_amends(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,
    signed_in: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, DATA_FILE)
    original, amendment = _file_and_amend(file_report, vendor, agreement)
    invoices = _by_number(client, vendor)
    portal = signed_in(app.test_client(), vendor)
    page = portal.get(f"/portal/invoices/{invoices[amendment]['id']}").get_data(as_text=True)
    assert "<dt>Amends</dt>" in page
    assert f'/portal/invoices/{invoices[original]["id"]}">{original}</a>' in page
    first_page = portal.get(f"/portal/invoices/{invoices[original]['id']}").get_data(as_text=True)
    assert "<dt>Amends</dt>" not in first_page
    console = signed_in(app.test_client(), factories.make_staff(db.session(), ("billing",)))
    staff_page = console.get(f"/console/invoices/{invoices[amendment]['id']}").get_data(
        as_text=True
    )
    assert f'/console/invoices/{invoices[original]["id"]}">{original}</a>' in staff_page
