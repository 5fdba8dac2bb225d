"""Every application action from every state, through the services: allowed steps
move the record as the table says (and are audited); the others are refused with
`IllegalTransition` naming the allowed actions, and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.agreements.states import APPLICATION
from licensing.audit.models import AuditEvent
from licensing.errors import IllegalTransition
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support import factories
from tests.support.settings import issuing

Apply = Callable[..., Application]

# How to bring a new application into each state: (uses, steps after creation).
SETUPS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "draft": (STAFF_USE, ()),
    "submitted": (STAFF_USE, ("submit",)),
    "in_review": (STAFF_USE, ("submit", "start_review")),
    "escalated": (STAFF_USE, ("submit", "start_review", "escalate")),
    "returned": (STAFF_USE, ("submit", "return")),
    "approved": (AUTO_USE, ("submit",)),
    "rejected": (STAFF_USE, ("submit", "reject")),
    "withdrawn": (STAFF_USE, ("submit", "withdraw")),
    "lapsed": (STAFF_USE, ("submit", "return", "lapse")),
    "reconsideration_requested": (STAFF_USE, ("submit", "reject", "request_reconsideration")),
}
ACTIONS = (
    "submit",
    "withdraw",
    "start_review",
    "return",
    "escalate",
    "approve",
    "reject",
    "request_reconsideration",
    "grant_reconsideration",
    "deny_reconsideration",
)


# The reason each staff step is given (none where the step takes none).
REASONS = {
    "return": "More",
    "escalate": "Second look",
    "reject": "No",
    "deny_reconsideration": "Final",
}


def _run(action: str, application_id: int, vendor: Any, staff: Any, escalator: Any) -> None:
    if action in services.REVIEW_ACTIONS:
        reviewer = escalator if action == "escalate" else staff
        services.review(
            application_id,
            action,
            Actor.of(accounts.principal_for(reviewer)),
            policy=issuing(),
            reason=REASONS.get(action),
            now=NOW,
        )
        return
    v = Actor.of(accounts.principal_for(vendor))
    calls: dict[str, Callable[[], object]] = {
        "submit": lambda: services.submit(
            application_id, v, policy=issuing(), attest=True, now=NOW
        ),
        "withdraw": lambda: services.withdraw(application_id, v, now=NOW),
        "request_reconsideration": lambda: services.request_reconsideration(
            application_id, "Please", v, now=NOW
        ),
        "lapse": lambda: services.expire(now=NOW + timedelta(days=30)),
    }
    calls[action]()


def _events(application_id: int) -> int:
    return db.session().scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity_type == "application", AuditEvent.entity_id == str(application_id))
    )


@pytest.mark.parametrize("state", list(SETUPS))
def test_each_action_from_each_state_is_allowed_exactly_when_the_table_says(
    apply: Apply, vendor: Any, licensing_staff: Any, state: str
) -> None:
    escalator = factories.make_staff(db.session(), roles=("licensing",))
    uses, steps = SETUPS[state]
    for action in ACTIONS:
        application = apply(vendor, uses, submit=False)
        for step in steps:
            _run(step, application.id, vendor, licensing_staff, escalator)
        db.session().expire_all()
        assert db.session().get(Application, application.id).state == state
        table_action = "resubmit" if (action, state) == ("submit", "returned") else action
        before = _events(application.id)
        if APPLICATION.can(state, table_action):
            _run(action, application.id, vendor, licensing_staff, escalator)
            db.session().expire_all()
            after = db.session().get(Application, application.id).state
            assert after == APPLICATION.step(state, table_action), (state, action)
            assert _events(application.id) > before, (state, action)
        else:
            with pytest.raises(IllegalTransition) as refused:
                _run(action, application.id, vendor, licensing_staff, escalator)
            assert refused.value.allowed == APPLICATION.allowed(state)
            db.session().expire_all()
            assert db.session().get(Application, application.id).state == state
            assert _events(application.id) == before
