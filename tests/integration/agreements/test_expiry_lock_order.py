"""Round 55 (lockrest55): the expiry run expiring a renewal, while a royalty report
is filed under the agreement it renews, at once, both finish: the run locks the
agreements it may unlink before its first audited step (the lock order,
`licensing/agreements/services/__init__.py`).

The run expired the renewal (its first event: the audit chain's head, until it
commits) and only then locked the agreement it renews to unlink it
(`acceptance._unlink_from_renewed`); a filing locks its agreement, then audits the
report. On PostgreSQL the two, each holding its first, waited for each other's:
"deadlock detected". The test holds the filing, once it has the old agreement, until
the run comes to lock the agreements its renewals renew, waiting (FOR UPDATE, not a
claim), or is seen waiting for a lock (round 56: `concurrent_steps.held_until`, where it
watched the run's statements by hand).
"""

from __future__ import annotations

import importlib
import threading
from datetime import UTC, datetime

import pytest
from flask import Flask

from licensing import db
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.royalties.services import filing
from tests.integration.agreements.conftest import renewed, report
from tests.support.concurrent_steps import held_until, run_at_once

# The module (the package's names are its use cases).
expiry = importlib.import_module("licensing.agreements.services.expiry")

# Both terms over: the 2027 agreement and its 2028 renewal are due to end.
JANUARY_2029 = datetime(2029, 1, 3, 15, 0, tzinfo=UTC)


@pytest.fixture
def filing_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the filing (thread "first") holds its agreement's lock (and the
    royalty invoices it may credit); it then waits until the run (thread "second")
    comes to lock the agreements its renewals renew, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, (filing, "lock_creditable"), (expiry, "_lock_renewed_by_expiring")
    )


def test_the_expiry_run_ending_a_renewal_while_a_report_is_filed_under_the_old_one_both_finish(
    committed_app: Flask, filing_holds: threading.Event
) -> None:
    vendor_id, old_id, renewal_id = renewed(committed_app, accepted=True)

    def expiry_run() -> services.ExpiryReport:
        return services.expire(now=JANUARY_2029)

    results = run_at_once(committed_app, report(vendor_id, old_id), expiry_run, filing_holds)

    assert results["first"].report is not None
    with committed_app.app_context():
        old = db.session().get(Agreement, old_id)
        renewal = db.session().get(Agreement, renewal_id)
        assert old is not None
        assert renewal is not None
        # The run waited for the filing, then superseded the old agreement by its
        # renewal (it did not skip it and unlink it) before expiring the renewal.
        assert old.state == "superseded"
        assert old.superseded_by_id == renewal_id
        assert renewal.state == "expired"
