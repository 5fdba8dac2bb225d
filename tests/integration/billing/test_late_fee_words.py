"""A late fee's working and the overdue note name their amounts as people read
them (round 13): grouped with the currency, as every page, email and PDF does.

The working is stored as the service wrote it and the API gives it so (`working`,
like a quote's explanation: "1.5% x 3524.07 USD ..."); the invoice's page and PDF
group its figures (`words.working_in_words`). The note the overdue rule gives for
holding an organization (the audit event's note, the standing email's "Reason
given") said "(3524.07 USD due ...)" until round 13."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.audit.models import AuditEvent
from licensing.billing import pdfs
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.mail.models import OutboxMessage
from tests.support.documents import pdf_text
from tests.support.factories import bearer
from tests.support.pages import text_of

# The invoice_for invoices are issued 2027-01-15 and due 2027-02-14.
A_MONTH_OVERDUE = datetime(2027, 3, 20, 18, 0, tzinfo=UTC)
WORKING = "1.5% x {balance} balance overdue = 52.86 USD (due 2027-02-14, per the agreement's terms)"


def _late_fee(vendor: Any, invoice_for: Callable[..., Invoice], days: int) -> Invoice:
    invoice_for(vendor, ("3524.07",))
    report = billing.process_overdue(standing_days=days, now=A_MONTH_OVERDUE)
    (number,) = report.late_fee_invoices
    return db.session().scalars(select(Invoice).where(Invoice.number == number)).one()


def test_a_late_fee_reads_its_working_grouped_on_its_page_and_pdf_and_as_stored_in_the_api(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    late = _late_fee(vendor, invoice_for, 1000)
    grouped = WORKING.format(balance="3,524.07 USD")
    (line,) = late.lines
    assert line.working == WORKING.format(balance="3524.07 USD")
    answer = client.get(f"/api/v1/invoices/{late.id}", headers=bearer(vendor)).get_json()
    assert answer["lines"][0]["working"] == line.working  # the API keeps it as stored
    page = signed_in(client, vendor).get(f"/portal/invoices/{late.id}")
    assert page.status_code == 200
    assert grouped in text_of(page)
    assert grouped in " ".join(pdf_text(pdfs.invoice_pdf(db.session(), late)).split())


def test_the_overdue_note_holding_an_organization_names_the_balance_grouped(
    app: Any, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    late = _late_fee(vendor, invoice_for, 30)
    assert late.source_reference
    reason = (
        f"Invoice {late.source_reference} is 34 days overdue (3,524.07 USD due February 14, 2027)."
    )
    held = (
        db.session()
        .scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "organization.standing_changed")
            .order_by(AuditEvent.id)
        )
        .all()
    )
    assert [event.note for event in held][-1:] == [reason]  # (the first: the vendor set up)
    emails = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "standing_changed"))
        .all()
    )
    assert len(emails) == 2  # those who file and pay, those who only pay (round 23)
    for email in emails:
        assert f"Reason given: {reason}" in email.body_text
