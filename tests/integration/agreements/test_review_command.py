"""`services.review`: the one command the console and the API run staff review
steps through, and the actor each step is audited as."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.audit.models import AuditEvent
from licensing.errors import InvalidInput, PermissionDenied
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support.settings import issuing

Apply = Callable[..., Application]


def _event(application_id: int, action: str) -> AuditEvent:
    return (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.entity_type == "application",
                AuditEvent.entity_id == str(application_id),
                AuditEvent.action == action,
            )
        )
        .one()
    )


def _state(application_id: int) -> str:
    db.session().expire_all()
    return db.session().get(Application, application_id).state


def test_review_refuses_an_action_that_is_not_a_staff_review_step(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    for action in ("withdraw", "submit", "lapse", ""):
        with pytest.raises(InvalidInput) as refused:
            services.review(
                application.id,
                action,
                Actor.of(accounts.principal_for(licensing_staff)),
                policy=issuing(),
            )
        assert refused.value.errors == {"action": ["Choose an action."]}
    assert _state(application.id) == "submitted"


def test_a_vendor_cannot_take_a_review_step(apply: Apply, vendor: Any) -> None:
    application = apply(vendor, STAFF_USE)
    for action in services.REVIEW_ACTIONS:
        with pytest.raises(PermissionDenied):
            services.review(
                application.id,
                action,
                Actor.of(accounts.principal_for(vendor)),
                policy=issuing(),
                reason="x",
            )
    assert _state(application.id) == "submitted"


def test_review_passes_the_reason_and_the_step_is_audited_as_the_reviewer(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    rejected = services.review(
        application.id, "reject", staff, policy=issuing(), reason="Not evidenced", now=NOW
    )
    assert rejected.state == "rejected"
    assert rejected.decision_reason == "Not evidenced"
    event = _event(application.id, "application.rejected")
    assert (event.actor, event.actor_user_id, event.note) == (
        licensing_staff.email,
        licensing_staff.id,
        "Not evidenced",
    )


def test_the_vendor_s_steps_are_audited_as_the_vendor_and_automatic_approval_as_the_system(
    apply: Apply, vendor: Any
) -> None:
    application = apply(vendor, AUTO_USE)
    assert application.state == "approved"
    for action in ("application.created", "application.quote_stored", "application.submitted"):
        event = _event(application.id, action)
        assert (event.actor, event.actor_user_id) == (vendor.email, vendor.id), action
    approved = _event(application.id, "application.auto_approved")
    assert (approved.actor, approved.actor_user_id) == ("system", None)
    issued = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "agreement.issued"))
        .one()
    )
    assert issued.actor == "system"
