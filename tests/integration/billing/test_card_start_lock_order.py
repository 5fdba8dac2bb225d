"""Round 56: a card payment's steps and the organization's lock, against a role
change and the monthly statement run: each pair finishes (the lock order,
`licensing/billing/services/__init__.py`: the records a step starts from, the audit
log's turn, then the organization, locked FOR NO KEY UPDATE).

- A card attempt locked its invoice, then the organization (two attempts at once
  create one Stripe Customer), then audited the Customer and the attempt
  (`payment.started`); a role change (`locked_organization`) takes the log's turn,
  then locks the organization. On PostgreSQL: "deadlock detected". The attempt now
  takes the log's turn first, and locks the organization only to create the
  Customer.
- Taken FOR UPDATE after the log, the organization waited for the statement run's
  key share of it (the statement sent names it: PostgreSQL checks that key with FOR
  KEY SHARE, before the run audits), while the run waited for the log: "deadlock
  detected", both for the attempt (as first changed) and for Stripe's
  `payment_intent.succeeded` settling an invoice (`restore_standing_if_clear`). Both
  now lock it FOR NO KEY UPDATE, as `db.claim` and `hold_now_if_overdue` do.

Each test holds the card step where the pair crosses, until the other step reaches
its side (or is seen waiting for a lock, in the order that now takes turns).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import services as accounts
from licensing.accounts.services import roles
from licensing.actors import Actor
from licensing.billing import services
from licensing.billing.models import Payment, StripeCustomer
from licensing.billing.services import _common, card_payments, monthly_statements
from licensing.billing.states import PENDING
from tests.support import factories
from tests.support.concurrent_steps import held_until, run_at_once

from .conftest import activated, send_activation
from .lock_support import AnsweringGateway, card_paid, succeeded


@pytest.fixture
def card_start_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the card attempt (thread "first") is about to create the Stripe
    Customer, holding what it locks before; it then waits until the role change
    (thread "second") asks for the organization, or is seen waiting for a lock."""
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


JANUARY, RUN = date(2027, 1, 1), datetime(2027, 2, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def card_start_has_its_turn(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the card attempt (thread "first") has looked for the organization's Stripe
    Customer, before it locks the organization (round 58: where it took its turn on
    the audit log until the head was locked at commit); it then waits until the
    statement run (thread "second") has stored the statement it sends, or is seen waiting
    for a lock."""
    return held_until(
        monkeypatch, (card_payments, "_known_customer"), (monthly_statements, "_email_statement")
    )


def test_a_first_card_payment_and_the_monthly_statement_run_both_finish(
    committed_app: Flask, card_start_has_its_turn: threading.Event
) -> None:
    """The run stores the statement it sends (a row naming the organization, whose
    key PostgreSQL checks with FOR KEY SHARE of it), then audits. The card attempt,
    with its turn on the log, then locks the organization: FOR UPDATE waited for the
    run's key share while the run waited for the log ("deadlock detected"); FOR NO
    KEY UPDATE does not wait for it."""
    with committed_app.app_context():
        payer = factories.make_vendor(db.session())
        organization_id = payer.organization_id
        assert organization_id is not None
        db.session().commit()
        invoice = send_activation(activated(organization_id, ("250.00",)))
        assert invoice is not None
        invoice_id = invoice.id
        principal = accounts.principal_for(payer)

    def card_start() -> str:
        return services.start_card_payment(
            invoice_id,
            card_token="tok_visa",
            principal=principal,
            gateway=AnsweringGateway(),
            now=RUN,
        ).status

    def statement_run() -> int:
        run = services.send_monthly_statements(JANUARY, now=RUN, due=[(organization_id, "USD")])
        return len(run.sent)

    results = run_at_once(committed_app, card_start, statement_run, card_start_has_its_turn)

    assert results == {"first": "processing", "second": 1}


@pytest.fixture
def webhook_settles(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the webhook (thread "first") has settled the invoice, holding the
    payment, the invoice and the audit log, before it restores the organization's
    standing; it then waits until the statement run (thread "second") has stored the
    statement it sends, or is seen waiting for a lock."""
    return held_until(
        monkeypatch,
        (_common, "_restore_standing"),
        (monthly_statements, "_email_statement"),
        before=True,
    )


def test_a_card_payment_settling_an_invoice_and_the_monthly_statement_run_both_finish(
    committed_app: Flask, webhook_settles: threading.Event
) -> None:
    """Stripe's `payment_intent.succeeded` settles the invoice, audits, then locks the
    organization to restore its standing (`restore_standing_if_clear`); FOR UPDATE
    waited for the run's key share of it, the run for the log: "deadlock detected"."""
    organization_id, invoice_id, payment_id = card_paid(committed_app, pending=True)
    intent = succeeded(payment_id, invoice_id)

    def webhook() -> str:
        with db.transaction() as session:
            return services.apply_intent_outcome(session, intent, now=RUN, actor=Actor.SYSTEM)

    def statement_run() -> int:
        run = services.send_monthly_statements(JANUARY, now=RUN, due=[(organization_id, "USD")])
        return len(run.sent)

    results = run_at_once(committed_app, webhook, statement_run, webhook_settles)

    assert results["first"].startswith("applied")
    assert results["second"] == 1
