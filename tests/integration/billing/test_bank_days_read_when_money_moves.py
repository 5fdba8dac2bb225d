"""Round 63 (hot63): `billing.bank_days` read an invoice's bank days again after every
flush that stored, deleted or changed what they read, though many such flushes move no
money: a draft made and edited, a card payment begun or declined, a refund asked of
Stripe, an issued invoice paid or written off (its state, not its events). It now reads
them only after a flush whose records are one of the events the days read, before or
after it (`bank_days._moves`), and the read is one statement built once.

The days stay exact: through a card payment's and a card refund's lives, written
through the ORM as the Stripe steps write them (begun, declined, given up, begun again,
settled; a refund pending, sent, returned by the bank), every invoice keeps after every flush
what its events give, and the flushes that move no money read nothing. On both
databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask
from sqlalchemy import event, select

from licensing import db
from licensing.billing import bank_days
from licensing.billing.models import Invoice, Payment, Refund
from tests.support.billing import credited
from tests.support.monthly_statements import IN_JANUARY, invoice, organization

SETTLED = datetime(2027, 1, 20, 16, 0, tzinfo=UTC)
REFUNDED = datetime(2027, 1, 25, 16, 0, tzinfo=UTC)
RETURNED = datetime(2027, 1, 29, 16, 0, tzinfo=UTC)


def _kept() -> dict[int, tuple[date | None, date | None]]:
    rows = db.session().execute(
        select(Invoice.id, Invoice.bank_paid_on, Invoice.bank_owing_since).order_by(Invoice.id)
    )
    return {row.id: (row.bank_paid_on, row.bank_owing_since) for row in rows}


def _given() -> dict[int, tuple[date | None, date | None]]:
    """What every invoice's events give, read afresh."""
    ids = list(db.session().scalars(select(Invoice.id).order_by(Invoice.id)))
    return bank_days.read(db.session(), ids)


@contextmanager
def _reads_of_the_days() -> Iterator[list[str]]:
    """The statements that read the bank days, as they run."""
    read: list[str] = []

    def noted(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "bank_events" in statement:
            read.append(statement)

    engine = db.session().get_bind()
    event.listen(engine, "before_cursor_execute", noted)
    try:
        yield read
    finally:
        event.remove(engine, "before_cursor_execute", noted)


def _flushed(*, reads: bool) -> None:
    """Flush the session: the days kept are then what the events give, read again
    only by a flush that may move them."""
    with _reads_of_the_days() as read:
        db.session().flush()
    assert bool(read) is reads
    assert _kept() == _given()


def _card(invoice_id: int, organization_id: int, amount: str, state: str) -> Payment:
    return Payment(
        invoice_id=invoice_id,
        organization_id=organization_id,
        method="card",
        state=state,
        currency="USD",
        amount=Decimal(amount),
        recorded_by="stripe",
    )


def test_a_card_payments_life_reads_the_days_only_when_it_moves_money(app: Flask) -> None:
    owner = organization("Card Licensee")
    issued = invoice(owner.id, "1000.00", IN_JANUARY)
    assert _kept()[issued.id] == (None, IN_JANUARY.date())
    session = db.session()

    declined = _card(issued.id, owner.id, "1000.00", "pending")
    session.add(declined)
    _flushed(reads=False)  # begun: no money yet
    declined.state, declined.declined_at = "failed", SETTLED
    _flushed(reads=False)  # declined: none came
    declined.state = "canceled"
    _flushed(reads=False)  # given up

    paid = _card(issued.id, owner.id, "1000.00", "pending")
    session.add(paid)
    _flushed(reads=False)
    paid.state, paid.settled_at = "succeeded", SETTLED
    _flushed(reads=True)  # settled: paid from Stripe's day
    assert _kept()[issued.id] == (SETTLED.date(), IN_JANUARY.date())
    session.get_one(Invoice, issued.id).state = "paid"
    _flushed(reads=False)  # the invoice's state alone: its events are the same


def test_a_card_refunds_life_reads_the_days_only_when_it_moves_money(app: Flask) -> None:
    owner = organization("Refunded Licensee")
    issued = invoice(owner.id, "1000.00", IN_JANUARY)
    session = db.session()
    card = _card(issued.id, owner.id, "1000.00", "succeeded")
    card.settled_at = SETTLED
    session.add(card)
    _flushed(reads=True)
    note = credited(issued.id, "200.00", "Seats returned", now=SETTLED)
    assert _kept() == _given()

    refund = Refund(
        invoice_id=issued.id,
        organization_id=owner.id,
        credit_note_id=note.id,
        payment_id=card.id,
        method="card",
        state="pending",
        currency="USD",
        amount=Decimal("200.00"),
        recorded_by="stripe",
    )
    session.add(refund)
    _flushed(reads=False)  # asked of Stripe: nothing sent yet
    refund.state, refund.settled_at = "succeeded", REFUNDED
    _flushed(reads=True)  # sent
    refund.state, refund.failed_at = "failed", RETURNED
    _flushed(reads=True)  # returned by the card's bank
    session.delete(refund)
    _flushed(reads=True)  # a sent refund's row gone: its events with it
