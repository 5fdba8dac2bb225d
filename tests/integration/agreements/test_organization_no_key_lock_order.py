"""Round 57: an approval or an acceptance, which read the organization's standing under
its lock after their turn on the audit log (`accounts.locked_organization`), and a step
of the same organization that stores a row naming it before its first event (a
royalty report filed under another agreement, a card payment started): both finish
(the lock order, `licensing/agreements/services/__init__.py`).

The stored row makes PostgreSQL check its key with FOR KEY SHARE of the
organization's row. The approval and the acceptance locked the organization FOR
UPDATE, which waits for that share, while the other step waited for the log:
"deadlock detected". They now lock it FOR NO KEY UPDATE (they write no key of it).

Each test holds the approval or the acceptance once it has its turn on the log, until
the other step comes to its first event with its row stored (or is seen waiting for a lock,
in the order that takes turns).
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.billing import services as billing
from licensing.billing.models import StripeCustomer
from licensing.royalties.services import Filing
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE, draft
from tests.integration.billing.lock_support import AnsweringGateway
from tests.integration.royalties.conftest import (
    AFTER,
    QUARTERS,
    SMALL_SOFTWARE,
    row,
    vendor_and_reviewer,
)
from tests.support.agreements import (
    accept,
    issued_agreement,
    make_active_agreement,
    upfront_invoice,
)
from tests.support.concurrent_steps import (
    at_first_event,
    before_organization_lock,
    held_until,
    run_at_once,
)
from tests.support.reporting_year import filed
from tests.support.settings import issuing


@pytest.fixture
def step_has_its_turn(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the approval or the acceptance (thread "first") is about to lock
    the organization (round 58: where it took its turn on the audit log until the
    head was locked at commit); it then waits until the other step
    (thread "second") comes to its first event, its row stored, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, before_organization_lock(monkeypatch), at_first_event(monkeypatch)
    )


def test_an_approval_and_a_royalty_report_filed_by_the_organization_both_finish(
    committed_app: Flask, step_has_its_turn: threading.Event
) -> None:
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        agreement_id = make_active_agreement(vendor, reviewer, SMALL_SOFTWARE, now=NOW).id
        vendor_actor = Actor.of(accounts.principal_for(vendor))
        application = services.create_draft(vendor_actor, draft(STAFF_USE), now=NOW)
        application = services.submit(
            application.id, vendor_actor, policy=issuing(), attest=True, now=NOW
        )
        services.start_review(application.id, Actor.of(accounts.principal_for(reviewer)), now=NOW)
        application_id, reviewer_id, vendor_id = application.id, reviewer.id, vendor.id

    def approving() -> str:
        reviewer = db.session().get(User, reviewer_id)
        actor = Actor.of(accounts.principal_for(reviewer))
        return services.approve(application_id, actor, policy=issuing(), now=NOW).state

    def filing() -> Filing:
        filer = db.session().get(User, vendor_id)
        return filed(filer, agreement_id, QUARTERS[1], [row(1, "A", quantity=20)], now=AFTER[1])

    results = run_at_once(committed_app, approving, filing, step_has_its_turn)

    assert results["first"] == "approved"
    # 20 x 18.50 = 370.00 lifted to the 1000.00 minimum, 815.00 charged up front.
    assert results["second"].total_due == Decimal("185.00")


def test_an_acceptance_and_a_card_payment_started_by_the_organization_both_finish(
    committed_app: Flask, step_has_its_turn: threading.Event
) -> None:
    """The organization has a Stripe Customer: the card attempt locks its invoice
    alone, stores the payment (naming the organization), then audits it."""
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        paying = make_active_agreement(vendor, reviewer, SMALL_SOFTWARE, now=NOW)
        invoice = upfront_invoice(paying)
        assert invoice is not None
        organization_id = vendor.organization_id
        assert organization_id is not None
        session.add(
            StripeCustomer(organization_id=organization_id, stripe_customer_id="cus_LockOrder")
        )
        session.commit()
        accepting_id = issued_agreement(vendor, reviewer, AUTO_USE, now=NOW).id
        invoice_id, vendor_id = invoice.id, vendor.id
        principal = accounts.principal_for(vendor)

    def acceptance() -> str:
        agreement, signer = (
            db.session().get(Agreement, accepting_id),
            db.session().get(User, vendor_id),
        )
        assert agreement is not None
        return accept(agreement, signer, now=NOW).state

    def card_start() -> str:
        return billing.start_card_payment(
            invoice_id, card_token="tok_visa", principal=principal, gateway=AnsweringGateway()
        ).status

    results = run_at_once(committed_app, acceptance, card_start, step_has_its_turn)

    assert results == {"first": "active", "second": "processing"}
    with committed_app.app_context():
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        assert organization.standing == "active"
