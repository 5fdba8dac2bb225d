"""Round 3: a rejection the vendor may still ask to reconsider is on the staff
console, with the deadline, until the window closes or the vendor asks."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask

from licensing import calendar
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.db import utcnow
from tests.integration.agreements.conftest import STAFF_USE

TITLE = "Rejected applications open to reconsideration"


def _rejected(application: Application, staff: Any, days_ago: int = 0) -> Application:
    return services.reject(
        application.id,
        "Revenue not evidenced",
        Actor.of(accounts.principal_for(staff)),
        now=utcnow() - timedelta(days=days_ago),
    )


def test_staff_see_rejections_still_open_to_reconsideration_with_their_deadlines(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    open_ = _rejected(apply(vendor, STAFF_USE), licensing_staff, days_ago=1)
    later = _rejected(apply(vendor, STAFF_USE), licensing_staff)
    closed = _rejected(apply(vendor, STAFF_USE), licensing_staff, days_ago=15)
    asked = _rejected(apply(vendor, STAFF_USE), licensing_staff)
    services.request_reconsideration(
        asked.id, "Audited accounts are attached.", Actor.of(accounts.principal_for(vendor))
    )
    assert open_.reconsider_by is not None
    assert later.reconsider_by is not None
    staff = signed_in(app.test_client(), licensing_staff)

    home = html.unescape(staff.get("/console/").get_data(as_text=True))
    row = home.split(TITLE, 1)[1].split("</tr>", 1)[0]
    assert f"The first window closes {calendar.deadline_text(open_.reconsider_by)}." in row
    assert '<td class="num">2</td>' in row

    listed = html.unescape(
        staff.get("/console/applications/reconsideration-open").get_data(as_text=True)
    )
    assert listed.index(open_.reference) < listed.index(later.reference)  # soonest first
    assert calendar.deadline_text(later.reconsider_by) in listed
    assert closed.reference not in listed
    assert asked.reference not in listed  # in the applications queue, awaiting staff

    review = html.unescape(staff.get(f"/console/applications/{open_.id}").get_data(as_text=True))
    assert (
        f"The vendor may ask for it until {calendar.deadline_text(open_.reconsider_by)}" in review
    )
    final = html.unescape(staff.get(f"/console/applications/{closed.id}").get_data(as_text=True))
    assert "The vendor may ask for it until" not in final


def test_billing_staff_neither_see_the_row_nor_open_the_list(
    app: Flask, billing_staff: Any, signed_in: Any
) -> None:
    staff = signed_in(app.test_client(), billing_staff)
    assert TITLE not in staff.get("/console/").get_data(as_text=True)
    assert staff.get("/console/applications/reconsideration-open").status_code == 403
