"""Round 60 (retry60): a card refund sent with an `Idempotency-Key` whose first step (the
key stored with the refund, `refunds._pending_card_refund`) loses a deadlock is run
again, and refunds once.

The key is looked up first, in a unit of work of its own (`idempotency.begin`), which
commits. Until round 60 any commit stopped `db.retrying`, so the request answered 503
although that unit wrote nothing (or only deleted an expired key, which a second look
deletes no more). Now a unit that wrote nothing does not count, and the key's look-up
says what it writes is the same however often it runs (`transaction(repeatable=True)`).
The deadlock is PostgreSQL's own error, raised by the server inside the first step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from licensing import db
from licensing.accounts.models import User
from licensing.billing import idempotency
from licensing.billing.models import IdempotentRequest, Invoice
from licensing.billing.services import refunds
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .refund_support import card_paid_and_credited, refunds_of
from .stripe_support import _call, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db.time, "sleep", lambda _seconds: None)


def _losing_first_step_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The refund's first step loses a deadlock on its first try, once the key and the
    refund are written (PostgreSQL raising 40P01 in that transaction)."""
    tries: list[int] = []
    original = refunds._refundable_card_payment

    def losing(session: Any, *args: Any, **kwargs: Any) -> Any:
        found = original(session, *args, **kwargs)
        tries.append(len(tries) + 1)
        if len(tries) == 1:
            session.flush()
            session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40P01'; END $$")
            )
        return found

    monkeypatch.setattr(refunds, "_refundable_card_payment", losing)
    return tries


def _keys(user: User) -> int:
    return (
        db.session().scalar(
            select(func.count())
            .select_from(IdempotentRequest)
            .where(IdempotentRequest.user_id == user.id)
        )
        or 0
    )


@pytest.mark.parametrize("expired_key_kept", [False, True], ids=["new key", "expired key"])
def test_a_keyed_card_refund_whose_first_step_lost_a_deadlock_is_run_again_and_refunds_once(
    app: Flask,
    client: FlaskClient,
    backend: str,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
    expired_key_kept: bool,
) -> None:
    if backend != "postgresql":
        pytest.skip("the deadlock's error is PostgreSQL's")
    credit, payment = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    body = {"method": "card", "amount": "40.00"}
    key = "refund-after-deadlock"
    if expired_key_kept:  # used a day and more ago: the look-up deletes it (a write)
        request = idempotency.KeyedRequest.of(
            idempotency.Caller(billing_staff.id, billing_staff.organization_id), key, "old"
        )
        db.session().add(
            IdempotentRequest(
                user_id=billing_staff.id,
                organization_id=billing_staff.organization_id,
                key_hash=request.key_hash,
                request_hash="old",
                response_status=201,
                response_body="{}",
                created_at=db.utcnow() - idempotency.KEPT_FOR - timedelta(hours=1),
            )
        )
        db.session().flush()
    tries = _losing_first_step_once(monkeypatch)

    answer = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json=body,
        headers={**bearer(billing_staff), "Idempotency-Key": key},
    )

    # The base: 503 after one try ("a unit of work of it had committed": the look-up).
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert tries == [1, 2]
    (refund,) = refunds_of(credit)
    assert answer.get_json()["id"] == refund.id
    found = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )["data"]
    assert [each["amount"] for each in found] == [4000]  # Stripe asked once
    assert _keys(billing_staff) == 1
    again = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json=body,
        headers={**bearer(billing_staff), "Idempotency-Key": key},
    )
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert len(refunds_of(credit)) == 1
