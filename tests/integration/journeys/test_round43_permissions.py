"""Round 43: the term asked for, where the officer and the requester look for it. The
queue's rows give the days of the use; *Grants ending within 60 days* says, per grant,
whether the requester was emailed that it ends; the requester's pages say a grant runs
for the days they gave unless the office says otherwise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask.testing import FlaskClient

from licensing import calendar
from licensing.calendar import day_text
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    OFFICE,
    config_changes,  # noqa: F401 - the fixture (the form's rate limit off)
    request_fields,
    submit,  # noqa: F401 - the fixture
    three_grants_ending,
)
from tests.support.markup import selectable_row
from tests.support.pages import without_time_tags

Submit = Callable[..., tuple[PermissionRequest, str]]


def _one_line(text: str) -> str:
    return " ".join(without_time_tags(text).split())


def _today() -> date:
    return calendar.office_date(utcnow())


def _queue(app: Any, signed_in: Callable[..., Any], staff: Any, query: str = "") -> str:
    client = signed_in(app.test_client(), staff)
    response = client.get(f"/console/permissions/{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_queues_rows_give_the_days_of_the_use_asked_for(
    app: Any,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., Any],
    licensing_staff: Any,
) -> None:
    # The row said the purpose alone: to see when a use begins the officer opened
    # each request.
    first, last = _today() + timedelta(days=30), _today() + timedelta(days=120)
    dated, _ = submit(requester_email="lena@cedar.example", use_from=first, use_until=last)
    undated, _ = submit(requester_email="amy@westfield.example")
    page = _queue(app, signed_in, licensing_staff)
    assert (
        f'<td>Course materials<br><span class="muted term">use {day_text(first)} to '
        f"{day_text(last)}</span></td>" in selectable_row(page, dated.id)
    )
    assert "<td>Course materials</td>" in selectable_row(page, undated.id)


def test_grants_ending_say_per_grant_whether_the_requester_was_emailed_that_it_ends(
    app: Any,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., Any],
    licensing_staff: Any,
) -> None:
    # The list gave each grant's last day alone; whether its requester was, would be
    # or would never be told it ends was on each request's page only.
    today = _today()
    short, later, ending = three_grants_ending(submit)
    page = _queue(app, signed_in, licensing_staff, "?ending=1")
    assert (
        "Ends in 20 days. The requester is not emailed that it ends: it was granted within "
        "its last 30 days." in _one_line(selectable_row(page, short.id))
    )
    assert (
        f"Ends in 50 days. The requester is emailed on "
        f"{day_text(today + timedelta(days=20))} that it ends."
        in _one_line(without_time_tags(selectable_row(page, later.id)))
    )
    told = _one_line(without_time_tags(selectable_row(page, ending.id)))
    assert "Ends in 10 days. The requester was emailed on " in told
    # The same words as the request's page, from the same function.
    client = signed_in(app.test_client(), licensing_staff)
    detail = _one_line(client.get(f"/console/permissions/{ending.id}").get_data(as_text=True))
    sent = told.split("was emailed on ")[1].split(" that it ends.")[0]
    # Round 58: the queue's note says the day in words, as the request's page does.
    assert f"The requester was emailed on {sent} that it ends." in without_time_tags(detail)
    # Elsewhere the queue says nothing of it.
    assert "The requester" not in _queue(app, signed_in, licensing_staff, "?state=approved")


def test_the_requester_is_told_a_grant_runs_for_the_days_they_gave_unless_the_office_says_otherwise(
    client: FlaskClient,
    submit: Submit,  # noqa: F811
) -> None:
    # The status page gave the days under *Duration* and the *Check your email* page
    # nothing: neither said that a grant defaults to them.
    first, last = _today() + timedelta(days=60), _today() + timedelta(days=170)
    sentence = (
        f"If granted, the permission runs from {day_text(first)} to {day_text(last)}, "
        "unless the office says otherwise."
    )
    sent = client.post(
        "/permissions/request",
        data=request_fields(use_from=first.isoformat(), use_until=last.isoformat()),
    )
    assert sent.status_code == 302
    check = _one_line(client.get("/permissions/request/sent").get_data(as_text=True))
    assert sentence in check
    # A request without days: the page says nothing of them (the year's default is the
    # form's to say).
    client.post("/permissions/request", data=request_fields(requester_email="b@east.example"))
    check = _one_line(client.get("/permissions/request/sent").get_data(as_text=True))
    assert "If granted" not in check

    request, token = submit(use_from=first, use_until=last)
    status = _one_line(client.get(f"/permissions/status/{token}").get_data(as_text=True))
    assert f'<p id="term-default">{sentence}</p>' in status
    _begun, begun_token = submit(use_from=_today(), use_until=last)
    status = _one_line(client.get(f"/permissions/status/{begun_token}").get_data(as_text=True))
    assert (
        f"If granted, the permission runs from the day it is granted to {day_text(last)}, "
        "unless the office says otherwise." in status
    )
    _undated, plain = submit(requester_email="c@north.example")
    assert "If granted" not in client.get(f"/permissions/status/{plain}").get_data(as_text=True)
    # Once decided, the grant's own days are said instead.
    services.approve(request.id, OFFICE)
    status = _one_line(client.get(f"/permissions/status/{token}").get_data(as_text=True))
    assert "If granted" not in status
    assert f"Permission is granted from {day_text(first)} until {day_text(last)}" in status
