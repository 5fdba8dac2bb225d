"""Round 55 (lockrest55): an acceptance or an approval and licensing staff closing the
organization, at once: the organization ends closed, and what was licensed before the
closing stays as it was (the lock order, `licensing/agreements/services/__init__.py`:
the organization is read under its lock, after the audit log's turn).

Both steps read the organization's standing before any lock. An acceptance of an
organization still applying then wrote `active` over a closing that committed in
between (the standing it had read); an approval read it while the closing, which
holds the log, waited for the application. Each test holds the step, once it has
read the standing, until the closing has the organization (or is seen waiting for a lock:
with the change the step reads the standing under the organization's lock).
"""

from __future__ import annotations

import importlib
import threading

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Agreement, Application
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE, draft
from tests.integration.agreements.lock_support import closing, refused
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import accept, issued_agreement
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.settings import issuing

# The module (the package's `standing` may name something else).
standing = importlib.import_module("licensing.accounts.services.standing")


@pytest.fixture
def step_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the step (thread "first") has checked the organization's standing; it
    then waits until the closing (thread "second") holds the organization and
    changes its standing, or is seen waiting for a lock."""
    return held_until(monkeypatch, (accounts, "ensure_licensable"), (standing, "change_standing"))


def test_an_acceptance_while_the_organization_is_closed_never_reopens_it(
    committed_app: Flask, step_holds: threading.Event
) -> None:
    with committed_app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        session = db.session()
        vendor, staff = factories.make_vendor(session), factories.make_staff(session)
        agreement_id = issued_agreement(vendor, staff, AUTO_USE, now=NOW).id
        organization = session.get(Organization, vendor.organization_id)
        assert organization is not None
        organization.standing = "applying"  # its first agreement activates it
        session.commit()
        vendor_id, organization_id = vendor.id, organization.id

    def accepting() -> str:
        agreement = db.session().get(Agreement, agreement_id)
        signer = db.session().get(User, vendor_id)
        assert agreement is not None
        return accept(agreement, signer, now=NOW).state

    results = run_at_once(committed_app, refused(accepting), closing(organization_id), step_holds)

    assert results["second"] == "closed"
    with committed_app.app_context():
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        # It read "applying" before the closing and wrote "active" over "closed".
        assert organization.standing == "closed"


def test_an_approval_while_the_organization_is_closed_both_finish(
    committed_app: Flask, step_holds: threading.Event
) -> None:
    with committed_app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        session = db.session()
        vendor = factories.make_vendor(session)
        reviewer = factories.make_staff(session, ("licensing",))
        vendor_actor = Actor.of(accounts.principal_for(vendor))
        application = services.create_draft(vendor_actor, draft(STAFF_USE), now=NOW)
        application = services.submit(
            application.id, vendor_actor, policy=issuing(), attest=True, now=NOW
        )
        services.start_review(application.id, Actor.of(accounts.principal_for(reviewer)), now=NOW)
        application_id, reviewer_id = application.id, reviewer.id
        organization_id = vendor.organization_id

    def approving() -> str:
        reviewer = db.session().get(User, reviewer_id)
        actor = Actor.of(accounts.principal_for(reviewer))
        return services.approve(application_id, actor, policy=issuing(), now=NOW).state

    results = run_at_once(committed_app, refused(approving), closing(organization_id), step_holds)

    assert results["second"] == "closed"
    with committed_app.app_context():
        application = db.session().get(Application, application_id)
        assert application is not None
        # Approved before the closing (which waited for the application), not
        # refused by a standing read while the closing was under way.
        assert results["first"] == "approved"
        assert application.state == "approved"
