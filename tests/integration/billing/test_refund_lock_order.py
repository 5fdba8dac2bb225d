"""Round 53: a card refund and Stripe's webhooks about the same card payment, at
once, both finish: every step locks a payment before its invoice (the lock order,
`licensing/billing/services/__init__.py`).

A card refund locked the credit note, the invoice, then the card payment, while a
payment's webhook locks the payment, then the invoice: on PostgreSQL the two, each
holding its first row, waited for each other's and one was aborted ("deadlock
detected"). A dispute took the invoice, then the payment, and now takes them in the
one order too, as the refund's second half (Stripe's answer counted on the invoice)
does. Each test holds the refund just after it has locked the invoice until the
other step reaches the invoice's lock (or is seen waiting for a lock: in the one order the
other step waits for the refund's lock on the payment instead).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.actors import Actor
from licensing.billing import payment_gateway, services
from licensing.billing.models import CreditNote, Invoice, Payment, PaymentDispute, Refund
from licensing.billing.services import _common, card_payments, disputes, refunds
from tests.support.factories import billing_clerk

from .dispute_support import OPENED, dispute_event
from .lock_support import (
    CHARGE,
    RefundingGateway,
    card_paid_and_credited,
    run_at_once,
    succeeded,
    wait_for_second,
)


@pytest.fixture
def crossing(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    """`crossing(app, credit_id, other)`: a card refund of the credit note and
    `other` run at once on two threads (`lock_support.run_at_once`),
    `other` started once the refund has locked the invoice; the refund then waits
    for `other` to reach its invoice's lock (holding its payment). Returns the
    refund's id and what `other` returned; any thread's error (a deadlock) fails
    the test."""
    refund_holds, other_holds = threading.Event(), threading.Event()
    real = _common._locked_invoice

    def refund_locking(session: Any, invoice_id: int, principal: Any = None) -> Invoice:
        invoice = real(session, invoice_id, principal)
        if not refund_holds.is_set():
            refund_holds.set()
            wait_for_second(other_holds)
        return invoice

    def other_locking(session: Any, invoice_id: int, principal: Any = None) -> Invoice:
        other_holds.set()
        return real(session, invoice_id, principal)

    monkeypatch.setattr(refunds, "_locked_invoice", refund_locking)
    for module in (_common, card_payments):
        monkeypatch.setattr(module, "_locked_invoice", other_locking)

    def run(app: Flask, credit_id: int, other: Callable[[], Any]) -> dict[str, Any]:
        def refund() -> int:
            return services.refund_card(
                credit_id, actor=billing_clerk(), gateway=RefundingGateway()
            ).id

        results = run_at_once(app, refund, other, refund_holds)
        return {"refund": results["first"], "other": results["second"]}

    return run


def test_a_card_refund_and_the_late_webhook_of_its_payment_at_once_both_finish(
    committed_app: Flask, crossing: Callable[..., dict[str, Any]]
) -> None:
    invoice_id, payment_id, credit_id = card_paid_and_credited(committed_app)
    intent = succeeded(payment_id, invoice_id)

    def webhook() -> str:
        with db.transaction() as session:
            return services.apply_intent_outcome(
                session, intent, now=datetime.now(UTC), actor=Actor.SYSTEM
            )

    results = crossing(committed_app, credit_id, webhook)
    assert results["other"].startswith("no change")
    with committed_app.app_context():
        session = db.session()
        refund = session.get(Refund, results["refund"])
        invoice = session.get(Invoice, invoice_id)
        assert refund is not None
        assert invoice is not None
        assert (refund.state, refund.payment_id) == ("succeeded", payment_id)
        assert (invoice.amount_paid, invoice.amount_refunded) == (
            Decimal("250.00"),
            Decimal("50.00"),
        )
        assert invoice.owed == 0


def test_a_card_refund_and_a_dispute_of_its_payment_at_once_both_finish(
    committed_app: Flask, crossing: Callable[..., dict[str, Any]]
) -> None:
    invoice_id, payment_id, credit_id = card_paid_and_credited(committed_app)
    with committed_app.app_context():
        payment = db.session().get(Payment, payment_id)
        assert payment is not None
        event = dispute_event(
            "charge.dispute.created", payment, CHARGE, amount=20000, moved=(OPENED,)
        )
    seen = payment_gateway.dispute_status_from_event(event["data"]["object"])

    def webhook() -> str:
        with db.transaction() as session:
            return disputes.apply_dispute(
                session,
                event["type"],
                seen,
                now=OPENED,
                actor=Actor.SYSTEM,
                dispute_object=event["data"]["object"],
            )

    results = crossing(committed_app, credit_id, webhook)
    assert "withdrawal of 200.00 booked" in results["other"]
    with committed_app.app_context():
        session = db.session()
        refund = session.get(Refund, results["refund"])
        invoice = session.get(Invoice, invoice_id)
        credit = session.get(CreditNote, credit_id)
        assert refund is not None
        assert invoice is not None
        assert credit is not None
        assert refund.state == "succeeded"
        assert session.scalars(select(PaymentDispute.payment_id)).all() == [payment_id]
        # 250.00 - 200.00 withdrawn - 50.00 credited + 50.00 sent back: 200.00 owed.
        assert invoice.owed == Decimal("200.00")
        assert invoice.state == "open"
