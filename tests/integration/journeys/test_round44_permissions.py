"""Round 44: the queue by the days of use. The officer sorts the queue (the console's
and the API's) by the first day of the use asked for, the requests without days last
in the queue's own order; the API's *Grants ending within 60 days* says per grant
whether its requester was emailed that it ends, as the console's does; the vendor's
list of requests gives a routed use's days; and the *Check your email* page's days
leave the session once shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import calendar, db
from licensing.calendar import day_text
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.web.filters import dated
from tests.integration.permissions.conftest import (
    OFFICE,
    config_changes,  # noqa: F401 - the fixture (the form's rate limit off)
    request_fields,
    routed_use,
    send_routed,
    submit,  # noqa: F401 - the fixture
    three_grants_ending,
    tied_queue,
)
from tests.support import factories
from tests.support.openapi import answered_as_documented, served_document
from tests.support.statements import statements_for

Submit = Callable[..., tuple[PermissionRequest, str]]
SMALL, LARGE = 10, 100


def _today() -> date:
    return calendar.office_date(utcnow())


def _row_ids(page: str) -> list[int]:
    """The queue's requests, in the order its rows list them."""
    return [int(found) for found in re.findall(r'name="request_ids" value="(\d+)"', page)]


def _queue(client: FlaskClient, query: str = "", status: int = 200) -> str:
    response = client.get(f"/console/permissions/{query}")
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_the_officer_sorts_the_queue_by_the_first_day_of_the_use_the_undated_last(
    app: Flask,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    licensing_staff: Any,
) -> None:
    # The rows said the days (round 43), but the queue listed by the decision due only:
    # the week could not be read by the uses starting first.
    by_first_day, by_due = tied_queue(submit)
    client = signed_in(app.test_client(), licensing_staff)
    page = _queue(client)
    assert _row_ids(page) == by_due
    assert '<option value="due" selected>Decision due soonest first</option>' in page
    page = _queue(client, "?sort=use_from")
    assert _row_ids(page) == by_first_day
    assert '<option value="use_from" selected>First day of the use, earliest first</option>' in (
        page
    )
    assert (
        "By the first day of the use asked for, earliest first; requests that gave no days "
        "follow, by the date the decision is due." in page
    )
    # The bulk assignment returns to the list as sorted.
    assert "sort=use_from" in page.split('name="filters" value="')[1].split('"')[0]
    # A sort the field does not offer, or given twice, is refused beside it, nothing listed.
    refused = _queue(client, "?sort=start", status=422)
    assert "Sort takes one of: Decision due soonest first, First day of the use, earliest " in (
        refused
    )
    assert _row_ids(refused) == []
    twice = _queue(client, "?sort=use_from&sort=due", status=400)
    assert "Sort takes one value, and the link gave it 2" in twice
    assert _row_ids(twice) == []


def test_the_grants_ending_sort_by_the_first_day_too(
    app: Flask,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    licensing_staff: Any,
) -> None:
    today = _today()
    sooner, _ = submit(requester_email="a@x.example")  # no days: one year, ended sooner
    later, _ = submit(
        requester_email="b@x.example",
        use_from=today + timedelta(days=2),
        use_until=today + timedelta(days=40),
    )
    services.approve(sooner.id, OFFICE, valid_until=today + timedelta(days=20))
    services.approve(later.id, OFFICE)
    client = signed_in(app.test_client(), licensing_staff)
    assert _row_ids(_queue(client, "?ending=1")) == [sooner.id, later.id]
    page = _queue(client, "?ending=1&sort=use_from")
    assert _row_ids(page) == [later.id, sooner.id]
    assert "follow, the grant ending soonest first." in page
    assert '<option value="due">Grant ending soonest first</option>' in page


def _pages(client: FlaskClient, headers: dict[str, str], query: str, size: int) -> list[int]:
    """Every id the API's queue lists, walking `page=1, 2, ...` by `size`."""
    seen: list[int] = []
    page = 1
    while True:
        answer = client.get(
            f"/api/v1/permission-requests?{query}&per_page={size}&page={page}", headers=headers
        )
        assert answer.status_code == 200, answer.get_json()
        items = answer.get_json()
        if not items:
            assert int(answer.headers["X-Total-Count"]) == len(seen)
            return seen
        seen += [item["id"] for item in items]
        page += 1


def test_the_apis_queue_pages_by_the_first_day_across_ties_and_requests_without_days(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
) -> None:
    by_first_day, by_due = tied_queue(submit)
    client, headers = app.test_client(), factories.bearer(licensing_staff)
    # Pages of 2 and 3 cut through the tie of three and the undated ones: each request
    # once, in the sort's order.
    for size in (2, 3):
        assert _pages(client, headers, "sort=use_from", size) == by_first_day
        assert _pages(client, headers, "sort=due", size) == by_due
    assert _pages(client, headers, "state=open", 4) == by_due  # the default is `due`
    sort = [
        parameter
        for parameter in served_document(client)["paths"]["/api/v1/permission-requests"]["get"][
            "parameters"
        ]
        if parameter["name"] == "sort"
    ]
    assert sort[0]["schema"]["enum"] == ["due", "use_from"]
    refused = client.get("/api/v1/permission-requests?sort=start", headers=headers)
    assert refused.status_code == 422
    assert "query.sort" in str(refused.get_json()["errors"])


def test_the_apis_grants_ending_say_whether_the_requester_was_emailed_that_it_ends(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The console's list said it per grant (round 43); the API gave the last day alone.
    today = _today()
    short, later, ending = three_grants_ending(submit)
    client, headers = app.test_client(), factories.bearer(licensing_staff)
    document = served_document(client)
    listed = answered_as_documented(
        document,
        "GET",
        "/api/v1/permission-requests",
        client.get("/api/v1/permission-requests?ending=true", headers=headers),
    )
    ending_field = document["components"]["schemas"]["PermissionRequest"]["properties"]["ending"]
    assert ending_field["properties"]["reminder"]["enum"] == ["sent", "to_send", "not_sent"]
    endings = {item["id"]: item["ending"] for item in listed}
    assert endings[short.id] == {
        "ends_on": (today + timedelta(days=20)).isoformat(),
        "days_left": 20,
        "reminder": "not_sent",
        "reminder_sent_at": None,
        "reminder_on": None,
    }
    assert endings[later.id] == {
        "ends_on": (today + timedelta(days=50)).isoformat(),
        "days_left": 50,
        "reminder": "to_send",
        "reminder_sent_at": None,
        "reminder_on": (today + timedelta(days=20)).isoformat(),
    }
    told = endings[ending.id]
    assert told["reminder"] == "sent"
    assert told["reminder_on"] is None
    assert told["days_left"] == 10
    # The same email as the console's list names (its day in words, round 58).
    page = " ".join(
        signed_in(app.test_client(), licensing_staff)
        .get("/console/permissions/?ending=1")
        .get_data(as_text=True)
        .split()
    )
    sent_on = page.split("The requester was emailed on ")[1].split(" that it ends.")[0]
    assert dated(datetime.fromisoformat(told["reminder_sent_at"])) == sent_on
    # Elsewhere, and on one request's answer, it is null.
    approved = client.get("/api/v1/permission-requests?state=approved", headers=headers)
    assert {item["ending"] for item in approved.get_json()} == {None}
    one = client.get(f"/api/v1/permission-requests/{ending.id}", headers=headers).get_json()
    assert one["ending"] is None


def test_the_apis_grants_ending_read_the_same_statements_at_10_and_100_grants(
    app: Flask, admin: Any
) -> None:
    session = db.session()
    organization = factories.make_organization(session)
    today = _today()
    made = {"count": 0}

    def seed(count: int) -> None:
        for _ in range(count):
            index = made["count"] = made["count"] + 1
            routed = send_routed(
                routed_use(organization.id, "Bluefin", application_id=92000 + index)
            )
            # Granted 45 days ago, ending within 60 days: the job emails those ending
            # within 30 of them (a mix of sent and to send).
            db.session().execute(
                update(PermissionRequest)
                .where(PermissionRequest.id == routed.id)
                .values(
                    state="approved",
                    decided_at=utcnow() - timedelta(days=45),
                    valid_from=today - timedelta(days=45),
                    valid_until=today + timedelta(days=1 + index % 59),
                )
            )
        db.session().commit()
        services.expire_due()

    client, headers = app.test_client(), factories.bearer(admin)
    url = "/api/v1/permission-requests?ending=true&per_page=100"
    seed(SMALL)
    at_small = statements_for(app, client, url, headers=headers)
    seed(LARGE - SMALL)
    at_large = statements_for(app, client, url, headers=headers)
    listed = client.get(url, headers=headers).get_json()
    assert len(listed) == LARGE
    assert {item["ending"]["reminder"] for item in listed} == {"sent", "to_send"}
    assert at_large == at_small


def test_the_vendors_list_gives_a_routed_uses_days_as_the_queue_does(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The console's rows said "use 2027-01-01 to 2027-12-31" (round 43); the vendor's
    # list of the same requests said the content alone.
    organization = vendor.organization
    dated = send_routed(routed_use(organization.id, organization.legal_name))
    # A request made before round 42 kept no days.
    older = send_routed(routed_use(organization.id, organization.legal_name, application_id=4102))
    db.session().execute(
        update(PermissionRequest)
        .where(PermissionRequest.id == older.id)
        .values(use_from=None, use_until=None)
    )
    db.session().commit()
    page = signed_in(app.test_client(), vendor).get("/portal/permissions/")
    assert page.status_code == 200
    rows = {
        reference: row
        for row in page.get_data(as_text=True).split("<tr>")[2:]
        for reference in (dated.reference, older.reference)
        if f">{reference}</a>" in row
    }
    days = '<br><span class="muted term">use January 1, 2027 to December 31, 2027</span></td>'
    assert days in rows[dated.reference]
    assert "muted term" not in rows[older.reference]
    # The same words as the console's row.
    queue = signed_in(app.test_client(), licensing_staff).get("/console/permissions/")
    assert days in queue.get_data(as_text=True)


def _session_cookie(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """What the client's signed session cookie carries."""
    cookie = client.get_cookie("licensing_session")
    if cookie is None:
        return {}
    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    carried: dict[str, Any] = signer.loads(cookie.value)
    return carried


def test_the_check_your_email_pages_days_leave_the_session_once_shown(
    app: Flask, client: FlaskClient
) -> None:
    # The days stayed in the session cookie until the next request replaced them:
    # a second visit, days later or by the next person at a shared computer, said
    # the last request's term again.
    first, last = _today() + timedelta(days=60), _today() + timedelta(days=170)
    sent = client.post(
        "/permissions/request",
        data=request_fields(use_from=first.isoformat(), use_until=last.isoformat()),
    )
    assert sent.status_code == 302
    assert _session_cookie(app, client)["permission_sent_term"] == [
        first.isoformat(),
        last.isoformat(),
    ]
    shown = client.get("/permissions/request/sent").get_data(as_text=True)
    assert f"If granted, the permission runs from {day_text(first)}" in " ".join(shown.split())
    assert "permission_sent_term" not in _session_cookie(app, client)
    again = client.get("/permissions/request/sent").get_data(as_text=True)
    assert "If granted" not in again
    assert "Check your email" in again
