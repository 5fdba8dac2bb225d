"""Round 58 (auditchain58): the audit chain's head is locked when a step commits, not at
its first event, so a long audited step no longer holds every other audited step of
the service until it commits.

Until round 58 `audit.record` locked the chain's one head row at a step's first event
and held it until the step committed: a royalty report filed (which audits the report
and then invoices it, credits, mails) held a role change in another organization, a
payment, any state change, for the rest of its transaction. Now `record` keeps the
event for the commit, which chains it under the head's lock as the transaction's last
lock (`licensing/audit/services.py`).

On PostgreSQL with two connections: the filing is held once it has come to its first
event, and goes on only once a role change in an unrelated organization has
committed, audited. Before round 58 the role change waited for the head the filing
held, and failed at the connection's lock timeout (`concurrent_steps.LOCK_TIMEOUT`).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.royalties.services import Filing
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import (
    AFTER,
    QUARTERS,
    SMALL_SOFTWARE,
    row,
    vendor_and_reviewer,
)
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.concurrent_steps import run_at_once
from tests.support.reporting_year import filed

# How long the held filing waits for the role change at most: far past the lock
# timeout, so that a role change waiting for the filing fails first, as it did.
WAIT_SECONDS = 60


@pytest.fixture
def filing_holds(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """(set once the filing, in thread "first", has come to its first event; set by
    the test once the role change has committed). The filing waits for the second
    before it goes on."""
    holds, role_changed = threading.Event(), threading.Event()
    pend = audit._pend

    def held_at_first_event(session: Any, pending: Any) -> None:
        pend(session, pending)
        if threading.current_thread().name == "first" and not holds.is_set():
            holds.set()
            role_changed.wait(WAIT_SECONDS)

    monkeypatch.setattr(audit, "_pend", held_at_first_event)
    return holds, role_changed


def test_a_long_audited_step_does_not_hold_an_unrelated_audited_step_until_it_commits(
    committed_app: Flask, backend: str, filing_holds: tuple[threading.Event, threading.Event]
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite writes one unit of work at a time, from its BEGIN, audited or not")
    holds, role_changed = filing_holds
    with committed_app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        agreement_id = make_active_agreement(vendor, reviewer, SMALL_SOFTWARE, now=NOW).id
        vendor_id = vendor.id
        other = factories.make_vendor(session)
        member_id = factories.make_vendor(session, other.organization).id
        session.commit()

    def filing() -> Filing:
        filer = db.session().get(User, vendor_id)
        return filed(filer, agreement_id, QUARTERS[1], [row(1, "A", quantity=20)], now=AFTER[1])

    def role_change() -> str:
        staff = factories.staff_actor(("licensing",))
        changed = accounts.set_organization_role(member_id, ADMINISTRATOR, staff)
        role_changed.set()
        return changed.organization_role

    results = run_at_once(committed_app, filing, role_change, holds)

    assert results["second"] == ADMINISTRATOR
    assert results["first"].report is not None
    with committed_app.app_context():
        session = db.session()
        seqs = dict(
            session.execute(
                select(AuditEvent.action, AuditEvent.seq).where(
                    AuditEvent.action.in_(("user.role_changed", "royalty_report.submitted"))
                )
            ).all()
        )
        # The role change, begun after the filing's first event, committed first: its
        # event is chained before the filing's, and the chain is whole.
        assert seqs["user.role_changed"] < seqs["royalty_report.submitted"]
        assert audit.verify_chain(session).ok
