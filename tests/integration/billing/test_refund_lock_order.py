"""Round 53: a card refund and Stripe's webhooks about the same card payment, at
once, both finish: every step locks a payment before its invoice (the lock order,
`licensing/billing/services/__init__.py`).

A card refund locked the credit note, the invoice, then the card payment, while a
payment's webhook locks the payment, then the invoice: on PostgreSQL the two, each
holding its first row, waited for each other's and one was aborted ("deadlock
detected"). A dispute took the invoice, then the payment, and now takes them in the
one order too, as the refund's second half (Stripe's answer counted on the invoice)
does. Each test holds the refund just after it has locked the invoice until the
other step reaches the invoice's lock (or a few seconds pass: in the one order the
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
from licensing.billing.services.settlement import _new_payment, count_payment
from licensing.billing.states import CARD, SUCCEEDED
from tests.support import factories
from tests.support.factories import billing_clerk

from .conftest import activated, send_activation
from .dispute_support import OPENED, dispute_event

INTENT, CHARGE = "pi_LockOrder", "ch_LockOrder"
PAID_AT = datetime(2027, 1, 20, 15, 0, tzinfo=UTC)
# How long the refund, holding the invoice, waits for the other step's first lock.
HOLD_SECONDS = 3


class Gateway:
    """Stripe refunding the card at once (only `create_refund` is asked)."""

    def create_refund(self, **asked: Any) -> payment_gateway.RefundStatus:
        return payment_gateway.RefundStatus(
            id="re_LockOrder",
            status="succeeded",
            amount=asked["amount_minor"],
            currency="USD",
            metadata=asked["metadata"],
            payment_intent=asked["payment_intent_id"],
        )


def _card_paid_and_credited(app: Flask) -> tuple[int, int, int]:
    """A 250.00 invoice paid by card, with a credit note of 50.00 to refund to it:
    the invoice's, the payment's and the credit note's ids."""
    with app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id
        db.session().commit()
        issued = send_activation(activated(organization_id, ("250.00",)))
        assert issued is not None
        with db.transaction() as session:
            invoice = session.get(Invoice, issued.id)
            assert invoice is not None
            payment = _new_payment(
                session,
                invoice,
                action="payment.succeeded",
                actor=Actor.SYSTEM,
                now=PAID_AT,
                method=CARD,
                state=SUCCEEDED,
                amount=Decimal("250.00"),
                received_on=PAID_AT.date(),
                stripe_payment_intent_id=INTENT,
                stripe_charge_id=CHARGE,
            )
            session.flush()
            count_payment(session, invoice, payment, actor=Actor.SYSTEM, now=PAID_AT)
            payment_id = payment.id
        credit = services.issue_credit_note(
            issued.id, amount=Decimal("50.00"), reason="Overbilled", actor=billing_clerk()
        )
        return issued.id, payment_id, credit.id


@pytest.fixture
def crossing(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    """`crossing(app, credit_id, other)`: a card refund of the credit note and
    `other` run at once on two threads,
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
            other_holds.wait(HOLD_SECONDS)
        return invoice

    def other_locking(session: Any, invoice_id: int, principal: Any = None) -> Invoice:
        other_holds.set()
        return real(session, invoice_id, principal)

    monkeypatch.setattr(refunds, "_locked_invoice", refund_locking)
    for module in (_common, card_payments):
        monkeypatch.setattr(module, "_locked_invoice", other_locking)
    return lambda app, credit_id, run: _run_crossing(app, credit_id, run, refund_holds)


def _run_crossing(
    app: Flask, credit_id: int, run: Callable[[], Any], refund_holds: threading.Event
) -> dict[str, Any]:
    failures: list[BaseException] = []
    results: dict[str, Any] = {}

    def refund() -> None:
        try:
            with app.app_context():
                results["refund"] = services.refund_card(
                    credit_id, actor=billing_clerk(), gateway=Gateway()
                ).id
        except BaseException as error:  # reported below, with the thread's own error
            failures.append(error)
            refund_holds.set()

    def step() -> None:
        try:
            refund_holds.wait(30)
            with app.app_context():
                results["other"] = run()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=refund), threading.Thread(target=step)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if failures:
        raise failures[0]
    return results


def test_a_card_refund_and_the_late_webhook_of_its_payment_at_once_both_finish(
    committed_app: Flask, crossing: Callable[..., dict[str, Any]]
) -> None:
    invoice_id, payment_id, credit_id = _card_paid_and_credited(committed_app)
    intent = payment_gateway.IntentStatus(
        id=INTENT,
        status="succeeded",
        amount=25000,
        currency="USD",
        metadata={"payment_id": str(payment_id), "invoice_id": str(invoice_id)},
        amount_received=25000,
        client_secret=None,
        charge=CHARGE,
    )

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
    invoice_id, payment_id, credit_id = _card_paid_and_credited(committed_app)
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
