"""Round 59: the console home's queue rows said "Needs attention: none" while the
oldest permission request was at 6 of its 10 days: a row counted only what was past
its service level (or unassigned). Every queue with a service level now says how many
of its items are due within two business days and not yet past it, linked to the
queue listing them oldest first; the home stays read-only and sends the same
statements however many are near."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import calendar, db
from licensing.agreements.models import Application
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import (
    submit,  # noqa: F401 - the fixture
)
from tests.support.statements import sent_by

Submit = Callable[..., tuple[PermissionRequest, str]]
Apply = Callable[..., Application]
# Friday 13 November 2026 at the office: two business days on is Tuesday the 17th.
FRIDAY = datetime(2026, 11, 13, 15, 0, tzinfo=UTC)
PERMISSIONS = "Educational permission requests with the office"


def _row(page: str, title: str) -> str:
    found = re.search(rf"<tr[^>]*>\s*<td><a [^>]*>{re.escape(title)}</a>.*?</tr>", page, re.S)
    assert found, page[:3000]
    return found.group(0)


def _words(cell: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())


def _requests_due(send: Submit, *days: date) -> list[PermissionRequest]:
    """A confirmed request due at the end of each office day of `days`."""
    made = []
    for number, day in enumerate(days):
        request, _ = send(requester_email=f"teacher{number}.{day.day}@cedar-ridge.example")
        db.session().execute(
            update(PermissionRequest)
            .where(PermissionRequest.id == request.id)
            .values(sla_due_at=calendar.end_of_office_day(day))
        )
        made.append(request)
    db.session().commit()
    return made


def test_the_permissions_row_says_how_many_are_due_within_two_days_linked_oldest_first(
    app: Flask,
    submit: Submit,  # noqa: F811 - the fixture
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    with time_machine.travel(FRIDAY, tick=False):
        overdue, today, tuesday, wednesday = _requests_due(
            submit, date(2026, 11, 12), date(2026, 11, 13), date(2026, 11, 17), date(2026, 11, 18)
        )
        console = signed_in(app.test_client(), licensing_staff)
        page = console.get("/console/").get_data(as_text=True)
        row = _row(page, PERMISSIONS)
        assert "1 past the service level 2 due within 2 business days" in _words(row)
        link = re.search(r'<a href="([^"]+)">2 due within 2 business days</a>', row)
        assert link is not None, row
        queue = console.get(html.unescape(link.group(1))).get_data(as_text=True)
    assert "sort=due" in link.group(1)
    found = re.findall(r"PR-\d{4}-\d{6}", queue)
    order = [found.index(each.reference) for each in (overdue, today, tuesday, wednesday)]
    assert order == sorted(order)


def test_nothing_near_its_service_level_still_reads_none(
    app: Flask,
    submit: Submit,  # noqa: F811 - the fixture
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    with time_machine.travel(FRIDAY, tick=False):
        _requests_due(submit, date(2026, 11, 18), date(2026, 11, 30))
        page = signed_in(app.test_client(), licensing_staff).get("/console/")
    row = _row(page.get_data(as_text=True), PERMISSIONS)
    assert "due within" not in row
    assert '<span class="muted">none</span>' in row


def test_applications_near_the_review_target_are_counted_from_the_review_clock(
    app: Flask, apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any
) -> None:
    # Both submitted Monday 2 November 2026: due by the end of Tuesday 17 November.
    apply(vendor, STAFF_USE)
    mine = apply(vendor, STAFF_USE)
    db.session().execute(
        update(Application)
        .where(Application.id == mine.id)
        .values(assignee_id=licensing_staff.id, state="in_review")
    )
    db.session().commit()

    def home_on(moment: datetime) -> str:
        with time_machine.travel(moment, tick=False):
            staff = signed_in(app.test_client(), licensing_staff)
            return staff.get("/console/").get_data(as_text=True)

    # Thursday the 12th: two business days on is Monday the 16th, before the due day.
    thursday = home_on(datetime(2026, 11, 12, 15, 0, tzinfo=UTC))
    assert "due within" not in _row(thursday, "Applications awaiting review")
    friday = home_on(FRIDAY)
    waiting = _row(friday, "Applications awaiting review")
    assert "2 due within 2 business days" in _words(waiting)
    assert 'href="/console/applications?sort=oldest">2 due within' in waiting
    assigned = _row(friday, "Applications assigned to you")
    assert "1 due within 2 business days" in _words(assigned)
    assert "assignee=me" in assigned
    # Past it on Wednesday the 18th: no longer "due within", but past the level.
    wednesday = _row(
        home_on(datetime(2026, 11, 18, 15, 0, tzinfo=UTC)), "Applications awaiting review"
    )
    assert "due within" not in wednesday
    assert "2 past the service level of 10 US business days." in _words(wednesday)


def _home_statements(app: Flask, client: FlaskClient) -> list[str]:
    client.get("/console/")
    with sent_by(app) as sent:
        assert client.get("/console/").status_code == 200
    return sent


def test_the_home_sends_the_same_statements_at_2_and_12_near_and_writes_nothing(
    app: Flask,
    submit: Submit,  # noqa: F811 - the fixture
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    with time_machine.travel(FRIDAY, tick=False):
        _requests_due(submit, date(2026, 11, 13), date(2026, 11, 17))
        console = signed_in(app.test_client(), licensing_staff)
        at_2 = _home_statements(app, console)
        _requests_due(submit, *[date(2026, 11, day) for day in (13, 16, 17) for _ in range(3)])
        _requests_due(submit, date(2026, 11, 16))
        at_12 = _home_statements(app, console)
        row = _row(console.get("/console/").get_data(as_text=True), PERMISSIONS)
    assert "12 due within 2 business days" in _words(row)
    assert len(at_12) == len(at_2)
    writes = [
        sql
        for sql in at_12
        if re.match(r"\s*(INSERT|UPDATE|DELETE)\b", sql, re.I)
        or "FOR UPDATE" in sql.upper()
        or "BEGIN IMMEDIATE" in sql.upper()
    ]
    assert writes == []
