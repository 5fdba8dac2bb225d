"""Round 54: a billing contact's change of address and a card payment settling one
of the organization's invoices, at once, both finish: each locks the invoice before
the organization (the lock order, `licensing/billing/services/__init__.py`).

The change wrote the organization's row (flushed with its audit event) and then
locked the organization's issued invoices, to withdraw their links; the card
payment's webhook locks the payment and the invoice and, settling it, the
organization (`restore_standing_if_clear`). On PostgreSQL the two, each holding its
first row, waited for each other's: "deadlock detected" while locking the invoice.
The test holds the change, once its organization is written, until the webhook
reaches the organization's lock (or is seen waiting for a lock: in the one order the webhook
waits for the change's lock on the invoice instead).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.services import _common, invoices
from tests.support import factories

from .lock_support import card_paid, run_at_once, succeeded, wait_for_second

NEW_CONTACT = "accounts-payable@harborlight.com"


@pytest.fixture
def change_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the change (thread "first") has written the organization's row and is
    about to lock its invoices for their links; it then waits until the webhook
    (thread "second") asks for the organization, or is seen waiting for a lock."""
    holds, webhook_there = threading.Event(), threading.Event()
    linked, restore = invoices._linked_invoices, _common._restore_standing

    def linking(session: Any, *args: Any) -> Any:
        session.flush()  # the organization, as the invoices' SELECT would autoflush it
        holds.set()
        wait_for_second(webhook_there)
        return linked(session, *args)

    def restoring(*args: Any, **kwargs: Any) -> Any:
        webhook_there.set()
        return restore(*args, **kwargs)

    monkeypatch.setattr(invoices, "_linked_invoices", linking)
    monkeypatch.setattr(_common, "_restore_standing", restoring)
    return holds


def test_a_billing_contact_change_and_a_card_payment_settling_an_invoice_both_finish(
    committed_app: Flask, change_holds: threading.Event
) -> None:
    organization_id, invoice_id, payment_id = card_paid(committed_app, pending=True)
    with committed_app.app_context():
        actor = factories.staff_actor(("licensing",))
        db.session().commit()
    intent = succeeded(payment_id, invoice_id)

    def change() -> Any:
        return accounts.update_organization(organization_id, {"billing_email": NEW_CONTACT}, actor)

    def webhook() -> str:
        with db.transaction() as session:
            return services.apply_intent_outcome(
                session, intent, now=datetime.now(UTC), actor=Actor.SYSTEM
            )

    results = run_at_once(committed_app, change, webhook, change_holds)

    assert results["second"].startswith("applied")
    with committed_app.app_context():
        session = db.session()
        organization = session.get(Organization, organization_id)
        invoice = session.get(Invoice, invoice_id)
        assert organization is not None
        assert invoice is not None
        assert (organization.billing_email, invoice.state) == (NEW_CONTACT, "paid")
