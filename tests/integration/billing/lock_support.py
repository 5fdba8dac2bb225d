"""Two billing steps run at once on two threads and two connections, for the lock
order's tests (`licensing/billing/services/__init__.py`): an invoice paid by card,
Stripe refunding at once, and the runner that starts the second step once the first
holds its first lock.

On PostgreSQL each connection waits at most `LOCK_TIMEOUT` for a row lock, so a step
stuck behind another fails the test ("canceling statement due to lock timeout")
instead of hanging it; two steps waiting for each other fail sooner, with
PostgreSQL's "deadlock detected". On SQLite one writer at a time makes the steps
take turns: the tests check that both finish there too."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.billing import payment_gateway, services
from licensing.billing.models import Invoice, Payment
from licensing.billing.payment_gateway import IntentStatus
from licensing.billing.services.settlement import _new_payment, count_payment
from licensing.billing.states import CARD, PENDING, SUCCEEDED
from tests.support import factories
from tests.support.factories import billing_clerk

from .conftest import activated, send_activation

INTENT, CHARGE = "pi_LockOrder", "ch_LockOrder"
PAID_AT = datetime(2027, 1, 20, 15, 0, tzinfo=UTC)
# How long the first step, holding its lock, waits for the second's first lock.
HOLD_SECONDS = 3
LOCK_TIMEOUT = "15s"


class RefundingGateway:
    """Stripe refunding the card at once (only `create_refund` is asked)."""

    def create_refund(self, **asked: Any) -> payment_gateway.RefundStatus:
        return payment_gateway.RefundStatus(
            id=f"re_LockOrder_{asked['metadata']['refund_id']}",
            status="succeeded",
            amount=asked["amount_minor"],
            currency="USD",
            metadata=asked["metadata"],
            payment_intent=asked["payment_intent_id"],
        )


def card_paid(
    app: Flask, *, charge: str | None = CHARGE, pending: bool = False
) -> tuple[int, int, int]:
    """A 250.00 invoice of a new vendor's paid by card (`charge`: the charge the
    payment kept, None for one confirmed before payments kept their charge;
    `pending`: Stripe has not answered yet, nothing counted): the organization's, the
    invoice's and the payment's ids."""
    with app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id
        db.session().commit()
        issued = send_activation(activated(organization_id, ("250.00",)))
        assert issued is not None
        with db.transaction() as session:
            invoice = session.get(Invoice, issued.id)
            assert invoice is not None
            payment = card_payment(
                session, invoice, "250.00", INTENT, PAID_AT, charge=charge, pending=pending
            )
            if not pending:
                count_payment(session, invoice, payment, actor=Actor.SYSTEM, now=PAID_AT)
            return organization_id, issued.id, payment.id


def card_payment(
    session: Session,
    invoice: Invoice,
    amount: str,
    intent: str,
    at: datetime,
    *,
    charge: str | None = None,
    pending: bool = False,
) -> Payment:
    """A card payment of `amount` that succeeded `at` (or, `pending`, was started
    then), recorded on the invoice (locked by the caller, as every card payment is
    recorded), not counted against it."""
    payment = _new_payment(
        session,
        invoice,
        action="payment.started" if pending else "payment.succeeded",
        actor=Actor.SYSTEM,
        now=at,
        method=CARD,
        state=PENDING if pending else SUCCEEDED,
        amount=Decimal(amount),
        received_on=None if pending else at.date(),
        stripe_payment_intent_id=intent,
        stripe_charge_id=charge,
    )
    session.flush()
    return payment


def succeeded(payment_id: int, invoice_id: int, *, cents: int = 25000) -> IntentStatus:
    """Stripe's word that the payment's PaymentIntent (`INTENT`) took `cents`, as a
    `payment_intent.succeeded` webhook carries it."""
    return IntentStatus(
        id=INTENT,
        status="succeeded",
        amount=cents,
        currency="USD",
        metadata={"payment_id": str(payment_id), "invoice_id": str(invoice_id)},
        amount_received=cents,
        client_secret=None,
        charge=CHARGE,
    )


def card_paid_and_credited(app: Flask) -> tuple[int, int, int]:
    """`card_paid`, with a credit note of 50.00 to refund to the card: the invoice's,
    the payment's and the credit note's ids."""
    _organization_id, invoice_id, payment_id = card_paid(app)
    with app.app_context():
        credit = services.issue_credit_note(
            invoice_id, amount=Decimal("50.00"), reason="Overbilled", actor=billing_clerk()
        )
        return invoice_id, payment_id, credit.id


@contextmanager
def lock_waits_bounded(app: Flask) -> Iterator[Engine]:
    """The app's engine, whose PostgreSQL connections wait at most `LOCK_TIMEOUT` for
    a lock while the block runs (the pool is emptied, so every connection is new)."""
    engine: Engine = app.extensions["licensing.db"].engine

    def bounded(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.close()
        dbapi_connection.commit()

    if engine.dialect.name != "postgresql":
        yield engine
        return
    engine.dispose()
    event.listen(engine, "connect", bounded)
    try:
        yield engine
    finally:
        event.remove(engine, "connect", bounded)
        engine.dispose()


def run_at_once(
    app: Flask,
    first: Callable[[], Any],
    second: Callable[[], Any],
    first_holds: threading.Event,
) -> dict[str, Any]:
    """Run `first` and `second` on threads named "first" and "second", each in the
    app's context, `second` started once `first_holds` is set (by the test's hook,
    when `first` holds its lock; or when `first` fails). Returns what each returned,
    by name; any thread's error (a deadlock, a lock timeout) is raised."""
    failures: list[BaseException] = []
    results: dict[str, Any] = {}

    def running(name: str, step: Callable[[], Any]) -> None:
        try:
            if name == "second":
                first_holds.wait(30)
            with app.app_context():
                results[name] = step()
        except BaseException as error:  # raised below, with the thread's own traceback
            failures.append(error)
            first_holds.set()

    threads = [
        threading.Thread(target=running, args=(name, step), name=name)
        for name, step in (("first", first), ("second", second))
    ]
    with lock_waits_bounded(app):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    if failures:
        raise failures[0]
    return results
