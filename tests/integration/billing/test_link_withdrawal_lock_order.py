"""Round 56: billing staff withdrawing an invoice's links while Stripe's
`payment_intent.succeeded` settles that invoice, at once, both finish: each locks the
invoice before the organization (the lock order,
`licensing/billing/services/__init__.py`: the records a step starts from, the audit
log's turn, then the organization).

The withdrawal locked the organization (FOR UPDATE, to read the billing contact a
change of contact holds), then the invoice; the webhook locks the payment and the
invoice, then writes the payment a second time, whose key check takes FOR KEY SHARE
of the organization. On PostgreSQL the two, each holding its first, waited for each
other's: "deadlock detected". The test holds the withdrawal, once it holds what it
locks first, until the webhook steps its payment (or is seen waiting for a lock: with the
invoice locked first, the webhook waits for the withdrawal at the invoice, or the
withdrawal for the webhook).
"""

from __future__ import annotations

import importlib
import threading
from datetime import UTC, datetime

import pytest
from flask import Flask

from licensing import db
from licensing.actors import Actor
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.states import PAYMENT
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.factories import billing_clerk

from .lock_support import card_paid, succeeded

# The module (the package's names are its use cases).
invoices = importlib.import_module("licensing.billing.services.invoices")

RUN = datetime(2027, 2, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def withdrawal_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the withdrawal (thread "first") has read the billing contact under its
    lock; it then waits until the webhook (thread "second") steps the payment, or is seen waiting
    for a lock."""
    return held_until(monkeypatch, (invoices, "_locked_billing_contact"), (PAYMENT, "apply"))


def test_an_invoices_links_withdrawn_while_a_card_payment_settles_it_both_finish(
    committed_app: Flask, withdrawal_holds: threading.Event
) -> None:
    _organization_id, invoice_id, payment_id = card_paid(committed_app, pending=True)
    intent = succeeded(payment_id, invoice_id)

    def withdrawal() -> int:
        return services.withdraw_invoice_links(
            invoice_id, reason="Forwarded by mistake", actor=billing_clerk(), now=RUN
        ).generation

    def webhook() -> str:
        with db.transaction() as session:
            return services.apply_intent_outcome(session, intent, now=RUN, actor=Actor.SYSTEM)

    results = run_at_once(committed_app, withdrawal, webhook, withdrawal_holds)

    assert results["second"].startswith("applied")
    with committed_app.app_context():
        invoice = db.session().get(Invoice, invoice_id)
        assert invoice is not None
        assert (invoice.state, results["first"] > 0) == ("paid", True)
