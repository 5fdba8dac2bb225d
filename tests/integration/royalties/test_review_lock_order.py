"""Round 56: licensing staff sending a royalty report back for correction while its
licensee amends it, at once, both finish: the review takes the report's agreement
(FOR KEY SHARE) before the report (the lock order,
`licensing/royalties/services/__init__.py`), as the amendment does.

The review locked the report alone, then audited the request, then wrote the report
again (the correction asked): PostgreSQL checks a row's foreign keys when the
transaction writes it a second time, so that write took FOR KEY SHARE of the
agreement, after the review's first event. The amendment locks the agreement (FOR
UPDATE) and its royalty invoices, then writes the report it supersedes: "deadlock
detected" while the review's key check locked the agreement. The test holds the
review, once it has the report, until the amendment comes to supersede it (or is seen
waiting for a lock: with the agreement shared first, the amendment waits for the review
before it locks anything).
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.royalties import services
from licensing.royalties.models import RoyaltyReport
from licensing.royalties.states import REPORT, REVIEW
from tests.integration.royalties.conftest import AFTER, SOFTWARE
from tests.integration.royalties.lock_support import reported
from tests.support import factories
from tests.support.concurrent_steps import held_until, run_at_once


@pytest.fixture
def review_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the review (thread "first") holds the report's lock, before it audits;
    it then waits until the amendment (thread "second") comes to supersede the
    report, or is seen waiting for a lock."""
    return held_until(monkeypatch, (REVIEW, "apply"), (REPORT, "apply"), before=True)


def test_a_report_sent_back_while_its_licensee_amends_it_both_finish(
    committed_app: Flask, review_holds: threading.Event
) -> None:
    first = reported(committed_app, SOFTWARE)
    with committed_app.app_context():
        staff_id = factories.make_staff(db.session(), ("licensing",)).id
        db.session().commit()

    def send_back() -> str:
        staff = db.session().get(User, staff_id)
        assert staff is not None
        actor = Actor.of(accounts.principal_for(staff))
        note = "Clinic B is missing"
        return services.review(
            first.report_id, "request_correction", actor, note=note, now=AFTER[1]
        ).review_state

    results = run_at_once(committed_app, send_back, first.amendment, review_holds)

    assert results["first"] == "correction_requested"
    assert results["second"].amends == first.report_id
    with committed_app.app_context():
        report = db.session().get(RoyaltyReport, first.report_id)
        assert report is not None
        assert (report.state, report.review_state) == ("superseded", "correction_requested")
