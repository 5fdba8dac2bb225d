"""A wire recorded against the wrong invoice, moved to the invoice it pays (round 68,
journeyF68): one confirmed step from the console, both records or neither, the wrong
invoice's contact told it was a mistake (not that the bank returned it), and the
money counted on the day it came."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.errors import Conflict, InvalidInput
from licensing.mail.models import OutboxMessage
from tests.support.billing import paid_offline
from tests.support.factories import DEFAULT_PASSWORD, bearer, billing_clerk, make_organization

RECEIVED = date(2027, 1, 20)
RECORDED = datetime(2027, 1, 22, 15, 0, tzinfo=UTC)
STANDING_DAYS = 30


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"overrides": {}}  # CSRF on, as in production


def _token(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]+)"', page)
    assert found, f"no {name} on the page"
    return found.group(1)


def _sign_in(client: FlaskClient, user: User) -> None:
    page = client.get("/sign-in").get_data(as_text=True)
    response = client.post(
        "/sign-in",
        data={
            "email": user.email,
            "password": DEFAULT_PASSWORD,
            "csrf_token": _token(page, "csrf_token"),
        },
    )
    assert response.status_code == 302


def _mails(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


def _wrong_wire(invoice: Invoice) -> Payment:
    """600.00 by wire, received on 20 January, recorded against `invoice` by mistake."""
    return paid_offline(invoice.id, "600.00", "WIRE-88190", received_on=RECEIVED, now=RECORDED)


def test_a_wire_recorded_against_the_wrong_invoice_is_moved_to_the_one_it_pays_from_the_page(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    wrong = invoice_for(vendor, ("1000.00",))
    right = invoice_for(vendor, ("600.00",))
    payment = _wrong_wire(wrong)
    _sign_in(client, billing_staff)
    page = client.get(f"/console/invoices/{wrong.id}").get_data(as_text=True)
    assert "Recorded against the wrong invoice" in page
    prefix = f"move-{payment.id}-"
    url = f"/console/payments/{payment.id}/move"
    fields = {
        f"{prefix}csrf_token": _token(page, f"{prefix}csrf_token"),
        f"{prefix}to_invoice": f" {right.number.lower()} ",
        f"{prefix}reason": "Typed the invoice number from the remittance's first line.",
    }

    asked = client.post(url, data=fields)
    assert asked.status_code == 200, asked.get_data(as_text=True)[-2000:]
    text = asked.get_data(as_text=True)
    assert f"Move the payment of 600.00 USD from {wrong.number} to {right.number}?" in text
    assert "not that the bank returned it" in text
    db.session().refresh(payment)
    assert payment.state == "succeeded"  # nothing before it is confirmed

    done = client.post(url, data={**fields, "confirmed": "yes"})
    assert done.status_code == 302, done.get_data(as_text=True)[-2000:]
    for record in (payment, wrong, right):
        db.session().refresh(record)
    assert payment.state == "reversed"
    assert payment.reversal is not None
    # The money never left the bank: taken off on the day it came, not a day typed.
    assert payment.reversal.returned_on == RECEIVED
    assert payment.reversal.misapplied
    assert payment.reversal.reason == (
        "Recorded against the wrong invoice: Typed the invoice number from the "
        "remittance's first line."
    )
    assert (wrong.state, wrong.balance_due) == ("open", Decimal("1000.00"))
    moved = db.session().scalars(select(Payment).where(Payment.invoice_id == right.id)).one()
    assert (moved.method, moved.amount, moved.reference, moved.received_on, moved.state) == (
        "wire",
        Decimal("600.00"),
        "WIRE-88190",
        RECEIVED,
        "succeeded",
    )
    assert (right.state, right.balance_due) == ("paid", Decimal(0))

    # Told as it happened: no "did not clear", and the right invoice's receipt.
    assert _mails("payment_reversed") == []
    (told,) = _mails("payment_moved")
    assert told.subject == f"A payment recorded for invoice {wrong.number} by mistake"
    body = told.body_text
    assert "We recorded a payment of 600.00 USD by wire transfer (reference WIRE-88190)" in body
    assert f"against invoice {wrong.number} by mistake" in body
    assert f"It pays your invoice {right.number}, where it is now recorded" in body
    assert "the bank returned nothing" in body
    assert "did not clear" not in body
    assert f"The balance due on invoice {wrong.number} is 1,000.00 USD" in body
    receipts = [m for m in _mails("payment_received") if right.number in m.subject]
    assert len(receipts) == 1

    # Audited: the reversal, and the new payment naming where it came from.
    recorded = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "payment.recorded", AuditEvent.entity_id == str(moved.id)
            )
        )
        .one()
    )
    assert recorded.note is not None
    assert recorded.note.startswith(f"Moved from {wrong.number}")

    # The wrong invoice's page says what happened; it offers no second move.
    after = client.get(f"/console/invoices/{wrong.id}").get_data(as_text=True)
    assert "Taken off 2027-01-20: Recorded against the wrong invoice" in after
    assert "(the bank returned nothing)" in after
    assert "Payment returned by the bank" not in after
    assert f'name="{prefix}to_invoice"' not in after


def test_a_move_to_another_organizations_invoice_does_not_name_it_to_the_first(
    app: Any, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    wrong = invoice_for(vendor, ("1000.00",))
    other = make_organization(db.session())
    db.session().commit()
    right = invoice_for(other.id, ("600.00",))
    payment = _wrong_wire(wrong)
    moved = services.move_offline_payment(
        payment.id,
        to_invoice=right.number,
        reason="Another licensee's remittance.",
        standing_days=STANDING_DAYS,
        now=RECORDED,
        actor=billing_clerk(),
    )
    assert moved.organization_id == other.id
    (told,) = _mails("payment_moved")
    assert right.number not in told.body_text
    assert "It was not a payment of this invoice" in told.body_text


def test_a_move_names_the_payment_it_became_and_a_returned_payment_is_never_read_as_a_move(
    app: Any, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    """A move is known by its record (billing_0034), not by its reason's words: a
    clerk reversing a returned wire may start the reason as a move's starts."""
    wrong = invoice_for(vendor, ("1000.00",))
    right = invoice_for(vendor, ("600.00",))
    moved_payment = _wrong_wire(wrong)
    moved = services.move_offline_payment(
        moved_payment.id,
        to_invoice=right.number,
        reason="The remittance named the other invoice.",
        standing_days=STANDING_DAYS,
        now=RECORDED,
        actor=billing_clerk(),
    )
    moved_reversal = db.session().get(Payment, moved_payment.id).reversal
    assert moved_reversal.moved_to_id == moved.id
    assert moved_reversal.misapplied

    returned = _wrong_wire(wrong)
    reversal = services.reverse_offline_payment(
        returned.id,
        reason="Recorded against the wrong invoice: no, the bank returned it unpaid.",
        returned_on=date(2027, 1, 21),
        standing_days=STANDING_DAYS,
        now=RECORDED,
        actor=billing_clerk(),
    )
    assert reversal.moved_to_id is None
    assert not reversal.misapplied


def test_a_move_is_refused_beside_its_field_and_stores_nothing(
    app: Any, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    wrong = invoice_for(vendor, ("1000.00",))
    small = invoice_for(vendor, ("100.00",))
    euro = invoice_for(vendor, ("600.00",), currency="EUR")
    payment = _wrong_wire(wrong)

    def refused(to_invoice: str, reason: str = "Mistyped.") -> dict[str, list[str]]:
        with pytest.raises(InvalidInput) as raised:
            services.move_offline_payment(
                payment.id,
                to_invoice=to_invoice,
                reason=reason,
                standing_days=STANDING_DAYS,
                now=RECORDED,
                actor=billing_clerk(),
            )
        return raised.value.errors

    assert refused("INV-2027-999999")["to_invoice"] == ["There is no invoice INV-2027-999999."]
    assert "give the invoice it pays" in refused(wrong.number)["to_invoice"][0]
    assert (
        "owes 100.00 USD, less than the payment's 600.00 USD"
        in (refused(small.number)["to_invoice"][0])
    )
    assert "is in EUR" in refused(euro.number)["to_invoice"][0]
    assert refused(small.number, reason="  ")["reason"] == [services.MOVE_REASON_REQUIRED]
    assert refused("")["to_invoice"]
    db.session().refresh(payment)
    assert payment.state == "succeeded"
    assert _mails("payment_moved") == []

    services.reverse_offline_payment(
        payment.id,
        reason="Recalled.",
        returned_on=RECEIVED,
        standing_days=STANDING_DAYS,
        now=RECORDED,
        actor=billing_clerk(),
    )
    with pytest.raises(Conflict):
        services.move_offline_payment(
            payment.id,
            to_invoice=small.number,
            reason="Mistyped.",
            standing_days=STANDING_DAYS,
            now=RECORDED,
            actor=billing_clerk(),
        )


def test_a_finance_script_moves_it_through_the_api(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    wrong = invoice_for(vendor, ("1000.00",))
    right = invoice_for(vendor, ("600.00",))
    payment = _wrong_wire(wrong)
    url = f"/api/v1/payments/{payment.id}/move"
    headers = bearer(billing_staff)
    refused = client.post(
        url, json={"to_invoice": "INV-2027-999999", "reason": "Mistyped."}, headers=headers
    )
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"to_invoice": ["There is no invoice INV-2027-999999."]}
    moved = client.post(
        url, json={"to_invoice": right.number, "reason": "Mistyped."}, headers=headers
    )
    assert moved.status_code == 201, moved.get_json()
    answer = moved.get_json()
    assert (answer["amount"], answer["reference"], answer["state"]) == (
        "600.00",
        "WIRE-88190",
        "succeeded",
    )
    assert moved.headers["Location"].endswith(f"/api/v1/payments/{answer['id']}")
    taken = client.get(f"/api/v1/payments/{payment.id}", headers=headers).get_json()
    assert taken["state"] == "reversed"
    assert taken["reversal"]["returned_on"] == RECEIVED.isoformat()
    assert taken["reversal"]["reason"] == "Recorded against the wrong invoice: Mistyped."
    assert taken["reversal"]["moved"] is True
