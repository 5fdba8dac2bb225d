"""The 60-day "agreement ends" email is sent once even when another host commits
it while this host's claim is under way (PostgreSQL, READ COMMITTED): the claim's
statement read the audit log before that commit, so the marker is read again
once the row is claimed (`db.still_selected`).

Round 52: that second look names the claimed rows a bounded number at a time: one
`IN` of every claimed id (the reminders due are claimed all at once) is refused by
the driver past 65,535 parameters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

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


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_second_look_at_the_claimed_reminders_names_a_bounded_number_of_ids_a_statement(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three reminders due, the bound lowered to two ids a statement: each is sent
    once, and no statement's `IN` of agreements names more than two."""
    monkeypatch.setattr(db, "STILL_SELECTED_IDS", 2, raising=False)
    with committed_app.app_context():
        vendor, reviewer = vendor_and_reviewer(db.session())
        numbers = [make_active_agreement(vendor, reviewer, AUTO_USE, now=NOW).number]
        numbers += [make_active_agreement(vendor, reviewer, AUTO_USE, now=NOW).number]
        numbers += [make_active_agreement(vendor, reviewer, AUTO_USE, now=NOW).number]
        db.session().commit()
    engine = committed_app.extensions["licensing.db"].engine
    listed: list[int] = []

    def named_ids(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        # psycopg's parameters, `agreements_1.id IN (%(id_1_1)s::INTEGER, ...)`.
        for ids in re.findall(
            r"agreements(?:_1)?\.id IN \(((?:%\(\w+\)s[^,)]*(?:, )?)+)\)", statement
        ):
            listed.append(ids.count("%("))

    event.listen(engine, "before_cursor_execute", named_ids)
    try:
        with committed_app.app_context():
            report = services.expire(now=DUE)
    finally:
        event.remove(engine, "before_cursor_execute", named_ids)
    assert sorted(report.ending_reminded) == sorted(numbers)
    assert sorted(listed) == [1, 2]  # the three ids, two then one
