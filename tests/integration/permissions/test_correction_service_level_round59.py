"""Round 59: a confirmed correction of a permission request (round 58) replaced the
request it corrects but counted its service level from its own confirmation: a
lecturer who corrected her audience four business days in read 0 / 10 on the queue,
the decision due ten business days on, and the console home's oldest was her
correction's moment. It is counted from the request it corrects now (she waited
since then): the same due date (later by the days a question to her waited, which the
correction answers), on the queue, the request's page, the home and her email; a
correction of a request decided meanwhile stands alone, on its own clock."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.permissions.queries import service_level
from licensing.permissions.states import SUBMITTED, WITHDRAWN
from tests.integration.permissions.conftest import (
    OFFICE,
    last_mail,
    link_in,
    request_fields,
    send_correction,
)
from tests.support.pages import text_of

Submit = Callable[..., tuple[PermissionRequest, str]]
EMAIL = "lena.ortiz@cedar-ridge.example"
# Monday 2 November 2026 at the office: ten business days on (Veterans Day off) is
# Tuesday 17 November.
MONDAY = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
FIRST_DUE = calendar.end_of_office_day(date(2026, 11, 17))


def _correct_as_lena(client: FlaskClient, token: str) -> PermissionRequest:
    return send_correction(client, token, EMAIL)


def _at(day: int) -> Any:
    return time_machine.travel(datetime(2026, 11, day, 15, 0, tzinfo=UTC), tick=False)


def _queue_age(page: str, reference: str) -> str:
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{reference}.*?</tr>", page, re.S)
    assert row, page[:3000]
    found = re.search(r'<td class="num">(\d+ / \d+)</td>', row.group(0))
    assert found, row.group(0)
    return found.group(1)


def test_a_correction_keeps_the_due_date_of_the_request_it_corrects_on_every_page(
    client: FlaskClient, submit: Submit, licensing_staff: Any, signed_in: Any
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        first, token = submit()
    assert first.sla_due_at == FIRST_DUE
    with _at(6):  # Friday: four business days in
        correction = _correct_as_lena(client, token)
        assert correction.corrects_id == first.id
        assert correction.state == SUBMITTED
        assert db.session().get(PermissionRequest, first.id).state == WITHDRAWN
        assert correction.sla_due_at == FIRST_DUE
        # The "We received" email aims at the first request's day.
        assert "We aim to decide by the end of Tuesday, November 17, 2026" in (
            last_mail(EMAIL).body_text
        )
        console = signed_in(client, licensing_staff)
        queue = console.get("/console/permissions/").get_data(as_text=True)
        assert _queue_age(queue, correction.reference) == "4 / 10"
        page = console.get(f"/console/permissions/{correction.id}")
        said = text_of(page)
        assert "4 of 10 business days; decision due by the end of Tuesday, November 17" in said
        assert "kept the decision's due date of the request it corrects" in said
        home = console.get("/console/").get_data(as_text=True)
    row = re.search(r"<tr[^>]*>\s*<td><a [^>]*>Educational permission.*?</tr>", home, re.S)
    assert row is not None
    # The longest-waiting requester has waited since the first request's confirmation.
    assert calendar.instant_text(first.submitted_at) in row.group(0)


def test_a_correction_sent_while_a_question_waits_gets_the_wait_back_as_an_answer_would(
    client: FlaskClient, submit: Submit
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        first, token = submit()
    with _at(4):  # Wednesday: two business days used when the office asks
        services.ask_for_info(first.id, "Which unit's slides?", OFFICE)
    with _at(10):  # Tuesday after: the question waited four business days
        correction = _correct_as_lena(client, token)
    # Due four business days after the first's day (18, 19, 20, 23 November), not
    # ten from the correction's confirmation (25 November).
    assert correction.sla_due_at == calendar.end_of_office_day(date(2026, 11, 23))
    # Two business days used, as when the office asked: the wait was not the office's.
    level = service_level(correction, datetime(2026, 11, 10, 15, 0, tzinfo=UTC), target_days=10)
    assert level.age_days == 2


def test_a_correction_of_a_correction_counts_from_the_first_request(
    client: FlaskClient, submit: Submit, licensing_staff: Any, signed_in: Any
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        first, token = submit()
    with _at(4):
        second = _correct_as_lena(client, token)
    with _at(6):
        third = _correct_as_lena(client, services.status_token(second))
        assert third.corrects_id == second.id
        assert third.sla_due_at == FIRST_DUE
        home = signed_in(client, licensing_staff).get("/console/").get_data(as_text=True)
    row = re.search(r"<tr[^>]*>\s*<td><a [^>]*>Educational permission.*?</tr>", home, re.S)
    assert row is not None
    assert calendar.instant_text(first.submitted_at) in html.unescape(row.group(0))


def test_a_correction_of_a_request_decided_meanwhile_counts_from_its_own_confirmation(
    client: FlaskClient, submit: Submit, licensing_staff: Any, signed_in: Any
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        first, token = submit()
    with _at(4):
        page = client.get(f"/permissions/request?again={token}").get_data(as_text=True)
        hidden = re.search(r'name="corrects" type="hidden" value="([^"]*)"', page)
        assert hidden is not None
        client.post(
            "/permissions/request",
            data=request_fields(audience_size="90", corrects=hidden.group(1)),
        )
        confirm = link_in(last_mail(EMAIL), "/permissions/confirm/")
        services.approve(first.id, OFFICE)
        client.get(confirm)
        db.session().expire_all()
        correction = (
            db.session()
            .scalars(select(PermissionRequest).order_by(PermissionRequest.id.desc()))
            .first()
        )
        home = signed_in(client, licensing_staff).get("/console/").get_data(as_text=True)
    assert correction.corrects_id == first.id
    # Wednesday 4 November plus ten business days (Veterans Day off): 19 November.
    assert correction.sla_due_at == calendar.end_of_office_day(date(2026, 11, 19))
    row = re.search(r"<tr[^>]*>\s*<td><a [^>]*>Educational permission.*?</tr>", home, re.S)
    assert row is not None
    assert correction.submitted_at is not None
    assert calendar.instant_text(correction.submitted_at) in row.group(0)
