"""Round 55: a scheduled run holding an organization at `pending_payment` (the
royalty reminders' report overdue too long) and a payment settling one of its
invoices, at once, both finish: the run takes its turn on the audit log before it
claims the organization (the lock order, `licensing/accounts/services/__init__.py`).

Every audited step locks the audit chain's head at its first event, until it
commits. `hold_for_overdue` claimed the organization (SKIP LOCKED: it skips one
another step holds, but not one it holds itself) and only then, holding it, audited
the change of standing; the payment audits first and, settling the invoice, then
locks the organization (`restore_standing_if_clear`). On PostgreSQL the two, each
holding its first, waited for each other's: "deadlock detected". The test holds the
run, once it has claimed the organization, until the payment reaches the
organization's standing (or is seen waiting for a lock: in the one order the payment waits
for the run's turn on the audit log instead).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization
from licensing.accounts.services import standing
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.billing.services import _common
from licensing.royalties.services import ReminderRun, send_reminders
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import SMALL_SOFTWARE, vendor_and_reviewer
from tests.support.agreements import make_active_agreement
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.factories import billing_clerk

# The first quarter's report (due 2027-04-30) is 36 days overdue: the run holds.
LATE = datetime(2027, 6, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def run_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the run (thread "first") has claimed the organization to hold it; it
    then waits until the payment (thread "second") asks for the organization's
    standing, or is seen waiting for a lock."""
    return held_until(monkeypatch, (standing, "_hold"), (_common, "_restore_standing"), before=True)


def test_the_reminders_run_holding_an_organization_and_a_payment_settling_its_invoice_both_finish(
    committed_app: Flask, run_holds: threading.Event
) -> None:
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        agreement = make_active_agreement(vendor, reviewer, SMALL_SOFTWARE, now=NOW)
        organization_id = agreement.organization_id
        # The up-front invoice (815.00), paid in full by wire.
        invoice_id = session.scalars(
            select(Invoice.id).where(
                Invoice.source_type == "agreement", Invoice.source_id == agreement.id
            )
        ).one()
        session.commit()

    def run() -> ReminderRun:
        return send_reminders(standing_days=30, now=LATE)

    def payment() -> Any:
        return billing.record_offline_payment(
            invoice_id,
            method="wire",
            amount=Decimal("815.00"),
            reference="WIRE-STANDING",
            received_on=LATE.date(),
            now=LATE,
            actor=billing_clerk(),
        ).id

    results = run_at_once(committed_app, run, payment, run_holds)

    assert len(results["first"].pending_payment) == 1
    with committed_app.app_context():
        session = db.session()
        organization = session.get(Organization, organization_id)
        invoice = session.get(Invoice, invoice_id)
        assert organization is not None
        assert invoice is not None
        # Still held: the report is overdue whatever was paid.
        assert (organization.standing, invoice.state) == ("pending_payment", "paid")
