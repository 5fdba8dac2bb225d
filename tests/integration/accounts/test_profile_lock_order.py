"""Round 57: an organization's profile saved (its address, say) while a colleague's role
changes, at once: both finish (the lock order, `licensing/accounts/services/__init__.py`:
the audit log's turn, then the organization).

The save wrote the organization's row unlocked: the row went to the database with its
audit event (the event's lock of the log's head flushes it first), so the save held
the row (FOR NO KEY UPDATE, as a plain UPDATE takes it) and then waited for the log.
A role change takes the log's turn, then locks the organization: on PostgreSQL
"deadlock detected". The save now locks the organization through
`locked_organization` (the log's turn first) before it writes it.

The test holds the role change once it has its turn on the log, until the save comes
to its first event with its row written (or is seen waiting for a lock, in the order that
takes turns).
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from tests.support import factories
from tests.support.concurrent_steps import (
    at_first_event,
    before_organization_lock,
    held_until,
    run_at_once,
)


@pytest.fixture
def role_change_has_its_turn(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the role change (thread "first") is about to lock the organization
    (round 58: where it took its turn on the audit log); it then waits until the save
    (thread "second") comes to its first event, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, before_organization_lock(monkeypatch), at_first_event(monkeypatch)
    )


def test_a_role_change_and_the_organization_s_address_saved_at_once_both_finish(
    committed_app: Flask, role_change_has_its_turn: threading.Event
) -> None:
    with committed_app.app_context():
        session = db.session()
        administrator = factories.make_vendor(session)
        organization_id = administrator.organization_id
        assert organization_id is not None
        member_id = factories.make_vendor(session, administrator.organization).id
        vendor = Actor.of(accounts.principal_for(administrator))
        staff = factories.staff_actor(("licensing",))
        session.commit()

    def role_change() -> str:
        return accounts.set_organization_role(member_id, ADMINISTRATOR, staff).organization_role

    def saving() -> str:
        changes = {"address_line1": "12 Quay Street"}
        return accounts.update_organization(organization_id, changes, vendor).organization.city

    results = run_at_once(committed_app, role_change, saving, role_change_has_its_turn)

    assert results["first"] == ADMINISTRATOR
    with committed_app.app_context():
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        assert organization.address_line1 == "12 Quay Street"
