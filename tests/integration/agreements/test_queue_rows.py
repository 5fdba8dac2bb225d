"""Issue 16: the staff queue prints its rows from text escaped once in Python
(licensing/agreements/queue_rows.py) and keeps its bulk-assignment select per set
of reviewers. What staff see must not change: every value escaped exactly as
Jinja escapes it, the rows' markup as before, and the select always offering the
current reviewers and what a refused form chose."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import delete, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User, name_key
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.config import current_config
from licensing.db import utcnow
from tests.integration.agreements.conftest import STAFF_USE
from tests.support import factories
from tests.support.markup import selectable_row

Apply = Callable[..., Application]
HOSTILE = "<b>\"Quoted\" & 'Sons'</b>"


def _queue(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"/console/applications{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _bulk_select(page: str) -> str:
    found = re.search(r'<select[^>]*id="bulk-assignee".*?</select>', page, re.DOTALL)
    assert found, "no bulk-assignment select"
    return found.group(0)


def test_every_text_in_a_row_is_escaped_once_as_jinja_escapes_it(
    staff: FlaskClient,
    licensing_staff: Any,
    apply: Apply,
) -> None:
    session = db.session()
    organization = factories.make_organization(session, legal_name=f"{HOSTILE} Ltd")
    vendor = factories.make_vendor(session, organization=organization)
    application = apply(vendor, {**STAFF_USE, "product_name": f"{HOSTILE} Feed"})
    session.execute(
        update(User)
        .where(User.id == licensing_staff.id)
        .values(full_name=f"{HOSTILE} Reviewer", full_name_key=name_key(f"{HOSTILE} Reviewer"))
    )
    session.commit()
    services.assign(
        application.id, licensing_staff.id, Actor.of(accounts.principal_for(licensing_staff))
    )
    row = selectable_row(_queue(staff), application.id)
    escaped = str(escape(HOSTILE))
    assert f">{escaped} Ltd</a></td>" in row
    assert f"<li>{escaped} Feed <span" in row
    assert f"<td>{escaped} Reviewer</td>" in row
    assert "<b>" not in row
    assert "&amp;lt;" not in row


def test_a_row_keeps_the_markup_the_page_always_had(
    staff: FlaskClient,
    vendor: Any,
    apply: Apply,
) -> None:
    application = apply(vendor, STAFF_USE)
    row = selectable_row(_queue(staff), application.id)
    reference = application.reference
    assert row.startswith("<tr")
    assert (
        f'<td><input type="checkbox" name="application_ids" value="{application.id}" '
        f'aria-label="Select {reference}"></td>\n'
        f'      <td><a href="/console/applications/{application.id}">{reference}</a></td>\n'
        f'      <td><a href="/console/organizations/{vendor.organization_id}">'
    ) in row
    assert (
        '<td><ul class="plain"><li>Fernhill Code Feed <span class="muted">· Distribute a '
        "product to others (installed or hosted); data file</span></li></ul></td>\n"
        '      <td><span class="badge state-submitted">submitted</span></td>\n'
        '      <td class="nowrap">'
    ) in row
    assert '<td class="num"><span class="money">8,000.00 USD</span></td>\n      <td>—</td>' in row


def test_an_application_past_its_review_target_is_marked_overdue_and_a_fresh_one_is_not(
    staff: FlaskClient,
    vendor: Any,
    apply: Apply,
) -> None:
    late, fresh = apply(vendor, STAFF_USE), apply(vendor, STAFF_USE)
    session = db.session()
    for application, submitted in ((late, utcnow() - timedelta(days=60)), (fresh, utcnow())):
        session.execute(
            update(Application)
            .where(Application.id == application.id)
            .values(submitted_at=submitted)
        )
    session.commit()
    target = current_config().application_review_sla_days
    page = _queue(staff)
    late_row, fresh_row = selectable_row(page, late.id), selectable_row(page, fresh.id)
    assert late_row.startswith('<tr class="overdue">')
    assert re.search(
        rf'<td class="nowrap">\d+ of {target} <span class="badge overdue">overdue</span></td>',
        late_row,
    )
    assert fresh_row.startswith("<tr>")
    assert f'<td class="nowrap">0 of {target}</td>' in fresh_row


def test_a_new_reviewer_is_offered_for_bulk_assignment_on_the_next_page(
    staff: FlaskClient,
    vendor: Any,
    apply: Apply,
) -> None:
    apply(vendor, STAFF_USE)
    before = _bulk_select(_queue(staff))
    newcomer = factories.make_staff(db.session(), roles=("licensing",))
    after = _bulk_select(_queue(staff))
    assert f'value="{newcomer.id}"' not in before
    assert f'<option value="{newcomer.id}">{newcomer.full_name}</option>' in after


def test_a_refused_bulk_assignment_shows_its_choice_and_the_next_page_chooses_nobody(
    staff: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    apply: Apply,
) -> None:
    apply(vendor, STAFF_USE)
    untouched = _bulk_select(_queue(staff))
    refused = staff.post(
        "/console/applications/assign",
        data={"application_ids": [], "assignee_id": str(licensing_staff.id), "filters": ""},
    )
    assert refused.status_code == 422
    chosen = _bulk_select(refused.get_data(as_text=True))
    assert f'<option selected value="{licensing_staff.id}">' in chosen
    assert _bulk_select(_queue(staff)) == untouched
    assert "selected" not in untouched


def test_a_bulk_assignment_without_a_choice_marks_the_select_invalid(
    staff: FlaskClient,
    vendor: Any,
    apply: Apply,
) -> None:
    waiting = apply(vendor, STAFF_USE)
    refused = staff.post(
        "/console/applications/assign",
        data={"application_ids": [str(waiting.id)], "assignee_id": "", "filters": ""},
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in _bulk_select(refused.get_data(as_text=True))
    assert "aria-invalid" not in _bulk_select(_queue(staff))


def test_the_select_is_drawn_alike_kept_or_not(app: Flask) -> None:
    """The kept select is the `field` macro's own drawing of the untouched form."""
    from flask import get_template_attribute

    from licensing.agreements.forms import BulkAssignForm
    from licensing.web import assignment

    with app.test_request_context("/console/applications"):
        form = BulkAssignForm()
        form.assignee_id.choices = assignment.assignee_choices([(7, "Avery Stone")])
        drawn = get_template_attribute("layout/forms.html", "field")(form.assignee_id)
        assert assignment.assignee_select(form) == drawn
        assert assignment.assignee_select(form) == drawn


def test_every_order_lists_each_row_with_its_uses_as_the_entities_hold_them(
    staff: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    apply: Apply,
) -> None:
    """The page's rows and their uses come from one statement (the page joined to
    its uses, ordered by each row's place in the list): held to the applications
    as entities, in every order, across two pages, an application with no use
    included."""
    from licensing.agreements import queries
    from licensing.agreements.models import ApplicationUse
    from licensing.web.paging import PER_PAGE
    from tests.integration.agreements.conftest import AUTO_USE
    from tests.support import copies

    session = db.session()
    first = apply(vendor, STAFF_USE, AUTO_USE, {**AUTO_USE, "product_name": "Third"})
    made = copies.copy_application(session, first.id, PER_PAGE + 5, product="Feed")
    unnamed = (ApplicationUse.application_id.in_(made[::4])) & (ApplicationUse.position == 1)
    session.execute(update(ApplicationUse).where(unnamed).values(product_name=""))
    single = apply(vendor, STAFF_USE)
    unused = apply(vendor, STAFF_USE, submit=False)
    session.execute(delete(ApplicationUse).where(ApplicationUse.application_id == unused.id))
    for number, application_id in enumerate(made):
        session.execute(
            update(Application)
            .where(Application.id == application_id)
            .values(
                submitted_at=utcnow() - timedelta(hours=number % 7),
                total=None if number % 5 == 0 else Decimal(number * 100),
                assignee_id=licensing_staff.id if number % 3 == 0 else None,
            )
        )
    session.commit()
    states = ("draft", "submitted")
    for sort in queries.SORTS:
        query = "?" + "&".join(f"state={state}" for state in states) + f"&sort={sort}"
        pages = _queue(staff, query) + _queue(staff, f"{query}&page=2")
        shown = [
            (int(found.group(1)), re.findall(r"<li>(.*?) <span", found.group(2)))
            for found in re.finditer(
                r'value="(\d+)" aria-label="Select.*?<ul class="plain">(.*?)</ul>', pages, re.DOTALL
            )
        ]
        session.expire_all()
        entities = queries.applications(session, None, queries.QueueFilter(states, sort=sort))
        assert shown == [
            (
                application.id,
                [str(escape(use.product_name or "—")) for use in application.uses],
            )
            for application in entities
        ], sort
    assert {single.id, unused.id} <= {application_id for application_id, _ in shown}
