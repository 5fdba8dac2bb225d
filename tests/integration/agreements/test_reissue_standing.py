"""Round 56: an agreement is reissued only for an organization that may be licensed
something new (`accounts.ensure_licensable`, as an approval and an acceptance), its
standing read under the organization's lock, after the audit log's turn (the lock
order, `licensing/agreements/services/__init__.py`).

The reissue checked the standing as its confirmation page read it, before any lock
of the organization: a closing committed between that read and the reissue's write
left a closed organization with a new agreement to accept (an acceptance then
refused it; its email had gone). The race holds the reissue, once it has checked,
until the closing has the organization (or is seen waiting for a lock).
"""

from __future__ import annotations

import importlib
import threading
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.audit.models import AuditEvent
from licensing.billing.services import monthly_statements
from licensing.billing.services.monthly_statements import send_monthly_statements
from licensing.errors import Conflict
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import DEVELOPMENT_USE, NOW
from tests.integration.agreements.lock_support import closing, refused
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import issued_agreement
from tests.support.concurrent_steps import before_organization_lock, held_until, run_at_once
from tests.support.settings import issuing

# The modules (the package's `reissue` is the step, `standing` may name another).
reissuing = importlib.import_module("licensing.agreements.services.reissue")
standing = importlib.import_module("licensing.accounts.services.standing")

# The statement run's month, and the day it runs.
JANUARY, RUN = date(2027, 1, 1), datetime(2027, 2, 3, 15, 0, tzinfo=UTC)
REASON = "Rate card 2027.1 had the development fee mistyped"


def _issued_on_a_corrected_card(app: Flask) -> tuple[int, int, int]:
    """An agreement issued on a card since corrected: the agreement's, the
    organization's and a licensing staff member's ids."""
    with app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        session = db.session()
        vendor, staff = factories.make_vendor(session), factories.make_staff(session)
        old_id = issued_agreement(vendor, staff, DEVELOPMENT_USE, now=NOW).id
        corrected = example_document()
        corrected["version"] = "2027.2"
        corrected["rules"][2]["model"]["amount"] = "2750.00"
        ratecards.import_card(corrected, published_by="tests")
        organization_id = vendor.organization_id
        assert organization_id is not None
        session.commit()
        return old_id, organization_id, staff.id


def _reissuing(old_id: int, staff_id: int) -> Agreement:
    staff = db.session().get(User, staff_id)
    assert staff is not None
    actor = Actor.of(accounts.principal_for(staff))
    return services.reissue(old_id, REASON, actor, policy=issuing(), now=NOW)


def _agreements(organization_id: int) -> int:
    count = db.session().scalar(
        select(func.count()).where(Agreement.organization_id == organization_id)
    )
    return int(count or 0)


@pytest.mark.parametrize("standing_now", ["suspended", "closed"])
def test_a_suspended_or_closed_organizations_agreement_is_not_reissued(
    committed_app: Flask, standing_now: str
) -> None:
    old_id, organization_id, staff_id = _issued_on_a_corrected_card(committed_app)
    with committed_app.app_context():
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        organization.standing = standing_now
        db.session().commit()

        with pytest.raises(Conflict, match=f"account is {standing_now}, so agreement"):
            _reissuing(old_id, staff_id)

        old = db.session().get(Agreement, old_id)
        assert old is not None
        assert (old.state, _agreements(organization_id)) == ("issued", 1)


@pytest.fixture
def reissue_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the reissue (thread "first") has checked what it refuses, the
    organization's standing among them; it then waits until the closing (thread
    "second") holds the organization and changes its standing, or is seen waiting for a lock."""
    return held_until(monkeypatch, (reissuing, "_checked"), (standing, "change_standing"))


def test_an_agreement_reissued_while_its_organization_is_closed_is_refused(
    committed_app: Flask, reissue_holds: threading.Event
) -> None:
    old_id, organization_id, staff_id = _issued_on_a_corrected_card(committed_app)

    def reissue() -> str:
        return _reissuing(old_id, staff_id).state

    results = run_at_once(committed_app, refused(reissue), closing(organization_id), reissue_holds)

    assert results["second"] == "closed"
    with committed_app.app_context():
        old = db.session().get(Agreement, old_id)
        assert old is not None
        if db.is_postgresql():  # the closing commits while the reissue waits
            assert isinstance(results["first"], Conflict)
            assert "account is closed, so agreement" in str(results["first"])
            assert (old.state, _agreements(organization_id)) == ("issued", 1)
        else:  # SQLite: one writer at a time, the reissue first, before the closing
            assert results["first"] == "issued"
            assert _seq("agreement.reissued") < _seq("organization.standing_changed")


def _seq(action: str) -> int:
    """The audit log's place of the last `action`."""
    found = db.session().scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.action == action))
    assert found is not None, action
    return int(found)


@pytest.fixture
def reissue_has_its_turn(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the reissue (thread "first") is about to lock the organization (round
    58: where it took its turn on the audit log until the log's head was locked at
    commit); it then waits until the statement run (thread "second") has stored the
    statement it sends, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, before_organization_lock(monkeypatch), (monthly_statements, "_email_statement")
    )


def test_a_reissue_and_the_monthly_statement_run_both_finish(
    committed_app: Flask, reissue_has_its_turn: threading.Event
) -> None:
    """The run stores the statement it sends (PostgreSQL checks its key to the
    organization with FOR KEY SHARE), then audits; the reissue, with its turn on the
    log, locks the organization: FOR UPDATE waited for the run's share while the run
    waited for the log ("deadlock detected"), FOR NO KEY UPDATE does not."""
    old_id, organization_id, staff_id = _issued_on_a_corrected_card(committed_app)
    with committed_app.app_context():
        assert send_activation(activated(organization_id, ("250.00",))) is not None

    def reissue() -> str:
        return _reissuing(old_id, staff_id).state

    def statement_run() -> int:
        run = send_monthly_statements(
            date(2027, 1, 1),
            now=datetime(2027, 2, 3, 15, tzinfo=UTC),
            due=[(organization_id, "USD")],
        )
        return len(run.sent)

    results = run_at_once(committed_app, reissue, statement_run, reissue_has_its_turn)

    assert results == {"first": "issued", "second": 1}
