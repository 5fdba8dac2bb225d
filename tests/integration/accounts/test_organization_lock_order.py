"""Round 55: a step that locks the organization to count its administrators (a
member's role changed) and the acceptance of the organization's first agreement, at
once, both finish: each takes its turn on the audit log before the organization
(the lock order, `licensing/accounts/services/__init__.py`).

Every audited step locks the audit chain's head at its first event, until it
commits. The role change locked the organization (`locked_organization`) and only
then, auditing, the head; the acceptance audits the agreement (the head) and then
activates the organization's standing (its row). On PostgreSQL the two, each holding
its first, waited for each other's: "deadlock detected". The test holds the role
change, once it has the organization, until the acceptance comes to the standing (or
a few seconds pass: in the one order the acceptance waits for the role change's turn
on the audit log instead).
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.accounts.services import roles
from licensing.agreements.models import Agreement
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import accept, issued_agreement
from tests.support.concurrent_steps import held_until, run_at_once


@pytest.fixture
def role_change_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the role change (thread "first") holds the organization's lock; it
    then waits until the acceptance (thread "second") comes to the organization's
    standing, or is seen waiting for a lock."""
    return held_until(monkeypatch, (roles, "locked_organization"), (accounts, "change_standing"))


def test_a_role_change_and_the_acceptance_of_the_first_agreement_both_finish(
    committed_app: Flask, role_change_holds: threading.Event
) -> None:
    with committed_app.app_context():
        session = db.session()
        ratecards.import_card(example_document(), published_by="tests")
        organization = factories.make_organization(session, standing="applying")
        organization_id = organization.id
        vendor = factories.make_vendor(session, organization)
        vendor_id = vendor.id
        member_id = factories.make_vendor(session, organization).id
        reviewer = factories.make_staff(session, roles=("licensing",))
        agreement_id = issued_agreement(vendor, reviewer, AUTO_USE, now=NOW).id
        actor = factories.staff_actor(("licensing",))
        session.commit()

    def role_change() -> str:
        return accounts.set_organization_role(member_id, ADMINISTRATOR, actor).organization_role

    def acceptance() -> str:
        session = db.session()
        agreement, signer = session.get(Agreement, agreement_id), session.get(User, vendor_id)
        assert agreement is not None
        return accept(agreement, signer, now=NOW).state

    results = run_at_once(committed_app, role_change, acceptance, role_change_holds)

    assert results == {"first": ADMINISTRATOR, "second": "active"}
    with committed_app.app_context():
        found = db.session().get(Organization, organization_id)
        assert found is not None
        assert found.standing == "active"
