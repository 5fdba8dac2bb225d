"""Round 60 (stripe60): a card payment confirmed before payments kept their charge
(round 24) kept only its PaymentIntent, so *Stripe's events* did not find it by the
charge id a licensee's bank statement or the bank's dispute letter gives (round 59's
"Left"). `licensing payments fill-charge-ids` asks Stripe, through the gateway, for each
such payment's PaymentIntent and keeps its latest charge: in bounded batches, audited,
idempotent and resumable. Against localstripe on loopback, never a mock of Stripe: a
PaymentIntent it does not know is its own 404, and Stripe unreachable is the real
adapter pointed at a closed port."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.billing.services.charge_ids import CHARGE_ID_FILLED
from tests.support import settings
from tests.support.servers import LocalStripe

from .dispute_support import charge_of
from .stripe_support import card_attempt, deliver_event, listed_events, stripe_config, unreachable


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _paid_before_charges_were_kept(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    amount: str,
) -> tuple[Payment, str]:
    """A card payment paid through localstripe and its success delivered, then put back
    as a payment confirmed before round 24 is stored: no charge id. With its charge."""
    attempt = card_attempt(invoice_for, vendor, localstripe, amount)
    assert deliver_event(client, attempt.succeeded).status_code == 200
    payment = db.session().get(Payment, attempt.payment.id)
    assert payment is not None
    charge = charge_of(localstripe, payment)
    assert payment.stripe_charge_id == charge  # kept since round 24
    payment.stripe_charge_id = None
    db.session().commit()
    return payment, charge


def _charge_of(payment_id: int) -> str | None:
    db.session().expire_all()
    payment = db.session().get(Payment, payment_id)
    assert payment is not None
    return payment.stripe_charge_id


def _filled_events() -> list[AuditEvent]:
    db.session().expire_all()
    return list(
        db.session().scalars(
            select(AuditEvent).where(AuditEvent.action == CHARGE_ID_FILLED).order_by(AuditEvent.id)
        )
    )


def test_old_card_payments_are_given_their_charge_a_batch_at_a_time_once_and_found_by_it(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    old = [
        _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for, amount)
        for amount in ("100.00", "200.00", "300.00")
    ]
    staff = signed_in(app.test_client(), billing_staff)
    first_charge = old[0][1]
    # Before: the charge id finds nothing (the service never learnt it).
    assert listed_events(staff, f"?q={first_charge}") == {}

    # Stopped after one payment (a bounded run): the first filled, audited, the rest not.
    run = services.fill_charge_ids(settings.gateway(), batch_size=2, limit=1)
    assert run.summary().startswith("1 card payment(s) given their charge id")
    assert [_charge_of(payment.id) for payment, _ in old] == [first_charge, None, None]
    (filled,) = _filled_events()
    assert filled.entity_type == "payment"
    assert filled.entity_id == str(old[0][0].id)
    assert filled.actor == "system"
    assert filled.after_data["stripe_charge_id"] == first_charge
    assert filled.after_data["stripe_payment_intent_id"] == old[0][0].stripe_payment_intent_id

    # The command goes on where the run stopped, two a batch.
    ran = app.test_cli_runner().invoke(args=["payments", "fill-charge-ids", "--batch-size", "2"])
    assert ran.exit_code == 0, ran.output
    assert f"filled: payment {old[1][0].id}: charge {old[1][1]}" in ran.output
    assert "2 card payment(s) given their charge id; 0 whose PaymentIntent Stripe" in ran.output
    assert [_charge_of(payment.id) for payment, _ in old] == [charge for _, charge in old]
    assert len(_filled_events()) == 3

    # Again: nothing left to ask about, nothing changed, nothing audited.
    again = app.test_cli_runner().invoke(args=["payments", "fill-charge-ids"])
    assert again.exit_code == 0, again.output
    assert "0 card payment(s) given their charge id" in again.output
    assert len(_filled_events()) == 3

    # After: Stripe's events finds the payment's event by its charge id (round 59's search).
    found = listed_events(staff, f"?q={first_charge}")
    assert len(found) == 1
    (said,) = found.values()
    assert "payment_intent.succeeded" in said
    assert f"/console/payments/{old[0][0].id}" in said
    # The payment's page shows its charge, and its history the fill.
    page = staff.get(f"/console/payments/{old[0][0].id}")
    assert page.status_code == 200
    assert first_charge in page.get_data(as_text=True)
    assert "charge id filled" in page.get_data(as_text=True).lower().replace("_", " ")


def test_a_payment_intent_stripe_does_not_know_is_named_and_left_and_stripe_unreachable_stops(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    known, charge = _paid_before_charges_were_kept(
        client, vendor, localstripe, invoice_for, "100.00"
    )
    unknown, _ = _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for, "50.00")
    # A payment whose PaymentIntent this Stripe account never made (another account's,
    # test keys where the service now has live ones): localstripe's own 404.
    unknown.stripe_payment_intent_id = "pi_another_accounts_intent"
    db.session().commit()

    # Stripe unreachable: the run stops, nothing filled, and says to run it again.
    stopped = services.fill_charge_ids(unreachable())
    assert stopped.stopped is not None
    assert "Stripe, which takes the card payments, could not be reached" in stopped.stopped
    assert stopped.summary().endswith("(run it again to go on)")
    assert stopped.filled == []
    assert _charge_of(known.id) is None
    assert _filled_events() == []

    ran = app.test_cli_runner().invoke(args=["payments", "fill-charge-ids"])
    assert ran.exit_code == 0, ran.output
    assert f"filled: payment {known.id}: charge {charge}" in ran.output
    assert (
        f"not filled: payment {unknown.id}: Stripe does not know PaymentIntent "
        "pi_another_accounts_intent" in ran.output
    )
    assert "1 card payment(s) given their charge id; 1 whose PaymentIntent Stripe" in ran.output
    assert _charge_of(known.id) == charge
    assert _charge_of(unknown.id) is None  # left as it was, asked again by a later run
    assert len(_filled_events()) == 1
    assert db.session().scalar(select(func.count()).select_from(Payment)) == 2
