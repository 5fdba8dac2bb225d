"""Round 45: a dispute of a card payment's charge that arrives while the payment is
still `pending` (its `payment_intent.succeeded` late) booked nothing, and the
success then counted money the bank was contesting, silently. The success lands
`flagged` instead, saying why, billing staff told, and the round 44 hold decides
what follows the outcome. Stripe's events signed and delivered to the webhook in
that order after a real localstripe card payment, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import links
from licensing.billing.models import Invoice, Payment, PaymentDispute
from licensing.mail.models import OutboxMessage
from tests.support.billing import said
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .dispute_support import REINSTATED, WITHDRAWN, charge_of, dispute_event
from .stripe_support import deliver_event, pay_by_card, stripe_config, succeeded_event

FLAGGED_WHY = (
    "its charge was disputed (Stripe dispute du_1Harborlight, opened 2027-03-02) before "
    "Stripe reported it succeeded: the cardholder's bank contests the money, so it does "
    "not count against invoice {number} until billing staff decide after the dispute's "
    "outcome"
)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _deliver(client: FlaskClient, event: dict[str, Any]) -> str:
    response = deliver_event(client, event)
    assert response.status_code == 200, response.get_data(as_text=True)
    outcome: str = response.get_json()["outcome"]
    return outcome


def _dispute(client: FlaskClient, payment: Payment, charge: str, kind: str, status: str) -> str:
    moved = (WITHDRAWN, REINSTATED) if status == "won" else (WITHDRAWN,)
    event = dispute_event(
        f"charge.dispute.{kind}", payment, charge, status=status, amount=30000, moved=moved
    )
    return _deliver(client, event)


def _read(client: FlaskClient, staff: User, path: str) -> Any:
    return client.get(f"/api/v1/{path}", headers=bearer(staff)).get_json()


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_success_after_its_charge_was_disputed_lands_flagged_and_follows_the_outcome(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    outcome: str,
) -> None:
    invoice = invoice_for(vendor, ("300.00",))
    payment = pay_by_card(invoice, vendor, localstripe)  # pending: its webhook not in
    charge = charge_of(localstripe, payment)
    opened = _dispute(client, payment, charge, "created", "needs_response")
    assert f"nothing booked: {said(payment)} is pending" in opened

    succeeded = _deliver(client, succeeded_event(localstripe, payment))

    why = FLAGGED_WHY.format(number=invoice.number)
    assert succeeded == f"flagged: {why}"
    read = _read(client, billing_staff, f"payments/{payment.id}")
    assert (read["state"], read["amount"]) == ("flagged", "300.00")
    assert read["note"] == why
    # The invoice counts none of it: the bank contests it (Stripe withdrew it).
    owed = _read(client, billing_staff, f"invoices/{invoice.id}")
    assert (owed["state"], owed["amount_paid"], owed["balance_due"]) == ("open", "0.00", "300.00")
    [flagged] = db.session().scalars(
        select(AuditEvent).where(
            AuditEvent.action == "payment.flagged", AuditEvent.entity_id == str(payment.id)
        )
    )
    assert flagged.note == why
    # Billing staff are told, with why; the payer hears of no payment counted.
    [told] = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "payment_flagged")
    )
    assert why in told.body_text
    assert not list(
        db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "payment_received")
        )
    )
    # The pay page's poll says the bank disputed it (it said "a different amount").
    link = f"/invoice-links/{invoice.id}/{links.token(invoice)}"
    polled = client.get(f"{link}/card-payments/{payment.id}").get_json()
    assert (polled["outcome"], polled["title"]) == ("review", "Received, disputed by your bank")
    assert polled["message"].startswith("Your bank disputed this card payment, so it does not")
    # While the dispute is open, the round 44 hold refuses the accept, saying why.
    accept = client.post(
        f"/api/v1/payments/{payment.id}/accept",
        json={"reason": "Paid in full."},
        headers=bearer(billing_staff),
    )
    assert accept.status_code == 409
    assert "its charge is disputed (opened 2027-03-02" in accept.get_json()["detail"]

    closed = _dispute(client, payment, charge, "closed", outcome)
    assert closed.endswith(f"dispute du_1Harborlight {outcome}")
    dispute = db.session().scalars(select(PaymentDispute)).one()
    assert (dispute.reversal_id, dispute.reinstatement_id, dispute.owed_again_on) == (
        None,
        None,
        None,
    )
    accept = client.post(
        f"/api/v1/payments/{payment.id}/accept",
        json={"reason": "Paid in full."},
        headers=bearer(billing_staff),
    )
    owed = _read(client, billing_staff, f"invoices/{invoice.id}")
    if outcome == "won":  # Stripe holds the money again: staff count it, once
        assert accept.status_code == 200, accept.get_json()
        assert (owed["state"], owed["amount_paid"], owed["balance_due"]) == (
            "paid",
            "300.00",
            "0.00",
        )
    else:  # the bank returned it to the cardholder: nothing to count, still owed
        assert accept.status_code == 409
        assert "the dispute lost" in accept.get_json()["detail"]
        assert (owed["state"], owed["amount_paid"], owed["balance_due"]) == (
            "open",
            "0.00",
            "300.00",
        )


def test_a_success_after_a_dispute_already_won_counts_as_any_success(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("300.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    charge = charge_of(localstripe, payment)
    _dispute(client, payment, charge, "created", "needs_response")
    _dispute(client, payment, charge, "closed", "won")
    assert _deliver(client, succeeded_event(localstripe, payment)).startswith("applied")
    owed = _read(client, billing_staff, f"invoices/{invoice.id}")
    assert (owed["state"], owed["balance_due"]) == ("paid", "0.00")
