"""Round 16: a lecturer's permission requests walked from the public form to the
end of the permission (a grant, a denial, a withdrawal)."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from licensing import calendar, db
from licensing.db import UTC
from licensing.permissions import services, views
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    OFFICE,
    last_mail,
    submit,  # noqa: F401 - the fixture
)
from tests.support.pages import without_time_tags

Submit = Callable[..., tuple[PermissionRequest, str]]

DECIDED = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def _page(client: FlaskClient, token: str, now: datetime, monkeypatch: Any) -> str:
    # The page reads the clock through `utcnow`; the test moves it.
    monkeypatch.setattr(views, "utcnow", lambda: now)
    response = client.get(f"/permissions/status/{token}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return html.unescape(without_time_tags(response.get_data(as_text=True)))


def _granted_for_autumn(make: Submit, **fields: Any) -> tuple[PermissionRequest, str]:
    """A request granted in December for the autumn term of 2027, and its token."""
    request, token = make(**fields)
    services.approve(
        request.id,
        OFFICE,
        valid_from=date(2027, 8, 16),
        valid_until=date(2027, 12, 31),
        now=DECIDED,
    )
    return request, token


def test_a_grant_s_status_link_works_while_the_permission_runs_and_a_year_after(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    # Decided in December for the autumn term: the link expired a year after the
    # decision, on 2027-12-03, while the permission ran until 2027-12-31; the
    # lecturer lost the page (and the letter on it) with four weeks still to run.
    request, token = _granted_for_autumn(submit)
    last_day = calendar.end_of_office_day(date(2027, 12, 31))
    assert services.request_for_link(token, now=last_day).id == request.id
    a_year_on = last_day + timedelta(days=364)
    assert services.request_for_link(token, now=a_year_on).id == request.id


def test_a_grant_decided_before_the_fix_keeps_its_link_while_the_permission_runs(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    # Grants decided before round 16 stored "a year after the decision"; their
    # link is read by the same rule, so the ending email's link works too.
    request, token = _granted_for_autumn(submit)
    stored = db.session().get(PermissionRequest, request.id)
    assert stored is not None
    stored.status_expires_at = DECIDED + timedelta(days=365)  # as stored before
    db.session().flush()
    last_day = calendar.end_of_office_day(date(2027, 12, 31))
    assert services.request_for_link(token, now=last_day).id == request.id


def test_a_denial_s_status_link_still_lapses_a_year_after_the_reconsideration_window(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    request, token = submit()
    services.deny(request.id, "A paid workshop is a commercial use.", OFFICE, now=DECIDED)
    later = DECIDED + timedelta(days=14 + 366)
    try:
        services.request_for_link(token, now=later)
    except services.LinkExpired:
        pass
    else:  # pragma: no cover - the assertion
        raise AssertionError("the denial's link should have lapsed")


def test_the_status_page_says_when_a_permission_starts_ends_and_how_to_ask_again(
    app: Flask,
    client: FlaskClient,
    monkeypatch: Any,
    submit: Submit,  # noqa: F811
) -> None:
    # The page said "Permission is granted" before the permission began and long
    # after it ended, with nothing on how to continue the use.
    _request, token = _granted_for_autumn(submit, purpose_detail="HIM 310 course pack, Fall 2027.")
    before = _page(client, token, DECIDED, monkeypatch)
    assert "Permission is granted from August 16, 2027 until December 31, 2027" in before
    assert "send a new request" not in before

    running = _page(client, token, datetime(2027, 9, 15, 15, 0, tzinfo=UTC), monkeypatch)
    assert "Permission is granted until December 31, 2027" in running
    assert "send a new request" not in running

    ending = _page(client, token, datetime(2027, 12, 1, 15, 0, tzinfo=UTC), monkeypatch)
    assert "This permission ends on December 31, 2027." in ending
    assert "To continue the use after December 31, 2027," in ending

    ended = _page(client, token, datetime(2028, 1, 10, 15, 0, tzinfo=UTC), monkeypatch)
    assert "Permission was granted until December 31, 2027: it has ended." in ended
    assert "Permission is granted" not in ended
    assert "This permission ends on" not in ended
    link = ended.split('id="ask-again"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    target = urlsplit(link)
    assert target.path == "/permissions/request"
    # Round 53: through the status link, the whole request, not four of its fields.
    assert parse_qs(target.query) == {"again": [token]}
    form = html.unescape(client.get(link).get_data(as_text=True))
    assert "HIM 310 course pack, Fall 2027." in form
    assert "the permission it granted ended on December 31, 2027" in " ".join(
        without_time_tags(form).split()
    )


def test_staff_told_of_a_withdrawal_are_not_given_a_decision_due_date(
    app: Flask,
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
) -> None:
    # "State: withdrawn; decision due by the end of Thursday, ...": no decision is
    # due on a withdrawn request.
    _request, token = submit()
    services.withdraw(token)
    notice = last_mail(licensing_staff.email)
    assert "withdrawn by the requester" in notice.body_text
    assert "State: withdrawn\n" in notice.body_text
    assert "decision due" not in notice.body_text


def test_a_denial_s_status_page_says_where_a_commercial_use_goes_as_its_letter_does(
    app: Flask,
    client: FlaskClient,
    submit: Submit,  # noqa: F811
) -> None:
    # The letter and the email sent a commercial use to the estimator and the
    # license application; the status page they link to said only "denied".
    request, token = submit()
    services.deny(request.id, "A paid workshop is a commercial use.", OFFICE)
    page = html.unescape(client.get(f"/permissions/status/{token}").get_data(as_text=True))
    sentence = page.split('id="licensed-instead"', 1)[1].split("</p>", 1)[0]
    assert "If your use is part of a commercial product or service" in sentence
    assert 'href="/estimate"' in sentence
    assert 'href="/sign-up"' in sentence


def test_the_requester_is_emailed_once_a_month_before_the_permission_ends(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    # Nothing told a lecturer that the permission was ending: the letter gave the
    # date, and no email, page or job said it again.
    request, token = _granted_for_autumn(submit, purpose_detail="HIM 310 course pack, Fall 2027.")
    early = services.expire_due(datetime(2027, 11, 30, 15, 0, tzinfo=UTC))
    assert early.ending_reminded == []

    due = services.expire_due(datetime(2027, 12, 2, 15, 0, tzinfo=UTC))
    assert due.ending_reminded == [request.reference]
    assert "1 requester(s) told their permission ends soon" in str(due)
    message = last_mail(request.requester_email)
    assert message.subject == f"Your permission ends soon ({request.reference})"
    assert f"{request.reference} ends on December 31, 2027." in message.body_text
    assert "Purpose: Course materials: HIM 310 course pack, Fall 2027." in message.body_text
    assert "to continue the use after December 31, 2027, send a new request" in message.body_text
    assert f"/permissions/status/{token}" in message.body_text

    # Once: the next runs, and runs after the permission ended, send nothing.
    assert services.expire_due(datetime(2027, 12, 3, 15, 0, tzinfo=UTC)).ending_reminded == []
    assert services.expire_due(datetime(2028, 1, 3, 15, 0, tzinfo=UTC)).ending_reminded == []


def test_a_short_permission_decided_within_the_month_is_not_reminded_at_once(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    request, _token = submit()
    services.approve(
        request.id,
        OFFICE,
        valid_from=date(2026, 12, 3),
        valid_until=date(2026, 12, 20),
        now=DECIDED,
    )
    report = services.expire_due(DECIDED + timedelta(days=1))
    assert report.ending_reminded == []
