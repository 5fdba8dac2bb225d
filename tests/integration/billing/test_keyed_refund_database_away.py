"""Round 61 (outage61b): a card refund sent with an `Idempotency-Key`, whose steps are
units of work of their own (the key looked up; the key and the refund stored
`pending`; Stripe asked; Stripe's answer recorded; the key's answer stored), with
PostgreSQL stopped between two of them, as a restart stops it, and started again.

A server of this module's own (`pg_ctl stop -m fast`, `tests/support/servers.py`'s
`halt` and `resume`), the real localstripe. In each window the client is answered 503
with `Retry-After: 10`, and the same request sent again with its key once the server is
back is carried out once: one refund, one Stripe refund, never a second and never a
refund recorded without the money asked of Stripe. Before, a 503 after the refund was
stored and Stripe asked said "nothing of it was saved", which was untrue (sent again
without its key, a refund of a smaller amount would be made twice). A give-back of a
flagged card payment, keyed, is built the same way and walked once too."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db, migrations
from licensing.app import create_app
from licensing.billing import idempotency
from licensing.billing.cli import reconcile_due
from licensing.billing.models import Payment, Refund
from licensing.billing.services import giving_back, refunds
from tests.conftest import make_config, unavailable
from tests.support import factories
from tests.support.servers import LocalStripe, PostgresServer, ServerUnavailable

from .conftest import activated, send_activation
from .refund_support import card_paid_and_credited
from .stripe_support import _call, flagged_card_payment, stripe_config

KEY = "refund-across-a-restart"
BODY = {"method": "card", "amount": "40.00"}
NOTHING_SAVED = (
    "The service could not reach its database just now, so this request was not "
    "completed and nothing of it was saved. Try again in 10 seconds."
)
PART_WAY = (
    "The service lost its database part way through this request, after part of it was "
    "done, so it could not answer. Send it again with the same Idempotency-Key in 10 "
    "seconds: the answer says what was done, and nothing is done twice."
)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, to stop and start."""
    try:
        found = PostgresServer().start()
    except ServerUnavailable as exc:
        unavailable(f"PostgreSQL: {exc}")
    yield found
    found.stop()


@pytest.fixture
def office(server: PostgresServer, localstripe: LocalStripe) -> Iterator[dict[str, Any]]:
    """The app on a fresh database of the server, Stripe its localstripe: a 90.00
    invoice paid by card and credited in full, a billing clerk's token; the server
    running again after."""
    url = server.create_database(f"keyed_{factories._unique()}")
    migrations.upgrade(url)
    application = create_app(make_config(url, **stripe_config(localstripe)))
    try:
        with application.app_context():
            session = db.session()
            vendor = factories.make_vendor(session)
            clerk = factories.make_staff(session, roles=("billing",))
            session.commit()
            client = application.test_client()
            credit, payment = card_paid_and_credited(client, vendor, localstripe, _invoice_for)
            _invoice, flagged = flagged_card_payment(
                client, vendor, localstripe, _invoice_for, received=29999
            )
            office = {
                "app": application,
                "flagged_id": flagged.id,
                "flagged_intent": flagged.stripe_payment_intent_id,
                "client": client,
                "credit_id": credit.id,
                "intent": payment.stripe_payment_intent_id,
                "headers": {**factories.bearer(clerk), idempotency.HEADER: KEY},
            }
            session.commit()
            yield office
    finally:
        with contextlib.suppress(ServerUnavailable):  # running already
            server.resume()
        application.extensions["licensing.db"].engine.dispose()


def _invoice_for(owner: Any, amounts: tuple[str, ...]) -> Any:
    return send_activation(activated(owner.organization_id, amounts))


def _refund(office: dict[str, Any]) -> Any:
    return office["client"].post(
        f"/api/v1/credit-notes/{office['credit_id']}/refunds", json=BODY, headers=office["headers"]
    )


def _stored(office: dict[str, Any]) -> list[tuple[int, str]]:
    """The credit note's refunds, as stored: id and state."""
    session = db.session()
    session.rollback()
    rows = session.execute(
        select(Refund.id, Refund.state).where(Refund.credit_note_id == office["credit_id"])
    )
    return [(refund_id, state) for refund_id, state in rows]


def _at_stripe(
    office: dict[str, Any], localstripe: LocalStripe, intent: str = "intent"
) -> list[int]:
    """The amounts Stripe refunded on the card's PaymentIntent, in minor units."""
    found = _call(localstripe, "GET", f"/v1/refunds?payment_intent={office[intent]}")["data"]
    return [each["amount"] for each in found]


def _told_to_try_again(answer: Any, detail: str) -> None:
    assert answer.status_code == 503, answer.get_data(as_text=True)[:2000]
    assert answer.headers["Retry-After"] == str(db.UNAVAILABLE_RETRY_AFTER_SECONDS)
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["detail"] == detail


def _stopping_the_server_before(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, server: PostgresServer
) -> Callable[[], None]:
    """`module.name` stops the server before it runs (once); returns the undoing."""
    original = getattr(module, name)

    def stopped_first(*args: Any, **kwargs: Any) -> Any:
        server.halt()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, stopped_first)
    return lambda: monkeypatch.setattr(module, name, original)


def test_the_database_stopped_inside_the_first_step_keeps_nothing_and_the_retry_refunds_once(
    server: PostgresServer,
    office: dict[str, Any],
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped once the key and the pending refund were written, before their commit:
    the server rolls the step back, so nothing is kept, the key neither, and Stripe is
    not asked."""
    original = refunds._new_refund
    stopped: list[bool] = []

    def stopped_after_writing(session: Any, *args: Any, **kwargs: Any) -> Any:
        made = original(session, *args, **kwargs)
        if not stopped:
            stopped.append(True)
            session.flush()
            server.halt()
        return made

    monkeypatch.setattr(refunds, "_new_refund", stopped_after_writing)
    _told_to_try_again(_refund(office), NOTHING_SAVED)
    server.resume()
    assert _stored(office) == []
    assert _at_stripe(office, localstripe) == []

    again = _refund(office)
    assert again.status_code == 201, again.get_json()
    assert "Idempotent-Replayed" not in again.headers  # carried out: the first kept nothing
    assert _stored(office) == [(again.get_json()["id"], "succeeded")]
    assert _at_stripe(office, localstripe) == [4000]


def test_the_database_stopped_after_stripe_was_asked_is_a_503_saying_so_then_the_retry_answers_it(
    server: PostgresServer,
    office: dict[str, Any],
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped after the pending refund was stored and Stripe refunded the card, before
    Stripe's answer was recorded: the refund stays `pending`, its amount held; the key
    holds the refund as created, which answers the retry; `payments reconcile` records
    Stripe's answer, once."""
    undo = _stopping_the_server_before(monkeypatch, refunds, "apply_refund_outcome", server)
    _told_to_try_again(_refund(office), PART_WAY)
    undo()
    server.resume()
    ((refund_id, state),) = _stored(office)
    assert state == "pending"
    assert _at_stripe(office, localstripe) == [4000]

    again = _refund(office)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert (again.get_json()["id"], again.get_json()["state"]) == (refund_id, "pending")
    assert _stored(office) == [(refund_id, "pending")]
    assert _at_stripe(office, localstripe) == [4000]  # not asked again

    later = db.utcnow() + timedelta(hours=1)
    reconcile_due(now=later)
    reconcile_due(now=later + timedelta(hours=1))
    assert _stored(office) == [(refund_id, "succeeded")]
    third = _refund(office)
    assert (third.status_code, third.get_json()["id"]) == (201, refund_id)
    assert _at_stripe(office, localstripe) == [4000]


def test_the_database_stopped_before_the_keys_answer_was_stored_then_the_retry_answers_the_refund(
    server: PostgresServer,
    office: dict[str, Any],
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped after Stripe's answer was recorded (the refund `succeeded`), before the
    request's answer was stored under its key: the key still holds the refund as
    created, which answers the retry (`GET /refunds/{id}` says what it is now)."""
    undo = _stopping_the_server_before(monkeypatch, idempotency, "finish", server)
    _told_to_try_again(_refund(office), PART_WAY)
    undo()
    server.resume()
    ((refund_id, state),) = _stored(office)
    assert state == "succeeded"

    again = _refund(office)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert (again.get_json()["id"], again.get_json()["state"]) == (refund_id, "pending")
    assert _stored(office) == [(refund_id, "succeeded")]
    assert _at_stripe(office, localstripe) == [4000]
    now = office["client"].get(f"/api/v1/refunds/{refund_id}", headers=office["headers"])
    assert now.get_json()["state"] == "succeeded"


def test_a_keyed_give_back_whose_database_stopped_after_stripe_was_asked_gives_back_once(
    server: PostgresServer,
    office: dict[str, Any],
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The give-back's steps are the refund's (the key with the payment `giving_back`;
    Stripe asked; its answer recorded): stopped before the answer was recorded, the
    retry with the key is answered with the payment as asked, Stripe is asked once, and
    `payments reconcile` brings the answer in, once."""
    original = giving_back._locked_payment
    calls: list[int] = []

    def stopped_the_second_time(session: Any, payment_id: int) -> Any:
        calls.append(payment_id)
        if len(calls) == 2:  # after the ask's commit and Stripe's answer
            server.halt()
        return original(session, payment_id)

    monkeypatch.setattr(giving_back, "_locked_payment", stopped_the_second_time)
    url = f"/api/v1/payments/{office['flagged_id']}/give-back"
    body = {"reason": "Paid 299.99 of 300.00; the licensee pays again in full."}
    headers = {**office["headers"], idempotency.HEADER: "give-back-across-a-restart"}
    _told_to_try_again(office["client"].post(url, json=body, headers=headers), PART_WAY)
    monkeypatch.setattr(giving_back, "_locked_payment", original)
    server.resume()
    assert _at_stripe(office, localstripe, "flagged_intent") == [30000]  # all Stripe took

    again = office["client"].post(url, json=body, headers=headers)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert again.get_json()["state"] == "giving_back"
    later = db.utcnow() + timedelta(hours=1)
    reconcile_due(now=later)
    reconcile_due(now=later + timedelta(hours=1))
    session = db.session()
    session.rollback()
    assert session.get(Payment, office["flagged_id"]).state == "given_back"
    assert _at_stripe(office, localstripe, "flagged_intent") == [30000]  # all Stripe took
