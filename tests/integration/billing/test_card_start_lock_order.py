"""Round 56: a vendor starting the organization's first card payment and an
administrator changing a colleague's role, at once, both finish: each takes its turn
on the audit log before the organization (the lock order,
`licensing/billing/services/__init__.py`).

A card attempt locks its invoice, then the organization (two attempts at once create
one Stripe Customer), then audits the Customer and the attempt (`payment.started`);
a role change (`locked_organization`) takes the log's turn, then locks the
organization. On PostgreSQL the two, each holding its first, waited for each other's:
"deadlock detected". The test holds the card attempt where it would create the
Customer, once it holds what it locks first, until the role change comes to the
organization (or a few seconds pass: in the one order the role change waits for the
card attempt's turn on the log instead).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import services as accounts
from licensing.accounts.services import roles
from licensing.billing import services
from licensing.billing.models import Payment, StripeCustomer
from licensing.billing.payment_gateway import IntentStatus
from licensing.billing.services import card_payments
from licensing.billing.states import PENDING
from tests.support import factories
from tests.support.concurrent_steps import held_until, run_at_once

from .conftest import activated, send_activation


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


@pytest.fixture
def card_start_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the card attempt (thread "first") is about to create the Stripe
    Customer, holding what it locks before; it then waits until the role change
    (thread "second") asks for the organization, or `HOLD_SECONDS` pass."""
    return held_until(
        monkeypatch,
        (card_payments, "_customer_id"),
        (roles, "locked_organization"),
        before=True,
    )


def test_a_first_card_payment_and_a_role_change_of_the_organization_both_finish(
    committed_app: Flask, card_start_holds: threading.Event
) -> None:
    with committed_app.app_context():
        session = db.session()
        payer = factories.make_vendor(session)
        organization_id = payer.organization_id
        assert organization_id is not None
        member_id = factories.make_vendor(session, payer.organization).id
        actor = factories.staff_actor(("licensing",))
        session.commit()
        invoice = send_activation(activated(organization_id, ("250.00",)))
        assert invoice is not None
        invoice_id = invoice.id
        principal = accounts.principal_for(payer)

    def card_start() -> str:
        return services.start_card_payment(
            invoice_id, card_token="tok_visa", principal=principal, gateway=AnsweringGateway()
        ).status

    def role_change() -> str:
        return accounts.set_organization_role(member_id, ADMINISTRATOR, actor).organization_role

    results = run_at_once(committed_app, card_start, role_change, card_start_holds)

    assert results == {"first": "processing", "second": ADMINISTRATOR}
    with committed_app.app_context():
        session = db.session()
        customers = session.scalars(
            select(StripeCustomer.stripe_customer_id).where(
                StripeCustomer.organization_id == organization_id
            )
        ).all()
        states = session.scalars(select(Payment.state).where(Payment.invoice_id == invoice_id))
        assert (customers, list(states)) == (["cus_LockOrder"], [PENDING])
