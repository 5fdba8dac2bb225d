"""Reversing a recorded offline payment: a bounced cheque, a wire recorded
against the wrong invoice. A new record references the payment; nothing is
deleted or edited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import REVERSAL_REASON_REQUIRED, Invoice, Payment, PaymentReversal
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict, IllegalTransition, InvalidInput
from licensing.mail.models import OutboxMessage
from tests.support.factories import bearer, billing_clerk

# OVERDUE_STANDING_DAYS as the test app has it (its default), which the edges pass.
STANDING_DAYS = 30
RECEIVED = datetime(2027, 1, 20, 15, 0, tzinfo=UTC)
RETURNED = datetime(2027, 1, 27, 15, 0, tzinfo=UTC)
# After the invoice's due date (issued 2027-01-15, net 30: due 2027-02-14).
RETURNED_LATE = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
# More than OVERDUE_STANDING_DAYS (30) after it: 34 days overdue.
RETURNED_VERY_LATE = datetime(2027, 3, 20, 15, 0, tzinfo=UTC)


def _office_today() -> date:
    """Today at the office: the latest day a reversal made now may name."""
    return office_date(utcnow())


def _check(invoice: Invoice, amount: str = "1000.00", method: str = "check") -> Payment:
    return services.record_offline_payment(
        invoice.id,
        method=method,
        amount=Decimal(amount),
        reference="CHK 5521",
        received_on=RECEIVED.date(),
        now=RECEIVED,
        actor=billing_clerk(),
    )


def _check_today(invoice: Invoice, amount: str = "1000.00") -> Payment:
    """A cheque received today, which the API (dated today) can reverse."""
    return services.record_offline_payment(
        invoice.id,
        method="check",
        amount=Decimal(amount),
        reference="CHK 6610",
        actor=billing_clerk(),
    )


def _card_payment(invoice: Invoice) -> Payment:
    """A card payment Stripe settled, stored as the card flow leaves it."""
    with db.transaction() as session:
        payment = Payment(
            invoice_id=invoice.id,
            organization_id=invoice.organization_id,
            method="card",
            state="succeeded",
            currency=invoice.currency,
            amount=Decimal("100.00"),
            recorded_by="system",
            stripe_payment_intent_id=f"pi_reversal_{invoice.id}",
            settled_at=RECEIVED,
        )
        session.add(payment)
    return payment


def _events(action: str) -> list[AuditEvent]:
    return list(db.session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_bounced_cheque_is_reversed_and_the_paid_invoice_is_owed_again(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check(invoice)
    db.session().refresh(invoice)
    assert invoice.state == "paid"

    reversal = services.reverse_offline_payment(
        payment.id,
        reason="  Cheque returned: insufficient funds.  ",
        returned_on=RETURNED.date(),
        standing_days=STANDING_DAYS,
        now=RETURNED,
        actor=billing_clerk(),
    )

    db.session().refresh(invoice)
    db.session().refresh(payment)
    assert payment.state == "reversed"
    assert payment.amount == Decimal("1000.00")  # the payment itself is not edited
    assert reversal.payment_id == payment.id
    assert reversal.amount == Decimal("1000.00")
    assert reversal.reason == "Cheque returned: insufficient funds."
    assert reversal.returned_on == RETURNED.date()
    assert reversal.reversed_by.endswith("@licensing-office.example")
    assert invoice.state == "open"
    assert invoice.paid_at is None
    assert invoice.amount_paid == 0
    assert invoice.balance_due == Decimal("1000.00")
    assert invoice.days_overdue(RETURNED.date()) == 0
    assert [event.entity_id for event in _events("payment.reversed")] == [str(payment.id)]
    assert [event.entity_id for event in _events("invoice.reopened")] == [str(invoice.id)]
    assert _events("payment_reversal.recorded")[0].note is None
    mails = list(
        db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "payment_reversed")
        )
    )
    assert len(mails) == 1
    assert mails[0].subject == f"Payment for invoice {invoice.number} did not clear"
    body = mails[0].body_text
    assert "Your payment of 1,000.00 USD by check (reference CHK 5521), recorded" in body
    assert "the bank returned it on January 27, 2027" in body
    assert "Reason: Cheque returned: insufficient funds." in body
    assert "is now 1,000.00 USD, due February 14, 2027" in body
    assert "\n\n\n" not in body  # the remit-to lines end the paragraph: one blank line


def test_a_reversal_after_the_due_date_leaves_the_invoice_open_and_overdue(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check(invoice)
    services.reverse_offline_payment(
        payment.id,
        reason="Wire was for another invoice.",
        returned_on=RETURNED_LATE.date(),
        standing_days=STANDING_DAYS,
        now=RETURNED_LATE,
        actor=billing_clerk(),
    )
    db.session().refresh(invoice)
    assert invoice.state == "open"
    assert invoice.days_overdue(RETURNED_LATE.date()) == 16
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    assert organization.standing == "active"  # not beyond STANDING_DAYS


def test_a_reversal_leaving_an_invoice_overdue_beyond_the_threshold_holds_its_organization_at_once(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check(invoice)
    services.reverse_offline_payment(
        payment.id,
        reason="Cheque returned: account closed.",
        returned_on=RETURNED_VERY_LATE.date(),
        standing_days=STANDING_DAYS,
        now=RETURNED_VERY_LATE,
        actor=billing_clerk(),
    )
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    db.session().refresh(organization)
    assert organization.standing == "pending_payment"
    held = [
        event
        for event in _events("organization.standing_changed")
        if "pending_payment" in (event.after or "")
    ]
    assert [event.entity_id for event in held] == [str(organization.id)]
    assert held[0].actor.endswith("@licensing-office.example")  # who reversed, not the run
    assert held[0].note == (
        f"Invoice {invoice.number} is 34 days overdue (1,000.00 USD due February 14, 2027)."
    )
    told = list(
        db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "standing_changed")
        )
    )
    # One message for those who file and pay, one for those who only pay (round 23).
    assert [message.subject for message in told] == [
        f"{organization.legal_name}'s standing is now pending payment"
    ] * 2
    assert [organization.billing_email] in [message.to for message in told]
    # The overdue run finds it held already: nothing more.
    report = services.process_overdue(standing_days=STANDING_DAYS, now=RETURNED_VERY_LATE)
    assert report.pending_payment == []


def test_reversing_one_of_two_partial_payments_leaves_the_other_counted(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    _check(invoice, "400.00")
    second = _check(invoice, "250.00", method="wire")
    services.reverse_offline_payment(
        second.id, reason="Recorded twice.", returned_on=RETURNED.date(), now=RETURNED,
        standing_days=STANDING_DAYS, actor=billing_clerk(),
    )  # fmt: skip
    db.session().refresh(invoice)
    assert invoice.state == "open"
    assert invoice.amount_paid == Decimal("400.00")
    assert invoice.balance_due == Decimal("600.00")
    assert _events("invoice.reopened") == []


def test_a_reversal_without_a_reason_or_returned_before_the_payment_is_refused_and_nothing_stored(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check(invoice)
    with pytest.raises(InvalidInput) as refused:
        services.reverse_offline_payment(
            payment.id,
            reason="   ",
            returned_on=date(2027, 1, 19),
            standing_days=STANDING_DAYS,
            now=RETURNED,
            actor=billing_clerk(),
        )
    assert refused.value.errors == {
        "reason": ["Say why the payment is reversed."],
        "returned_on": ["Cannot be before the payment was received (2027-01-20)."],
    }
    with pytest.raises(InvalidInput) as future:
        services.reverse_offline_payment(
            payment.id, reason="Bounced.", returned_on=date(2027, 1, 28), now=RETURNED,
            standing_days=STANDING_DAYS, actor=billing_clerk(),
        )  # fmt: skip
    assert future.value.errors == {"returned_on": ["Cannot be in the future."]}
    db.session().refresh(invoice)
    db.session().refresh(payment)
    assert (payment.state, invoice.state, invoice.amount_paid) == ("succeeded", "paid", 1000)
    assert db.session().scalars(select(PaymentReversal)).all() == []


def test_a_payment_already_reversed_is_refused_saying_what_its_state_allows(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check(invoice)
    clerk = billing_clerk()
    services.reverse_offline_payment(
        payment.id,
        reason="Bounced.",
        returned_on=RETURNED.date(),
        standing_days=STANDING_DAYS,
        now=RETURNED,
        actor=clerk,
    )
    with pytest.raises(IllegalTransition) as refused:
        services.reverse_offline_payment(
            payment.id,
            reason="Bounced.",
            returned_on=RETURNED.date(),
            standing_days=STANDING_DAYS,
            now=RETURNED,
            actor=clerk,
        )
    assert "reversed" in str(refused.value)
    db.session().refresh(invoice)
    assert invoice.amount_paid == 0


def test_a_card_payment_is_refused_and_pointed_to_stripe_refunds(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _card_payment(invoice)
    with pytest.raises(Conflict) as refused:
        services.reverse_offline_payment(
            payment.id, reason="Chargeback.", returned_on=RETURNED.date(), now=RETURNED,
            standing_days=STANDING_DAYS, actor=billing_clerk(),
        )  # fmt: skip
    assert "Stripe refund" in str(refused.value)


def test_a_check_with_a_refund_due_on_it_is_reversed_and_the_refund_is_no_longer_owed(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    """Round 53: refused until then ("correct the credit notes first"); the balance
    now says what is owed either way, so the bounced check is reversed and the
    credit note's refund, never sent, is not owed back (the money never arrived)."""
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check(invoice)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("100.00"), reason="Overcharged.", actor=billing_clerk()
    )
    assert credit.refund_outstanding == Decimal("100.00")
    services.reverse_offline_payment(
        payment.id, reason="Bounced.", returned_on=RETURNED.date(), now=RETURNED,
        standing_days=STANDING_DAYS, actor=billing_clerk(),
    )  # fmt: skip
    db.session().refresh(invoice)
    assert (invoice.state, invoice.balance_due) == ("open", Decimal("900.00"))
    assert (credit.refund_due, invoice.refund_outstanding) == (Decimal("100.00"), Decimal(0))


def test_billing_staff_reverse_a_payment_in_the_api_and_read_it_on_the_payment(
    client: FlaskClient, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check_today(invoice)
    today = _office_today().isoformat()
    response = client.post(
        f"/api/v1/payments/{payment.id}/reversal",
        json={"reason": "Cheque returned unpaid.", "returned_on": today},
        headers=bearer(billing_staff),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["payment_id"], body["amount"], body["returned_on"]) == (
        payment.id,
        "1000.00",
        today,
    )
    assert body["reversed_by"] == billing_staff.email
    assert (body["moved"], body["moved_to_payment_id"]) == (False, None)
    seen = client.get(f"/api/v1/payments/{payment.id}", headers=bearer(vendor)).get_json()
    assert seen["state"] == "reversed"
    assert seen["reversal"]["reason"] == "Cheque returned unpaid."
    assert seen["reversal"]["moved"] is False
    assert "reversed_by" not in seen["reversal"]
    assert "moved_to_payment_id" not in seen["reversal"]
    after = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(vendor)).get_json()
    assert (after["state"], after["amount_paid"], after["balance_due"]) == (
        "open",
        "0.00",
        "1000.00",
    )
    again = client.post(
        f"/api/v1/payments/{payment.id}/reversal",
        json={"reason": "Again.", "returned_on": today},
        headers=bearer(billing_staff),
    )
    assert again.status_code == 409
    assert again.headers["Content-Type"].startswith("application/problem+json")


def test_the_api_refuses_a_reversal_without_reason_or_date_as_problem_json(
    client: FlaskClient, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check_today(invoice)
    response = client.post(
        f"/api/v1/payments/{payment.id}/reversal", json={}, headers=bearer(billing_staff)
    )
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert "reason" in response.get_data(as_text=True)
    assert "returned_on" in response.get_data(as_text=True)
    card = _card_payment(invoice_for(vendor, ("500.00",)))
    refused = client.post(
        f"/api/v1/payments/{card.id}/reversal",
        json={"reason": "Chargeback.", "returned_on": _office_today().isoformat()},
        headers=bearer(billing_staff),
    )
    assert refused.status_code == 409
    assert "Stripe refund" in refused.get_json()["detail"]


def test_a_reversal_without_a_reason_says_one_sentence_absent_empty_or_blank_on_api_and_page(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 50: the API said "This field is required." absent or empty and "Say why
    the payment is reversed." blank; the page "Say why." empty and the service's
    sentence blank. All of them now say the service's, and nothing is stored."""
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check_today(invoice)
    today = _office_today().isoformat()
    for body in ({}, {"reason": None}, {"reason": ""}, {"reason": "  \t "}):
        refused = client.post(
            f"/api/v1/payments/{payment.id}/reversal",
            json={**body, "returned_on": today},
            headers=bearer(billing_staff),
        )
        assert refused.status_code == 422, (body, refused.get_json())
        assert refused.get_json()["errors"] == {"reason": [REVERSAL_REASON_REQUIRED]}, body
    staff = signed_in(app.test_client(), billing_staff)
    prefix = f"reverse-{payment.id}-"
    for reason in ("", "  \t "):
        page = staff.post(
            f"/console/payments/{payment.id}/reversal",
            data={f"{prefix}reason": reason, f"{prefix}returned_on": today, "confirmed": "yes"},
        )
        assert page.status_code == 422, reason
        text = page.get_data(as_text=True)
        assert REVERSAL_REASON_REQUIRED in text, reason
        assert "This field is required." not in text, reason
    db.session().refresh(payment)
    assert payment.state == "succeeded"
    assert db.session().scalars(select(PaymentReversal)).all() == []


@pytest.mark.parametrize("who", ["vendor", "licensing_staff"])
def test_a_vendor_or_staff_without_the_billing_role_cannot_reverse_a_payment(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    who: str,
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check_today(invoice)
    user = request.getfixturevalue(who)
    response = client.post(
        f"/api/v1/payments/{payment.id}/reversal",
        json={"reason": "Bounced.", "returned_on": _office_today().isoformat()},
        headers=bearer(user),
    )
    assert response.status_code == 403
    db.session().refresh(payment)
    assert payment.state == "succeeded"


def test_a_reversal_retried_with_the_same_idempotency_key_replays_the_first_answer(
    client: FlaskClient, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _check_today(invoice)
    sent = {"reason": "Cheque returned unpaid.", "returned_on": _office_today().isoformat()}
    headers = {**bearer(billing_staff), "Idempotency-Key": "reversal-5521"}
    first = client.post(f"/api/v1/payments/{payment.id}/reversal", json=sent, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post(f"/api/v1/payments/{payment.id}/reversal", json=sent, headers=headers)
    assert again.status_code == 201, again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert len(_events("payment.reversed")) == 1
    other = client.post(
        f"/api/v1/payments/{payment.id}/reversal",
        json={**sent, "reason": "Another reason."},
        headers=headers,
    )
    assert other.status_code == 422
    assert "header.Idempotency-Key" in other.get_json()["errors"]
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    parameters = paths["/api/v1/payments/{payment_id}/reversal"]["post"].get("parameters", [])
    assert "Idempotency-Key" in [parameter["name"] for parameter in parameters]
