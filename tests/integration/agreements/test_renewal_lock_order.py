"""Round 55: a renewal accepted while a royalty report is filed under the agreement
it renews, at once, both finish: the acceptance locks the renewed agreement before
its first audited step (the lock order, `licensing/agreements/services/__init__.py`).

Every audited step locks the audit chain's head at its first event, until it
commits. The acceptance locked the renewal, audited its acceptance (the head) and
only then locked the agreement it renews, to link the two; a filing locks its
agreement, then audits the report. On PostgreSQL the two, each holding its first,
waited for each other's: "deadlock detected". The test holds the filing, once it has
the old agreement, until the acceptance comes to link it (or is seen waiting for a lock: in
the one order the acceptance waits for the old agreement before it audits).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from licensing import db
from licensing.accounts.models import User
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.agreements.services import acceptance
from licensing.royalties.services import filing
from tests.integration.agreements.conftest import DECEMBER, renewed, report
from tests.support import factories
from tests.support.agreements import accept
from tests.support.concurrent_steps import held_until, run_at_once, wait_for_second


@pytest.fixture
def filing_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the filing (thread "first") holds its agreement's lock; it then waits
    until the acceptance (thread "second") comes to link the renewed agreement, or is seen waiting
    for a lock."""
    return held_until(monkeypatch, (filing, "lock_creditable"), (acceptance, "_link_renewed"))


def test_a_renewal_accepted_while_a_report_is_filed_under_the_old_agreement_both_finish(
    committed_app: Flask, filing_holds: threading.Event
) -> None:
    vendor_id, old_id, renewal_id = renewed(committed_app)

    def acceptance_of_the_renewal() -> int | None:
        session = db.session()
        agreement, signer = session.get(Agreement, renewal_id), session.get(User, vendor_id)
        assert agreement is not None
        return accept(agreement, signer, now=DECEMBER).renewal_of_id

    results = run_at_once(
        committed_app, report(vendor_id, old_id), acceptance_of_the_renewal, filing_holds
    )

    assert results["first"].total_due > Decimal(0)
    assert results["second"] == old_id
    with committed_app.app_context():
        old = db.session().get(Agreement, old_id)
        assert old is not None
        assert old.superseded_by_id == renewal_id


@pytest.fixture
def filing_holds_for_the_lock(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> Iterator[threading.Event]:
    """Set once the filing (thread "first") holds its agreement's lock; it then waits
    until the termination (thread "second") locks the agreement it renews (a lock of
    an agreement after its own), or is seen waiting for a lock."""
    holds, locking = threading.Event(), threading.Event()
    creditable = filing.lock_creditable
    engine = committed_app.extensions["licensing.db"].engine
    agreement_locks: list[str] = []

    def locked(*args: Any) -> None:
        creditable(*args)
        holds.set()
        wait_for_second(locking)

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name != "second":
            return
        if statement.startswith("SELECT agreements.") and "FOR UPDATE" in statement:
            agreement_locks.append(statement)
            if len(agreement_locks) == 2:
                locking.set()

    monkeypatch.setattr(filing, "lock_creditable", locked)
    event.listen(engine, "after_cursor_execute", executed)
    yield holds
    event.remove(engine, "after_cursor_execute", executed)


def test_a_renewal_terminated_while_a_report_is_filed_under_the_old_agreement_both_finish(
    committed_app: Flask, filing_holds_for_the_lock: threading.Event
) -> None:
    vendor_id, old_id, renewal_id = renewed(committed_app, accepted=True)

    def termination() -> str:
        staff = factories.staff_actor(("licensing",))
        return services.terminate(renewal_id, "Signed in error", staff, now=DECEMBER).state

    results = run_at_once(
        committed_app, report(vendor_id, old_id), termination, filing_holds_for_the_lock
    )

    assert results["second"] == "terminated"
    with committed_app.app_context():
        old = db.session().get(Agreement, old_id)
        assert old is not None
        # The renewal ended before taking over: the old agreement no longer names it.
        assert old.superseded_by_id is None
