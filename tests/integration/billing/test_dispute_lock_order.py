"""Round 54: matching a dispute kept unmatched and a webhook of the same dispute, at
once, both finish: each takes the dispute kept unmatched first, then the payment,
then the invoice (the lock order, `licensing/billing/services/__init__.py`).

`match_disputes` locked the kept dispute, then the payment and the invoice; a
webhook of the same dispute locked the payment and the invoice, recorded the
dispute, and locked the kept dispute last to mark it matched. On PostgreSQL the two,
each holding its first row, waited for each other's and one was aborted ("deadlock
detected"). The test holds the match, with the kept dispute locked, until the
webhook reaches the kept dispute (or is seen waiting for a lock: in the one order the
webhook waits for the match's lock on the kept dispute at its start).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from licensing import db
from licensing.actors import Actor
from licensing.billing import payment_gateway, services
from licensing.billing.models import Invoice, Payment, PaymentDispute, UnmatchedDispute
from licensing.billing.services import disputes

from .dispute_support import OPENED, WITHDRAWN, dispute_event
from .lock_support import CHARGE, card_paid, run_at_once, wait_for_second

MATCHED_AT = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)


def _event(app: Flask, payment_id: int, kind: str, moved: tuple[datetime, ...]) -> dict[str, Any]:
    """Stripe's `charge.dispute.<kind>` of the payment's charge for 200.00, naming
    the charge only (an older API version), as `with_intent_of_charge` leaves it."""
    with app.app_context():
        payment = db.session().get(Payment, payment_id)
        assert payment is not None
        return dispute_event(
            f"charge.dispute.{kind}",
            payment,
            CHARGE,
            amount=20000,
            moved=moved,
            with_intent=False,
            told=OPENED if kind == "created" else WITHDRAWN,
        )


def _apply(event: dict[str, Any], *, not_asked: str | None = None) -> str:
    with db.transaction() as session:
        return disputes.apply_dispute(
            session,
            event["type"],
            payment_gateway.dispute_status_from_event(event["data"]["object"]),
            now=datetime.fromtimestamp(event["created"], UTC),
            actor=Actor.SYSTEM,
            dispute_object=event["data"]["object"],
            not_asked=not_asked,
            told_at=datetime.fromtimestamp(event["created"], UTC),
        )


def _kept_then_charge_known(app: Flask) -> tuple[int, int]:
    """A card payment confirmed before payments kept their charge, disputed while
    Stripe could not be asked for the charge's PaymentIntent (the dispute kept
    unmatched), whose charge is known now: `match_disputes` will find it."""
    _organization_id, invoice_id, payment_id = card_paid(app, charge=None)
    created = _event(app, payment_id, "created", ())
    with app.app_context():
        said = _apply(created, not_asked="Stripe could not be asked for charge ch_LockOrder")
        assert said.startswith("not matched")
        with db.transaction() as session:
            payment = session.get(Payment, payment_id)
            assert payment is not None
            payment.stripe_charge_id = CHARGE
    return invoice_id, payment_id


@pytest.fixture
def match_holds(committed_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Set once the match (the thread "first"), holding the kept dispute, looks for
    its payment; it then waits until the webhook (the thread "second") sends its
    first statement about a kept dispute, or is seen waiting for a lock."""
    holds, webhook_there = threading.Event(), threading.Event()
    real = disputes._disputed_payment

    def finding(session: Any, seen: Any) -> Payment | None:
        if threading.current_thread().name == "first" and not holds.is_set():
            holds.set()
            wait_for_second(webhook_there)
        return real(session, seen)

    def reaching(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name == "second" and "unmatched_disputes" in statement:
            webhook_there.set()

    monkeypatch.setattr(disputes, "_disputed_payment", finding)
    engine = committed_app.extensions["licensing.db"].engine
    event.listen(engine, "before_cursor_execute", reaching)
    yield holds
    event.remove(engine, "before_cursor_execute", reaching)


def test_matching_a_kept_dispute_and_a_webhook_of_it_at_once_both_finish(
    committed_app: Flask, match_holds: threading.Event
) -> None:
    invoice_id, payment_id = _kept_then_charge_known(committed_app)
    withdrawn = _event(committed_app, payment_id, "funds_withdrawn", (WITHDRAWN,))

    def match() -> services.MatchRun:
        return services.match_disputes(None, actor=Actor.SYSTEM, now=MATCHED_AT)

    results = run_at_once(committed_app, match, lambda: _apply(withdrawn), match_holds)

    run, webhook = results["first"], results["second"]
    assert (len(run.matched), run.still, run.dropped) == (1, [], [])
    assert "withdrawal of 200.00 booked" in webhook
    with committed_app.app_context():
        session = db.session()
        recorded = session.scalars(select(PaymentDispute)).one()
        kept = session.scalars(select(UnmatchedDispute)).one()
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        assert (recorded.payment_id, recorded.reversal_id is not None) == (payment_id, True)
        assert (kept.matched_at is not None, kept.dispute_id) == (True, recorded.id)
        # 250.00 paid, 200.00 withdrawn by the bank's dispute: 200.00 owed again.
        assert invoice.owed == Decimal("200.00")
