"""Round 55: a royalty report's amendment that lowers the royalty (credited against
the agreement's royalty invoices) and a payment recorded on one of those invoices,
at once, both finish: the filing locks the invoices it may credit before its first
audited step (the lock order, `licensing/royalties/services/__init__.py`).

Every audited step locks the audit chain's head at its first event, until it
commits. The amendment audited the report it supersedes (the head) and only then
locked the royalty invoices to credit them; the payment locks its invoice, then
audits the payment. On PostgreSQL the two, each holding its first, waited for each
other's: "deadlock detected". The test holds the payment, once its invoice is
locked, until the amendment comes to credit (or is seen waiting for a lock: in the one order
the amendment waits for the invoice before it audits anything).

And a credit note billing staff issue at the same moment, on any invoice: it drew
its number (the credit notes' sequence row, locked until it commits) before auditing
anything, while the amendment audits and then draws the numbers of its credit notes;
"deadlock detected" too. `credit_invoice` takes its turn on the audit log first.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.billing import numbering
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.services import settlement as billing_settlement
from licensing.royalties.services import settlement as royalty_settlement
from tests.integration.royalties.conftest import AFTER, SMALL_SOFTWARE, SOFTWARE
from tests.integration.royalties.lock_support import reported
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.factories import billing_clerk


@pytest.fixture
def payment_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the payment (thread "first") holds its invoice's lock; it then waits
    until the amendment (thread "second") comes to credit the royalty invoices, or is seen waiting
    for a lock."""
    return held_until(
        monkeypatch,
        (billing_settlement, "_locked_invoice"),
        (royalty_settlement._Settlement, "_credit"),
    )


def test_an_amendment_lowering_the_royalty_and_a_payment_of_its_invoice_both_finish(
    committed_app: Flask, payment_holds: threading.Event
) -> None:
    first = reported(committed_app, SOFTWARE)
    invoice_id = first.invoice_id

    def payment() -> Any:
        return billing.record_offline_payment(
            invoice_id,
            method="wire",
            amount=Decimal("100.00"),
            reference="WIRE-LOCK-ORDER",
            received_on=AFTER[1].date(),
            now=AFTER[1],
            actor=billing_clerk(),
        ).id

    results = run_at_once(committed_app, payment, first.amendment, payment_holds)

    assert results["second"].total_due == Decimal("-665.00")
    with committed_app.app_context():
        session = db.session()
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        credited = session.scalars(select(CreditNote.amount)).all()
        assert (invoice.amount_paid, credited) == (Decimal("100.00"), [Decimal("665.00")])


@pytest.fixture
def credit_note_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once billing staff's credit note (thread "first") has drawn its number; it
    then waits until the amendment (thread "second") comes to credit the royalty
    invoices, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, (numbering, "next_number"), (royalty_settlement._Settlement, "_credit")
    )


def test_an_amendment_lowering_the_royalty_and_a_credit_note_staff_issue_both_finish(
    committed_app: Flask, credit_note_holds: threading.Event
) -> None:
    # The minimum's lift (815.00) invoiced up front; the 90 users' royalty 850.00.
    first = reported(committed_app, SMALL_SOFTWARE)
    assert first.up_front_id is not None
    up_front_id = first.up_front_id

    def credit_note() -> str:
        issued = billing.issue_credit_note(
            up_front_id, amount=Decimal("50.00"), reason="Overbilled", actor=billing_clerk()
        )
        assert issued.number is not None
        return issued.number

    results = run_at_once(committed_app, credit_note, first.amendment, credit_note_holds)

    assert results["second"].total_due == Decimal("-665.00")
    with committed_app.app_context():
        credited = db.session().execute(select(CreditNote.invoice_id, CreditNote.amount)).all()
        assert sorted(credited) == [
            (up_front_id, Decimal("50.00")),
            (first.invoice_id, Decimal("665.00")),
        ]
