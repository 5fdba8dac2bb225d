"""Round 56: Stripe's `charge.refunded` webhook naming two card refunds of one
payment, and the refund reconciliation (`licensing payments reconcile`) at once,
both finish: each locks the refunds before the payment (the lock order,
`licensing/billing/services/__init__.py`).

The webhook applied the refunds it names one after another: the first refund, its
payment, its invoice and the audit log, and only then the second refund. The
reconciliation claims each pending refund and then locks its payment. On PostgreSQL,
the run having claimed the second refund while the webhook held the payment, the two
waited for each other: "deadlock detected". The test holds the webhook once it has
applied the first refund, until the run asks Stripe about the second (or is seen
waiting for a lock: with the webhook holding both refunds the run claims neither).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.billing import payment_gateway, services
from licensing.billing.models import Invoice, Refund
from licensing.billing.services import refunds, webhooks
from licensing.billing.states import SUCCEEDED
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.factories import billing_clerk

from .lock_support import INTENT, card_paid_and_credited


def _status(refund: Refund, status: str) -> payment_gateway.RefundStatus:
    return payment_gateway.RefundStatus(
        id=f"re_LockOrder_{refund.id}",
        status=status,
        amount=int(refund.amount * 100),
        currency="USD",
        metadata={"refund_id": str(refund.id)},
        payment_intent=INTENT,
    )


class PendingGateway:
    """Stripe taking each refund asked for, still `pending` when it answers."""

    def create_refund(self, **asked: Any) -> payment_gateway.RefundStatus:
        return payment_gateway.RefundStatus(
            id=f"re_LockOrder_{asked['metadata']['refund_id']}",
            status="pending",
            amount=asked["amount_minor"],
            currency="USD",
            metadata=asked["metadata"],
            payment_intent=asked["payment_intent_id"],
        )


class ListingGateway:
    """Stripe listing the payment's refunds as the webhook carries them."""

    def __init__(self, statuses: list[payment_gateway.RefundStatus]) -> None:
        self.statuses = statuses

    def list_refunds(self, payment_intent_id: str) -> list[payment_gateway.RefundStatus]:
        return self.statuses


@pytest.fixture
def webhook_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the webhook (thread "first") has applied its first refund, holding it,
    the payment, the invoice and the audit log; it then waits until the run (thread
    "second") asks Stripe for the refunds, or is seen waiting for a lock."""
    return held_until(monkeypatch, (refunds, "_refund_step"), (ListingGateway, "list_refunds"))


def test_a_refund_webhook_naming_two_refunds_and_the_refund_reconciliation_both_finish(
    committed_app: Flask, webhook_holds: threading.Event
) -> None:
    invoice_id, payment_id, credit_note_id = card_paid_and_credited(committed_app)
    with committed_app.app_context():
        for _ in range(2):
            services.refund_card(
                credit_note_id,
                amount=Decimal("25.00"),
                payment_id=payment_id,
                actor=billing_clerk(),
                gateway=PendingGateway(),
            )
        pending = db.session().scalars(select(Refund).order_by(Refund.id)).all()
        statuses = [_status(refund, "succeeded") for refund in pending]
    event = payment_gateway.WebhookEvent(
        id="evt_LockOrder", type="charge.refunded", data_object={"payment_intent": INTENT}
    )
    now = datetime.now(UTC)

    def webhook() -> str:
        return webhooks._Applying(event, INTENT, None, statuses, None, None, None, now)().outcome

    def reconciliation() -> int:
        report = services.reconcile_refunds(
            gateway=ListingGateway(statuses), now=now + timedelta(hours=1)
        )
        return report.checked

    results = run_at_once(committed_app, webhook, reconciliation, webhook_holds)

    assert results["first"].count("refunded: card refund") + results["second"] >= 2
    with committed_app.app_context():
        session = db.session()
        states = session.scalars(select(Refund.state).order_by(Refund.id)).all()
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        assert (list(states), invoice.amount_refunded) == ([SUCCEEDED] * 2, Decimal("50.00"))
