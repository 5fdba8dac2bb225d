"""The 60-day "agreement ends" email is sent once even when another host commits
it while this host's claim is under way (PostgreSQL, READ COMMITTED): the claim's
statement read the audit log before that commit, so the marker is read again
once the row is claimed (`db.still_selected`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from licensing import db
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.agreements.services.expiry import ENDING_REMINDED
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.integration.royalties.conftest import vendor_and_reviewer
from tests.support.agreements import make_active_agreement
from tests.support.locks import (
    another_host_marking,
    emails_and_markers,
    run_as_another_host_commits,
)

# 61 days before the 2027 term's last day: the reminder is due.
DUE = datetime(2027, 11, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_host_whose_claim_began_before_another_host_committed_the_reminder_sends_none(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with committed_app.app_context():
        vendor, reviewer = vendor_and_reviewer(db.session())
        agreement = make_active_agreement(vendor, reviewer, AUTO_USE, now=NOW)
        agreement_id, number = agreement.id, agreement.number
        db.session().commit()
        # Host A claims it and writes the marker, not yet committed.
        host_a = another_host_marking(committed_app, Agreement, agreement_id, ENDING_REMINDED)
    # Host B's claim takes its snapshot (no marker in it), A commits, B locks.
    report = run_as_another_host_commits(
        committed_app, monkeypatch, host_a, lambda: services.expire(now=DUE)
    )
    assert report.ending_reminded == []
    # B sent no email and wrote no marker: the one marker is A's.
    assert emails_and_markers(
        committed_app,
        OutboxMessage.subject.endswith(f"Agreement {number}: ends on 2027-12-31"),
        ENDING_REMINDED,
    ) == (0, 1)
