"""Round 2 of the staff journeys: what billing staff tripped on."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.calendar import day_text
from licensing.mail.models import OutboxMessage
from tests.support.factories import billing_clerk
from tests.support.pages import without_time_tags
from tests.support.settings import invoice_terms

InvoiceFor = Callable[..., Invoice]


def test_a_payment_received_before_the_invoice_was_issued_is_refused_with_the_fields_message(
    invoice_for: InvoiceFor, vendor: Any, billing_staff: Any, signed_in: Any, app: Flask
) -> None:
    invoice = invoice_for(vendor, at=datetime.now(UTC) - timedelta(days=3))
    assert invoice.issue_date is not None
    staff = signed_in(app.test_client(), billing_staff)
    url = f"/console/invoices/{invoice.id}/payments"
    refused = staff.post(
        url,
        data={
            "method": "wire",
            "amount": "100.00",
            "reference": "FW-1",
            "received_on": "1900-01-01",
        },
    )
    assert refused.status_code == 422
    assert (
        f"Cannot be before the invoice was issued ({day_text(invoice.issue_date)})."
        in without_time_tags(refused.get_data(as_text=True))
    )
    db.session().refresh(invoice)
    assert invoice.payments == []
    assert invoice.amount_paid == Decimal(0)
    same_day = staff.post(
        url,
        data={
            "method": "wire",
            "amount": "100.00",
            "reference": "FW-1",
            "received_on": invoice.issue_date.isoformat(),
        },
    )
    assert same_day.status_code == 302


def test_a_refund_sent_before_its_credit_note_was_issued_is_refused_with_the_fields_message(
    invoice_for: InvoiceFor, vendor: Any, billing_staff: Any, signed_in: Any, app: Flask
) -> None:
    invoice = invoice_for(vendor, at=datetime.now(UTC) - timedelta(days=3))
    services.record_offline_payment(
        invoice.id, method="wire", amount=invoice.total, reference="W-1", actor=billing_clerk()
    )
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("50.00"), reason="Seat removed", actor=billing_clerk()
    )
    staff = signed_in(app.test_client(), billing_staff)
    prefix = f"refund-{credit.id}-"
    fields = {"method": "wire", "amount": "50.00", "reference": "RF-1", "sent_on": "1900-01-01"}
    refused = staff.post(
        f"/console/credit-notes/{credit.id}/refunds",
        data={prefix + name: value for name, value in fields.items()},
    )
    assert refused.status_code == 422
    assert (
        f"Cannot be before the credit note was issued ({day_text(credit.issue_date)})."
        in without_time_tags(refused.get_data(as_text=True))
    )
    db.session().refresh(credit)
    assert credit.refunds == []


def test_the_refund_panel_names_the_currency_once(
    invoice_for: InvoiceFor, vendor: Any, billing_staff: Any, signed_in: Any, app: Flask
) -> None:
    invoice = invoice_for(vendor, at=datetime.now(UTC) - timedelta(days=3))
    services.record_offline_payment(
        invoice.id, method="wire", amount=invoice.total, reference="W-1", actor=billing_clerk()
    )
    services.issue_credit_note(
        invoice.id, amount=Decimal("199.50"), reason="Seat removed", actor=billing_clerk()
    )
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    owed = re.search(r"<p>(.*?) is still owed back to the licensee\.</p>", page)
    assert owed is not None
    assert re.sub(r"<[^>]+>", "", owed.group(1)) == "199.50 USD"


def test_payments_and_refunds_name_their_method_in_words_on_the_invoice_page(
    invoice_for: InvoiceFor, vendor: Any, billing_staff: Any, signed_in: Any, app: Flask
) -> None:
    invoice = invoice_for(vendor, at=datetime.now(UTC) - timedelta(days=3))
    services.record_offline_payment(
        invoice.id, method="check", amount=invoice.total, reference="CHK-1", actor=billing_clerk()
    )
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("10.00"), reason="Seat removed", actor=billing_clerk()
    )
    services.record_offline_refund(
        credit.id,
        method="ach",
        amount=Decimal("10.00"),
        reference="ACH-1",
        actor=billing_clerk(),
    )
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    # They read "CHECK" and "ACH" in capitals, the database's words.
    # The method links the payment's own page (round 25).
    payments = re.findall(
        r"<tr><td>(?:<a href=\"/console/payments/\d+\">)?([^<]*)(?:</a>)?</td>"
        r"<td><span class=\"badge",
        page,
    )
    assert payments == ["Check"]
    # The credit note's number opens its console page (round 56).
    refunds = re.findall(
        rf'<tr[^>]*><td><a href="/console/credit-notes/{credit.id}">{credit.number}</a></td>'
        r"<td>([^<]*)</td>",
        page,
    )
    assert refunds == ["ACH transfer"]


def test_the_console_homes_card_payments_to_check_opens_the_flagged_payments_not_overdue_invoices(
    billing_staff: Any, signed_in: Any, app: Flask
) -> None:
    staff = signed_in(app.test_client(), billing_staff)
    home = staff.get("/console/").get_data(as_text=True)
    [link] = re.findall(r'<a href="([^"]*)"[^>]*>Card payments to check', home)
    # It opened "Overdue invoices": the flagged payments' panel sat above a list
    # filtered to something else.
    assert link == "/console/invoices#flagged-heading"
    page = staff.get(link.split("#")[0]).get_data(as_text=True)
    assert "<h1>Invoices</h1>" in page


def test_an_invoice_for_nothing_tells_the_billing_contact_nothing_is_due(
    vendor: Any, app: Flask
) -> None:
    draft = services.create_draft(
        organization_id=vendor.organization_id,
        currency="USD",
        charges=[services.Charge("Setup waived", Decimal("0.00"))],
        standard=invoice_terms(),
        actor=billing_clerk(),
    )
    issued = services.finalize_invoice(draft.id, actor=billing_clerk())
    assert issued.state == "paid"
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "invoice_issued")
            .order_by(OutboxMessage.id.desc())
        )
        .first()
    )
    assert message is not None
    # It read "Invoice INV-...: 0.00 USD due 2027-01-31" with how to pay it.
    assert message.subject == f"Invoice {issued.number}: nothing to pay"
    assert "nothing is due" in message.body_text
    assert "How to pay" not in message.body_text
    assert " due " not in message.subject
