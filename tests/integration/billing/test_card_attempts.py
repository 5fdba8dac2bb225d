"""At most one card payment in flight per invoice: concurrent and repeated
requests against localstripe never charge a card twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from licensing import db, migrations
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.billing import payment_gateway, services
from licensing.billing.models import Invoice, Payment, StripeCustomer
from licensing.db import utcnow
from licensing.errors import ExternalServiceError
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories, settings
from tests.support.billing import logged, paid_offline
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.servers import LocalStripe

from .stripe_support import _call, card_token, events_for, signed, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _intents_of(localstripe: LocalStripe, organization_id: int) -> list[dict[str, Any]]:
    """Every PaymentIntent localstripe holds for the organization's Customer."""
    customer = (
        db.session()
        .scalars(
            select(StripeCustomer.stripe_customer_id).where(
                StripeCustomer.organization_id == organization_id
            )
        )
        .one()
    )
    intents: list[dict[str, Any]] = []
    after = ""
    for _page in range(100):  # bounded: localstripe pages 100 at a time
        page = _call(localstripe, "GET", f"/v1/payment_intents?limit=100{after}")
        intents += [i for i in page["data"] if i.get("customer") == customer]
        if not page.get("has_more") or not page["data"]:
            break
        after = f"&starting_after={page['data'][-1]['id']}"
    return intents


def _statuses(intents: list[dict[str, Any]]) -> list[str]:
    return sorted(intent["status"] for intent in intents)


def _signed_in_client(app: Flask, user_email: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/sign-in", data={"email": user_email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def test_two_card_payments_posted_at_the_same_moment_charge_the_card_once(
    committed_app: Flask, localstripe: LocalStripe
) -> None:
    with committed_app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id, ("420.00",)))
        assert invoice is not None
        invoice_id, email, organization_id = invoice.id, vendor.email, vendor.organization_id
    clients = [_signed_in_client(committed_app, email) for _ in range(2)]
    tokens = [card_token(localstripe) for _ in range(2)]
    start = threading.Barrier(2)
    answers: list[tuple[int, dict[str, Any]]] = []
    failures: list[BaseException] = []

    def pay(client: FlaskClient, token: str) -> None:
        try:
            start.wait(timeout=30)
            response = client.post(
                f"/portal/invoices/{invoice_id}/card-payments", json={"token": token}
            )
            answers.append((response.status_code, response.get_json()))
        except BaseException as exc:  # reported below with the thread's own error
            failures.append(exc)

    threads = [
        threading.Thread(target=pay, args=(c, t)) for c, t in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert [status for status, _ in answers] == [200, 200], answers
    assert {body["status"] for _, body in answers} == {"succeeded"}
    with committed_app.app_context():
        intents = _intents_of(localstripe, organization_id)
        payments = db.session().scalars(select(Payment).where(Payment.invoice_id == invoice_id))
        rows = [(p.state, p.amount) for p in payments]
    # One intent took the money; any other was canceled before it was confirmed.
    assert _statuses(intents).count("succeeded") == 1
    assert set(_statuses(intents)) <= {"succeeded", "canceled"}
    assert rows == [("pending", Decimal("420.00"))]


def test_a_second_payment_right_after_the_first_succeeded_reuses_it_and_charges_nothing(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("99.00",))
    signed_in(client, vendor)
    url = f"/portal/invoices/{invoice.id}/card-payments"
    first = client.post(url, json={"token": card_token(localstripe)})
    again = client.post(url, json={"token": card_token(localstripe)})
    assert first.status_code == again.status_code == 200
    assert again.get_json()["status"] == "succeeded"
    assert again.get_json()["redirect"] == first.get_json()["redirect"]  # the same payment
    assert _statuses(_intents_of(localstripe, vendor.organization_id)) == ["succeeded"]


def test_a_paid_invoice_takes_no_new_card_attempt_and_the_409_says_why(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("99.00",))
    signed_in(client, vendor)
    url = f"/portal/invoices/{invoice.id}/card-payments"
    assert client.post(url, json={"token": card_token(localstripe)}).status_code == 200
    payment = db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    assert payment.stripe_payment_intent_id
    (event,) = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    payload, headers = signed(event)
    assert client.post("/webhooks/stripe", data=payload, headers=headers).status_code == 200
    refused = client.post(url, json={"token": card_token(localstripe)})
    assert refused.status_code == 409
    assert f"Invoice {invoice.number} is already paid" in refused.get_json()["error"]
    assert _statuses(_intents_of(localstripe, vendor.organization_id)) == ["succeeded"]


def test_the_409_names_the_office_s_day_an_invoice_was_paid_in_its_evening(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # Paid at 21:30 at the office on 21 January (03:30 UTC on the 22nd): the refusal
    # names the office's day, as the PDF's stamp and the export's paid_date (round 46).
    invoice = invoice_for(vendor, ("99.00",))
    evening = datetime(2027, 1, 22, 3, 30, tzinfo=UTC)
    paid_offline(invoice.id, "99.00", "WIRE-46", received_on=date(2027, 1, 21), now=evening)
    signed_in(client, vendor)
    url = f"/portal/invoices/{invoice.id}/card-payments"
    refused = client.post(url, json={"token": card_token(localstripe)})
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    # The pay page's script shows it as text: the day in words (round 59).
    assert f"Invoice {invoice.number} is already paid on January 21, 2027:" in error


class _FlakyConfirm:
    """The real gateway, recording idempotency keys; the first confirm reaches
    Stripe but its answer is lost (as when the connection drops)."""

    def __init__(self, real: payment_gateway.PaymentGateway) -> None:
        self.real = real
        self.keys: list[tuple[str, str]] = []
        self.lost = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if "idempotency_key" in kwargs:
                self.keys.append((name, kwargs["idempotency_key"]))
            answer = method(*args, **kwargs)
            if name == "confirm_payment_intent" and not self.lost:
                self.lost = True
                raise ExternalServiceError("Stripe did not complete the request: timed out")
            return answer

        return call


def test_a_retried_request_reuses_the_attempt_its_intent_and_its_idempotency_keys(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("150.00",))
    flaky = _FlakyConfirm(settings.gateway())
    principal = accounts.principal_for(vendor)
    with pytest.raises(ExternalServiceError):
        services.start_card_payment(
            invoice.id,
            card_token=card_token(localstripe),
            principal=principal,
            gateway=flaky,
        )
    retried = services.start_card_payment(
        invoice.id,
        card_token=card_token(localstripe),
        principal=principal,
        gateway=flaky,
    )
    payment = db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    assert retried.payment_id == payment.id
    assert retried.status == "succeeded"
    key = payment.idempotency_key
    assert key
    assert ("create_payment_intent", key) in flaky.keys
    assert [k for name, k in flaky.keys if name == "create_payment_intent"] == [key]
    assert _statuses(_intents_of(localstripe, vendor.organization_id)) == ["succeeded"]


def test_a_retry_while_the_intent_awaits_confirmation_confirms_that_intent_not_a_new_one(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    """The first request died between creating its intent and confirming it."""
    invoice = invoice_for(vendor, ("75.00",))
    principal = accounts.principal_for(vendor)

    class DiesBeforeConfirm(_FlakyConfirm):
        def __getattr__(self, name: str) -> Any:
            if name == "confirm_payment_intent" and not self.lost:
                self.lost = True

                def crash(*args: Any, **kwargs: Any) -> Any:
                    raise ExternalServiceError("the worker was restarted")

                return crash
            return super().__getattr__(name)

    dies = DiesBeforeConfirm(settings.gateway())
    with pytest.raises(ExternalServiceError):
        services.start_card_payment(
            invoice.id,
            card_token=card_token(localstripe),
            principal=principal,
            gateway=dies,
        )
    (waiting,) = _intents_of(localstripe, vendor.organization_id)
    assert waiting["status"] == "requires_confirmation"
    retried = services.start_card_payment(
        invoice.id,
        card_token=card_token(localstripe),
        principal=principal,
        gateway=dies,
    )
    assert retried.status == "succeeded"
    (charged,) = _intents_of(localstripe, vendor.organization_id)
    assert charged["id"] == waiting["id"]


def test_the_database_refuses_a_second_open_card_attempt_for_an_invoice(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("10.00",))

    def attempt(state: str, key: str) -> Payment:
        return Payment(
            invoice_id=invoice.id,
            organization_id=invoice.organization_id,
            method="card",
            state=state,
            currency="USD",
            amount=Decimal("10.00"),
            idempotency_key=key,
            recorded_by=vendor.email,
        )

    session = db.session()
    with session.begin_nested():
        session.add_all([attempt("failed", "k-1"), attempt("canceled", "k-2")])
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(attempt("pending", "k-3"))


class _StripeDown(_FlakyConfirm):
    """Stripe cannot be reached for PaymentIntents at all."""

    def create_payment_intent(self, **kwargs: Any) -> Any:
        raise ExternalServiceError("Stripe did not complete the request: connection refused")


def test_an_attempt_that_never_reached_stripe_is_reused_by_a_retry_or_canceled_by_reconcile(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    principal = accounts.principal_for(vendor)
    retried_invoice, abandoned_invoice = invoice_for(vendor, ("30.00",)), invoice_for(vendor)
    down = _StripeDown(settings.gateway())
    for invoice in (retried_invoice, abandoned_invoice):
        with pytest.raises(ExternalServiceError):
            services.start_card_payment(
                invoice.id,
                card_token=card_token(localstripe),
                principal=principal,
                gateway=down,
            )
    first = (
        db.session().scalars(select(Payment).where(Payment.invoice_id == retried_invoice.id)).one()
    )
    assert (first.state, first.stripe_payment_intent_id) == ("pending", None)
    retried = services.start_card_payment(
        retried_invoice.id,
        card_token=card_token(localstripe),
        principal=principal,
        gateway=settings.gateway(),
    )
    assert (retried.payment_id, retried.status) == (first.id, "succeeded")
    later = (utcnow() + timedelta(hours=1)).isoformat()
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--now", later])
    assert result.exit_code == 0, result.output
    abandoned = (
        db.session()
        .scalars(select(Payment).where(Payment.invoice_id == abandoned_invoice.id))
        .one()
    )
    db.session().refresh(abandoned)
    assert abandoned.state == "canceled"
    assert "never reached Stripe" in (abandoned.note or "")


def test_reconcile_cancels_abandoned_attempts_the_longest_waiting_first_then_in_the_order_made(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    principal = accounts.principal_for(vendor)
    invoices = [invoice_for(vendor, ("30.00",)) for _ in range(3)]
    down = _StripeDown(settings.gateway())
    for invoice in invoices:
        with pytest.raises(ExternalServiceError):
            services.start_card_payment(
                invoice.id, card_token=card_token(localstripe), principal=principal, gateway=down
            )
    session = db.session()
    made = [
        session.scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
        for invoice in invoices
    ]
    # The second was made first; the first and the third in one moment.
    started = utcnow() - timedelta(hours=3)
    for payment, minutes in zip(made, (10, 0, 10), strict=True):
        payment.created_at = started + timedelta(minutes=minutes)
    session.commit()
    report = services.reconcile_payments(
        gateway=settings.gateway(), now=utcnow() + timedelta(hours=1)
    )
    expected = [made[1], made[0], made[2]]
    assert report.outcomes == [
        f"{logged(payment)}: canceled, it never reached Stripe" for payment in expected
    ]


def test_upgrading_closes_duplicate_failed_attempts_and_stops_on_duplicate_pending_ones(
    committed_app: Flask,
) -> None:
    """Databases written before billing_0002 may hold the double charge's traces."""
    url = committed_app.config["LICENSING"].database_url
    with committed_app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id, ("10.00",)))
        assert invoice is not None
        invoice_id, organization_id = invoice.id, vendor.organization_id
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.downgrade(url, "billing_0001")

    def attempts(*states: str) -> list[int]:
        # Only the columns billing_0001 has: the model's later ones are not there yet.
        with committed_app.app_context(), db.transaction() as session:
            ids = [
                session.execute(
                    insert(Payment.__table__).values(
                        invoice_id=invoice_id,
                        organization_id=organization_id,
                        method="card",
                        state=state,
                        currency="USD",
                        amount=Decimal("10.00"),
                        recorded_by="vendor@example.test",
                        created_at=utcnow(),
                    )
                ).inserted_primary_key[0]
                for state in states
            ]
        committed_app.extensions["licensing.db"].engine.dispose()
        return ids

    older, newer = attempts("failed", "failed")
    migrations.upgrade(url)
    with committed_app.app_context():
        found = {
            row.id: (row.state, row.declined_at is not None)
            for row in db.session().execute(select(Payment.id, Payment.state, Payment.declined_at))
        }
    committed_app.extensions["licensing.db"].engine.dispose()
    # Both were declines: billing_0003 marks them so, whatever billing_0002 closed.
    assert (found[older], found[newer]) == (("canceled", True), ("failed", True))
    migrations.downgrade(url, "billing_0001")
    attempts("pending", "pending")
    with pytest.raises(RuntimeError, match="payments reconcile"):
        migrations.upgrade(url)


def test_a_request_that_loses_the_race_to_store_its_intent_cancels_it_unconfirmed(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    """Deterministically, the interleaving the threaded test may or may not hit:
    while one request waits for Stripe to create its intent, another request
    for the same invoice creates, stores and confirms its own."""
    invoice = invoice_for(vendor, ("64.00",))
    principal = accounts.principal_for(vendor)
    answers: list[services.CardAttempt] = []

    class Interleaved(_FlakyConfirm):
        def create_payment_intent(self, **kwargs: Any) -> Any:
            created = self.real.create_payment_intent(**kwargs)
            if not self.lost:  # the other request runs to the end before this answer lands
                self.lost = True
                answers.append(
                    services.start_card_payment(
                        invoice.id,
                        card_token=card_token(localstripe),
                        principal=principal,
                        gateway=settings.gateway(),
                    )
                )
            return created

    late = services.start_card_payment(
        invoice.id,
        card_token=card_token(localstripe),
        principal=principal,
        gateway=Interleaved(settings.gateway()),
    )
    (first,) = answers
    assert (late.payment_id, late.status) == (first.payment_id, "succeeded")
    assert _statuses(_intents_of(localstripe, vendor.organization_id)) == ["canceled", "succeeded"]
    payment = db.session().get(Payment, first.payment_id)
    assert payment is not None
    db.session().refresh(payment)
    kept = _call(localstripe, "GET", f"/v1/payment_intents/{payment.stripe_payment_intent_id}")
    assert kept["status"] == "succeeded"


def test_a_card_attempt_giving_its_token_twice_is_a_400_in_json_and_asks_stripe_nothing(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 55: the pay page's script reads JSON answers; a body giving `token` twice
    (which token was charged depended on the reader) is refused in JSON, not with the
    HTML error page the app's JSON reader's refusal would have made."""
    invoice = invoice_for(vendor, ("99.00",))
    signed_in(client, vendor)
    url = f"/portal/invoices/{invoice.id}/card-payments"
    body = f'{{"token": "{card_token(localstripe)}", "token": "{card_token(localstripe)}"}}'
    refused = client.post(url, data=body, content_type="application/json")
    assert refused.status_code == 400
    assert refused.mimetype == "application/json"
    assert list(refused.get_json()["errors"]) == ["token"]
    assert db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).all() == []
    assert db.session().scalars(select(StripeCustomer)).all() == []  # Stripe not asked
