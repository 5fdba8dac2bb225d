"""Where a statement of account is read: the vendor portal (your own organization),
the console's organization page (billing and licensing staff, any organization) and
the API, each with its PDF; bad dates and currencies are refused by field, never a 500."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.access import BILLING, MEMBER
from licensing.accounts.models import User
from licensing.billing import services, views
from licensing.billing.models import Invoice
from tests.support import factories
from tests.support.documents import pdf_text
from tests.support.factories import bearer, billing_clerk
from tests.support.pages import without_time_tags

ISSUED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30", "currency": "USD"}


def _invoiced_and_paid_in_part(vendor: User, invoice_for: Callable[..., Invoice]) -> Invoice:
    invoice = invoice_for(vendor, ("1200.00", "350.50"), at=ISSUED)
    services.record_offline_payment(
        invoice.id,
        method="wire",
        amount=Decimal("500.00"),
        reference="W-77",
        received_on=date(2026, 11, 25),
        now=datetime(2026, 11, 25, 16, 0, tzinfo=UTC),
        actor=billing_clerk(),
    )
    return invoice


def test_the_api_gives_a_vendor_their_statement_with_amounts_as_strings(
    client: FlaskClient, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = _invoiced_and_paid_in_part(vendor, invoice_for)
    answer = client.get(
        f"/api/v1/organizations/{vendor.organization_id}/statement",
        query_string=NOVEMBER,
        headers=bearer(vendor),
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["from"], body["to"], body["currency"]) == ("2026-11-01", "2026-11-30", "USD")
    assert (body["opening_balance"], body["closing_balance"]) == ("0.00", "1050.50")
    assert [
        (line["date"], line["kind"], line["document"], line["amount"], line["balance"])
        for line in body["movements"]
    ] == [
        ("2026-11-20", "issued", invoice.number, "1550.50", "1550.50"),
        ("2026-11-25", "paid", invoice.number, "-500.00", "1050.50"),
    ]
    issued = body["movements"][0]["description"]
    assert issued == f"Invoice issued for {invoice.source_words}, due 2026-12-20"


def test_a_vendor_asking_for_another_organizations_statement_is_told_it_does_not_exist(
    client: FlaskClient, vendor: User, other_vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    _invoiced_and_paid_in_part(other_vendor, invoice_for)
    answer = client.get(
        f"/api/v1/organizations/{other_vendor.organization_id}/statement",
        query_string=NOVEMBER,
        headers=bearer(vendor),
    )
    assert answer.status_code == 404
    assert answer.content_type == "application/problem+json"


def test_the_api_refuses_bad_ranges_and_currencies_by_query_argument(
    client: FlaskClient, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    _invoiced_and_paid_in_part(vendor, invoice_for)
    url = f"/api/v1/organizations/{vendor.organization_id}/statement"
    refusals = {
        "query.from": {"from": "2026-11-30", "to": "2026-11-01"},
        "query.to": {"from": "2025-01-01", "to": "2026-11-30"},
        "query.currency": {"from": "2026-11-01", "to": "2026-11-30", "currency": "XQQ"},
    }
    for field, query in refusals.items():
        answer = client.get(url, query_string=query, headers=bearer(vendor))
        assert answer.status_code == 422, (field, answer.get_json())
        assert answer.content_type == "application/problem+json"
        assert list(answer.get_json()["errors"]) == [field]
    too_long = client.get(url, query_string=refusals["query.to"], headers=bearer(vendor))
    assert "at most 366 days" in too_long.get_json()["errors"]["query.to"][0]
    not_a_day = client.get(url, query_string={"from": "2026-13-01"}, headers=bearer(vendor))
    assert not_a_day.status_code == 422


def test_the_portal_page_lists_the_movements_and_downloads_the_pdf(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = _invoiced_and_paid_in_part(vendor, invoice_for)
    browser = signed_in(app.test_client(), vendor)
    assert "/portal/statement" in browser.get("/portal/invoices").text
    page = browser.get("/portal/statement", query_string=NOVEMBER)
    assert page.status_code == 200
    assert invoice.number in page.text
    assert "1,050.50" in page.text
    download = browser.get("/portal/statement.pdf", query_string=NOVEMBER)
    assert download.status_code == 200
    assert download.content_type == "application/pdf"
    text = pdf_text(download.data)
    assert invoice.number in text
    assert "Opening balance on November 1, 2026" in text
    assert "1,050.50 USD" in text


def test_the_page_shows_the_form_with_the_fields_message_for_bad_dates(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User
) -> None:
    browser = signed_in(app.test_client(), vendor)
    backwards = browser.get(
        "/portal/statement", query_string={"from": "2026-11-30", "to": "2026-11-01"}
    )
    assert backwards.status_code == 422
    assert "Must be on or before to (November 1, 2026)." in without_time_tags(backwards.text)
    assert 'id="from" name="from" value="2026-11-30" aria-invalid="true"' in backwards.text
    garbled = browser.get("/portal/statement.pdf", query_string={"to": "31/12/2026"})
    assert garbled.status_code == 422
    assert "Enter a date as YYYY-MM-DD" in garbled.text
    future = browser.get("/portal/statement", query_string={"to": "2999-01-01"})
    assert future.status_code == 422
    assert "or earlier: later days are not over." in future.text


def test_billing_and_licensing_staff_read_any_organizations_statement_from_the_console(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = _invoiced_and_paid_in_part(vendor, invoice_for)
    url = f"/console/organizations/{vendor.organization_id}/statement"
    for staff in (billing_staff, licensing_staff):
        browser = signed_in(app.test_client(), staff)
        assert url in browser.get(f"/console/organizations/{vendor.organization_id}").text
        page = browser.get(url, query_string=NOVEMBER)
        assert page.status_code == 200
        assert invoice.number in page.text
        download = browser.get(f"{url}.pdf", query_string=NOVEMBER)
        assert download.content_type == "application/pdf"
    member = signed_in(app.test_client(), vendor)
    assert member.get(url, query_string=NOVEMBER).status_code == 403
    assert (
        signed_in(app.test_client(), billing_staff)
        .get("/console/organizations/999999/statement")
        .status_code
        == 404
    )


def test_the_page_lists_a_bounded_number_of_movements_and_the_pdf_every_one(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    invoice_for: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoice = _invoiced_and_paid_in_part(vendor, invoice_for)
    monkeypatch.setattr(views, "STATEMENT_PAGE_LINES", 1)
    browser = signed_in(app.test_client(), vendor)
    page = browser.get("/portal/statement", query_string=NOVEMBER)
    assert "The first 1 of 2 movements are listed here; the PDF has every one." in page.text
    assert "Payment received (wire, reference W-77)" not in page.text
    text = pdf_text(browser.get("/portal/statement.pdf", query_string=NOVEMBER).data)
    assert "W-77" in text  # the description wraps in its cell
    assert "2026-11-25" in text
    assert invoice.number in text


def test_a_billing_member_reads_the_statement_as_they_read_the_invoices(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = _invoiced_and_paid_in_part(vendor, invoice_for)
    clerk = factories.make_vendor(db.session(), organization=vendor.organization, role=BILLING)
    browser = signed_in(app.test_client(), clerk)
    page = browser.get("/portal/statement", query_string=NOVEMBER)
    assert page.status_code == 200
    assert invoice.number in page.text
    assert browser.get("/portal/statement.pdf", query_string=NOVEMBER).status_code == 200


@pytest.mark.parametrize("role", [None, MEMBER, BILLING])
def test_the_portal_menu_leads_every_user_of_the_organization_to_its_statement(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User, role: str | None
) -> None:
    user = (
        vendor
        if role is None
        else factories.make_vendor(db.session(), organization=vendor.organization, role=role)
    )
    dashboard = signed_in(app.test_client(), user).get("/portal/").text
    menu = dashboard.split('<nav class="menu" aria-label="Vendor portal">', 1)[1].split("</nav>")[0]
    assert '<a href="/portal/statement">Statement of account</a>' in menu


def test_the_statement_says_when_it_was_made_in_the_offices_time_on_the_page_and_pdf(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 27: "As of" was UTC while every other time on the pages is the office's;
    the API keeps UTC, as every instant it gives."""
    _invoiced_and_paid_in_part(vendor, invoice_for)
    made = datetime(2027, 1, 5, 3, 30, tzinfo=UTC)  # still the 4th at the office
    with time_machine.travel(made, tick=False):
        browser = signed_in(app.test_client(), vendor)
        page = browser.get("/portal/statement", query_string=NOVEMBER).text
        text = pdf_text(browser.get("/portal/statement.pdf", query_string=NOVEMBER).data)
        answer = _api_statement(app, vendor)
    assert "January 4, 2027 at 9:30 PM (US Central time)" in page
    assert "UTC" not in page
    # The PDF in words (round 56), the page as the console's tables write it.
    assert "January 4, 2027 at 9:30 PM (US Central time)" in " ".join(text.split())
    assert answer["as_of"].startswith("2027-01-05T03:30:00")


def test_the_api_statement_says_when_it_was_made_in_utc_and_in_the_offices_time(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    """Round 30: `as_of` is UTC while the page shows the office's time; a finance system
    reading the statement at 21:30 in Chicago got the next day's date from it. The
    field is kept, said to be UTC, and the office's moment and day are given beside it."""
    _invoiced_and_paid_in_part(vendor, invoice_for)
    with time_machine.travel(datetime(2027, 1, 5, 3, 30, tzinfo=UTC), tick=False):
        answer = _api_statement(app, vendor)
    assert answer["as_of"] == "2027-01-05T03:30:00+00:00"
    assert answer["as_of_office"] == "2027-01-04T21:30:00-06:00"
    assert answer["as_of_office_date"] == "2027-01-04"
    with time_machine.travel(datetime(2027, 7, 5, 3, 30, tzinfo=UTC), tick=False):
        summer = _api_statement(app, vendor)
    assert summer["as_of_office"] == "2027-07-04T22:30:00-05:00"  # daylight time
    schema = app.test_client().get("/api/v1/openapi.json").get_json()
    fields = schema["components"]["schemas"]["Statement"]["properties"]
    assert "UTC" in fields["as_of"]["description"]
    assert "America/Chicago" in fields["as_of_office"]["description"]


def _api_statement(app: Flask, vendor: User) -> dict[str, Any]:
    answer = app.test_client().get(
        f"/api/v1/organizations/{vendor.organization_id}/statement",
        query_string=NOVEMBER,
        headers=bearer(vendor),
    )
    assert answer.status_code == 200, answer.get_json()
    body: dict[str, Any] = answer.get_json()
    return body


def test_an_organization_never_invoiced_is_refused_another_currency_as_an_invoiced_one_is(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User
) -> None:
    """Round 27: a never-invoiced organization was given zeros in any currency asked,
    an invoiced one refused those it was not invoiced in. Before its first invoice its
    statement is in the office's currency (zeros, "Nothing moved"); any other is
    refused by name on the page, the PDF and the API alike."""
    said = f"{vendor.organization.legal_name} has not been invoiced yet: its statement is in USD"
    browser = signed_in(app.test_client(), vendor)
    euros = {**NOVEMBER, "currency": "EUR"}
    page = browser.get("/portal/statement", query_string=euros)
    assert page.status_code == 422
    assert said in html.unescape(page.text)
    pdf = browser.get("/portal/statement.pdf", query_string=euros)
    assert pdf.status_code == 422
    assert said in html.unescape(pdf.text)
    answer = browser.get(
        f"/api/v1/organizations/{vendor.organization_id}/statement",
        query_string=euros,
        headers=bearer(vendor),
    )
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["query.currency"][0].startswith(said)
    dollars = browser.get("/portal/statement", query_string=NOVEMBER)
    assert dollars.status_code == 200
    assert "Nothing moved" in dollars.text
