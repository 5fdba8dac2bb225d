"""Round 2 of the staff journeys: the educational permission queue as staff use it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    last_mail,
    submit,  # noqa: F401 - the fixture
)
from tests.support.pages import without_time_tags

Submit = Callable[..., tuple[PermissionRequest, str]]


def test_staff_read_a_requests_decision_deadline_at_the_office_as_the_requester_does(
    licensing_staff: Any,  # first: the staff notice goes to the licensing staff there are
    submit: Submit,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, _token = submit()
    assert request.sla_due_at is not None
    office_day = calendar.office_date(request.sla_due_at)
    # The end of an office day is early the next morning in UTC: the console printed
    # that UTC instant, a day later than the requester was promised.
    assert request.sla_due_at.date() != office_day
    utc_text = request.sla_due_at.strftime("%Y-%m-%d %H:%M UTC")
    staff = signed_in(app.test_client(), licensing_staff)
    detail = staff.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    assert f"decision due by {calendar.deadline_text(request.sla_due_at)}" in detail
    queue = staff.get("/console/permissions/").get_data(as_text=True)
    assert office_day.isoformat() in queue
    staff_notice = last_mail(licensing_staff.email).body_text
    assert calendar.deadline_text(request.sla_due_at) in staff_notice
    for text in (detail, queue, staff_notice):
        assert utc_text not in text


def test_a_grant_whose_validity_has_already_ended_is_refused_with_the_fields_message(
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    request, _token = submit()
    staff = signed_in(app.test_client(), licensing_staff)
    refused = staff.post(
        f"/console/permissions/{request.id}/approve",
        data={"valid_from": "1900-01-01", "valid_until": "1900-06-01"},
    )
    assert refused.status_code == 422
    today = calendar.office_date(datetime.now(UTC))
    assert (
        # On the page in words (round 58); the API's problem detail keeps ISO.
        f"The permission would have ended already: choose a date from "
        f"{calendar.day_text(today)} on." in without_time_tags(refused.get_data(as_text=True))
    )
    db.session().refresh(request)
    assert request.state == "submitted"
    assert request.letters == []
    # Backdated to the start of a course already under way, and still running, is fine.
    granted = staff.post(
        f"/console/permissions/{request.id}/approve",
        data={"valid_from": (today - timedelta(days=30)).isoformat()},
    )
    assert granted.status_code == 302


def _actions_line(page: str) -> str:
    section = page[page.index('<h2 id="actions">') :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section[: section.index("</p>")]))


def test_the_actions_line_lists_only_what_staff_can_do_and_says_who_a_request_waits_on(
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, _token = submit()
    staff = signed_in(app.test_client(), licensing_staff)
    url = f"/console/permissions/{request.id}"
    # "withdraw" is the requester's step (from their link): no staff form offers it.
    submitted = _actions_line(staff.get(url).get_data(as_text=True))
    assert (
        "You may start the review, ask the requester for more information, approve the "
        "request or deny it." in submitted
    )
    assert "withdraw" not in submitted
    services.ask_for_info(
        request.id, "Which sections?", Actor.of(accounts.principal_for(licensing_staff))
    )
    db.session().refresh(request)
    assert request.answer_due_at is not None
    waiting = _actions_line(staff.get(url).get_data(as_text=True))
    # It read "Allowed now: answer, expire, withdraw.": none of them a staff step.
    assert "answer, expire" not in waiting
    assert (
        "Waiting on the requester's answer, due by "
        f"{calendar.deadline_text(request.answer_due_at)}" in html.unescape(waiting)
    )


def test_a_requests_history_states_its_deadlines_at_the_office(
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, _token = submit()
    services.ask_for_info(
        request.id, "Which sections?", Actor.of(accounts.principal_for(licensing_staff))
    )
    db.session().refresh(request)
    assert request.answer_due_at is not None
    assert request.sla_due_at is not None
    page = signed_in(app.test_client(), licensing_staff).get(f"/console/permissions/{request.id}")
    history = html.unescape(page.get_data(as_text=True))
    history = history[history.index(">History</h2>") :]
    # It read "answer due at: — → 2026-12-09T05:59:59.999999+00:00": the UTC instant,
    # a day after the office's deadline, as the database stores it.
    assert request.answer_due_at.isoformat() not in history
    assert f"answer due at: — → {calendar.deadline_text(request.answer_due_at)}" in history
    assert f"sla due at: — → {calendar.deadline_text(request.sla_due_at)}" in history


def test_a_requests_history_names_its_purpose_and_medium_as_the_request_form_does(
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, _token = submit()
    page = signed_in(app.test_client(), licensing_staff).get(f"/console/permissions/{request.id}")
    history = html.unescape(page.get_data(as_text=True))
    history = history[history.index(">History</h2>") :]
    # It read "purpose: — → course_materials", the vocabulary word the audit stores.
    assert "course_materials" not in history
    assert "purpose: — → Course materials" in history
    assert "medium: — → Learning-management system" in history


def test_a_decided_request_is_not_assigned_and_its_page_offers_no_assignment(
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, _token = submit()
    services.approve(request.id, Actor.of(accounts.principal_for(licensing_staff)))
    staff = signed_in(app.test_client(), licensing_staff)
    # A stale queue page assigned a request decided meanwhile (the application queue
    # refuses that); the decided request's page still offered the assignment form.
    page = staff.get(f"/console/permissions/{request.id}").get_data(as_text=True)
    assert f"/console/permissions/{request.id}/assign" not in page
    message = f"{request.reference} is approved; there is nothing to assign."
    for url, data, status in (
        (
            f"/console/permissions/{request.id}/assign",
            {"assignee_id": str(licensing_staff.id)},
            409,
        ),
        (
            "/console/permissions/assign",
            {"request_ids": [str(request.id)], "assignee_id": str(licensing_staff.id)},
            422,
        ),
    ):
        refused = staff.post(url, data=data)
        assert refused.status_code == status
        assert message in refused.get_data(as_text=True)
    db.session().refresh(request)
    assert request.assignee_id is None


def test_a_requests_history_names_its_states_in_the_words_of_its_state_machine(
    licensing_staff: Any,
    admin: Any,
    submit: Submit,  # noqa: F811
    signed_in: Any,
    app: Flask,
) -> None:
    request, _token = submit()
    services.ask_for_info(
        request.id, "Which sections?", Actor.of(accounts.principal_for(licensing_staff))
    )
    client = signed_in(app.test_client(), licensing_staff)
    page = client.get(f"/console/permissions/{request.id}")
    history = html.unescape(page.get_data(as_text=True))
    history = history[history.index(">History</h2>") :]
    # It read "state: unconfirmed → submitted" and "state: submitted → needs_info".
    assert "needs_info" not in history
    assert "state: waiting for the requester to confirm their email address → submitted" in history
    assert "state: submitted → waiting for the requester's information" in history
    audit = signed_in(app.test_client(), admin).get("/console/audit")
    log = html.unescape(audit.get_data(as_text=True))
    assert "submitted → waiting for the requester's information" in log
