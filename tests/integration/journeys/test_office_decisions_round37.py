"""Round 37: the office's decisions through the API say whom they emailed, as the
console's messages have since round 36, from the one place that addresses the email."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.access import BILLING
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services as agreement_services
from licensing.agreements.models import Application
from licensing.finance import queries as finance_queries
from licensing.mail.models import OutboxMessage
from licensing.permissions import queries
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import (
    requested_by,
    submit,  # noqa: F401 - the fixture
)
from tests.support import factories
from tests.support.factories import bearer
from tests.support.review_clock import office_morning as _on_business_day
from tests.support.settings import permission_sla_days

Apply = Callable[..., Application]


def _last_to(template: str) -> list[str]:
    """The addresses of the latest email from `template`."""
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        .one()
    )
    return list(message.to)


def test_the_office_decisions_on_an_application_through_the_api_answer_whom_they_emailed(
    client: FlaskClient, apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    as_staff = bearer(licensing_staff)
    organization = vendor.organization
    member = [{"email": vendor.email, "audience": "member", "organization_id": organization.id}]
    summary = f"emailed {organization.legal_name} at {vendor.email}"
    returned, approved, rejected, granted, denied = (apply(vendor, STAFF_USE) for _ in range(5))
    base = "/api/v1/applications"

    answers = {
        "return": client.post(
            f"{base}/{returned.id}/return", json={"reason": "Send revenue."}, headers=as_staff
        ),
        "approve": client.post(f"{base}/{approved.id}/approve", json={}, headers=as_staff),
        "reject": client.post(
            f"{base}/{rejected.id}/reject", json={"reason": "Resells it."}, headers=as_staff
        ),
    }
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    for application, path in ((granted, "grant"), (denied, "deny")):
        client.post(f"{base}/{application.id}/reject", json={"reason": "No."}, headers=as_staff)
        agreement_services.request_reconsideration(application.id, "See the figures.", vendor_actor)
        answers[path] = client.post(
            f"{base}/{application.id}/reconsideration/{path}",
            json={"reason": "Read them."},
            headers=as_staff,
        )

    for step, answer in answers.items():
        assert answer.status_code == 200, (step, answer.get_json())
        body = answer.get_json()
        assert body["recipients"] == member, step
        assert body["emailed_summary"] == summary, step
        assert body["reference"].startswith("APP-"), step  # still the application
    assert _last_to("application_update") == [vendor.email]
    # A step that emails no one says so (round 38; it answered the application alone).
    started = client.post(
        f"{base}/{apply(vendor, STAFF_USE).id}/review", json={}, headers=as_staff
    ).get_json()
    assert started["recipients"] == []


def test_an_organization_with_nobody_to_act_is_answered_as_its_billing_contact(
    client: FlaskClient, apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    with db.transaction() as session:
        found = session.get(User, vendor.id)
        assert found is not None
        found.organization_role = BILLING
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None

    body = client.post(
        f"/api/v1/applications/{application.id}/reject",
        json={"reason": "Resells it."},
        headers=bearer(licensing_staff),
    ).get_json()

    contact = organization.billing_email
    assert body["recipients"] == [
        {"email": contact, "audience": "billing_contact", "organization_id": organization.id}
    ]
    assert body["emailed_summary"] == (
        f"emailed the billing contact of {organization.legal_name} at {contact} "
        "(it has no administrator or member to act on it)"
    )
    assert _last_to("application_update") == [contact]


def test_a_permission_requests_question_and_decisions_through_the_api_answer_whom_they_emailed(
    client: FlaskClient,
    submit: Any,  # noqa: F811
    licensing_staff: Any,
) -> None:
    as_staff = bearer(licensing_staff)
    asked, _ = submit()
    granted, _ = submit(requester_name="Tomas Reyes", requester_email="tomas@harbor.example")
    denied, _ = submit(requester_name="Ana Pike", requester_email="ana@pike.example")

    def act(request_id: int, **body: Any) -> dict[str, Any]:
        answer = client.post(
            f"/api/v1/permission-requests/{request_id}/actions", json=body, headers=as_staff
        )
        assert answer.status_code == 200, answer.get_json()
        found: dict[str, Any] = answer.get_json()
        return found

    question = act(asked.id, action="ask_for_info", message="Which unit?")
    assert question["recipients"] == [
        {
            "email": "lena.ortiz@cedar-ridge.example",
            "audience": "requester",
            "organization_id": None,
        }
    ]
    assert question["emailed_summary"] == "emailed Lena Ortiz at lena.ortiz@cedar-ridge.example"
    assert question["state"] == "needs_info"
    assert _last_to("permission_needs_info") == ["lena.ortiz@cedar-ridge.example"]

    grant = act(granted.id, action="approve")
    assert [r["email"] for r in grant["recipients"]] == ["tomas@harbor.example"]
    assert grant["emailed_summary"] == "emailed Tomas Reyes at tomas@harbor.example"
    denial = act(denied.id, action="deny", reason="A commercial course.")
    assert denial["emailed_summary"] == "emailed Ana Pike at ana@pike.example"
    assert _last_to("permission_decided") == ["ana@pike.example"]

    started = act(submit()[0].id, action="start_review")
    assert started["recipients"] == []
    assert started["emailed_summary"] == "emailed nobody: starting a review tells no one"


def test_a_decision_on_a_request_whose_requester_left_the_work_answers_the_colleagues_told(
    client: FlaskClient, signed_in: Any, vendor: User, licensing_staff: Any
) -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    requester = factories.make_vendor(db.session(), organization)
    request = requested_by(requester)
    with db.transaction() as session:
        found = session.get(User, requester.id)
        assert found is not None
        found.organization_role = BILLING

    body = client.post(
        f"/api/v1/permission-requests/{request.id}/actions",
        json={"action": "approve"},
        headers=bearer(licensing_staff),
    ).get_json()

    assert body["recipients"] == [
        {"email": vendor.email, "audience": "member", "organization_id": organization.id}
    ]
    assert body["emailed_summary"] == (
        f"emailed those who do the licensing work of {organization.legal_name} at "
        f"{vendor.email} (the requester no longer does it)"
    )
    assert _last_to("permission_decided") == [vendor.email]
    # The console's message for the same request says the same people.
    staff = signed_in(client, licensing_staff)
    page = staff.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    assert vendor.email in page


def _cell(page: str, term: str) -> str:
    found = re.search(rf"<dt>{term}</dt><dd[^>]*>(.*?)</dd>", page, re.S)
    assert found, page[:3000]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_a_question_stops_the_permission_clock_and_the_answer_moves_the_decision_due(
    app: Flask,
    submit: Any,  # noqa: F811
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    request, token = submit()
    target = permission_sla_days()
    confirmed, first_due = request.submitted_at, request.sla_due_at
    assert confirmed is not None
    assert first_due is not None
    asked, answered = _on_business_day(confirmed, 5), _on_business_day(confirmed, target)
    permissions.ask_for_info(request.id, "Which unit?", factories.staff_actor(), now=asked)

    # Waiting: the clock stands at the question, 5 of 10, whatever the day.
    waiting = db.session().get(PermissionRequest, request.id, populate_existing=True)
    level = queries.service_level(waiting, _on_business_day(confirmed, 8), target_days=target)
    assert (level.age_days, level.days_left, level.due_at) == (5, target - 5, None)
    assert (level.waiting_on_requester, level.running, level.overdue) == (True, False, False)
    with time_machine.travel(_on_business_day(confirmed, 8), tick=False):
        staff = signed_in(app.test_client(), licensing_staff)
        page = staff.get(f"/console/permissions/{request.id}").get_data(as_text=True)
        assert _cell(page, "Age") == (
            f"5 of {target} business days, stopped while waiting on the requester's answer: "
            f"the decision is due {target - 5} business days after the answer"
        )
        queue = staff.get("/console/permissions/").get_data(as_text=True)
        assert (
            f"<td>{target - 5} business days after the answer "
            '<span class="muted">(waiting on the requester)</span></td>'
        ) in queue
        status = app.test_client().get(f"/permissions/status/{token}").get_data(as_text=True)
        assert f"Once you answer, we aim to decide within {target - 5} US business days." in (
            " ".join(status.split())
        )
        api = staff.get(
            f"/api/v1/permission-requests/{request.id}", headers=bearer(licensing_staff)
        ).get_json()
        assert api["service_level"] == {
            "age_days": 5,
            "target_days": target,
            "due_at": None,
            "overdue": False,
            "waiting_on_requester": True,
            "days_left": target - 5,
        }

    # Answered on the day the decision was first due: the office keeps its 5 days.
    permissions.answer(token, "Unit 3, cardiology.", now=answered)
    back = db.session().get(PermissionRequest, request.id, populate_existing=True)
    moved = calendar.end_of_office_day(
        calendar.add_business_days(calendar.office_date(first_due), target - 5)
    )
    assert back.sla_due_at == moved
    level = queries.service_level(back, answered, target_days=target)
    assert (level.age_days, level.due_at, level.overdue) == (5, moved, False)
    assert (level.running, level.waiting_on_requester) == (True, False)
    # The Finance page's queue health counts the same days (it counted the wait).
    (health,) = [
        queue
        for queue in finance_queries.queue_health(
            db.session(), answered, application_target=10, permission_target=target
        )
        if queue.key == "permissions"
    ]
    assert health.oldest_days == 5
    later = queries.service_level(back, _on_business_day(confirmed, target + 2), target_days=target)
    assert (later.age_days, later.overdue) == (7, False)
    with time_machine.travel(answered + timedelta(hours=1), tick=False):
        staff = signed_in(app.test_client(), licensing_staff)
        page = staff.get(f"/console/permissions/{request.id}").get_data(as_text=True)
        assert _cell(page, "Age") == (
            f"5 of {target} business days; decision due by {calendar.deadline_text(moved)}"
        )
        queue = staff.get("/console/permissions/?overdue=1").get_data(as_text=True)
        assert request.reference not in queue  # its first due date passed: not overdue
