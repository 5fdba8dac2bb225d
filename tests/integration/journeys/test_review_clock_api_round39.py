"""Round 39: the review clock for the API client.

An integrator's program reading the office's queue through the API gets each
application's service level as the console shows it (the clock's start, the days
given back for the waits on the vendor, the due date); an escalation leaves out the
staff member who escalated it; requests answered before round 37 are read as the
queue reads them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.mail.models import OutboxMessage
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.integration.permissions.conftest import submit  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.factories import bearer
from tests.support.review_clock import due_text as _due_text
from tests.support.review_clock import fact as _fact
from tests.support.review_clock import flash as _flash
from tests.support.review_clock import last_to as _last_to
from tests.support.review_clock import office_morning as _office_morning
from tests.support.review_clock import on_business_day as _on_business_day
from tests.support.settings import issuing, permission_sla_days

Apply = Callable[..., Application]


def _due(day_count: int) -> str:
    """The end of business day `day_count`'s office day, as the API writes it."""
    day = calendar.add_business_days(calendar.office_date(NOW), day_count)
    return calendar.end_of_office_day(day).isoformat()


def test_the_api_gives_staff_each_applications_service_level_as_the_console_shows_it(
    client: FlaskClient,
    signed_in: Any,
    apply: Apply,
    vendor: Any,
    licensing_staff: Any,
    app: Flask,
) -> None:
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    # Submitted on day 0, returned on day 8, resubmitted on day 12: four days given back.
    returned = apply(vendor, STAFF_USE)
    services.return_for_information(returned.id, "More.", staff_actor, now=_on_business_day(8))
    services.submit(
        returned.id, vendor_actor, policy=issuing(), attest=True, now=_on_business_day(12)
    )
    # Rejected on day 2, reconsideration asked for on day 3 (its clock restarts).
    reconsidered = apply(vendor, STAFF_USE)
    services.reject(reconsidered.id, "No.", staff_actor, now=_on_business_day(2))
    services.request_reconsideration(reconsidered.id, "Yes.", vendor_actor, now=_on_business_day(3))
    draft = apply(vendor, STAFF_USE, submit=False)

    with time_machine.travel(_on_business_day(12) + timedelta(hours=1), tick=False):
        answer = client.get(f"/api/v1/applications/{returned.id}", headers=bearer(licensing_staff))
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["service_level"] == {
            "target_days": 10,
            "clock_from": _on_business_day(4).isoformat(),
            "counts_from": "submission",
            "days_waited_on_vendor": 4,
            "age_days": 8,
            "due_at": _due(14),
            "running": True,
            "overdue": False,
        }
        # The console's page reads the same clock.
        page = signed_in(app.test_client(), licensing_staff).get(
            f"/console/applications/{returned.id}"
        )
        assert _fact(page.get_data(as_text=True), "Age") == (
            f"8 of 10 business days; decision due by the end of {_due_text(14)} (US Central time)"
        )

        listed = client.get("/api/v1/applications?sort=oldest", headers=bearer(licensing_staff))
        levels = {item["id"]: item["service_level"] for item in listed.get_json()}
        assert levels[returned.id] == answer.get_json()["service_level"]
        assert levels[reconsidered.id] == {
            "target_days": 10,
            "clock_from": _on_business_day(3).isoformat(),
            "counts_from": "reconsideration_request",
            "days_waited_on_vendor": 0,
            "age_days": 9,
            "due_at": _due(13),
            "running": True,
            "overdue": False,
        }
        assert levels[draft.id] == {
            "target_days": 10,
            "clock_from": None,
            "counts_from": None,
            "days_waited_on_vendor": 0,
            "age_days": 0,
            "due_at": None,
            "running": False,
            "overdue": False,
        }

        # The vendor's pages show no age: nor does the vendor's answer.
        mine = client.get(f"/api/v1/applications/{returned.id}", headers=bearer(vendor))
        assert mine.get_json()["service_level"] is None
        mine_listed = client.get("/api/v1/applications", headers=bearer(vendor)).get_json()
        assert {item["service_level"] is None for item in mine_listed} == {True}

    # Past day 14 it is overdue through the API too.
    with time_machine.travel(_on_business_day(15) + timedelta(hours=1), tick=False):
        level = client.get(
            f"/api/v1/applications/{returned.id}", headers=bearer(licensing_staff)
        ).get_json()["service_level"]
        assert (level["age_days"], level["overdue"]) == (11, True)


def test_the_api_counts_a_granted_reconsiderations_give_back_from_its_request(
    client: FlaskClient, apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = apply(vendor, STAFF_USE)
    services.reject(application.id, "No.", staff_actor, now=_on_business_day(2))
    services.request_reconsideration(application.id, "Yes.", vendor_actor, now=_on_business_day(3))
    services.grant_reconsideration(application.id, staff_actor, now=_on_business_day(4))
    services.return_for_information(application.id, "Which?", staff_actor, now=_on_business_day(6))
    services.submit(
        application.id, vendor_actor, policy=issuing(), attest=True, now=_on_business_day(10)
    )
    with time_machine.travel(_on_business_day(10) + timedelta(hours=1), tick=False):
        level = client.get(
            f"/api/v1/applications/{application.id}", headers=bearer(licensing_staff)
        ).get_json()["service_level"]
    assert level["clock_from"] == _on_business_day(7).isoformat()
    assert level["counts_from"] == "reconsideration_request"
    assert level["days_waited_on_vendor"] == 4
    assert (level["age_days"], level["due_at"]) == (3, _due(17))


def test_an_escalation_leaves_out_the_reviewer_who_escalated_it(
    client: FlaskClient,
    signed_in: Any,
    apply: Apply,
    vendor: Any,
    licensing_staff: Any,
    app: Flask,
) -> None:
    second = factories.make_staff(db.session(), roles=("licensing",))
    as_staff = bearer(licensing_staff)
    application = apply(vendor, STAFF_USE)
    client.post(f"/api/v1/applications/{application.id}/review", json={}, headers=as_staff)
    answer = client.post(
        f"/api/v1/applications/{application.id}/escalate",
        json={"reason": "A second look."},
        headers=as_staff,
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert _last_to("application_waiting") == [second.email]
    assert body["recipients"] == [
        {"email": second.email, "audience": "staff", "organization_id": None}
    ]
    assert body["emailed_summary"] == (
        f"emailed the other licensing staff at {second.email} "
        f"(not {licensing_staff.full_name}, who escalated it)"
    )

    # The console says so too.
    other = apply(vendor, STAFF_USE)
    services.start_review(other.id, Actor.of(accounts.principal_for(licensing_staff)))
    page = (
        signed_in(app.test_client(), licensing_staff)
        .post(
            f"/console/applications/{other.id}/review",
            data={"action": "escalate", "reason": "Pricing needs a second look."},
            follow_redirects=True,
        )
        .get_data(as_text=True)
    )
    assert _flash(page) == (
        f"Escalated for a second review. We emailed the other licensing staff at "
        f"{second.email} (not {licensing_staff.full_name}, who escalated it)."
    )
    assert _last_to("application_waiting") == [second.email]


def test_an_escalation_by_the_only_licensing_staff_member_emails_nobody(
    client: FlaskClient, apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    as_staff = bearer(licensing_staff)
    application = apply(vendor, STAFF_USE)
    client.post(f"/api/v1/applications/{application.id}/review", json={}, headers=as_staff)
    before = db.session().scalars(select(OutboxMessage.id)).all()
    body = client.post(
        f"/api/v1/applications/{application.id}/escalate",
        json={"reason": "A second look."},
        headers=as_staff,
    ).get_json()
    assert body["recipients"] == []
    assert body["emailed_summary"] == (
        f"emailed nobody: no licensing staff member but {licensing_staff.full_name}, "
        "who escalated it, is active (it waits in the queue)"
    )
    waiting = db.session().scalars(
        select(OutboxMessage).where(
            OutboxMessage.template == "application_waiting", OutboxMessage.id.not_in(before)
        )
    )
    assert list(waiting) == []


def test_a_request_answered_before_round_37_gets_its_wait_back_from_the_command(
    app: Flask,
    client: FlaskClient,
    submit: Any,  # noqa: F811
    licensing_staff: Any,
) -> None:
    request, token = submit()
    target = permission_sla_days()
    confirmed, first_due = request.submitted_at, request.sla_due_at
    assert confirmed is not None
    assert first_due is not None
    asked, answered = _office_morning(confirmed, 5), _office_morning(confirmed, target)
    with time_machine.travel(asked, tick=False):
        permissions.ask_for_info(request.id, "Which unit?", factories.staff_actor(), now=asked)
    with time_machine.travel(answered, tick=False):
        permissions.answer(token, "Unit 3.", now=answered)
    moved = calendar.end_of_office_day(
        calendar.add_business_days(calendar.office_date(first_due), target - 5)
    )
    # As round 36 answered it: the due date stayed the confirmation's.
    stored = db.session().get(PermissionRequest, request.id)
    assert stored is not None
    assert stored.sla_due_at == moved
    stored.sla_due_at = first_due
    db.session().commit()
    with time_machine.travel(answered + timedelta(hours=1), tick=False):
        level = client.get(
            f"/api/v1/permission-requests/{request.id}", headers=bearer(licensing_staff)
        ).get_json()["service_level"]
        assert (level["age_days"], level["overdue"]) == (target, False)  # the wait counted

        result = app.test_cli_runner().invoke(args=["permissions", "give-back-waits"])
        assert result.exit_code == 0, result.output
        assert result.output == f"Moved the due date of 1 request(s): {request.reference}.\n"
        back = db.session().get(PermissionRequest, request.id, populate_existing=True)
        assert back is not None
        assert back.sla_due_at == moved
        level = client.get(
            f"/api/v1/permission-requests/{request.id}", headers=bearer(licensing_staff)
        ).get_json()["service_level"]
        assert (level["age_days"], level["due_at"]) == (5, moved.isoformat())

        # Idempotent: a due date already moved (as every answer now moves it) stays.
        again = app.test_cli_runner().invoke(args=["permissions", "give-back-waits"])
        assert again.output == (
            "No request's due date to move: every answered question is given back.\n"
        )
        back = db.session().get(PermissionRequest, request.id, populate_existing=True)
        assert back is not None
        assert back.sla_due_at == moved
