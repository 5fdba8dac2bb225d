"""Issue 15, item 16: staff assign several applications from the queue at once,
all of them or none, with a select-all box, no default assignee, a confirmation
before unassigning, and the queue's filters kept."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from tests.browser.conftest import sign_in
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE, draft
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def _apply(vendor: Any, use: dict[str, Any], years: CardYears) -> Application:
    """`use` applied for by `vendor` for this year's card's term (round 49: a 2027 term
    is over from 2028, and an ended term waits for staff at submission)."""
    principal = accounts.principal_for(vendor)
    term = (years.this_from, years.this_to)
    application = agreements.create_draft(Actor.of(principal), draft(use, term=term))
    return agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)


def test_staff_assign_applications_in_bulk_all_or_none_keeping_their_filters(
    page: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    years = card_years
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        waiting = [
            _apply(vendor, {**STAFF_USE, "product_name": "Lanternfish Feed"}, years)
            for _ in range(3)
        ]
        decided = _apply(vendor, {**AUTO_USE, "product_name": "Lanternfish Scrubber"}, years)
        _apply(vendor, {**STAFF_USE, "product_name": "Cedar Ridge Feed"}, years)
        staff = factories.make_staff(db.session(), roles=("licensing",))
        db.session().commit()
    query = urlencode([("q", "lanternfish"), ("state", "submitted"), ("state", decided.state)])
    sign_in(page, staff.email)
    page.goto(f"/console/applications?{query}")
    boxes = page.locator("input[name=application_ids]")
    assert boxes.count() == 4
    assert "Cedar Ridge Feed" not in page.inner_text("main")
    assert_accessible(page)

    select_all = page.get_by_label("Select every application in this list")
    select_all.check()
    assert all(boxes.nth(i).is_checked() for i in range(4))
    boxes.nth(0).uncheck()
    assert select_all.evaluate("box => box.indeterminate")
    select_all.check()

    # No assignee chosen: the form says so and keeps the selection.
    assign = page.get_by_role("button", name="Assign the selected applications")
    assign.click()
    assert "Choose who to assign the selected applications to." in page.inner_text("main")
    assert all(boxes.nth(i).is_checked() for i in range(4))
    assert_accessible(page)

    # A decided application among them: none is assigned, and it is named.
    page.get_by_label("Assign the selected applications to").select_option(label=staff.full_name)
    assign.click()
    assert f"{decided.reference} is decided; there is nothing to assign." in page.inner_text("main")
    assert staff.full_name not in page.locator("table").inner_text()

    page.get_by_label(f"Select {decided.reference}").uncheck()
    page.get_by_label("Assign the selected applications to").select_option(label=staff.full_name)
    assign.click()
    assert "3 applications assigned." in page.inner_text(".flashes")
    assert page.url.endswith(f"/console/applications?{query}")
    for application in waiting:
        row = page.locator("tr", has=page.get_by_label(f"Select {application.reference}"))
        assert staff.full_name in row.inner_text()

    # Unassigning asks first.
    for application in waiting:
        page.get_by_label(f"Select {application.reference}").check()
    page.get_by_label("Assign the selected applications to").select_option("nobody")
    assign.click()
    page.get_by_role("heading", name="Unassign 3 applications?").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Unassign them").click()
    assert "3 applications unassigned." in page.inner_text(".flashes")
    assert page.url.endswith(f"/console/applications?{query}")
    assert staff.full_name not in page.locator("table").inner_text()
