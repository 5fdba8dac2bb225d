"""Round 43: the licensee's bank disputes a card payment that never counted against
its invoice (flagged, being given back, or given back): Stripe's `charge.dispute.*`
events delivered signed to the webhook, after a real localstripe card payment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing.models import Invoice, Payment, PaymentDispute
from licensing.mail.models import OutboxMessage
from tests.support.billing import said
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .dispute_support import REINSTATED, WITHDRAWN, charge_of, dispute_event
from .refund_support import LostAnswer, stripe_through
from .stripe_support import deliver_event, flagged_card_payment, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _give_back(client: FlaskClient, staff: User, payment: Payment) -> int:
    response = client.post(
        f"/api/v1/payments/{payment.id}/give-back",
        json={"reason": "Not ours."},
        headers=bearer(staff),
    )
    return response.status_code


def _emails(template: str) -> list[OutboxMessage]:
    found = select(OutboxMessage).where(OutboxMessage.template == template)
    return list(db.session().scalars(found))


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("flagged", "This payment is flagged (Stripe took an amount other than asked)"),
        ("giving_back", "This payment is being given back: billing staff asked Stripe"),
        ("given_back", "This payment was given back to the card (Stripe refunded it on"),
    ],
)
def test_a_dispute_of_a_payment_that_never_counted_is_recorded_and_owes_nothing_again(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    state: str,
    words: str,
) -> None:
    """A dispute of a flagged payment, one being given back (Stripe's answer lost) or
    one given back: the webhook answered 200 and recorded it, but a lost dispute told
    the billing contact "Invoice ... is owed again", dated it owed again and waived its
    late fees, for money that never counted against the invoice."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    if state == "giving_back":
        with stripe_through(LostAnswer):  # Stripe refunded it; its answer never came
            assert _give_back(client, billing_staff, payment) == 502
    elif state == "given_back":
        assert _give_back(client, billing_staff, payment) == 200
    fees_before = invoice.late_fee_months_charged
    charge = charge_of(localstripe, payment)
    for kind, status in (("created", "needs_response"), ("closed", "lost")):
        event = dispute_event(
            f"charge.dispute.{kind}",
            payment,
            charge,
            status=status,
            amount=29999,
            moved=(WITHDRAWN,),
        )
        response = deliver_event(client, event)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert f"nothing booked: {said(payment)} is {state}" in response.get_json()["outcome"]
    db.session().expire_all()
    dispute = db.session().scalars(select(PaymentDispute)).one()
    assert (dispute.payment_id, dispute.state, dispute.reversal_id) == (payment.id, "lost", None)
    assert dispute.owed_again_on is None
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == state  # the dispute moves no payment that never counted
    read = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(billing_staff)).get_json()
    assert (read["state"], read["amount_paid"], read["balance_due"]) == ("open", "0.00", "300.00")
    refreshed = db.session().get(Invoice, invoice.id)
    assert refreshed is not None
    assert refreshed.late_fee_months_charged == fees_before
    # Staff are told what the payment's state means; the billing contact nothing.
    assert not _emails("dispute_lost")
    [opened] = _emails("dispute_opened")
    assert billing_staff.email in opened.recipients
    assert words in opened.body_text
    assert "the dispute takes nothing off it" in opened.body_text
    [closed] = _emails("dispute_closed")
    assert "never counted against invoice" in closed.body_text
    assert "is not owed again because of the dispute" in closed.body_text
    [audited] = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "dispute.opened")
    )
    assert audited.after_data is not None
    assert audited.after_data["payment_state"] == state


def test_a_dispute_won_of_a_payment_being_given_back_pays_nothing_again_and_says_so(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Won, Stripe reinstates what it withdrew: nothing was taken off the invoice, so
    nothing is paid again; staff's email said "No money was taken", though Stripe had
    withdrawn it at its balance."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    with stripe_through(LostAnswer):
        assert _give_back(client, billing_staff, payment) == 502
    charge = charge_of(localstripe, payment)
    for kind, status, moved in (
        ("created", "needs_response", (WITHDRAWN,)),
        ("closed", "won", (WITHDRAWN, REINSTATED)),
    ):
        event = dispute_event(
            f"charge.dispute.{kind}", payment, charge, status=status, amount=29999, moved=moved
        )
        assert deliver_event(client, event).status_code == 200
    db.session().expire_all()
    dispute = db.session().scalars(select(PaymentDispute)).one()
    assert (dispute.state, dispute.reinstatement_id) == ("won", None)
    read = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(billing_staff)).get_json()
    assert (read["amount_paid"], read["balance_due"]) == ("0.00", "300.00")
    [closed] = _emails("dispute_closed")
    assert "No money was taken" not in closed.body_text
    assert "never counted against invoice" in closed.body_text
    assert "This payment is being given back" in closed.body_text
