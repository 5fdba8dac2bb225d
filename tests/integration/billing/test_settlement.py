"""Offline payments, credit notes, overdue handling and standing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.errors import Conflict, InvalidInput
from licensing.mail.models import OutboxMessage
from tests.support.documents import pdf_text
from tests.support.factories import bearer, billing_clerk
from tests.support.settings import standing_days


def _outbox(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(select(OutboxMessage).where(OutboxMessage.template == template))
    )


def test_partial_offline_payments_reduce_the_balance_until_the_invoice_is_paid(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    services.record_offline_payment(
        invoice.id,
        method="check",
        amount=Decimal("400.00"),
        reference="CHK 1001",
        actor=billing_clerk(),
    )
    db.session().refresh(invoice)
    assert invoice.state == "open"
    assert invoice.balance_due == Decimal("600.00")
    services.record_offline_payment(
        invoice.id,
        method="ach",
        amount=Decimal("600.00"),
        reference="ACH-77",
        actor=billing_clerk(),
    )
    db.session().refresh(invoice)
    assert invoice.state == "paid"
    assert invoice.balance_due == 0
    assert len(_outbox("payment_received")) == 2


def test_an_offline_payment_over_the_balance_or_without_reference_is_refused_and_nothing_stored(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    with pytest.raises(InvalidInput) as refused:
        services.record_offline_payment(
            invoice.id,
            method="wire",
            amount=Decimal("100.01"),
            reference="W",
            actor=billing_clerk(),
        )
    assert "amount" in refused.value.errors
    with pytest.raises(InvalidInput) as missing:
        services.record_offline_payment(
            invoice.id, method="cash", amount=Decimal("1"), reference=" ", actor=billing_clerk()
        )
    assert {"method", "reference"} <= set(missing.value.errors)
    db.session().refresh(invoice)
    assert invoice.amount_paid == 0
    assert invoice.payments == []


def test_an_offline_payment_is_audited_with_its_bank_reference(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("250.00",))
    payment = services.record_offline_payment(
        invoice.id,
        method="wire",
        amount=Decimal("250.00"),
        reference="W-7731",
        actor=billing_clerk(),
    )
    event = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "payment.recorded", AuditEvent.entity_id == str(payment.id)
            )
        )
        .one()
    )
    assert event.after == (
        f'{{"amount":"250.00","invoice":"{invoice.number}","method":"wire",'
        '"reference":"W-7731","state":"succeeded"}'
    )


def test_billing_staff_record_a_wire_in_the_api_with_two_digit_amounts(
    client: FlaskClient, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("250",))
    response = client.post(
        f"/api/v1/invoices/{invoice.id}/payments",
        json={"method": "wire", "amount": "250", "reference": "FED-REF-9"},
        headers=bearer(billing_staff),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["amount"] == "250.00"
    after = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(vendor)).get_json()
    assert after["state"] == "paid"
    assert after["balance_due"] == "0.00"


def test_a_credit_note_reduces_the_balance_and_credits_never_exceed_the_total(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("250.00"), reason="Term shortened", actor=billing_clerk()
    )
    assert credit.number.startswith("CN-")
    assert credit.applied_to_balance == Decimal("250.00")
    assert credit.refund_due == 0
    db.session().refresh(invoice)
    assert invoice.balance_due == Decimal("750.00")
    assert invoice.total == invoice.amount_paid + invoice.amount_credited + invoice.balance_due
    with pytest.raises(InvalidInput):
        services.issue_credit_note(
            invoice.id, amount=Decimal("750.01"), reason="too much", actor=billing_clerk()
        )
    services.issue_credit_note(
        invoice.id, amount=Decimal("750.00"), reason="Cancelled", actor=billing_clerk()
    )
    db.session().refresh(invoice)
    assert invoice.state == "paid"
    assert invoice.balance_due == 0


def test_a_credit_note_on_a_paid_invoice_is_a_refund_due_and_its_pdf_says_so(
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("300.00",))
    services.record_offline_payment(
        invoice.id, method="wire", amount=Decimal("300.00"), reference="W-5", actor=billing_clerk()
    )
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("100.00"), reason="Overcharged one seat", actor=billing_clerk()
    )
    assert credit.applied_to_balance == 0
    assert credit.refund_due == Decimal("100.00")
    text = pdf_text(signed_in(client, vendor).get(f"/credit-notes/{credit.id}.pdf").data)
    for expected in (
        credit.number,
        invoice.number,
        "Overcharged one seat",
        "100.00 USD",
        "Refund due",
        "American Medical Association",
    ):
        assert expected in text, expected


def test_a_credit_note_against_a_void_invoice_is_refused(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("10.00",))
    services.void_invoice(invoice.id, reason="duplicate", actor=billing_clerk())
    with pytest.raises(Conflict):
        services.issue_credit_note(
            invoice.id, amount=Decimal("1.00"), reason="x", actor=billing_clerk()
        )


DAY_AFTER_DUE = datetime(2027, 2, 15, 18, 0, tzinfo=UTC)  # the invoice is due 2027-02-14


def test_an_overdue_invoice_gets_a_reminder_at_most_weekly(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice_for(vendor, ("1000.00",))
    assert (
        services.process_overdue(
            standing_days=standing_days(), now=datetime(2027, 2, 14, 18, 0, tzinfo=UTC)
        ).reminders
        == 0
    )
    assert services.process_overdue(standing_days=standing_days(), now=DAY_AFTER_DUE).reminders == 1
    assert (
        services.process_overdue(
            standing_days=standing_days(), now=DAY_AFTER_DUE.replace(day=20)
        ).reminders
        == 0
    )
    assert (
        services.process_overdue(
            standing_days=standing_days(), now=DAY_AFTER_DUE.replace(day=23)
        ).reminders
        == 1
    )
    assert len(_outbox("invoices_overdue")) == 2


def test_a_late_fee_is_invoiced_once_per_whole_month_overdue_per_the_terms(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    assert (
        services.process_overdue(
            standing_days=standing_days(), now=datetime(2027, 3, 13, 18, 0, tzinfo=UTC)
        ).late_fee_invoices
        == []
    )
    first = services.process_overdue(
        standing_days=standing_days(), now=datetime(2027, 3, 14, 18, 0, tzinfo=UTC)
    )
    assert len(first.late_fee_invoices) == 1
    again = services.process_overdue(
        standing_days=standing_days(), now=datetime(2027, 3, 15, 18, 0, tzinfo=UTC)
    )
    assert again.late_fee_invoices == []
    fee = db.session().scalars(select(Invoice).where(Invoice.parent_invoice_id == invoice.id)).one()
    assert fee.total == Decimal("15.00")  # 1.5% of 1,000.00
    assert fee.state == "open"
    assert fee.source_type == "late_fee"
    assert "1.5% x 1000.00 USD" in (fee.lines[0].working or "")


def test_a_late_fee_is_due_on_the_payment_terms_of_the_invoice_it_is_charged_on(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    # A late fee was due the day it was issued (net 0): nothing says it must be, and
    # every other invoice of an agreement gets the agreement's payment terms.
    invoice = invoice_for(vendor, ("1000.00",), terms=45)
    assert invoice.payment_terms_days == 45
    services.process_overdue(
        standing_days=standing_days(), now=datetime(2027, 4, 2, 18, 0, tzinfo=UTC)
    )
    fee = db.session().scalars(select(Invoice).where(Invoice.parent_invoice_id == invoice.id)).one()
    assert fee.payment_terms_days == 45
    assert fee.issue_date is not None
    assert fee.due_date == fee.issue_date + timedelta(days=45)
    assert fee.late_fee_monthly_percent == 0  # late fees still bear no late fee


def test_an_organization_overdue_beyond_the_threshold_is_pending_payment_until_paid(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",), late_fee="0")
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    services.process_overdue(
        standing_days=standing_days(), now=datetime(2027, 3, 16, 18, 0, tzinfo=UTC)
    )  # 30 days overdue
    db.session().refresh(organization)
    assert organization.standing == "active"
    report = services.process_overdue(
        standing_days=standing_days(), now=datetime(2027, 3, 17, 18, 0, tzinfo=UTC)
    )  # 31 days
    assert report.pending_payment == [organization.legal_name]
    db.session().refresh(organization)
    assert organization.standing == "pending_payment"
    assert "overdue" in (
        accounts.standing_block_reason(organization) or ""
    ).lower() or accounts.standing_block_reason(organization)
    assert (
        services.process_overdue(
            standing_days=standing_days(), now=datetime(2027, 3, 18, 18, 0, tzinfo=UTC)
        ).pending_payment
        == []
    )
    services.record_offline_payment(
        invoice.id,
        method="wire",
        amount=Decimal("1000.00"),
        reference="LATE-1",
        now=datetime(2027, 3, 20, 18, 0, tzinfo=UTC),
        actor=billing_clerk(),
    )
    db.session().refresh(organization)
    assert organization.standing == "active"


def test_the_overdue_command_reports_what_it_did(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice_for(vendor, ("1000.00",))
    result = app.test_cli_runner().invoke(
        args=["invoices", "overdue", "--now", "2027-03-20T18:00:00+00:00"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "1 overdue invoice(s); 1 reminder(s) sent in 1 email(s); "
        "1 late-fee invoice(s) issued in 1 email(s)"
    ) in result.output
    assert "pending payment:" in result.output


def test_credit_notes_and_payments_through_the_api(
    client: FlaskClient, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("500.00",))
    staff = bearer(billing_staff)
    too_much = client.post(
        f"/api/v1/invoices/{invoice.id}/credit-notes",
        json={"amount": "500.01", "reason": "x"},
        headers=staff,
    )
    assert too_much.status_code == 422
    assert "amount" in too_much.get_json()["errors"]
    issued = client.post(
        f"/api/v1/invoices/{invoice.id}/credit-notes",
        json={"amount": "120.5", "reason": "Seat count corrected"},
        headers=staff,
    )
    assert issued.status_code == 201
    body = issued.get_json()
    assert body["amount"] == "120.50"
    assert body["number"].startswith("CN-")
    owner = bearer(vendor)
    listed = client.get(f"/api/v1/invoices/{invoice.id}/credit-notes", headers=owner).get_json()
    assert [item["number"] for item in listed] == [body["number"]]
    pdf = client.get(f"/api/v1/credit-notes/{body['id']}/pdf", headers=owner)
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    after = client.get(f"/api/v1/invoices/{invoice.id}", headers=owner).get_json()
    assert after["amount_credited"] == "120.50"
    assert after["balance_due"] == "379.50"
