"""Round 45: `POST /payments/{id}/give-back` with an `Idempotency-Key` asks Stripe
as the request without one does: the payment's `giving_back` and the key are
committed before Stripe is asked, no database lock is held while it is, and a
failure leaves the state and the audit as without a key. Through localstripe, on
both backends. (Until round 45 the keyed request ran inside `run_once`'s
transaction: Stripe was asked with the payment's row lock and the user's turn held,
and a failed call rolled the ask back.)"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import payment_gateway, services
from licensing.billing.models import IdempotentRequest, Invoice, Payment
from licensing.db import utcnow
from tests.support import factories, settings
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .conftest import activated, send_activation
from .refund_support import LostAnswer, Refuses, stripe_through
from .stripe_support import _call, flagged_card_payment, stripe_config

REASON = {"reason": "Not ours."}


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _give_back(client: FlaskClient, staff: User, payment: Payment, key: str) -> TestResponse:
    return client.post(
        f"/api/v1/payments/{payment.id}/give-back",
        json=REASON,
        headers={**bearer(staff), "Idempotency-Key": key},
    )


def _actions(payment_id: int) -> list[str]:
    """The payment's give-back audit events, oldest first."""
    return list(
        db.session().scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.entity_type == "payment",
                AuditEvent.entity_id == str(payment_id),
                AuditEvent.action.like("payment.give%"),
            )
            .order_by(AuditEvent.seq)
        )
    )


def _state(payment_id: int) -> str:
    db.session().expire_all()
    payment = db.session().get(Payment, payment_id)
    assert payment is not None
    return payment.state


def _refunds_at_stripe(localstripe: LocalStripe, payment: Payment) -> list[dict[str, Any]]:
    found = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    return list(found["data"])


class _FailsAtOnce(LostAnswer):
    """The real gateway, except that Stripe answers the Refund it made `failed`."""

    def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
        made = self.real.create_refund(**kwargs)
        return dataclasses.replace(made, status="failed", failure_reason="card_closed")


@pytest.mark.parametrize(
    ("stripe", "audited", "refunds"),
    [
        (Refuses, "payment.give_back_refused", 1),  # nothing made at Stripe
        (_FailsAtOnce, "payment.give_back_failed", 2),  # the failed Refund, then this one
    ],
    ids=["refused", "failed-at-once"],
)
def test_a_keyed_give_back_stripe_refused_or_failed_is_flagged_again_audited_and_its_key_freed(
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: Payment,
    stripe: Callable[[payment_gateway.PaymentGateway], Any],
    audited: str,
    refunds: int,
) -> None:
    # Before round 45 the refusal rolled the ask back with the key: flagged, but no
    # audit event said a give-back was asked or refused.
    with stripe_through(stripe):
        refused = _give_back(client, billing_staff, flagged, "give-back-refused")
    assert refused.status_code == 502
    assert _state(flagged.id) == "flagged"
    assert _actions(flagged.id) == ["payment.give_back_asked", audited]
    # As a refused refund's: nothing went back, so the key is free for the retry.
    retried = _give_back(client, billing_staff, flagged, "give-back-refused")
    assert retried.status_code == 200, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    assert retried.get_json()["state"] == "given_back"
    assert len(_refunds_at_stripe(localstripe, flagged)) == refunds


def test_a_keyed_give_back_whose_answer_was_lost_stays_being_given_back_and_is_not_asked_again(
    app: Flask,
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: Payment,
) -> None:
    # Before round 45 the lost answer rolled `giving_back` back to flagged though
    # Stripe had refunded the card, and the retry asked Stripe for a second refund.
    with stripe_through(LostAnswer):  # Stripe refunded it; its answer never came
        lost = _give_back(client, billing_staff, flagged, "give-back-lost")
    assert lost.status_code == 502
    assert _state(flagged.id) == "giving_back"
    assert _actions(flagged.id) == ["payment.give_back_asked"]

    retried = _give_back(client, billing_staff, flagged, "give-back-lost")
    again = _give_back(client, billing_staff, flagged, "give-back-lost")
    assert (retried.status_code, retried.headers["Idempotent-Replayed"]) == (200, "true")
    answer = retried.get_json()
    assert (answer["id"], answer["state"]) == (flagged.id, "giving_back")
    assert answer["summary"].startswith("Being given back: Stripe was asked to give ")
    assert again.get_data() == retried.get_data()
    assert len(_refunds_at_stripe(localstripe, flagged)) == 1

    # Reconcile brings Stripe's answer in; the key still answers as the request did.
    later = utcnow() + timedelta(minutes=10)
    report = services.reconcile_giving_back(now=later, gateway=settings.gateway())
    assert report.applied == 1
    assert _state(flagged.id) == "given_back"
    assert _give_back(client, billing_staff, flagged, "give-back-lost").get_data() == (
        retried.get_data()
    )
    assert len(_refunds_at_stripe(localstripe, flagged)) == 1


def test_a_keyed_give_back_that_succeeds_is_replayed_and_stores_one_key(
    client: FlaskClient, billing_staff: User, localstripe: LocalStripe, flagged: Payment
) -> None:
    first = _give_back(client, billing_staff, flagged, "give-back-once")
    again = _give_back(client, billing_staff, flagged, "give-back-once")
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["state"] == "given_back"
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert again.get_json() == first.get_json()
    stored = db.session().scalar(select(func.count()).select_from(IdempotentRequest))
    assert stored == 1
    assert len(_refunds_at_stripe(localstripe, flagged)) == 1


class _AskedWhileWatched:
    """The real gateway; while Stripe is asked for the refund, `watch()` runs in
    another thread, with connections of its own, and must end within 15 seconds."""

    def __init__(self, real: payment_gateway.PaymentGateway, watch: Callable[[], None]) -> None:
        self.real = real
        self.watch = watch
        self.finished = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
        watcher = threading.Thread(target=self.watch)
        watcher.start()
        watcher.join(timeout=15)
        self.finished = not watcher.is_alive()
        return self.real.create_refund(**kwargs)


def test_while_stripe_is_asked_the_ask_and_key_are_committed_and_nothing_waits_on_a_lock(
    committed_app: Flask, localstripe: LocalStripe
) -> None:
    with committed_app.app_context():
        vendor = factories.make_vendor(db.session())
        clerk = factories.make_staff(db.session(), roles=("billing",))
        colleague = factories.make_staff(db.session(), roles=("billing",))

        def invoice_for(owner: User, amounts: tuple[str, ...]) -> Invoice:
            invoice = send_activation(activated(owner.organization_id, amounts))
            assert invoice is not None
            return invoice

        client = committed_app.test_client()
        _, payment = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
        keyed = {**bearer(clerk), "Idempotency-Key": "give-back-watched"}
        colleagues = bearer(colleague)
    url = f"/api/v1/payments/{payment.id}/give-back"
    seen: dict[str, Any] = {}

    def watch() -> None:
        with committed_app.app_context():
            stored = db.session().get(Payment, payment.id)
            seen["state"] = stored.state if stored is not None else None
            seen["keys"] = db.session().scalar(select(func.count(IdempotentRequest.id)))
            db.session().rollback()
            other = committed_app.test_client()
            retry = other.post(url, json=REASON, headers=keyed)
            seen["retry"] = (retry.status_code, retry.get_json().get("state"))
            accept = other.post(
                f"/api/v1/payments/{payment.id}/accept", json=REASON, headers=colleagues
            )
            seen["accept"] = accept.status_code

    with committed_app.app_context():
        from licensing.billing import gateways

        watched = _AskedWhileWatched(settings.gateway(), watch)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(gateways, "gateway", lambda config: watched)
            answer = committed_app.test_client().post(url, json=REASON, headers=keyed)
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["state"] == "given_back"
    # The watcher never waited on the request's locks: it ended while Stripe was asked.
    assert watched.finished
    assert seen["state"] == "giving_back"  # committed before Stripe was asked
    assert seen["keys"] == 1  # the key too
    assert seen["retry"] == (200, "giving_back")  # the answer for a request in flight
    assert seen["accept"] == 409  # the state machine's refusal, not a wait
    assert len(_refunds_at_stripe(localstripe, payment)) == 1
