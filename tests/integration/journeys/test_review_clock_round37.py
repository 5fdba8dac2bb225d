"""Round 37: an application's review clock stops while it waits on the vendor.

Returned on business day 8 of 10 and resubmitted on day 12, an application arrived
overdue: its age and due date counted from the first submission. The resubmission
now moves the clock later by the business days it waited (`review_clock_from`),
the permission request's rule, and every reader of the age counts from it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import time_machine
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.finance import queries as finance_queries
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.support.factories import bearer
from tests.support.review_clock import due_text as _due_text
from tests.support.review_clock import fact as _fact
from tests.support.review_clock import on_business_day as _on_business_day
from tests.support.review_clock import plain_text as _text
from tests.support.settings import issuing

Apply = Callable[..., Application]
TARGET = 10  # APPLICATION_REVIEW_SLA_DAYS in the tests


def test_a_resubmission_gives_back_the_days_waited_on_the_vendor_everywhere_the_age_is_read(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    returned = apply(vendor, STAFF_USE)  # submitted on day 0
    services.return_for_information(
        returned.id, "Which languages?", staff_actor, now=_on_business_day(8)
    )
    services.submit(
        returned.id,
        vendor_actor,
        policy=issuing(),
        attest=True,
        response="English only.",
        now=_on_business_day(12),
    )
    # Submitted on day 2, never returned: two business days older than the first
    # once its four days waited are given back.
    later = apply(vendor, STAFF_USE, submit=False)
    services.submit(later.id, vendor_actor, policy=issuing(), attest=True, now=_on_business_day(2))

    stored = db.session().get(Application, returned.id)
    assert stored is not None
    assert stored.submitted_at == NOW  # the first submission is kept
    assert stored.review_clock_from == _on_business_day(4)  # moved by days 8 to 12

    today = _on_business_day(12) + timedelta(hours=1)
    with time_machine.travel(today, tick=False):
        staff = signed_in(app.test_client(), licensing_staff)

        # The application's page: 8 of 10, due 4 business days later than before.
        page = staff.get(f"/console/applications/{returned.id}").get_data(as_text=True)
        assert _fact(page, "Age") == (
            f"8 of 10 business days; decision due by the end of {_due_text(14)} (US Central time)"
        )

        # The queue: not overdue, and ordered after the one two days older.
        page = staff.get("/console/applications?sort=oldest").get_data(as_text=True)
        assert page.index(later.reference) < page.index(returned.reference)
        row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{returned.reference}.*?</tr>", page, re.S)
        assert row, page[:3000]
        assert "overdue" not in _text(row.group(0))
        assert "overdue" not in row.group(0).split(">", 1)[0]
        newest = staff.get("/console/applications?sort=newest").get_data(as_text=True)
        assert newest.index(returned.reference) < newest.index(later.reference)

        # The console home's count of those past the service level.
        home = staff.get("/console/").get_data(as_text=True)
        assert "0 past the service level of 10 US business days." in _text(home)

        # The API's queue, oldest first, orders it the same way.
        answer = app.test_client().get(
            "/api/v1/applications?sort=oldest", headers=bearer(licensing_staff)
        )
        assert answer.status_code == 200
        ids = [item["id"] for item in answer.get_json()]
        assert ids.index(later.id) < ids.index(returned.id)

    # The Finance page's queue health counts the office's 8 days, not 12.
    health = finance_queries.queue_health(
        db.session(), today, application_target=TARGET, permission_target=TARGET
    )
    applications = next(queue for queue in health if queue.key == "applications")
    assert applications.bands[finance_queries.PAST_TARGET] == 0
    assert applications.oldest_days == 10  # the one submitted on day 2; this one is 8

    # Two days later (day 14's end) it is due; the day after, overdue everywhere.
    with time_machine.travel(_on_business_day(15), tick=False):
        staff = signed_in(app.test_client(), licensing_staff)
        page = staff.get(f"/console/applications/{returned.id}").get_data(as_text=True)
        assert _fact(page, "Age").startswith("11 of 10 business days; overdue")
        home = staff.get("/console/").get_data(as_text=True)
        assert "2 past the service level of 10 US business days." in _text(home)


def test_each_return_gives_back_its_own_wait(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = apply(vendor, STAFF_USE)
    for returned_on, resubmitted_on in ((3, 5), (7, 10)):
        services.return_for_information(
            application.id, "More, please.", staff_actor, now=_on_business_day(returned_on)
        )
        services.submit(
            application.id,
            vendor_actor,
            policy=issuing(),
            attest=True,
            now=_on_business_day(resubmitted_on),
        )
    stored = db.session().get(Application, application.id)
    assert stored is not None
    assert stored.review_clock_from == _on_business_day(2 + 3)
