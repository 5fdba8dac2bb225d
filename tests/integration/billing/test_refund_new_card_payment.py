"""Round 54: a card refund started while a card payment of its invoice is being
recorded locks only card payments it took before the invoice, and still refunds to
the newest (the lock order, `licensing/billing/services/__init__.py`).

A card refund locks the credit note, the invoice's card payments, then the invoice;
then it chooses the card payment to refund among those that succeeded, locking them
again. A card payment recorded between the two (money Stripe reinstated after a
dispute won, committed while the refund waited for the disputed payment) was locked
only then, after the invoice: a step holding that payment and asking for the invoice
(its webhook replayed, billing staff's accept or reversal of it, each refused only
once both are locked) waited for the refund, which waited for it: on PostgreSQL
"deadlock detected". The test records the new card payment just after the refund
has locked the card payments, and starts the payment's webhook once the refund holds
the invoice. On SQLite, one writer at a time, nothing is recorded while the refund
runs: the two take turns, and the refund goes to the one card payment it found.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from licensing import db
from licensing.actors import Actor
from licensing.billing import payment_gateway, services
from licensing.billing.models import Invoice, Refund
from licensing.billing.services import _common, card_payments, refunds
from tests.support.factories import billing_clerk

from .lock_support import (
    RefundingGateway,
    card_paid_and_credited,
    card_payment,
    run_at_once,
    wait_for_second,
)

SECOND_INTENT = "pi_LockOrderSecond"
SECOND_AT = datetime(2027, 1, 25, 15, 0, tzinfo=UTC)


class _Moments:
    """What each thread waits for: the refund holding the card payments, the new
    card payment recorded, the refund holding the invoice, the webhook at the
    invoice's lock."""

    def __init__(self) -> None:
        self.payments_locked = threading.Event()
        self.recorded = threading.Event()
        self.invoice_locked = threading.Event()
        self.webhook_there = threading.Event()


@pytest.fixture
def moments(monkeypatch: pytest.MonkeyPatch, backend: str) -> _Moments:
    """Holds the refund (thread "first") once, after it locked the card payments,
    until the new card payment is recorded (PostgreSQL only); and once, after it locked the invoice,
    until the webhook reaches the invoice's lock or is seen waiting for a lock."""
    said = _Moments()
    lock_payments, lock_invoice = refunds._lock_card_payments, _common._locked_invoice

    def refund_locking_payments(session: Any, invoice_id: int) -> Any:
        locked = lock_payments(session, invoice_id)
        if not said.payments_locked.is_set():
            said.payments_locked.set()
            if backend == "postgresql":
                said.recorded.wait(30)
        return locked

    def refund_locking_invoice(session: Any, invoice_id: int, principal: Any = None) -> Invoice:
        invoice = lock_invoice(session, invoice_id, principal)
        if threading.current_thread().name == "first" and not said.invoice_locked.is_set():
            said.invoice_locked.set()
            wait_for_second(said.webhook_there)
        return invoice

    def webhook_locking_invoice(session: Any, invoice_id: int, principal: Any = None) -> Invoice:
        said.webhook_there.set()
        return lock_invoice(session, invoice_id, principal)

    monkeypatch.setattr(refunds, "_lock_card_payments", refund_locking_payments)
    monkeypatch.setattr(refunds, "_locked_invoice", refund_locking_invoice)
    monkeypatch.setattr(card_payments, "_locked_invoice", webhook_locking_invoice)
    return said


def _record_second_card_payment(invoice_id: int) -> int:
    """A card payment of 100.00 that succeeded, recorded with the invoice locked, as
    every card payment is (here: money Stripe reinstated, or a second card)."""
    with db.transaction() as session:
        invoice = _common._locked_invoice(session, invoice_id)
        return card_payment(session, invoice, "100.00", SECOND_INTENT, SECOND_AT).id


def test_a_card_refund_and_a_card_payment_recorded_meanwhile_both_finish(
    committed_app: Flask, moments: _Moments, backend: str
) -> None:
    invoice_id, first_payment_id, credit_id = card_paid_and_credited(committed_app)
    second: dict[str, int] = {}

    def refund() -> int:
        return services.refund_card(credit_id, actor=billing_clerk(), gateway=RefundingGateway()).id

    def recorded_then_its_webhook() -> str:
        second["payment_id"] = _record_second_card_payment(invoice_id)
        moments.recorded.set()
        moments.invoice_locked.wait(30)
        intent = payment_gateway.IntentStatus(
            id=SECOND_INTENT,
            status="succeeded",
            amount=10000,
            currency="USD",
            metadata={"payment_id": str(second["payment_id"]), "invoice_id": str(invoice_id)},
            amount_received=10000,
            client_secret=None,
        )
        with db.transaction() as session:
            return services.apply_intent_outcome(
                session, intent, now=datetime.now(UTC), actor=Actor.SYSTEM
            )

    results = run_at_once(committed_app, refund, recorded_then_its_webhook, moments.payments_locked)

    assert results["second"].startswith("no change")
    with committed_app.app_context():
        refund_made = db.session().get(Refund, results["first"])
        assert refund_made is not None
        # The newest card payment with enough left, as when nothing crosses.
        newest = second["payment_id"] if backend == "postgresql" else first_payment_id
        assert (refund_made.state, refund_made.payment_id) == ("succeeded", newest)
