"""Round 56: billing's locked reads (`_locked`, `_locked_payment`) take each row as it
is once locked from the locking SELECT alone (`licensing.db`'s listener loads every
FOR UPDATE read with `populate_existing`): the refresh that followed each lock until
round 56 read the row a second time for nothing.

The copy a request read before the step is made stale by hand (the value another
connection committed since, as the session still holds the old one)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm.attributes import set_committed_value

from licensing import db
from licensing.billing.models import Invoice, Payment
from licensing.billing.services._common import _locked_invoice, _locked_payment
from tests.support.statements import sent_by

from .lock_support import card_paid


def _selects(statements: list[str]) -> int:
    return sum(1 for statement in statements if statement.lstrip().upper().startswith("SELECT"))


def test_a_payment_and_its_invoice_locked_are_read_as_stored_in_one_select_each(
    committed_app: Flask,
) -> None:
    _organization_id, invoice_id, payment_id = card_paid(committed_app)
    with committed_app.app_context():
        session = db.session()
        payment, invoice = session.get(Payment, payment_id), session.get(Invoice, invoice_id)
        assert payment is not None
        assert invoice is not None
        set_committed_value(payment, "note", "as the page read it")
        set_committed_value(invoice, "reminder_count", 7)
        with sent_by(committed_app) as statements, db.transaction() as locking:
            locked_payment, locked_invoice = _locked_payment(locking, payment_id)

        assert (locked_payment, locked_invoice) == (payment, invoice)
        assert (payment.note, invoice.reminder_count) == (None, 0)
        assert _selects(statements) == 2


def test_an_invoice_locked_is_read_as_stored_in_one_select(committed_app: Flask) -> None:
    _organization_id, invoice_id, _payment_id = card_paid(committed_app)
    with committed_app.app_context():
        session = db.session()
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        set_committed_value(invoice, "reminder_count", 7)
        with sent_by(committed_app) as statements, db.transaction() as locking:
            locked = _locked_invoice(locking, invoice_id)

        assert locked is invoice
        assert invoice.reminder_count == 0
        assert _selects(statements) == 1
