"""Which card payment a Stripe answer is about when it arrives before the request
that started the intent stored the intent's id: found by the payment id in the
metadata, but only a card payment, of the invoice the metadata names, whose intent
id is still unset; a metadata id that cannot be one of ours is ignored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from licensing import db
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.billing.payment_gateway import IntentStatus
from licensing.billing.states import CARD, PENDING
from tests.support.billing import said

NOW = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)
ARABIC_INDIC = str.maketrans(
    "0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
)


def _pending_card_payment(invoice: Invoice, intent_id: str | None = None) -> Payment:
    with db.transaction() as session:
        payment = Payment(
            invoice_id=invoice.id,
            organization_id=invoice.organization_id,
            method=CARD,
            state=PENDING,
            currency="USD",
            amount=Decimal("120.00"),
            stripe_payment_intent_id=intent_id,
            recorded_by="vendor@example.com",
        )
        session.add(payment)
        session.flush()
        return payment


def _declined(intent_id: str, metadata: dict[str, str]) -> IntentStatus:
    return IntentStatus(
        id=intent_id,
        status="requires_payment_method",
        amount=12000,
        amount_received=0,
        currency="usd",
        client_secret=None,
        metadata=metadata,
        failure_message="Your card was declined.",
    )


def _apply(intent: IntentStatus) -> str:
    with db.transaction() as session:
        return services.apply_intent_outcome(session, intent, now=NOW, actor=Actor.SYSTEM)


def test_an_answer_before_the_intent_id_is_stored_finds_the_payment_by_its_metadata(
    vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("120.00",))
    payment = _pending_card_payment(invoice)
    metadata = {"payment_id": str(payment.id), "invoice_id": str(invoice.id)}

    assert _apply(_declined("pi_early", metadata)) == f"declined: {said(payment)}"
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    db.session().refresh(stored)
    assert stored.stripe_payment_intent_id == "pi_early"


@pytest.mark.parametrize(
    "metadata_of",
    [
        lambda payment, invoice: {"payment_id": str(payment.id), "invoice_id": "0"},
        lambda payment, invoice: {"payment_id": str(payment.id)},
        lambda payment, invoice: {"payment_id": "9" * 30, "invoice_id": str(invoice.id)},
        lambda payment, invoice: {"payment_id": "x1", "invoice_id": str(invoice.id)},
        # Digits to str.isdigit(): int() refuses "²" (a 500) and reads Arabic-Indic
        # digits as the payment's id, which no metadata of ours ever holds.
        lambda payment, invoice: {"payment_id": "\u00b2", "invoice_id": str(invoice.id)},
        lambda payment, invoice: {
            "payment_id": str(payment.id).translate(ARABIC_INDIC),
            "invoice_id": str(invoice.id),
        },
    ],
    ids=[
        "another invoice",
        "no invoice",
        "too long to be an id",
        "not a number",
        "a superscript digit",
        "the id in Arabic-Indic digits",
    ],
)
def test_an_answer_whose_metadata_does_not_name_the_payment_and_its_invoice_is_ignored(
    vendor: User,
    invoice_for: Callable[..., Invoice],
    metadata_of: Callable[[Payment, Invoice], dict[str, str]],
) -> None:
    invoice = invoice_for(vendor, ("120.00",))
    payment = _pending_card_payment(invoice)

    outcome = _apply(_declined("pi_stranger", metadata_of(payment, invoice)))

    assert outcome == "ignored: not a payment of this service"


def test_a_payment_already_tied_to_another_intent_is_not_taken_by_its_metadata(
    vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("120.00",))
    payment = _pending_card_payment(invoice, intent_id="pi_own")
    metadata = {"payment_id": str(payment.id), "invoice_id": str(invoice.id)}

    assert _apply(_declined("pi_other", metadata)) == "ignored: not a payment of this service"
    assert _apply(_declined("pi_own", metadata)) == f"declined: {said(payment)}"
