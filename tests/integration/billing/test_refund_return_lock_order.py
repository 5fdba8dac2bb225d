"""Round 55 (lockrest55): an offline refund's return (refunds55) and a credit note on
the same invoice, at once, both finish (the lock order,
`licensing/billing/services/__init__.py`): the return locks the refund, then the
invoice, then audits; the credit note locks the invoice, then audits, then draws its
number. Read and found in order; this holds the return, once it has both rows,
until the credit note starts (or is seen waiting for a lock), so the credit note waits at
the invoice before it audits anything.
"""

from __future__ import annotations

import importlib
import threading
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice, Refund
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.factories import billing_clerk

# The module (its `_locked_refund` is the rows' lock).
refund_returns = importlib.import_module("licensing.billing.services.refund_returns")


@pytest.fixture
def return_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the return (thread "first") holds the refund and its invoice; it then
    waits until the credit note (thread "second") starts, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, (refund_returns, "_locked_refund"), (services, "issue_credit_note")
    )


def test_an_offline_refund_returned_while_the_invoice_is_credited_again_both_finish(
    committed_app: Flask, return_holds: threading.Event
) -> None:
    with committed_app.app_context():
        organization_id = factories.make_organization(db.session()).id
        db.session().commit()
        invoice = issue(organization_id, "100.00", date(2027, 3, 2))
        paid_offline(
            invoice.id, "100.00", "W-IN", received_on=date(2027, 3, 3), now=at(date(2027, 3, 3))
        )
        note = credited(invoice.id, "40.00", "Cancelled seats", now=at(date(2027, 3, 5)))
        sent_on = date(2027, 3, 10)
        refund_id = refunded_offline(
            note.id, "40.00", "W-BACK", sent_on=sent_on, now=at(sent_on)
        ).id
        invoice_id = invoice.id

    def returning() -> str:
        return services.return_offline_refund(
            refund_id,
            reason="Beneficiary account closed",
            returned_on=date(2027, 3, 30),
            now=at(date(2027, 4, 6)),
            actor=billing_clerk(),
        ).state

    def crediting() -> str:
        return credited(invoice_id, "10.00", "One seat fewer", now=at(date(2027, 4, 6))).number

    results = run_at_once(committed_app, returning, crediting, return_holds)

    assert results["first"] == "failed"
    assert results["second"]
    with committed_app.app_context():
        invoice = db.session().get(Invoice, invoice_id)
        refund = db.session().get(Refund, refund_id)
        assert invoice is not None
        assert refund is not None
        # The refund went back, and both credit notes' refunds are owed again.
        assert invoice.refund_outstanding == Decimal("50.00")
