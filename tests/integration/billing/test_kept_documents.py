"""An invoice's kept documents listed (round 46): the console's invoice page and the
licensee's list each PDF kept for the invoice (the issued one marked, then one for
each standing since), with its standing in words, when it was first drawn and its
SHA-256, and a link serving that document's exact bytes to whoever may read the
invoice, and to nobody else. Round 47: its credit notes' kept PDFs too (the pages,
and the API's credit note), and the emailed signed link's page, each served on
that link's authority alone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import undefer

from licensing import db
from licensing.billing import links, services
from licensing.billing.models import CreditNote, Invoice, KeptPdf
from tests.support.billing import paid_offline
from tests.support.documents import downloaded_pdf, pdf_text, stored_pdf
from tests.support.factories import bearer, billing_clerk, make_organization, make_vendor

LATER = datetime(2027, 1, 22, 15, 0, tzinfo=UTC)


def _kept(invoice: Invoice) -> list[KeptPdf]:
    db.session().expire_all()
    statement = (
        select(KeptPdf)
        .options(undefer(KeptPdf.pdf))  # read only where asked for (round 51)
        .where(KeptPdf.invoice_id == invoice.id)
        .order_by(KeptPdf.id)
    )
    return list(db.session().scalars(statement))


def _kept_credit_note(credit: CreditNote) -> KeptPdf:
    db.session().expire_all()
    return (
        db.session()
        .scalars(
            select(KeptPdf).options(undefer(KeptPdf.pdf)).where(KeptPdf.credit_note_id == credit.id)
        )
        .one()
    )


def _credit_note(invoice: Invoice, amount: str = "25.00") -> CreditNote:
    return services.issue_credit_note(
        invoice.id, amount=Decimal(amount), reason="Goodwill", now=LATER, actor=billing_clerk()
    )


def _credited(client: FlaskClient, invoice: Invoice, amount: str = "25.00") -> CreditNote:
    """A credit note issued against `invoice` and its PDF first downloaded (kept)."""
    credit = _credit_note(invoice, amount)
    downloaded_pdf(client, f"/credit-notes/{credit.id}.pdf")
    return credit


def _link_path(invoice: Invoice) -> str:
    """The emailed signed link's page, as a path the test client opens."""
    return "/" + links.invoice_url(invoice).split("://", 1)[1].split("/", 1)[1]


def _words(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    # The page's words, and its links' addresses (where each document is served).
    return (
        " ".join(re.sub(r"<[^>]+>", " ", html).split())
        + " "
        + " ".join(re.findall(r'href="([^"]+)"', html))
    )


def _document_url(invoice: Invoice, row: KeptPdf) -> str:
    return f"/invoices/{invoice.id}/documents/{row.id}.pdf"


@pytest.fixture
def credit_note_kept(
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> tuple[Invoice, FlaskClient, CreditNote, KeptPdf, KeptPdf]:
    """(A fixture) an invoice of 100.00 credited 25.00, the credit note's PDF downloaded by the
    vendor's signed-in browser: the invoice, the browser, the credit note, its kept
    PDF and the invoice's issued one."""
    invoice = invoice_for(vendor, ("100.00",))
    browser = signed_in(client, vendor)
    credit = _credited(browser, invoice)
    [issued] = _kept(invoice)
    return invoice, browser, credit, _kept_credit_note(credit), issued


def _paid_in_two_parts(client: FlaskClient, invoice: Invoice) -> None:
    """Part paid, then paid, each standing drawn by a download (kept: round 44)."""
    paid_offline(invoice.id, "40.00", "WIRE-1", received_on=date(2027, 1, 20), now=LATER)
    downloaded_pdf(client, f"/invoices/{invoice.id}.pdf")
    paid_offline(invoice.id, "60.00", "WIRE-2", received_on=date(2027, 1, 21), now=LATER)
    downloaded_pdf(client, f"/invoices/{invoice.id}.pdf")


def test_the_licensee_sees_the_issued_document_after_payment_and_downloads_its_exact_bytes(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    browser = signed_in(client, vendor)
    _paid_in_two_parts(browser, invoice)
    issued, part_paid, paid = _kept(invoice)
    page = _words(browser, f"/portal/invoices/{invoice.id}")
    assert "Documents" in page
    assert f"{invoice.number} as issued the one issued" in page
    assert "Open: paid 0.00 USD, credited 0.00 USD, balance due 100.00 USD" in page
    assert "Open: paid 40.00 USD, credited 0.00 USD, balance due 60.00 USD" in page
    assert "Paid on 2027-01-22: paid 100.00 USD, credited 0.00 USD, balance due 0.00 USD" in page
    for row in (issued, part_paid, paid):
        assert row.sha256 in page
        assert _document_url(invoice, row) in page
    assert page.index(issued.sha256) < page.index(part_paid.sha256) < page.index(paid.sha256)
    # The issued document, as emailed, though the invoice's PDF now is the receipt.
    first = downloaded_pdf(browser, _document_url(invoice, issued))
    assert first == issued.pdf
    assert "PAID" not in pdf_text(first)
    assert downloaded_pdf(browser, _document_url(invoice, paid)) == paid.pdf
    assert len(_kept(invoice)) == 3  # a listed download draws nothing


def test_billing_staff_see_a_void_invoices_documents_on_the_console(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    services.void_invoice(invoice.id, reason="Issued in error", now=LATER, actor=billing_clerk())
    console = signed_in(client, billing_staff)
    downloaded_pdf(console, f"/invoices/{invoice.id}.pdf")  # the void standing, kept
    issued, void = _kept(invoice)
    page = _words(console, f"/console/invoices/{invoice.id}")
    assert f"{invoice.number} as issued the one issued" in page
    assert f"{invoice.number}, document 2" in page
    assert "Void: paid 0.00 USD, credited 0.00 USD, balance due" in page
    assert issued.sha256 in page
    assert void.sha256 in page
    assert downloaded_pdf(console, _document_url(invoice, issued)) == issued.pdf
    assert "VOID" in pdf_text(downloaded_pdf(console, _document_url(invoice, void)))
    assert "VOID" not in pdf_text(issued.pdf)


def test_only_the_invoices_organization_and_the_office_download_them_under_their_invoice(
    app: Flask,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    [issued] = _kept(invoice)
    url = _document_url(invoice, issued)
    session = db.session()
    stranger = make_vendor(session, organization=make_organization(session))
    clerk = make_vendor(session, organization=vendor.organization, role="billing")
    assert signed_in(app.test_client(), stranger).get(url).status_code == 404
    assert app.test_client().get(url).status_code in (302, 401)
    assert downloaded_pdf(signed_in(app.test_client(), clerk), url) == issued.pdf
    # A document is served under its own invoice only.
    other = invoice_for(vendor, ("50.00",))
    mine = signed_in(app.test_client(), vendor)
    assert mine.get(f"/invoices/{other.id}/documents/{issued.id}.pdf").status_code == 404
    assert mine.get(f"/invoices/{invoice.id}/documents/999999.pdf").status_code == 404


def test_the_api_lists_the_kept_documents_and_serves_each_only_to_its_organization(
    app: Flask, client: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    services.void_invoice(invoice.id, reason="Issued in error", now=LATER, actor=billing_clerk())
    downloaded_pdf(client, f"/api/v1/invoices/{invoice.id}/pdf", headers=bearer(vendor))
    issued, void = _kept(invoice)
    response = client.get(f"/api/v1/invoices/{invoice.id}/documents", headers=bearer(vendor))
    assert response.status_code == 200, response.get_json()
    items = response.get_json()
    assert [(item["id"], item["issued"], item["sha256"]) for item in items] == [
        (issued.id, True, issued.sha256),
        (void.id, False, void.sha256),
    ]
    assert items[0]["standing"] == "open; paid 0.00; credited 0.00; balance due 100.00"
    assert items[1]["standing_words"].startswith("Void: paid 0.00 USD")
    assert items[0]["drawn_at"].endswith("+00:00")
    url = f"/api/v1/invoices/{invoice.id}/documents/{issued.id}/pdf"
    assert downloaded_pdf(client, url, headers=bearer(vendor)) == issued.pdf
    session = db.session()
    stranger = make_vendor(session, organization=make_organization(session))
    assert client.get(url, headers=bearer(stranger)).status_code == 404
    listed = client.get(f"/api/v1/invoices/{invoice.id}/documents", headers=bearer(stranger))
    assert listed.status_code == 404


# --- round 47: a credit note's kept PDF, and the signed link's page ----------------------


def test_a_credit_notes_kept_pdf_is_listed_under_its_invoice_on_the_portal_and_the_console(
    app: Flask,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    credit_note_kept: tuple[Invoice, FlaskClient, CreditNote, KeptPdf, KeptPdf],
) -> None:
    # Round 46 listed the invoice's documents only: the credit note's kept PDF was
    # hashed by `audit verify` but no page listed it or served it as kept.
    invoice, browser, credit, kept, issued = credit_note_kept
    for reader, page_url in (
        (browser, f"/portal/invoices/{invoice.id}"),
        (signed_in(app.test_client(), billing_staff), f"/console/invoices/{invoice.id}"),
    ):
        page = _words(reader, page_url)
        assert f"Credit note {credit.number} as issued" in page
        assert kept.sha256 in page
        assert _document_url(invoice, kept) in page
        # Listed after the invoice's own, in the same table.
        assert page.index(issued.sha256) < page.index(kept.sha256)
        assert downloaded_pdf(reader, _document_url(invoice, kept)) == kept.pdf
    assert credit.number in pdf_text(kept.pdf)
    # Served under its own invoice only, to its organization only.
    other = invoice_for(vendor, ("50.00",))
    assert browser.get(_document_url(other, kept)).status_code == 404
    session = db.session()
    stranger = make_vendor(session, organization=make_organization(session))
    assert (
        signed_in(app.test_client(), stranger).get(_document_url(invoice, kept)).status_code == 404
    )


def test_the_api_lists_a_credit_notes_kept_pdf_and_serves_it_only_to_its_organization(
    app: Flask, client: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    credit = _credit_note(invoice)
    listed = client.get(f"/api/v1/credit-notes/{credit.id}/documents", headers=bearer(vendor))
    assert listed.status_code == 200
    assert listed.get_json() == []  # nothing kept before its first draw
    downloaded_pdf(client, f"/api/v1/credit-notes/{credit.id}/pdf", headers=bearer(vendor))
    kept = _kept_credit_note(credit)
    listed = client.get(f"/api/v1/credit-notes/{credit.id}/documents", headers=bearer(vendor))
    [item] = listed.get_json()
    assert item["id"] == kept.id
    assert item["credit_note_id"] == credit.id
    assert item["invoice_id"] == invoice.id
    assert item["issued"] is True
    assert item["standing"] == "issued"
    assert item["standing_words"] == "Issued"
    assert item["sha256"] == kept.sha256
    url = f"/api/v1/credit-notes/{credit.id}/documents/{kept.id}/pdf"
    assert downloaded_pdf(client, url, headers=bearer(vendor)) == kept.pdf
    # The invoice's own list stays its own: the credit note lists its document.
    invoice_items = client.get(f"/api/v1/invoices/{invoice.id}/documents", headers=bearer(vendor))
    assert [i["credit_note_id"] for i in invoice_items.get_json()] == [None]
    # Another organization: neither the list nor the bytes; nor another's document.
    session = db.session()
    stranger = make_vendor(session, organization=make_organization(session))
    assert client.get(url, headers=bearer(stranger)).status_code == 404
    assert (
        client.get(f"/api/v1/credit-notes/{credit.id}/documents", headers=bearer(stranger))
    ).status_code == 404
    [issued] = _kept(invoice)
    wrong = f"/api/v1/credit-notes/{credit.id}/documents/{issued.id}/pdf"
    assert client.get(wrong, headers=bearer(vendor)).status_code == 404


def test_the_apis_invoice_serves_only_the_documents_its_list_gives(
    app: Flask, client: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    # Round 49: `GET /invoices/{id}/documents` lists the invoice's own, but its
    # download also served its credit notes' (under the invoice's file name): not a
    # leak, whoever reads the invoice reads its credit notes, but a client could not
    # tell from the list what the route serves. A credit note's is served under it.
    invoice = invoice_for(vendor, ("100.00",))
    credit = _credit_note(invoice)
    downloaded_pdf(client, f"/api/v1/credit-notes/{credit.id}/pdf", headers=bearer(vendor))
    kept = _kept_credit_note(credit)
    listed = client.get(f"/api/v1/invoices/{invoice.id}/documents", headers=bearer(vendor))
    assert kept.id not in [item["id"] for item in listed.get_json()]
    under_invoice = client.get(
        f"/api/v1/invoices/{invoice.id}/documents/{kept.id}/pdf", headers=bearer(vendor)
    )
    assert under_invoice.status_code == 404
    assert under_invoice.mimetype == "application/problem+json"
    own = f"/api/v1/credit-notes/{credit.id}/documents/{kept.id}/pdf"
    assert downloaded_pdf(client, own, headers=bearer(vendor)) == kept.pdf
    # The invoice's own are served as before.
    [issued] = _kept(invoice)
    url = f"/api/v1/invoices/{invoice.id}/documents/{issued.id}/pdf"
    assert downloaded_pdf(client, url, headers=bearer(vendor)) == issued.pdf


def test_a_signed_link_reaches_no_credit_note_of_another_invoice(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # Checked, round 49: a link opens its invoice's documents and its credit notes',
    # never another invoice's credit note (the same organization's, or another's),
    # neither its kept PDF nor the one drawn on request.
    invoice, other = invoice_for(vendor, ("100.00",)), invoice_for(vendor, ("50.00",))
    theirs = _credited(signed_in(client, vendor), other, "5.00")
    kept = _kept_credit_note(theirs)
    contact, page_url = app.test_client(), _link_path(invoice)
    assert contact.get(f"{page_url}/documents/{kept.id}.pdf").status_code == 404
    assert contact.get(f"{page_url}/credit-notes/{theirs.id}.pdf").status_code == 404
    assert f"{theirs.number}" not in _words(contact, page_url)
    # Its own link serves it.
    own = f"{_link_path(other)}/documents/{kept.id}.pdf"
    assert downloaded_pdf(contact, own) == kept.pdf


def test_the_signed_link_page_lists_the_documents_and_serves_them_without_signing_in(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # Round 46 left the billing contact's page without the list: once the invoice was
    # paid, the PDF they were emailed could not be fetched again from their link.
    invoice = invoice_for(vendor, ("100.00",))
    credit = _credited(signed_in(client, vendor), invoice, "10.00")
    paid_offline(invoice.id, "90.00", "WIRE-1", received_on=date(2027, 1, 21), now=LATER)
    contact = app.test_client()  # not signed in: the link's authority alone
    page_url = _link_path(invoice)
    downloaded_pdf(contact, f"{page_url}/invoice.pdf")  # the paid standing, kept
    issued, paid = _kept(invoice)
    kept_credit = _kept_credit_note(credit)
    page = _words(contact, page_url)
    assert f"{invoice.number} as issued the one issued" in page
    assert "Paid on 2027-01-22: paid 90.00 USD, credited 10.00 USD, balance due 0.00 USD" in page
    assert f"Credit note {credit.number} as issued" in page
    for row in (issued, paid, kept_credit):
        assert row.sha256 in page
        url = f"{page_url}/documents/{row.id}.pdf"
        assert url in page
        assert downloaded_pdf(contact, url) == stored_pdf(row)
    # The signed-in routes are not what the page links to.
    assert _document_url(invoice, issued) not in page.replace(page_url, "")
    # Nothing of another invoice under this link, nor this one's under a forged token.
    other = invoice_for(vendor, ("50.00",))
    [others] = _kept(other)
    assert contact.get(f"{page_url}/documents/{others.id}.pdf").status_code == 404
    forged = page_url.rsplit("/", 1)[0] + "/not-the-token"
    assert contact.get(f"{forged}/documents/{issued.id}.pdf").status_code == 404
    # Links withdrawn: the old link serves no document either.
    services.withdraw_invoice_links(invoice.id, reason="Forwarded", actor=billing_clerk())
    assert contact.get(f"{page_url}/documents/{issued.id}.pdf").status_code == 403


def test_a_credit_notes_kept_pdf_is_named_after_the_credit_note_wherever_it_is_served(
    app: Flask,
    vendor: Any,
    billing_staff: Any,
    signed_in: Callable[..., FlaskClient],
    credit_note_kept: tuple[Invoice, FlaskClient, CreditNote, KeptPdf, KeptPdf],
) -> None:
    # Round 49: the invoice's pages named it after the invoice (`INV-…-7.pdf`), its
    # API route after the credit note: a saved file said the wrong document.
    invoice, browser, credit, kept, issued = credit_note_kept
    named = f'inline; filename="{credit.number}-{kept.id}.pdf"'
    assert credit.number.startswith("CN-")
    served = (
        (browser, _document_url(invoice, kept)),
        (signed_in(app.test_client(), billing_staff), _document_url(invoice, kept)),
        (app.test_client(), f"{_link_path(invoice)}/documents/{kept.id}.pdf"),
    )
    for reader, url in served:
        response = reader.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == named
    api = app.test_client().get(
        f"/api/v1/credit-notes/{credit.id}/documents/{kept.id}/pdf", headers=bearer(vendor)
    )
    assert api.headers["Content-Disposition"] == named
    # The invoice's own keep the invoice's number.
    own = browser.get(_document_url(invoice, issued))
    assert (
        own.headers["Content-Disposition"] == f'inline; filename="{invoice.number}-{issued.id}.pdf"'
    )


def test_a_kept_documents_standing_groups_its_thousands_as_the_rest_of_the_page(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # Round 51's vendor read "Balance due 1,757.50 USD" above and "balance due
    # 1757.50 USD" in the Documents table of the same invoice.
    invoice = invoice_for(vendor, ("1757.50",))
    browser = signed_in(client, vendor)
    downloaded_pdf(browser, f"/invoices/{invoice.id}.pdf")
    page = _words(browser, f"/portal/invoices/{invoice.id}")
    assert "Open: paid 0.00 USD, credited 0.00 USD, balance due 1,757.50 USD" in page
    assert "1757.50" not in page
    # The key stays the plain figures a kept PDF is stored under.
    [issued] = _kept(invoice)
    assert issued.standing == "open; paid 0.00; credited 0.00; balance due 1757.50"
