"""Round 38: what round 37 left of the review clock and the office's steps.

A reconsideration granted, then returned to the vendor and resubmitted, gives the
wait back from the reconsideration's request (which the vendor sees and which never
moves); *Escalate* answers and says whom it emailed (licensing staff), *Start
review* that it emails no one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries, services
from licensing.agreements.models import Application
from licensing.finance import queries as finance_queries
from tests.integration.agreements.conftest import STAFF_USE
from tests.support import factories
from tests.support.factories import bearer
from tests.support.review_clock import due_text as _due_text
from tests.support.review_clock import fact as _fact
from tests.support.review_clock import flash as _flash
from tests.support.review_clock import last_to as _last_to
from tests.support.review_clock import on_business_day as _on_business_day
from tests.support.review_clock import plain_text as _text
from tests.support.settings import issuing

Apply = Callable[..., Application]
TARGET = 10  # APPLICATION_REVIEW_SLA_DAYS in the tests


def _clock_in_sql(application_id: int) -> datetime:
    clock = db.session().scalar(
        select(queries.review_clock()).where(Application.id == application_id)
    )
    assert clock is not None
    return clock


def _reconsidered(apply: Apply, vendor: Any, licensing_staff: Any) -> Application:
    """Submitted on day 0, rejected on day 2, reconsideration asked for on day 3 and
    granted on day 4."""
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = apply(vendor, STAFF_USE)
    services.reject(application.id, "Not licensable.", staff_actor, now=_on_business_day(2))
    services.request_reconsideration(
        application.id, "It is: see the contract.", vendor_actor, now=_on_business_day(3)
    )
    services.grant_reconsideration(application.id, staff_actor, now=_on_business_day(4))
    return application


def test_a_resubmission_after_a_granted_reconsideration_gives_back_the_wait(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    reconsidered = _reconsidered(apply, vendor, licensing_staff)
    services.return_for_information(
        reconsidered.id, "Which contract?", staff_actor, now=_on_business_day(6)
    )
    services.submit(
        reconsidered.id,
        vendor_actor,
        policy=issuing(),
        attest=True,
        response="The 2025 one.",
        now=_on_business_day(10),
    )
    # Submitted on day 5, never returned: two business days older than the
    # reconsideration's clock once its four days waited are given back (day 7).
    later = apply(vendor, STAFF_USE, submit=False)
    services.submit(later.id, vendor_actor, policy=issuing(), attest=True, now=_on_business_day(5))

    stored = db.session().get(Application, reconsidered.id)
    assert stored is not None
    assert stored.reconsideration_requested_at == _on_business_day(3)  # the vendor's, kept
    assert stored.review_clock_from == _on_business_day(7)  # day 3 moved by days 6 to 10
    assert queries.review_clock_from(stored) == _on_business_day(7)
    assert _clock_in_sql(reconsidered.id) == _on_business_day(7)

    today = _on_business_day(10) + timedelta(hours=1)
    with time_machine.travel(today, tick=False):
        staff = signed_in(app.test_client(), licensing_staff)
        page = staff.get(f"/console/applications/{reconsidered.id}").get_data(as_text=True)
        assert _fact(page, "Age") == (
            f"3 of 10 business days; decision due by the end of {_due_text(17)} (US Central time)"
        )
        page = staff.get("/console/applications?sort=oldest").get_data(as_text=True)
        assert page.index(later.reference) < page.index(reconsidered.reference)
        answer = app.test_client().get(
            "/api/v1/applications?sort=oldest", headers=bearer(licensing_staff)
        )
        ids = [item["id"] for item in answer.get_json()]
        assert ids.index(later.id) < ids.index(reconsidered.id)

    # On day 14 it would be 11 days old from the request: it is 7, and not counted.
    with time_machine.travel(_on_business_day(14) + timedelta(hours=1), tick=False):
        staff = signed_in(app.test_client(), licensing_staff)
        home = staff.get("/console/").get_data(as_text=True)
        assert "0 past the service level of 10 US business days." in _text(home)
        health = finance_queries.queue_health(
            db.session(),
            _on_business_day(14) + timedelta(hours=1),
            application_target=TARGET,
            permission_target=TARGET,
        )
        applications = next(queue for queue in health if queue.key == "applications")
        assert applications.bands[finance_queries.PAST_TARGET] == 0
        assert applications.oldest_days == 9  # the one submitted on day 5; this one is 7


def test_a_reconsideration_counts_from_its_request_not_from_an_earlier_give_back(
    apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = apply(vendor, STAFF_USE)
    services.return_for_information(
        application.id, "More, please.", staff_actor, now=_on_business_day(1)
    )
    services.submit(
        application.id, vendor_actor, policy=issuing(), attest=True, now=_on_business_day(3)
    )
    services.reject(application.id, "Not licensable.", staff_actor, now=_on_business_day(4))
    services.request_reconsideration(
        application.id, "It is.", vendor_actor, now=_on_business_day(5)
    )
    stored = db.session().get(Application, application.id)
    assert stored is not None
    assert stored.review_clock_from is None  # the request restarts the clock
    assert queries.review_clock_from(stored) == _on_business_day(5)
    assert _clock_in_sql(application.id) == _on_business_day(5)

    # One stored before round 38 cleared it keeps the earlier give-back beside the
    # request: the request still counts, in Python and in SQL alike.
    stored.review_clock_from = _on_business_day(2)
    db.session().commit()
    assert queries.review_clock_from(stored) == _on_business_day(5)
    assert _clock_in_sql(application.id) == _on_business_day(5)


def test_an_escalation_through_the_api_answers_whom_of_the_staff_it_emailed(
    client: FlaskClient, apply: Apply, vendor: Any, licensing_staff: Any
) -> None:
    second = factories.make_staff(db.session(), roles=("licensing",))
    as_staff = bearer(licensing_staff)
    base = "/api/v1/applications"
    application = apply(vendor, STAFF_USE)

    # Starting the review (which assigns it to the one starting) emails nobody.
    started = client.post(f"{base}/{application.id}/review", json={}, headers=as_staff)
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["recipients"] == []
    assert started.get_json()["emailed_summary"] == (
        "emailed nobody: starting a review tells no one"
    )

    # The reviewer escalates: unassigned, so every licensing staff member is told but
    # the one who escalated it (round 39).
    third = factories.make_staff(db.session(), roles=("licensing",))
    answer = client.post(
        f"{base}/{application.id}/escalate", json={"reason": "A second look."}, headers=as_staff
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    emailed = _last_to("application_waiting")
    assert sorted(emailed) == sorted([second.email, third.email])
    assert body["recipients"] == [
        {"email": email, "audience": "staff", "organization_id": None} for email in emailed
    ]
    assert body["emailed_summary"] == (
        f"emailed the other licensing staff at {', '.join(emailed)} "
        f"(not {licensing_staff.full_name}, who escalated it)"
    )
    assert body["state"] == "escalated"

    # Escalated by someone else while another reviewer has it: that reviewer alone.
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    other = apply(vendor, STAFF_USE)
    services.start_review(other.id, staff_actor)
    services.assign(other.id, second.id, staff_actor)
    body = client.post(
        f"{base}/{other.id}/escalate", json={"reason": "Pricing."}, headers=as_staff
    ).get_json()
    assert _last_to("application_waiting") == [second.email]
    assert body["recipients"] == [
        {"email": second.email, "audience": "staff", "organization_id": None}
    ]
    assert body["emailed_summary"] == (
        f"emailed {second.full_name}, its reviewer, at {second.email}"
    )


def test_the_consoles_escalation_message_says_whom_it_emailed(
    client: FlaskClient,
    signed_in: Any,
    apply: Apply,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    second = factories.make_staff(db.session(), roles=("licensing",))
    staff_actor = Actor.of(accounts.principal_for(licensing_staff))
    application = apply(vendor, STAFF_USE)
    services.start_review(application.id, staff_actor)
    services.assign(application.id, second.id, staff_actor)
    staff = signed_in(client, licensing_staff)
    page = staff.post(
        f"/console/applications/{application.id}/review",
        data={"action": "escalate", "reason": "The pricing needs a second look."},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert _flash(page) == (
        f"Escalated for a second review. We emailed {second.full_name}, its reviewer, "
        f"at {second.email}."
    )
    assert _last_to("application_waiting") == [second.email]
