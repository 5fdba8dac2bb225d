"""The console's permission-request queue prints its rows from text escaped once in
Python (licensing/permissions/queue_rows.py, the pattern of licensing/web/rows.py),
read in one query whatever the rows' assignees. What staff see must not change:
every value escaped exactly as Jinja escapes it, and the rows' markup as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import update

from licensing import calendar, db
from licensing.accounts.models import User, name_key
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.web.paging import PER_PAGE
from tests.integration.permissions.conftest import OFFICE, routed_use, send_routed
from tests.support import factories
from tests.support.markup import selectable_row
from tests.support.settings import permission_sla_days
from tests.support.statements import statements_for

Submit = Callable[..., tuple[PermissionRequest, str]]
HOSTILE = "<b>\"Quoted\" & 'Sons'</b>"
SMALL, LARGE = 10, 100


def _queue(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"/console/permissions/{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_every_text_in_a_row_is_escaped_once_as_jinja_escapes_it(
    client: FlaskClient,
    submit: Submit,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    session = db.session()
    public, _ = submit(requester_name=f"{HOSTILE} Ortiz", institution=f"{HOSTILE} College")
    organization = factories.make_organization(session)
    routed = send_routed(
        routed_use(organization.id, "Bluefin", application_reference=f"{HOSTILE}-41")
    )
    session.execute(
        update(User)
        .where(User.id == licensing_staff.id)
        .values(full_name=f"{HOSTILE} Reviewer", full_name_key=name_key(f"{HOSTILE} Reviewer"))
    )
    session.commit()
    services.assign([public.id, routed.id], licensing_staff.id, OFFICE)
    page = _queue(signed_in(client, licensing_staff))
    escaped = str(escape(HOSTILE))
    public_row, routed_row = selectable_row(page, public.id), selectable_row(page, routed.id)
    assert f'<td>{escaped} Ortiz<br><span class="muted">{escaped} College</span></td>' in public_row
    assert f'</a><br><span class="muted">{escaped}-41</span></td>' in routed_row
    for row in (public_row, routed_row):
        assert f"<td>{escaped} Reviewer</td>" in row
        assert "<b>" not in row
        assert "&amp;lt;" not in row


def test_a_row_keeps_the_markup_the_page_always_had(
    client: FlaskClient,
    submit: Submit,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    asked, _ = submit(requester_name="Tomas Lindqvist", purpose="research")
    late, _ = submit(requester_name="Ana Brooks")
    services.ask_for_info(asked.id, "Which edition?", OFFICE)
    with db.transaction() as session:
        stored = session.get(PermissionRequest, late.id)
        assert stored is not None
        stored.submitted_at = datetime.now(UTC) - timedelta(days=30)
        stored.sla_due_at = calendar.business_deadline(stored.submitted_at, 10)
        # The office's day, as the requester is told ("by the end of ..."): in UTC
        # the end of that day read as the next morning ("2026-12-16 05:59 UTC").
        due = calendar.office_date(stored.sla_due_at).isoformat()
    page = _queue(signed_in(client, licensing_staff), "?state=")
    target = permission_sla_days()
    assert selectable_row(page, late.id) == (
        '<tr class="overdue">\n'
        f'        <td><input type="checkbox" name="request_ids" value="{late.id}" '
        f'aria-label="Select {late.reference}"></td>\n'
        f'        <td><a href="/console/permissions/{late.id}">{late.reference}</a></td>\n'
        '        <td>Ana Brooks<br><span class="muted">Cedar Ridge Community College</span></td>\n'
        "        <td>Course materials</td>\n"
        '        <td><span class="badge state-submitted">submitted</span></td>\n'
        "        <td>—</td>\n"
        f'        <td class="num">{_age(late)} / {target}</td>\n'
        f'        <td>{due} <span class="badge overdue">overdue</span></td>\n'
        "        <td>—</td>\n"  # valid until: not granted
        "      </tr>"
    )
    asked_row = selectable_row(page, asked.id)
    assert asked_row.startswith("<tr>\n")
    assert "<td>Research</td>" in asked_row
    assert (
        '<td><span class="badge state-needs_info">waiting for the requester&#39;s information'
        "</span></td>" in asked_row
    )
    assert ' <span class="muted">(waiting on the requester)</span></td>' in asked_row


def _age(request: PermissionRequest) -> int:
    stored = db.session().get(PermissionRequest, request.id, populate_existing=True)
    assert stored is not None
    assert stored.submitted_at is not None
    return calendar.business_days_between(
        calendar.office_date(stored.submitted_at), calendar.office_date(datetime.now(UTC))
    )


def test_a_refused_bulk_assignment_keeps_the_chosen_rows_checked(
    client: FlaskClient,
    submit: Submit,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    chosen, other = submit()[0], submit(requester_name="Ana Brooks")[0]
    staff = signed_in(client, licensing_staff)
    refused = staff.post(
        "/console/permissions/assign",
        data={"request_ids": [str(chosen.id)], "assignee_id": "", "filters": ""},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert f'aria-label="Select {chosen.reference}" checked></td>' in selectable_row(
        page, chosen.id
    )
    assert f'aria-label="Select {other.reference}"></td>' in selectable_row(page, other.id)
    assert 'aria-invalid="true"' in page


def test_the_queue_reads_its_rows_in_the_same_queries_at_10_and_100_assigned_requests(
    app: Flask, admin: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    """Each request assigned to a reviewer who is not among the staff the filters
    list (deactivated before deactivation released a reviewer's work, so set here
    directly): rows that loaded their assignee ran a query for each. The queue
    still names them."""
    session = db.session()
    organization = factories.make_organization(session)
    made = {"count": 0}

    def seed(count: int) -> None:
        for _ in range(count):
            index = made["count"] = made["count"] + 1
            reviewer = factories.make_staff(db.session(), roles=("licensing",))
            routed = send_routed(
                routed_use(organization.id, "Bluefin", application_id=91000 + index)
            )
            services.assign([routed.id], reviewer.id, OFFICE)
            reviewer.is_active = False
        db.session().commit()

    client = signed_in(app.test_client(), admin)
    seed(SMALL)
    at_small = statements_for(app, client, "/console/permissions/")
    seed(LARGE - SMALL)
    at_large = statements_for(app, client, "/console/permissions/")
    page = _queue(client)
    # A page of them (round 45: the queue listed all 100 on one page).
    assert page.count('name="request_ids"') == PER_PAGE
    assert page.count("<td>Jordan Okafor") == PER_PAGE  # the factory's staff names
    assert f"Permission requests 1\u2013{PER_PAGE} of {LARGE}" in page
    assert at_large == at_small
