"""Round 55: a royalty report filed while the overdue run chases the same
organization, at once, both finish: the run takes its turn on the audit log before
it claims the organization (the lock order, `licensing/royalties/services/__init__.py`).

Every audited step locks the audit chain's head at its first event, until it
commits. The overdue run claimed the organization (SKIP LOCKED: it skips one another
step holds, not one it holds itself) and only then audited its reminders and late
fees; the filing audits the report and, once invoiced, locks the organization to
restore its standing (`restore_standing_if_clear`). On PostgreSQL the two, each
holding its first, waited for each other's: "deadlock detected". The test holds the
run, once it has claimed the organization, until the filing reaches the
organization's standing (or is seen waiting for a lock: in the one order the filing waits
for the run's turn on the audit log instead).
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.billing import numbering
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.billing.services import OverdueReport, overdue, process_overdue
from licensing.billing.settings import InvoiceTerms
from licensing.billing.states import LATE_FEE, ROYALTY_REPORT
from licensing.royalties.services import Filing
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import (
    AFTER,
    QUARTERS,
    SMALL_SOFTWARE,
    row,
    vendor_and_reviewer,
)
from tests.support.agreements import make_active_agreement
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.factories import billing_clerk
from tests.support.reporting_year import filed


@pytest.fixture
def run_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the overdue run (thread "first") has claimed the organization; it then
    waits until the filing (thread "second") asks for the organization's standing,
    or is seen waiting for a lock."""
    return held_until(monkeypatch, (overdue, "_claimed"), (accounts, "restore_standing_if_clear"))


def test_a_report_filed_while_the_overdue_run_chases_the_organization_both_finish(
    committed_app: Flask, run_holds: threading.Event
) -> None:
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        # Its up-front invoice (815.00, issued in November 2026) is months overdue by
        # the first quarter's filing day: the run reminds of it and charges late fees.
        agreement_id = make_active_agreement(vendor, reviewer, SMALL_SOFTWARE, now=NOW).id
        vendor_id = vendor.id
        session.commit()

    def run() -> OverdueReport:
        return process_overdue(standing_days=365, now=AFTER[1])

    def filing() -> Filing:
        filer = db.session().get(User, vendor_id)
        return filed(filer, agreement_id, QUARTERS[1], [row(1, "A", quantity=20)], now=AFTER[1])

    results = run_at_once(committed_app, run, filing, run_holds)

    assert results["first"].late_fee_invoices
    # 20 x 18.50 = 370.00 lifted to the 1000.00 minimum, 815.00 charged up front.
    assert results["second"].total_due == Decimal("185.00")
    with committed_app.app_context():
        sources = db.session().scalars(
            select(Invoice.source_type).where(Invoice.source_type.in_((LATE_FEE, ROYALTY_REPORT)))
        )
        assert set(sources) == {LATE_FEE, ROYALTY_REPORT}


@pytest.fixture
def finalizing_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once billing staff's finalize (thread "first") has drawn the invoice's
    number; it then waits until the filing (thread "second") comes to the
    organization's standing (after its own invoice's number), or is seen waiting for a lock."""
    return held_until(
        monkeypatch, (numbering, "next_number"), (accounts, "restore_standing_if_clear")
    )


def test_a_report_filed_while_billing_staff_finalize_a_draft_both_finish(
    committed_app: Flask, finalizing_holds: threading.Event
) -> None:
    """Billing staff's finalize drew the invoice number (the sequence row, locked
    until commit) before auditing anything, while a filing audits and then draws
    its invoice's number: "deadlock detected" on PostgreSQL until `finalize_in` took
    its turn on the audit log first (round 55)."""
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        agreement_id = make_active_agreement(vendor, reviewer, SMALL_SOFTWARE, now=NOW).id
        vendor_id = vendor.id
        draft_id = billing.create_draft(
            organization_id=vendor.organization_id,
            currency="USD",
            charges=[billing.Charge("Internal use, seat block", Decimal("10.00"))],
            standard=InvoiceTerms(payment_terms_days=30, late_fee_monthly_percent=Decimal("1.5")),
            actor=billing_clerk(),
        ).id
        session.commit()

    def finalize() -> str | None:
        return billing.finalize_invoice(draft_id, now=AFTER[1], actor=billing_clerk()).number

    def filing() -> Filing:
        filer = db.session().get(User, vendor_id)
        return filed(filer, agreement_id, QUARTERS[1], [row(1, "A", quantity=20)], now=AFTER[1])

    results = run_at_once(committed_app, finalize, filing, finalizing_holds)

    assert results["first"] is not None
    assert results["second"].total_due == Decimal("185.00")
