"""Round 56: a credit note's own console page (docs/billing.md, *A credit note's page*;
docs/journeys.md, "Round 56: a credit note's own page, and what the clerk's walk left").
Its number linked only its PDF, and the invoice's *Refunds* table named it unlinked:
"what is CN-...?" meant opening a PDF to learn who issued it, and nowhere said what of
it had gone back and how."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.factories import billing_clerk


def _text(client: FlaskClient, path: str, **query: str) -> str:
    answer = client.get(path, query_string=query)
    assert answer.status_code == 200, (path, answer.status_code)
    return html.unescape(" ".join(answer.get_data(as_text=True).split()))


def _plain(page: str) -> str:
    """The words a reader sees, tags dropped (punctuation kept beside its word)."""
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    return re.sub(r"\s+([:,;.)])", r"\1", words).replace("( ", "(")


def _wire_refunded_and_returned(
    invoice_for: Callable[..., Invoice], vendor: Any
) -> tuple[Invoice, CreditNote]:
    """A 500.00 invoice paid by wire, credited 120.00 (all owed back), 60.00 sent back
    by wire and returned by the bank, 25.00 sent back by check."""
    invoice = invoice_for(vendor, ("500.00",))
    paid_offline(invoice.id, "500.00", "FEDWIRE 5510")
    credit = credited(invoice.id, "120.00", "Two seats removed from the order.")
    bounced = refunded_offline(credit.id, "60.00", "W-BACK-1")
    services.return_offline_refund(
        bounced.id,
        reason="Account closed at the receiving bank",
        returned_on=office_date(utcnow()),
        actor=billing_clerk(),
    )
    refunded_offline(credit.id, "25.00", "CHK 2201", method="check")
    return invoice, credit


def test_a_credit_notes_page_says_whose_it_is_what_it_credits_and_what_went_back_and_how(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, credit = _wire_refunded_and_returned(invoice_for, vendor)
    clerk = signed_in(app.test_client(), billing_staff)
    page = _text(clerk, f"/console/credit-notes/{credit.id}")
    assert f"<h1>Credit note {credit.number}</h1>" in page
    plain = _plain(page)
    assert f'href="/console/invoices/{invoice.id}">{invoice.label}</a>' in page
    assert f"Credits {invoice.label}: 500.00 USD, paid" in plain
    assert vendor.organization.legal_name in page
    assert "Two seats removed from the order." in page
    assert re.search(
        # Round 58: named as the histories name people, "Name (address)".
        r"Issued [A-Z][a-z]+ \d{1,2}, \d{4}, by Jordan Okafor \d+ "
        r"\(staff\d*@licensing-office\.example\) \(",
        plain,
    )
    assert (
        "Owed back 120.00 USD (more than the invoice still owed when it was issued): "
        "25.00 USD refunded (besides 60.00 USD sent and returned by the bank); "
        "95.00 USD still to send"
    ) in plain
    # How each went back, and the return with the bank's reason.
    assert "W-BACK-1" in page
    assert "CHK 2201" in page
    assert "Account closed at the receiving bank" in page
    assert "1 refund returned by the bank (60.00 USD)" in plain
    assert f'href="/credit-notes/{credit.id}.pdf"' in page
    # Its history, with its refunds'.
    history = _plain(page[page.index('id="history"') :])
    # Issued, two refunds recorded, one returned: each with who did it.
    assert history.count("@licensing-office.example") == 4


def test_every_console_page_naming_a_credit_note_links_its_page(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    """The invoice (its credit notes and its *Refunds* table), the payment its wire
    refund gave back, and the statement: each names the number, each links it."""
    invoice, credit = _wire_refunded_and_returned(invoice_for, vendor)
    clerk = signed_in(app.test_client(), billing_staff)
    link = f'<a href="/console/credit-notes/{credit.id}">{credit.number}</a>'
    invoice_page = _text(clerk, f"/console/invoices/{invoice.id}")
    assert invoice_page.count(link) >= 4  # the credit notes table and 3 refund rows
    refunds = invoice_page[invoice_page.index('id="refunds"') :]
    assert link in refunds[: refunds.index("</table>")]
    assert f'href="/credit-notes/{credit.id}.pdf"' in invoice_page  # the PDF beside it
    payment = invoice.payments[0]
    assert link in _text(clerk, f"/console/payments/{payment.id}")
    today = office_date(utcnow()).isoformat()
    statement = _text(
        clerk,
        f"/console/organizations/{vendor.organization_id}/statement",
        **{"from": today, "to": today, "currency": "USD"},
    )
    movements = statement[statement.index('id="movements"') :]
    assert movements.count(link) == 4  # issued, two refunds sent, one returned


def test_a_vendor_reads_the_credit_notes_pdf_from_their_invoice_not_a_console_page(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, credit = _wire_refunded_and_returned(invoice_for, vendor)
    portal = signed_in(app.test_client(), vendor)
    page = _text(portal, f"/portal/invoices/{invoice.id}")
    assert f'<a href="/credit-notes/{credit.id}.pdf">{credit.number}</a>' in page
    assert "/console/credit-notes/" not in page
    assert portal.get(f"/console/credit-notes/{credit.id}").status_code == 403


def test_a_credit_note_that_owes_nothing_back_says_so_and_one_unknown_is_404(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("300.00",))
    credit = credited(invoice.id, "50.00", "Late fee waived.")
    officer = signed_in(app.test_client(), licensing_staff)
    page = _plain(_text(officer, f"/console/credit-notes/{credit.id}"))
    assert "Owed back nothing: all of it came off the balance due" in page
    assert "Off the balance due 50.00 USD" in page
    assert credit.amount == Decimal("50.00")
    assert officer.get("/console/credit-notes/999999").status_code == 404
