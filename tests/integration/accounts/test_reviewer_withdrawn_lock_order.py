"""Round 55 (lockrest55): a reviewer deactivated while a colleague works on an
application or a permission request assigned to them, at once, both finish: the
deactivation locks the reviewer's open work before its first audited step (the lock
order, `licensing/accounts/services/__init__.py`).

Every audited step locks the audit chain's head at its first event, until it
commits. The deactivation audited the account (`user.deactivated`, the head) and
only then locked the reviewer's open applications and permission requests to give
them back to the queues (`reviewer_withdrawn`); a step on one of them locks it, then
audits. On PostgreSQL the two, each holding its first, waited for each other's:
"deadlock detected". Each test holds the colleague's step, once it has its record,
until the deactivation comes to release the work (or is seen waiting for a lock: in the one
order the deactivation waits for the record before it audits).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionRequest
from licensing.permissions.services import review as request_review
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import NOW, STAFF_USE, draft
from tests.integration.permissions.conftest import last_mail, request_input, token_in
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.settings import issuing, permission_sla_days

# The module (the package's `review` names the staff's step by name).
application_review = importlib.import_module("licensing.agreements.services.review")


def _actor(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def staffed(app: Flask) -> tuple[int, int, int]:
    """The reviewer's, a colleague's and an admin's ids (committed)."""
    with app.app_context():
        session = db.session()
        reviewer = factories.make_staff(session, ("licensing",))
        colleague = factories.make_staff(session, ("licensing",))
        admin = factories.make_staff(session, ("admin",))
        found = (reviewer.id, colleague.id, admin.id)
        session.commit()
        return found


def deactivation(reviewer_id: int, admin_id: int) -> Any:
    def deactivating() -> bool:
        admin = db.session().get(User, admin_id)
        return accounts.set_user_active(reviewer_id, False, _actor(admin)).is_active

    return deactivating


@pytest.fixture
def note_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the colleague's note (thread "first") holds its application's lock;
    it then waits until the deactivation (thread "second") comes to release the
    reviewer's applications, or is seen waiting for a lock."""
    return held_until(monkeypatch, (application_review, "_owned"), (agreements, "release_reviewer"))


def test_a_reviewer_deactivated_while_a_colleague_notes_their_application_both_finish(
    committed_app: Flask, note_holds: threading.Event
) -> None:
    reviewer_id, colleague_id, admin_id = staffed(committed_app)
    with committed_app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        session = db.session()
        vendor = factories.make_vendor(session)
        vendor_actor = _actor(vendor)
        waiting = agreements.create_draft(vendor_actor, draft(STAFF_USE), now=NOW)
        waiting = agreements.submit(
            waiting.id, vendor_actor, policy=issuing(), attest=True, now=NOW
        )
        colleague = session.get(User, colleague_id)
        agreements.assign(waiting.id, reviewer_id, _actor(colleague))
        application_id = waiting.id

    def noting() -> int:
        colleague = db.session().get(User, colleague_id)
        return agreements.add_note(application_id, "Asked the vendor", _actor(colleague)).id

    results = run_at_once(committed_app, noting, deactivation(reviewer_id, admin_id), note_holds)

    assert results["first"]
    assert results["second"] is False
    with committed_app.app_context():
        application = db.session().get(Application, application_id)
        assert application is not None
        assert application.assignee_id is None


@pytest.fixture
def review_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the colleague's step (thread "first") holds its request's lock; it
    then waits until the deactivation (thread "second") comes to release the
    reviewer's requests, or is seen waiting for a lock."""
    return held_until(monkeypatch, (request_review, "locked"), (permissions, "release_reviewer"))


def test_a_reviewer_deactivated_while_a_colleague_takes_up_their_request_both_finish(
    committed_app: Flask, review_holds: threading.Event
) -> None:
    reviewer_id, colleague_id, admin_id = staffed(committed_app)
    with committed_app.app_context():
        created = permissions.submit_request(request_input())
        raw = token_in(last_mail(created.requester_email), "/permissions/confirm/")
        request = permissions.confirm_email(raw, sla_days=permission_sla_days())
        colleague = db.session().get(User, colleague_id)
        permissions.assign([request.id], reviewer_id, _actor(colleague))
        request_id = request.id

    def taking_up() -> str:
        colleague = db.session().get(User, colleague_id)
        return permissions.start_review(request_id, _actor(colleague)).state

    results = run_at_once(
        committed_app, taking_up, deactivation(reviewer_id, admin_id), review_holds
    )

    assert results["first"]
    assert results["second"] is False
    with committed_app.app_context():
        request = db.session().get(PermissionRequest, request_id)
        assert request is not None
        # Taken up first, it was the reviewer's still; the deactivation released it.
        assert request.assignee_id is None
