"""The 30-day "permission ends" email is sent once even when another host commits
it while this host's claim is under way (PostgreSQL, READ COMMITTED): the claim's
statement read the audit log before that commit, so the marker is read again
once the row is claimed (`db.still_selected`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask

from licensing.mail.models import OutboxMessage
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.permissions.services.expiry import ENDING_REMINDED
from tests.integration.permissions.conftest import OFFICE, last_mail, request_input, token_in
from tests.support.locks import (
    another_host_marking,
    emails_and_markers,
    run_as_another_host_commits,
)
from tests.support.settings import permission_sla_days

DECIDED = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
# 29 days before the permission's last day: the reminder is due.
DUE = datetime(2027, 12, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_host_whose_claim_began_before_another_host_committed_the_reminder_sends_none(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with committed_app.app_context():
        created = services.submit_request(request_input())
        raw = token_in(last_mail(created.requester_email), "/permissions/confirm/")
        request = services.confirm_email(raw, sla_days=permission_sla_days())
        services.approve(
            request.id,
            OFFICE,
            valid_from=date(2027, 8, 16),
            valid_until=date(2027, 12, 31),
            now=DECIDED,
        )
        request_id, reference = request.id, request.reference
        # Host A claims it and writes the marker, not yet committed.
        host_a = another_host_marking(committed_app, PermissionRequest, request_id, ENDING_REMINDED)
    # Host B's claim takes its snapshot (no marker in it), A commits, B locks.
    report = run_as_another_host_commits(
        committed_app, monkeypatch, host_a, lambda: services.expire_due(DUE)
    )
    assert report.ending_reminded == []
    # B sent no email and wrote no marker: the one marker is A's.
    assert emails_and_markers(
        committed_app,
        OutboxMessage.subject == f"Your permission ends soon ({reference})",
        ENDING_REMINDED,
    ) == (0, 1)
