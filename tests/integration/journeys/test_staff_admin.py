"""Round 2 of the staff journeys: what admins tripped on."""

from __future__ import annotations

import html
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.audit.models import AuditEvent
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import submit  # noqa: F401 - the fixture
from tests.support.factories import make_staff


def _users() -> int:
    return int(db.session().scalar(select(func.count()).select_from(User)) or 0)


def test_adding_a_staff_member_whose_address_has_an_account_tells_the_admin_what_to_do(
    admin: Any, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    console = signed_in(app.test_client(), admin)
    before = _users()
    for taken in (licensing_staff.email, vendor.email.upper()):
        refused = console.post(
            "/console/users",
            data={"full_name": "Pat Lee", "email": taken, "roles": ["licensing"]},
        )
        assert refused.status_code == 422
        page = html.unescape(refused.get_data(as_text=True))
        # Addressed to the admin: not the sign-up's "Sign in, or reset your password."
        assert "Sign in, or reset your password" not in page
        assert (
            "An account already uses this email address: find it under Users to change "
            "its roles; a vendor's account cannot also be a staff member's." in page
        )
    assert _users() == before


def _actor(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _assigned(model: Any, record_id: int) -> int | None:
    session = db.session()
    session.expire_all()
    return session.scalar(select(model.assignee_id).where(model.id == record_id))


def _released(entity_type: str, record_id: int) -> list[AuditEvent]:
    return [
        event
        for event in db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(record_id)
            )
        )
        if event.action.endswith(".assigned")
        and (event.after_data or {}).get("assignee_id") is None
    ]


def test_the_work_of_a_reviewer_who_is_deactivated_goes_back_to_the_queues_unassigned(
    apply: Any,
    submit: Any,  # noqa: F811
    vendor: Any,
    admin: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    reviewer = make_staff(db.session(), roles=("licensing",))
    waiting = apply(vendor, STAFF_USE)
    agreements.assign(waiting.id, reviewer.id, _actor(licensing_staff))
    request, _token = submit()
    permissions.assign([request.id], reviewer.id, _actor(licensing_staff))
    console = signed_in(app.test_client(), admin)
    asked = console.post(f"/console/users/{reviewer.id}/active", data={"active": "false"})
    assert (
        "Applications and permission requests assigned to them go back to their queues"
        in html.unescape(asked.get_data(as_text=True))
    )
    done = console.post(
        f"/console/users/{reviewer.id}/active", data={"active": "false", "confirmed": "yes"}
    )
    assert done.status_code == 302
    # Nobody could take them up: they were "assigned" to someone who cannot sign in,
    # and the console home counted none of them as needing attention.
    assert _assigned(Application, waiting.id) is None
    assert _assigned(PermissionRequest, request.id) is None
    [application_event] = _released("application", waiting.id)
    [request_event] = _released("permission_request", request.id)
    for event in (application_event, request_event):
        assert event.actor == admin.email
        assert event.note == f"{reviewer.email} was deactivated"
    home = signed_in(app.test_client(), licensing_staff).get("/console/")
    assert "1 unassigned" in home.get_data(as_text=True)


def test_the_work_of_a_reviewer_who_loses_the_licensing_role_goes_back_to_the_queue(
    apply: Any, vendor: Any, admin: Any, licensing_staff: Any, app: Flask
) -> None:
    reviewer = make_staff(db.session(), roles=("licensing", "billing"))
    waiting = apply(vendor, STAFF_USE)
    agreements.assign(waiting.id, reviewer.id, _actor(licensing_staff))
    accounts.set_staff_roles(reviewer.id, ["billing"], actor=_actor(admin))
    assert _assigned(Application, waiting.id) is None
    [event] = _released("application", waiting.id)
    assert event.note == f"{reviewer.email} no longer reviews (roles: billing)"


def test_a_reviewer_who_keeps_a_reviewing_role_keeps_their_work(
    apply: Any, vendor: Any, admin: Any, licensing_staff: Any, app: Flask
) -> None:
    reviewer = make_staff(db.session(), roles=("licensing", "admin"))
    waiting = apply(vendor, STAFF_USE)
    agreements.assign(waiting.id, reviewer.id, _actor(licensing_staff))
    accounts.set_staff_roles(reviewer.id, ["admin"], actor=_actor(admin))
    assert _assigned(Application, waiting.id) == reviewer.id
