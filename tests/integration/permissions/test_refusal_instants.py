"""Refusals shared with the pages name their instant in ISO 8601 on the API (round
33): the problem's `detail` says it at the office, as the page does ("the end of
Tuesday, ... (US Central time)"), and an extension member gives it as a program
reads it (`expired_at`, `deadline`, `available_from`)."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import calendar, db
from licensing.calendar import instant_iso, office_date
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.problems import from_domain_error
from tests.integration.permissions.conftest import (
    OFFICE,
    last_mail,
    request_input,
    token_in,
)

OFFICE_WORDS = "(US Central time)"


def test_an_expired_confirmation_link_gives_expired_at_on_the_api_and_office_words_on_the_page(
    client: FlaskClient,
) -> None:
    created = services.submit_request(request_input())
    raw = token_in(last_mail("lena.ortiz@cedar-ridge.example"), "/permissions/confirm/")
    expires = db.session().get(PermissionRequest, created.id).confirm_expires_at  # type: ignore[union-attr]
    with time_machine.travel(utcnow() + timedelta(hours=49), tick=False):
        api = client.post("/api/v1/permission-confirmations", json={"token": raw})
        page = client.get(f"/permissions/confirm/{raw}")
    assert api.status_code == 403
    problem = api.get_json()
    assert problem["expired_at"] == instant_iso(expires)
    assert problem["expired_at"].endswith("+00:00")  # round 42: was "Z"
    assert page.status_code == 403
    assert OFFICE_WORDS in page.text
    assert problem["expired_at"] not in page.text


def test_an_expired_status_link_gives_expired_at_and_says_it_at_the_office(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    """It said the UTC date ("expired on 2027-03-01") on both."""
    request, token = submit()
    services.withdraw(token)
    expired = utcnow() - timedelta(minutes=1)
    with db.transaction() as session:
        stored = session.get(PermissionRequest, request.id)
        assert stored is not None
        stored.status_expires_at = expired
    api = client.get(f"/api/v1/permission-status/{token}")
    assert api.status_code == 403
    assert api.get_json()["expired_at"] == instant_iso(expired)
    page = client.get(f"/permissions/status/{token}")
    assert OFFICE_WORDS in page.text


def test_a_closed_reconsideration_window_gives_its_deadline(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    request, token = submit()
    services.deny(request.id, "The audience is a paying public.", OFFICE)
    due = db.session().get(PermissionRequest, request.id).reconsideration_due_at  # type: ignore[union-attr]
    assert due is not None
    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        api = client.post(
            f"/api/v1/permission-status/{token}/reconsideration",
            json={"body": "The course is free to students."},
        )
    assert api.status_code == 409
    problem = api.get_json()
    assert problem["deadline"] == instant_iso(due)
    assert OFFICE_WORDS in problem["detail"]


def test_every_refusals_instants_are_members_of_its_problem(app: Flask) -> None:
    """The agreements' reconsideration and resubmission windows, a one-time link's
    expiry and the invitations' next free place take the same path."""
    moment = utcnow()
    with app.test_request_context():
        conflict = from_domain_error(Conflict("Closed.", instants={"deadline": moment}))
        invalid = from_domain_error(
            InvalidInput.for_field("token", "Expired.", instants={"expired_at": moment})
        )
    assert conflict.get_json()["deadline"] == instant_iso(moment)
    assert invalid.get_json()["expired_at"] == instant_iso(moment)
    assert invalid.get_json()["errors"] == {"token": ["Expired."]}


def test_a_status_link_ending_with_an_office_day_says_it_expired_at_its_end(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    """Round 34's walk: a link kept a year after a grant ends expires with an office
    day, and the page and the API's detail read "This link expired on the end of
    Monday, ..."."""
    request, token = submit()
    services.withdraw(token)
    ended = calendar.end_of_office_day(office_date(utcnow()) - timedelta(days=2))
    with db.transaction() as session:
        stored = session.get(PermissionRequest, request.id)
        assert stored is not None
        stored.status_expires_at = ended
    words = f"This link expired at the end of {calendar.deadline_text(ended)[11:]}"
    api = client.get(f"/api/v1/permission-status/{token}")
    assert api.get_json()["detail"].startswith(words)
    assert api.get_json()["expired_at"] == instant_iso(ended)
    page = client.get(f"/permissions/status/{token}")
    assert words in html.unescape(page.get_data(as_text=True))
    assert "expired on the end" not in page.get_data(as_text=True)
