"""`Idempotency-Key` on refunds: a card refund spans two transactions around the
Stripe call, and a retry with the key never refunds twice, whatever became of the
first request after its first step (Stripe: localstripe, which keeps no
idempotency of its own). On both backends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import idempotency, services
from licensing.billing.models import CreditNote, IdempotentRequest, Invoice, Payment
from tests.support import factories, settings
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .refund_support import (
    LostAnswer,
    Refuses,
    card_paid_and_credited,
    committed_credit,
    paid_offline_and_credited,
    refunds_of,
    stripe_through,
)
from .stripe_support import _call, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _refund(client: FlaskClient, credit: CreditNote, staff: User, key: str, body: Any) -> Any:
    return client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json=body,
        headers={**bearer(staff), "Idempotency-Key": key},
    )


def _at_stripe(localstripe: LocalStripe, payment: Payment) -> list[int]:
    found = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )["data"]
    return sorted(refund["amount"] for refund in found)


def test_a_card_refund_retried_after_its_answer_was_lost_is_not_refunded_again(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    # 40.00 of 90.00: without the key, the retry found 50.00 still to refund and
    # refunded the card a second time.
    credit, payment = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    body = {"method": "card", "amount": "40.00"}
    with stripe_through(LostAnswer):
        lost = _refund(client, credit, billing_staff, "refund-once-1", body)
    retried = _refund(client, credit, billing_staff, "refund-once-1", body)
    assert lost.status_code == 502
    assert retried.status_code == 201, retried.get_data(as_text=True)
    assert retried.headers["Idempotent-Replayed"] == "true"
    (refund,) = refunds_of(credit)
    assert retried.get_json()["id"] == refund.id
    assert retried.get_json()["state"] == "pending"  # until Stripe's answer is applied
    assert _at_stripe(localstripe, payment) == [4000]
    # Another key is another request: the rest can still be refunded.
    rest = _refund(client, credit, billing_staff, "refund-once-2", {"method": "card"})
    assert rest.get_json()["amount"] == "50.00"
    assert _at_stripe(localstripe, payment) == [4000, 5000]


def test_a_retry_whose_first_answer_was_lost_answers_the_refund_as_created_after_it_settles(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit, payment = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    body = {"method": "card", "amount": "40.00"}
    with stripe_through(LostAnswer):
        lost = _refund(client, credit, billing_staff, "refund-as-created", body)
    assert lost.status_code == 502
    (refund,) = refunds_of(credit)
    # Stripe's answer is applied meanwhile (as the webhook or reconcile would).
    report = services.reconcile_refunds(
        now=refund.created_at + timedelta(minutes=31), gateway=settings.gateway()
    )
    assert report.applied == 1
    db.session().refresh(refund)
    assert refund.state == "succeeded"

    retried = _refund(client, credit, billing_staff, "refund-as-created", body)
    again = _refund(client, credit, billing_staff, "refund-as-created", body)

    assert (retried.status_code, retried.headers["Idempotent-Replayed"]) == (201, "true")
    answer = retried.get_json()
    assert (answer["id"], answer["state"], answer["amount"]) == (refund.id, "pending", "40.00")
    assert answer["stripe_refund_id"] is None
    assert answer["settled_at"] is None
    assert again.get_data() == retried.get_data()  # the same answer every time
    # The refund as it stands is a GET away.
    now = client.get(f"/api/v1/refunds/{refund.id}", headers=bearer(billing_staff))
    assert now.get_json()["state"] == "succeeded"
    assert _at_stripe(localstripe, payment) == [4000]


def test_a_card_refund_retried_with_its_key_replays_the_first_answer(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit, payment = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    body = {"method": "card", "amount": "30.00"}
    first = _refund(client, credit, billing_staff, "refund-replay", body)
    again = _refund(client, credit, billing_staff, "refund-replay", body)
    other_body = _refund(client, credit, billing_staff, "refund-replay", {"method": "card"})
    assert first.status_code == 201
    assert first.get_json()["state"] == "succeeded"
    assert "Idempotent-Replayed" not in first.headers
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.get_json() == first.get_json()
    assert other_body.status_code == 422
    assert "header.Idempotency-Key" in other_body.get_json()["errors"]
    assert len(refunds_of(credit)) == 1
    assert _at_stripe(localstripe, payment) == [3000]


def test_a_refund_stripe_refused_gives_its_key_back_so_the_retry_is_carried_out(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit, payment = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    body = {"method": "card"}
    with stripe_through(Refuses):
        refused = _refund(client, credit, billing_staff, "refund-refused", body)
    retried = _refund(client, credit, billing_staff, "refund-refused", body)
    assert refused.status_code == 502
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert [refund.state for refund in refunds_of(credit)] == ["failed", "succeeded"]
    assert _at_stripe(localstripe, payment) == [9000]


def test_an_offline_refund_retried_with_its_key_is_recorded_once(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    body = {"method": "check", "amount": "25.00", "reference": "CHK 7"}
    first = _refund(client, credit, billing_staff, "offline-once", body)
    again = _refund(client, credit, billing_staff, "offline-once", body)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert len(refunds_of(credit)) == 1
    stored = db.session().scalar(select(func.count()).select_from(IdempotentRequest))
    assert stored == 1


def test_a_refused_refund_stores_no_key(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    too_much = {"method": "check", "amount": "900.00", "reference": "CHK 8"}
    refused = _refund(client, credit, billing_staff, "offline-fixed", too_much)
    fixed = _refund(
        client, credit, billing_staff, "offline-fixed", {**too_much, "amount": "100.00"}
    )
    assert refused.status_code == 422
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert [refund.amount for refund in refunds_of(credit)] == [Decimal("100.00")]


def test_a_refund_that_loses_the_race_for_its_key_is_answered_from_the_winners_record(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    body = {"method": "wire", "amount": "10.00", "reference": "W-R1"}
    first = _refund(client, credit, billing_staff, "refund-race", body)
    looked_up = idempotency._stored
    misses = iter([True])

    def winner_not_yet_visible(*args: Any, **kwargs: Any) -> IdempotentRequest | None:
        # As if the other request stored the key between this one's look-up and its claim.
        return None if next(misses, False) else looked_up(*args, **kwargs)

    monkeypatch.setattr(idempotency, "_stored", winner_not_yet_visible)
    loser = _refund(client, credit, billing_staff, "refund-race", body)
    assert (loser.status_code, loser.headers["Idempotent-Replayed"]) == (201, "true")
    assert loser.get_json() == first.get_json()
    assert len(refunds_of(credit)) == 1


def test_two_simultaneous_refunds_with_one_key_record_one(committed_app: Flask) -> None:
    with committed_app.app_context():
        credit = committed_credit("100.00", paid_with="A-1", reason="Seat removed")
        clerk = factories.make_staff(db.session(), roles=("billing",))
        headers = {**bearer(clerk), "Idempotency-Key": "refund-at-once"}
    body = {"method": "wire", "amount": "40.00", "reference": "W-R2"}
    barrier = threading.Barrier(2)
    answers: list[tuple[int, bool]] = []

    def post() -> None:
        client = committed_app.test_client()
        barrier.wait(timeout=30)
        answer = client.post(
            f"/api/v1/credit-notes/{credit.id}/refunds", json=body, headers=headers
        )
        answers.append((answer.status_code, answer.headers.get("Idempotent-Replayed") == "true"))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status for status, _replayed in answers)
    assert statuses in ([201, 201], [201, 409])
    assert [replayed for status, replayed in answers if status == 201].count(False) == 1
    with committed_app.app_context():
        assert len(refunds_of(credit)) == 1
