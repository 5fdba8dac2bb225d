"""Round 2 of the staff journeys: what admins tripped on."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.audit.models import AuditEvent
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import submit  # noqa: F401 - the fixture
from tests.support.factories import make_staff
from tests.support.pages import confirmation_carried


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


def _console_home_link(page: str) -> list[str]:
    return re.findall(r'<a href="/console/"[^>]*>([^<]+)</a>', page)


def test_every_staff_role_can_go_back_to_the_work_waiting_from_any_console_page(
    admin: Any, licensing_staff: Any, billing_staff: Any, signed_in: Any, app: Flask
) -> None:
    for member, page in (
        (licensing_staff, "/console/permissions/"),
        (billing_staff, "/console/invoices"),
        (admin, "/console/users"),
    ):
        console = signed_in(app.test_client(), member)
        assert "Work waiting" in _console_home_link(console.get(page).get_data(as_text=True))
    # A page the role may not open answers 403 with the way back to its own work,
    # not only to the public home page.
    refused = signed_in(app.test_client(), billing_staff).get("/console/applications")
    assert refused.status_code == 403
    assert "Go to the console home" in _console_home_link(refused.get_data(as_text=True))


def test_a_vendor_refused_a_console_page_is_sent_back_to_their_dashboard(
    vendor: Any, signed_in: Any, app: Flask
) -> None:
    refused = signed_in(app.test_client(), vendor).get("/console/invoices")
    assert refused.status_code == 403
    assert '<a href="/portal/">Go to your dashboard</a>' in refused.get_data(as_text=True)


def test_closing_an_organization_asks_for_confirmation_first(
    vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    console = signed_in(app.test_client(), licensing_staff)
    url = f"/console/organizations/{organization.id}/standing"
    reason = "The licensee asked to end the relationship"
    # "Close" sat in the same menu as "Suspend": one slip closed the account for
    # good (closed allows no step back) and emailed the organization.
    asked = console.post(url, data={"action": "close", "reason": reason})
    assert asked.status_code == 200
    page = html.unescape(asked.get_data(as_text=True))
    assert f"Close {organization.legal_name}'s account?" in page
    assert "cannot be undone" in page
    db.session().refresh(organization)
    assert organization.standing == "active"
    done = console.post(
        url,
        data={
            "action": "close",
            "reason": reason,
            "confirmed": "yes",
            "confirmation": confirmation_carried(asked),
        },
    )
    assert done.status_code == 302
    db.session().refresh(organization)
    assert organization.standing == "closed"


def test_suspending_an_organization_needs_no_confirmation(
    vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    console = signed_in(app.test_client(), licensing_staff)
    suspended = console.post(
        f"/console/organizations/{vendor.organization_id}/standing",
        data={"action": "suspend", "reason": "Unpaid invoices"},
    )
    assert suspended.status_code == 302


def test_a_users_history_reads_roles_and_flags_in_words(
    admin: Any, signed_in: Any, app: Flask
) -> None:
    member = make_staff(db.session(), roles=("licensing", "billing"))
    accounts.set_staff_roles(member.id, ["billing"], actor=_actor(admin))
    page = signed_in(app.test_client(), admin).get(f"/console/users/{member.id}")
    history = html.unescape(page.get_data(as_text=True))
    history = history[history.index(">History</h2>") :]
    # They read "roles: — → ['billing', 'licensing']" and "is active: — → True".
    assert "['" not in history
    assert "roles: billing, licensing → billing" in history
    assert "is active: — → yes" in history


def test_the_console_home_counts_applications_left_with_a_reviewer_deactivated_before_the_fix(
    apply: Any, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    reviewer = make_staff(db.session(), roles=("licensing",))
    waiting = apply(vendor, STAFF_USE)
    agreements.assign(waiting.id, reviewer.id, _actor(licensing_staff))
    # Deactivated before deactivation handed the work back: the row as it was left.
    db.session().execute(update(User).where(User.id == reviewer.id).values(is_active=False))
    db.session().commit()
    home = signed_in(app.test_client(), licensing_staff).get("/console/")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", home.get_data(as_text=True)))
    # Submitted on 2026-11-02, it is past the service level (round 36 says so).
    assert (
        "Applications awaiting review 1 past the service level of 10 US business days. "
        "1 1 unassigned or with a deactivated reviewer"
    ) in text
