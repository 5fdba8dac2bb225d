"""Round 55: a royalty report's amendment that lowers the royalty (credited against
the agreement's royalty invoices) and a payment recorded on one of those invoices,
at once, both finish: the filing locks the invoices it may credit before its first
audited step (the lock order, `licensing/royalties/services/__init__.py`).

Every audited step locks the audit chain's head at its first event, until it
commits. The amendment audited the report it supersedes (the head) and only then
locked the royalty invoices to credit them; the payment locks its invoice, then
audits the payment. On PostgreSQL the two, each holding its first, waited for each
other's: "deadlock detected". The test holds the payment, once its invoice is
locked, until the amendment comes to credit (or a few seconds pass: in the one order
the amendment waits for the invoice before it audits anything).
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.services import settlement as billing_settlement
from licensing.billing.states import ROYALTY_REPORT
from licensing.royalties.services import Filing
from licensing.royalties.services import settlement as royalty_settlement
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import (
    AFTER,
    QUARTERS,
    SOFTWARE,
    row,
    vendor_and_reviewer,
)
from tests.support.agreements import make_active_agreement
from tests.support.concurrent_steps import HOLD_SECONDS, run_at_once
from tests.support.factories import billing_clerk
from tests.support.reporting_year import filed


@pytest.fixture
def payment_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the payment (thread "first") holds its invoice's lock; it then waits
    until the amendment (thread "second") comes to credit the royalty invoices, or
    `HOLD_SECONDS` pass."""
    holds, crediting = threading.Event(), threading.Event()
    locked, credit = billing_settlement._locked_invoice, royalty_settlement._Settlement._credit

    def locking(*args: Any) -> Any:
        invoice = locked(*args)
        holds.set()
        crediting.wait(HOLD_SECONDS)
        return invoice

    def credited(self: Any, amount: Decimal) -> list[str]:
        crediting.set()
        return credit(self, amount)

    monkeypatch.setattr(billing_settlement, "_locked_invoice", locking)
    monkeypatch.setattr(royalty_settlement._Settlement, "_credit", credited)
    return holds


def test_an_amendment_lowering_the_royalty_and_a_payment_of_its_invoice_both_finish(
    committed_app: Flask, payment_holds: threading.Event
) -> None:
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        agreement_id = make_active_agreement(vendor, reviewer, SOFTWARE, now=NOW).id
        vendor_id = vendor.id
        first = filed(
            vendor,
            agreement_id,
            QUARTERS[1],
            [row(1, "A", quantity=60), row(1, "B", quantity=30)],
            now=AFTER[1],
        )
        assert first.report is not None
        report_id = first.report.id
        invoice_id = session.scalars(
            select(Invoice.id).where(
                Invoice.source_type == ROYALTY_REPORT, Invoice.source_id == report_id
            )
        ).one()
        session.commit()

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

    def amendment() -> Filing:
        filer = db.session().get(User, vendor_id)
        return filed(
            filer,
            agreement_id,
            QUARTERS[1],
            [row(1, "A", quantity=10)],
            amends=report_id,
            reason="Clinic B left before the quarter",
            now=AFTER[1],
        )

    results = run_at_once(committed_app, payment, amendment, payment_holds)

    # 10 users cost 185.00, lifted to the 1000.00 minimum: 665.00 less than charged.
    assert results["second"].total_due == Decimal("-665.00")
    with committed_app.app_context():
        session = db.session()
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        credited = session.scalars(select(CreditNote.amount)).all()
        assert (invoice.amount_paid, credited) == (Decimal("100.00"), [Decimal("665.00")])
