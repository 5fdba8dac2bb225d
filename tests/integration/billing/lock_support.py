"""Two billing steps run at once, for the lock order's tests
(`licensing/billing/services/__init__.py`): an invoice paid by card and Stripe
refunding at once; the runner is `tests/support/concurrent_steps.py` (round 55: the
other packages' lock tests share it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.billing import payment_gateway, services
from licensing.billing.models import Invoice, Payment
from licensing.billing.payment_gateway import IntentStatus
from licensing.billing.services.settlement import _new_payment, count_payment
from licensing.billing.states import CARD, PENDING, SUCCEEDED
from tests.support import factories

# Re-exported: the billing lock tests import them from here.
from tests.support.concurrent_steps import run_at_once, wait_for_second
from tests.support.factories import billing_clerk

from .conftest import activated, send_activation

INTENT, CHARGE = "pi_LockOrder", "ch_LockOrder"
PAID_AT = datetime(2027, 1, 20, 15, 0, tzinfo=UTC)


class AnsweringGateway:
    """Stripe answering a card attempt at once: a Customer, the card saved, an intent
    created and left processing when confirmed (nothing is applied before its webhook)."""

    publishable_key = "pk_test_LockOrder"
    js_url = "https://js.stripe.invalid/v3"

    def create_customer(self, **_asked: Any) -> str:
        return "cus_LockOrder"

    def attach_card(self, customer_id: str, card_token: str, **_asked: Any) -> str:
        return "pm_LockOrder"

    def create_payment_intent(
        self, *, amount_minor: int, currency: str, metadata: Mapping[str, str], **_asked: Any
    ) -> IntentStatus:
        return self._intent("requires_confirmation", amount_minor, currency, metadata)

    def confirm_payment_intent(self, intent_id: str, **_asked: Any) -> IntentStatus:
        return self._intent("processing", 25000, "USD", {})

    @staticmethod
    def _intent(
        status: str, amount: int, currency: str, metadata: Mapping[str, str]
    ) -> IntentStatus:
        return IntentStatus(
            id="pi_CardStart",
            status=status,
            amount=amount,
            currency=currency,
            metadata=metadata,
            amount_received=0,
            client_secret="pi_CardStart_secret",
        )


class RefundingGateway:
    """Stripe refunding the card at once (only `create_refund` is asked)."""

    def create_refund(self, **asked: Any) -> payment_gateway.RefundStatus:
        return payment_gateway.RefundStatus(
            id=f"re_LockOrder_{asked['metadata']['refund_id']}",
            status="succeeded",
            amount=asked["amount_minor"],
            currency="USD",
            metadata=asked["metadata"],
            payment_intent=asked["payment_intent_id"],
        )


def card_paid(
    app: Flask, *, charge: str | None = CHARGE, pending: bool = False
) -> tuple[int, int, int]:
    """A 250.00 invoice of a new vendor's paid by card (`charge`: the charge the
    payment kept, None for one confirmed before payments kept their charge;
    `pending`: Stripe has not answered yet, nothing counted): the organization's, the
    invoice's and the payment's ids."""
    with app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id
        db.session().commit()
        issued = send_activation(activated(organization_id, ("250.00",)))
        assert issued is not None
        with db.transaction() as session:
            invoice = session.get(Invoice, issued.id)
            assert invoice is not None
            payment = card_payment(
                session, invoice, "250.00", INTENT, PAID_AT, charge=charge, pending=pending
            )
            if not pending:
                count_payment(session, invoice, payment, actor=Actor.SYSTEM, now=PAID_AT)
            return organization_id, issued.id, payment.id


def card_payment(
    session: Session,
    invoice: Invoice,
    amount: str,
    intent: str,
    at: datetime,
    *,
    charge: str | None = None,
    pending: bool = False,
) -> Payment:
    """A card payment of `amount` that succeeded `at` (or, `pending`, was started
    then), recorded on the invoice (locked by the caller, as every card payment is
    recorded), not counted against it."""
    payment = _new_payment(
        session,
        invoice,
        action="payment.started" if pending else "payment.succeeded",
        actor=Actor.SYSTEM,
        now=at,
        method=CARD,
        state=PENDING if pending else SUCCEEDED,
        amount=Decimal(amount),
        received_on=None if pending else at.date(),
        stripe_payment_intent_id=intent,
        stripe_charge_id=charge,
    )
    session.flush()
    return payment


def succeeded(payment_id: int, invoice_id: int, *, cents: int = 25000) -> IntentStatus:
    """Stripe's word that the payment's PaymentIntent (`INTENT`) took `cents`, as a
    `payment_intent.succeeded` webhook carries it."""
    return IntentStatus(
        id=INTENT,
        status="succeeded",
        amount=cents,
        currency="USD",
        metadata={"payment_id": str(payment_id), "invoice_id": str(invoice_id)},
        amount_received=cents,
        client_secret=None,
        charge=CHARGE,
    )


def card_paid_and_credited(app: Flask) -> tuple[int, int, int]:
    """`card_paid`, with a credit note of 50.00 to refund to the card: the invoice's,
    the payment's and the credit note's ids."""
    _organization_id, invoice_id, payment_id = card_paid(app)
    with app.app_context():
        credit = services.issue_credit_note(
            invoice_id, amount=Decimal("50.00"), reason="Overbilled", actor=billing_clerk()
        )
        return invoice_id, payment_id, credit.id


__all__ = ["run_at_once", "wait_for_second"]
