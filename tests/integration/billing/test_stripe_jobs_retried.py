"""Round 61 (payments61): `payments reconcile` and `payments match-disputes` run a row's
recording again after a deadlock or a serialization failure, without asking Stripe
twice.

Until round 61 each asked Stripe inside the row's unit of work, holding its claim, so a
deadlock lost there was not run again (`db.went_outside` cannot tell Stripe's read from
a refund): the run stopped, the row and every one after it left to the next hourly run.
The asking is now a unit of its own that writes nothing, and the answer is recorded in
another, run again alone (`db.retried_unit`). The deadlock is PostgreSQL's own error,
raised by the server inside the recording's transaction; Stripe is localstripe on
loopback, its gateway wrapped only to count what it is asked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from licensing import db
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import payment_gateway, services
from licensing.billing.models import Invoice, Payment, PaymentDispute
from licensing.billing.services import card_payments, disputes
from licensing.billing.states import PENDING, SUCCEEDED
from licensing.billing.stripe_gateway import StripeGateway
from licensing.db import utcnow
from licensing.errors import ExternalServiceError
from tests.support import settings
from tests.support.servers import LocalStripe

from .dispute_support import dispute_event, paid_with_charge
from .stripe_support import deliver_event, pay_by_card, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db.time, "sleep", lambda _seconds: None)


class _Counting:
    """Localstripe's gateway, counting what it is asked (each call, by name)."""

    def __init__(self, gateway: payment_gateway.PaymentGateway) -> None:
        self.gateway = gateway
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.gateway, name)
        if not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.asked.append(name)
            return found(*args, **kwargs)

        return counted


def _losing_once(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """`module.name` (a recording step, given the unit's session first) loses a
    deadlock on its first call, once its writes are flushed: PostgreSQL raises 40P01."""
    tries: list[int] = []
    original = getattr(module, name)

    def losing(session: Any, *args: Any, **kwargs: Any) -> Any:
        done = original(session, *args, **kwargs)
        tries.append(len(tries) + 1)
        if len(tries) == 1:
            session.flush()
            session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40P01'; END $$")
            )
        return done

    monkeypatch.setattr(module, name, losing)
    return tries


def _count(action: str) -> int:
    db.session().expire_all()
    return db.session().scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def test_a_reconciled_payment_whose_recording_lost_a_deadlock_is_recorded_once_stripe_asked_once(
    app: Flask,
    backend: str,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend != "postgresql":
        pytest.skip("the deadlock's error is PostgreSQL's")
    invoice = invoice_for(vendor, ("70.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    payment.state = PENDING  # its webhook never came
    payment.created_at = utcnow() - timedelta(hours=2)
    db.session().commit()
    tries = _losing_once(monkeypatch, card_payments, "apply_intent_outcome")
    counting = _Counting(settings.gateway())

    report = services.reconcile_payments(gateway=counting, now=utcnow())

    # The base: the deadlock out of the run (Stripe asked inside the unit: not run again).
    assert tries == [1, 2]
    assert counting.asked == ["retrieve_payment_intent"]  # asked once, recorded twice
    assert (report.checked, report.applied) == (1, 1)
    assert report.outcomes[0].endswith(f"applied to {invoice.number}")
    db.session().expire_all()
    assert db.session().get(Payment, payment.id).state == SUCCEEDED
    assert db.session().get(Invoice, invoice.id).state == "paid"
    assert _count("payment.succeeded") == 1  # the lost try's rolled back with it
    assert _count("invoice.paid") == 1


def test_a_dispute_matched_by_the_command_whose_recording_lost_a_deadlock_is_matched_once(
    app: Flask,
    backend: str,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend != "postgresql":
        pytest.skip("the deadlock's error is PostgreSQL's")
    _invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    payment.stripe_charge_id = None  # confirmed before round 24: kept no charge
    db.session().commit()
    charge_only = dispute_event("charge.dispute.created", payment, charge, with_intent=False)
    down = ExternalServiceError("Stripe did not complete the request: timed out")
    with mock.patch.object(StripeGateway, "charge_payment_intent", side_effect=down):
        assert deliver_event(client, charge_only).status_code == 200
    assert _count("unmatched_dispute.kept") == 1
    tries = _losing_once(monkeypatch, disputes, "apply_dispute")
    counting = _Counting(settings.gateway())

    run = services.match_disputes(counting, actor=Actor.SYSTEM)

    # The base: the deadlock out of the run, the dispute left for the next hourly run.
    assert tries == [1, 2]
    assert counting.asked == ["charge_payment_intent"]  # asked once, recorded twice
    assert (len(run.matched), run.still, run.dropped) == (1, [], [])
    assert "recorded" in run.matched[0]
    db.session().expire_all()
    (dispute,) = db.session().scalars(select(PaymentDispute))
    assert dispute.payment_id == payment.id
    assert _count("dispute.opened") == 1
    assert _count("unmatched_dispute.matched") == 1
