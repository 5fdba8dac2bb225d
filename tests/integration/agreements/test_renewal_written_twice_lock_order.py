"""Round 57: a renewal application submitted while a royalty report is filed under
the agreement it renews, at once: both finish (the lock order,
`licensing/agreements/services/__init__.py`: a renewal's step takes the key share of
the agreement it renews before its first event).

A submission writes the application, audits (the log's head), then writes it again
(its state). PostgreSQL checks every foreign key of a row the transaction writes a
second time, with FOR KEY SHARE of each parent: the application names the agreement
it renews, which a filing locks FOR UPDATE before it audits. So the submission,
holding the log, waited for the agreement while the filing waited for the log:
"deadlock detected" (locks56's finding 4, the royalty review's, in another step).

The test holds the filing once it holds the old agreement, until the submission has
its turn on the log (or is seen waiting for a lock: with the change the submission waits for
the filing before its first event).
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.royalties.services import filing
from tests.integration.agreements.conftest import DECEMBER, renewal_drafted, report
from tests.support.concurrent_steps import having_the_log, held_until, run_at_once
from tests.support.settings import issuing


@pytest.fixture
def filing_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the filing (thread "first") holds the old agreement; it then waits
    until the submission (thread "second") has its turn on the audit log, or is seen waiting
    for a lock."""
    return held_until(monkeypatch, (filing, "lock_creditable"), having_the_log(monkeypatch))


def test_a_renewal_submitted_while_a_report_is_filed_under_the_old_agreement_both_finish(
    committed_app: Flask, filing_holds: threading.Event
) -> None:
    vendor_id, old_id, draft_id = renewal_drafted(committed_app)

    def submission() -> str:
        vendor = db.session().get(User, vendor_id)
        assert vendor is not None
        actor = Actor.of(accounts.principal_for(vendor))
        return services.submit(draft_id, actor, policy=issuing(), attest=True, now=DECEMBER).state

    results = run_at_once(committed_app, report(vendor_id, old_id), submission, filing_holds)

    assert results["first"].total_due >= Decimal(0)
    assert results["second"] == "approved"
    with committed_app.app_context():
        application = db.session().get(Application, draft_id)
        assert application is not None
        assert application.renewal_of_id == old_id
