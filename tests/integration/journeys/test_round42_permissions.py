"""Round 42: the request asks for the days the use runs, and a grant's default
validity covers them (a Fall 2027 term asked for in December 2026 and granted by
default ended before the term did); the permissions officer's week."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.calendar import day_text
from licensing.db import utcnow
from licensing.permissions import forms, services
from licensing.permissions.models import PermissionLetter, PermissionRequest
from tests.integration.permissions.conftest import (
    OFFICE,
    config_changes,  # noqa: F401 - the fixture (the form's rate limit off)
    count,
    last_mail,
    request_fields,
    routed_use,
    send_routed,
    submit,  # noqa: F401 - the fixture
)
from tests.support.documents import pdf_text, stored_pdf
from tests.support.factories import bearer
from tests.support.pages import without_time_tags

Submit = Callable[..., tuple[PermissionRequest, str]]
EMAIL = "lena.ortiz@cedar-ridge.example"


def _one_line(text: str) -> str:
    return " ".join(without_time_tags(text).split())


def _today() -> date:
    return calendar.office_date(utcnow())


def _fall_term() -> tuple[date, date]:
    """A term that starts months after the request and ends after a year's default."""
    today = _today()
    return today + timedelta(days=260), today + timedelta(days=380)


def _stored(reference_or_email: str = EMAIL) -> PermissionRequest:
    return (
        db.session()
        .scalars(
            select(PermissionRequest).where(PermissionRequest.requester_email == reference_or_email)
        )
        .one()
    )


def test_the_public_form_takes_the_days_of_the_use_and_a_grant_defaults_to_them(
    client: FlaskClient,
) -> None:
    # A Fall term asked for in December, granted by default: it ended a year after the
    # decision, before the term did. The form asks for the days; the grant covers them.
    first, last = _fall_term()
    form = _one_line(client.get("/permissions/request").get_data(as_text=True))
    assert "First day of the use" in form
    assert "Last day of the use" in form
    assert "Without them it runs for one year from the decision." in form
    sent = client.post(
        "/permissions/request",
        data=request_fields(
            duration="Fall semester",
            use_from=first.isoformat(),
            use_until=last.isoformat(),
        ),
    )
    assert sent.status_code == 302
    stored = _stored()
    assert (stored.use_from, stored.use_until) == (first, last)
    stored.state = "submitted"  # confirmed (the confirmation is tested elsewhere)
    db.session().flush()
    services.approve(stored.id, OFFICE)
    db.session().refresh(stored)
    assert (stored.valid_from, stored.valid_until) == (first, last)
    letter = db.session().scalars(select(PermissionLetter)).one()
    text = _one_line(pdf_text(stored_pdf(letter)))
    assert f"Term asked for Fall semester: {day_text(first)} to {day_text(last)}" in text
    # The letter and the email say the days in words (round 56); the term as asked is
    # the requester's own text.
    assert f"valid from {calendar.day_text(first)} until {calendar.day_text(last)}" in text
    body = _one_line(last_mail(EMAIL).body_text)
    days = f"{calendar.day_text(first)} to {calendar.day_text(last)}"
    assert f"You asked for the use to run from {days}." in body
    days = f"{calendar.day_text(first)} until {calendar.day_text(last)}"
    assert f"Permission is granted from {days}" in body


def test_a_request_without_days_keeps_the_default_of_one_year(submit: Submit) -> None:  # noqa: F811
    request, _ = submit()
    services.approve(request.id, OFFICE)
    today = _today()
    assert (request.valid_from, request.valid_until) == (
        today,
        services.default_validity_end(today),
    )
    letter = db.session().scalars(select(PermissionLetter)).one()
    assert "Term asked for" not in _one_line(pdf_text(stored_pdf(letter)))


def test_a_term_that_began_before_the_decision_is_granted_from_the_decisions_day(
    submit: Submit,  # noqa: F811
) -> None:
    first, last = _fall_term()
    request, _ = submit(use_from=first, use_until=last)
    decided = first + timedelta(days=10)
    services.approve(
        request.id, OFFICE, now=calendar.end_of_office_day(decided) - timedelta(hours=6)
    )
    assert (request.valid_from, request.valid_until) == (decided, last)


def test_the_office_can_still_change_the_days_a_grant_defaults_to(submit: Submit) -> None:  # noqa: F811
    first, last = _fall_term()
    request, _ = submit(use_from=first, use_until=last)
    services.approve(request.id, OFFICE, valid_until=last - timedelta(days=30))
    assert (request.valid_from, request.valid_until) == (first, last - timedelta(days=30))


@pytest.mark.parametrize(
    ("days", "field", "words"),
    [
        ((-1, 30), "use_from", "The first day has passed"),
        ((30, 10), "use_until", "The last day must be on or after the first day."),
        ((30, None), "use_until", "Give the last day of the use too, or neither day."),
        ((None, 30), "use_from", "Give the first day of the use too, or neither day."),
        ((1, 1 + 366 * 5 + 1), "use_until", "A permission runs for at most 5 years"),
    ],
)
def test_the_form_refuses_a_term_it_cannot_grant_beside_its_field_and_stores_nothing(
    client: FlaskClient, days: tuple[int | None, int | None], field: str, words: str
) -> None:
    today = _today()
    given = {
        name: (today + timedelta(days=offset)).isoformat()
        for name, offset in zip(("use_from", "use_until"), days, strict=True)
        if offset is not None
    }
    response = client.post("/permissions/request", data=request_fields(**given))
    assert response.status_code == 422
    page = _one_line(response.get_data(as_text=True))
    assert words in page
    assert f'id="{field}-error"' in page or f'aria-describedby="{field}-error' in page
    assert count(PermissionRequest) == 0


def test_a_one_day_use_is_a_term(submit: Submit) -> None:  # noqa: F811
    day = _today() + timedelta(days=40)
    request, _ = submit(duration="One lecture", use_from=day, use_until=day)
    services.approve(request.id, OFFICE)
    assert (request.valid_from, request.valid_until) == (day, day)


def test_the_longest_grant_is_the_offices_setting(app: Any, client: FlaskClient) -> None:
    app.config["LICENSING"] = dataclasses.replace(
        app.config["LICENSING"], permission_longest_grant_years=1
    )
    today = _today()
    refused = client.post(
        "/permissions/request",
        data=request_fields(
            use_from=today.isoformat(), use_until=(today + timedelta(days=400)).isoformat()
        ),
    )
    assert refused.status_code == 422
    assert "A permission runs for at most 1 year:" in _one_line(refused.get_data(as_text=True))
    assert count(PermissionRequest) == 0


def test_the_api_takes_and_answers_the_days_of_the_use_and_refuses_a_wrong_term(
    client: FlaskClient, licensing_staff: Any
) -> None:
    first, last = _fall_term()
    body = {**request_fields(), "audience_size": 45, "noncommercial": True}
    backwards = client.post(
        "/api/v1/permission-requests",
        json={**body, "use_from": last.isoformat(), "use_until": first.isoformat()},
    )
    assert backwards.status_code == 422
    assert backwards.headers["Content-Type"].startswith("application/problem+json")
    assert backwards.get_json()["errors"] == {
        "use_until": ["The last day must be on or after the first day."]
    }
    assert count(PermissionRequest) == 0
    created = client.post(
        "/api/v1/permission-requests",
        json={**body, "use_from": first.isoformat(), "use_until": last.isoformat()},
    )
    assert created.status_code == 201
    stored = _stored()
    read = client.get(f"/api/v1/permission-requests/{stored.id}", headers=bearer(licensing_staff))
    assert read.status_code == 200
    assert (read.get_json()["use_from"], read.get_json()["use_until"]) == (
        first.isoformat(),
        last.isoformat(),
    )
    # Without days: both null, as for a request made before round 42.
    without = client.post(
        "/api/v1/permission-requests", json={**body, "requester_email": "amy@cedar.example"}
    )
    assert without.status_code == 201
    other = _stored("amy@cedar.example")
    answer = client.get(
        f"/api/v1/permission-requests/{other.id}", headers=bearer(licensing_staff)
    ).get_json()
    assert (answer["use_from"], answer["use_until"]) == (None, None)


def test_the_approve_form_shows_the_term_asked_for_as_the_default(
    app: Any,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., Any],
    licensing_staff: Any,
) -> None:
    first, last = _fall_term()
    request, _ = submit(duration="Fall semester", use_from=first, use_until=last)
    page = _console(app, signed_in, licensing_staff, request.id)
    assert f"Default: {day_text(first)}, the first day asked for." in page
    assert (
        f"Default: {day_text(last)}, the last day asked for. The requester asked for: "
        f"Fall semester: {day_text(first)} to {day_text(last)}." in page
    )
    summary = f"<dt>Duration</dt><dd>Fall semester: {day_text(first)} to {day_text(last)}</dd>"
    assert summary in page


def test_a_routed_use_defaults_to_the_applications_term(vendor: Any) -> None:
    request = send_routed(
        routed_use(
            vendor.organization_id,
            "Bluefin",
            requester_email=vendor.email,
            requester_user_id=vendor.id,
            term_start=_today() + timedelta(days=30),
            term_end=_today() + timedelta(days=500),
        )
    )
    services.approve(request.id, OFFICE)
    assert (request.valid_from, request.valid_until) == (
        _today() + timedelta(days=30),
        _today() + timedelta(days=500),
    )


def test_a_corrected_request_keeps_the_days_and_a_new_one_after_they_passed_does_not(
    submit: Submit,  # noqa: F811
) -> None:
    first, last = _fall_term()
    request, _ = submit(use_from=first, use_until=last)
    kept = forms.request_fields(request, _today())
    assert (kept["use_from"], kept["use_until"]) == (first, last)
    later = forms.request_fields(request, last + timedelta(days=1))
    assert (later["use_from"], later["use_until"]) == (None, None)


def test_the_estimators_link_suggests_the_terms_days(client: FlaskClient) -> None:
    first, _last = _fall_term()
    page = client.get(
        "/permissions/request",
        query_string={"use_from": first.isoformat(), "use_until": "not a day"},
    ).get_data(as_text=True)
    assert f'value="{first.isoformat()}"' in page
    assert "not a day" not in page


# --- the permissions officer's week ------------------------------------------------


def _console(app: Any, signed_in: Callable[..., Any], staff: Any, request_id: int) -> str:
    client = signed_in(app.test_client(), staff)
    return _one_line(client.get(f"/console/permissions/{request_id}").get_data(as_text=True))


@pytest.mark.usefixtures("in_december_2026")  # 2027's days, before 2028
def test_a_routed_uses_term_is_said_once_where_its_words_are_its_days(
    app: Any, vendor: Any, signed_in: Callable[..., Any], licensing_staff: Any
) -> None:
    # The application's term is the routed use's duration in words too: the page read
    # "2027-01-01 to 2027-12-31: 2027-01-01 to 2027-12-31".
    request = send_routed(
        routed_use(
            vendor.organization_id,
            "Bluefin",
            requester_email=vendor.email,
            requester_user_id=vendor.id,
        )
    )
    page = _console(app, signed_in, licensing_staff, request.id)
    assert "<dt>Duration</dt><dd>January 1, 2027 to December 31, 2027</dd>" in page
    assert "2027-12-31: 2027-01-01" not in page
    assert "The requester asked for: January 1, 2027 to December 31, 2027." in page
    services.approve(request.id, OFFICE)
    letter = db.session().scalars(select(PermissionLetter)).one()
    assert "Term asked for January 1, 2027 to December 31, 2027 Valid from" in _one_line(
        pdf_text(stored_pdf(letter))
    )


def test_the_requesters_answer_is_read_above_the_forms_that_decide(
    app: Any,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., Any],
    licensing_staff: Any,
) -> None:
    # The answer to the officer's question sat below the ask, approve, deny and
    # assignment forms: read it, scroll back up to decide.
    request, token = submit()
    services.ask_for_info(request.id, "Is the course taught only on campus?", OFFICE)
    services.answer(token, "Only on campus, two sections.")
    page = _console(app, signed_in, licensing_staff, request.id)
    answer = page.index("Only on campus, two sections.")
    assert answer < page.index('id="actions"')
    assert answer < page.index("Approve and issue the grant letter")


def test_a_grant_about_to_end_says_when_and_whether_the_requester_is_told(
    app: Any,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., Any],
    licensing_staff: Any,
) -> None:
    # A grant's page said "Valid 2026-12-04 to 2026-12-24" and nothing of the end
    # coming, or of the requester's ending email, which the officer could not tell
    # apart from one never to be sent.
    today = _today()
    short, _ = submit(requester_email="ravi@east.example", duration="A three-week workshop")
    services.approve(short.id, OFFICE, valid_until=today + timedelta(days=20))
    page = _console(app, signed_in, licensing_staff, short.id)
    ends = day_text(today + timedelta(days=20))
    assert f"The permission ends on {ends}, in 20 days." in _one_line(page)
    assert (
        "The requester is not emailed that it ends: it was granted within its last 30 days." in page
    )
    assert "their status page sends a new request filled in with this one" in page

    earlier = utcnow() - timedelta(days=45)
    long, _ = submit(requester_email="amy@westfield.example")
    services.approve(long.id, OFFICE, valid_until=today + timedelta(days=90), now=earlier)
    page = _console(app, signed_in, licensing_staff, long.id)
    assert (
        f"The requester is emailed on {day_text(today + timedelta(days=60))} that it ends." in page
    )
    ending, _ = submit(requester_email="tomas@harbor.example")
    services.approve(ending.id, OFFICE, valid_until=today + timedelta(days=10), now=earlier)
    services.expire_due()
    page = _console(app, signed_in, licensing_staff, ending.id)
    assert "The requester was emailed on " in page
    assert "in 10 days." in page


def test_the_officers_week_through_the_api_reads_the_term_the_decisions_and_the_grant_ending(
    client: FlaskClient,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
) -> None:
    # Walked and found right: the queue's ages, a question and its answer, a grant of
    # the term asked for, a refusal, both letters, and the grants ending within 60 days.
    headers = bearer(licensing_staff)
    first, last = _fall_term()
    course, token = submit(use_from=first, use_until=last, duration="Fall semester")
    book, _ = submit(
        requester_email="tomas@harbor.example",
        purpose="exam_preparation",
        purpose_detail="A review book sold at the campus store.",
    )
    queue = client.get("/api/v1/permission-requests", headers=headers).get_json()
    rows = {row["reference"]: row for row in queue}
    assert rows[course.reference]["service_level"]["age_days"] == 0
    assert rows[course.reference]["use_from"] == first.isoformat()
    actions = f"/api/v1/permission-requests/{course.id}/actions"
    asked = client.post(
        actions, json={"action": "ask_for_info", "message": "On campus only?"}, headers=headers
    )
    assert asked.get_json()["service_level"]["waiting_on_requester"] is True
    client.post(f"/api/v1/permission-status/{token}/answers", json={"body": "Yes, on campus."})
    granted = client.post(actions, json={"action": "approve"}, headers=headers).get_json()
    assert (granted["valid_from"], granted["valid_until"]) == (first.isoformat(), last.isoformat())
    refused = client.post(
        f"/api/v1/permission-requests/{book.id}/actions",
        json={"action": "deny", "reason": "A book sold at the store is commercial."},
        headers=headers,
    ).get_json()
    assert refused["state"] == "denied"
    for answer in (granted, refused):
        letter = answer["letters"][-1]
        pdf = client.get(
            f"/api/v1/permission-requests/{answer['id']}/letters/{letter['id']}", headers=headers
        )
        assert pdf.status_code == 200
        assert pdf.mimetype == "application/pdf"
    ending, _ = submit(requester_email="ravi@east.example")
    services.approve(ending.id, OFFICE, valid_until=_today() + timedelta(days=20))
    soon = client.get("/api/v1/permission-requests?ending=true", headers=headers).get_json()
    assert [row["reference"] for row in soon] == [ending.reference]


def test_a_term_that_ended_while_the_request_waited_is_said_before_the_grant_is_sent(
    app: Any,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., Any],
    licensing_staff: Any,
    time_machine: Any,
) -> None:
    # The hint offered the term's last day as the default after it had passed; the
    # grant sent without a day was then refused on *Valid until*.
    first = _today() + timedelta(days=1)
    last = first + timedelta(days=2)
    request, _ = submit(duration="A weekend workshop", use_from=first, use_until=last)
    time_machine.move_to(utcnow() + timedelta(days=10))
    page = _console(app, signed_in, licensing_staff, request.id)
    assert (
        f"The term asked for (A weekend workshop: {day_text(first)} to {day_text(last)}) "
        f"ended on {day_text(last)}, before this decision: give the last day" in page
    )
    assert f"Default: {last.isoformat()}, the last day asked for." not in page
