"""Destructive actions ask first, without needing JavaScript: removing a colleague's
access (restored from the same list), withdrawing an application or a permission
request, voiding an invoice and unassigning requests in bulk. The permission queue
has a select-all box, no default assignee, and keeps its filters after the bulk
action."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.ratecards import services as ratecards
from tests.browser.conftest import sign_in
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.permissions.conftest import confirmed_request
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def test_a_vendor_confirms_before_removing_access_and_withdrawing_an_application(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        vendor = factories.make_vendor(db.session())
        colleague = factories.make_vendor(db.session(), organization=vendor.organization)
        principal = accounts.principal_for(vendor)
        application = agreements.create_draft(Actor.of(principal), draft(STAFF_USE))
        application = agreements.submit(
            application.id, Actor.of(principal), policy=issuing(), attest=True
        )
    sign_in(page, vendor.email)

    page.goto("/organization")
    page.get_by_role("button", name="Remove access").click()
    page.get_by_role("heading", name=f"Remove {colleague.full_name}'s access?").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Keep their access").click()
    page.get_by_role("heading", name="Members").wait_for()
    page.get_by_role("button", name="Remove access").click()
    # The question said "To give access again, invite them", which is refused for a
    # member: it names the button that does it.
    assert "Restore access" in page.inner_text("main")
    assert "invite them" not in page.inner_text("main")
    page.get_by_role("button", name="Remove access").click()
    assert f"{colleague.full_name} can no longer sign in, and their API tokens are revoked." in (
        page.inner_text(".flashes")
    )
    row = page.get_by_role("row").filter(has_text=colleague.email)
    row.get_by_role("button", name="Restore access").click()
    assert f"{colleague.full_name} can sign in again" in page.inner_text(".flashes")
    expect(row.get_by_role("button", name="Remove access")).to_be_visible()

    page.goto(f"/portal/applications/{application.id}")
    page.get_by_role("button", name="Withdraw the application").click()
    page.get_by_role("heading", name=f"Withdraw application {application.reference}?").wait_for()
    page.get_by_role("button", name="Withdraw the application").click()
    assert "The application is withdrawn." in page.inner_text(".flashes")


def test_a_requester_confirms_before_withdrawing_and_staff_before_voiding(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        reference, token = confirmed_request("Cedar Ridge Community College")
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("900.00",)))
        assert invoice is not None
        staff = factories.make_staff(db.session(), roles=("billing",))

    page.goto(f"/permissions/status/{token}")
    page.get_by_role("button", name="Withdraw the request").click()
    page.get_by_role("heading", name=f"Withdraw permission request {reference}?").wait_for()
    page.get_by_role("button", name="Withdraw the request").click()
    assert "Your request is withdrawn." in page.inner_text(".flashes")

    sign_in(page, staff.email)
    page.goto(f"/console/invoices/{invoice.id}")
    page.locator("#void-reason").fill("Issued twice by mistake")
    page.get_by_role("button", name="Void invoice").click()
    page.get_by_role("heading", name=f"Void invoice {invoice.number}?").wait_for()
    assert "Issued twice by mistake" in page.inner_text("main")
    page.get_by_role("button", name="Void the invoice").click()
    assert f"Invoice {invoice.number} is void." in page.inner_text(".flashes")


def test_staff_select_all_assign_and_unassign_in_bulk_keeping_their_filters(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        references = [confirmed_request("Harborlight University")[0] for _ in range(3)]
        other, _ = confirmed_request("Cedar Ridge Community College")
        staff = factories.make_staff(db.session(), roles=("licensing",))
    sign_in(page, staff.email)
    page.goto("/console/permissions/?q=harborlight&state=open")
    rows = page.locator("input[name=request_ids]")
    assert rows.count() == 3
    assert_accessible(page)

    select_all = page.get_by_label("Select every request in this list")
    select_all.check()
    assert all(rows.nth(i).is_checked() for i in range(3))
    rows.nth(0).uncheck()
    assert select_all.evaluate("box => box.indeterminate")
    select_all.check()

    # No assignee is chosen for them: the form says so and keeps the selection.
    page.get_by_role("button", name="Assign the selected requests").click()
    assert "Choose who to assign the selected requests to." in page.inner_text("main")
    assert all(rows.nth(i).is_checked() for i in range(3))

    page.get_by_label("Assign the selected requests to").select_option(label=staff.full_name)
    page.get_by_role("button", name="Assign the selected requests").click()
    assert "3 requests assigned." in page.inner_text(".flashes")
    assert page.url.endswith("/console/permissions/?q=harborlight&state=open")
    assert other not in page.inner_text("main")
    for reference in references:
        assert reference in page.inner_text("main")

    page.get_by_label("Select every request in this list").check()
    page.get_by_label("Assign the selected requests to").select_option("nobody")
    page.get_by_role("button", name="Assign the selected requests").click()
    page.get_by_role("heading", name="Unassign 3 requests?").wait_for()
    page.get_by_role("button", name="Unassign them").click()
    assert "3 requests unassigned." in page.inner_text(".flashes")
    assert page.url.endswith("/console/permissions/?q=harborlight&state=open")
    assert staff.full_name not in page.locator("table.queue").inner_text()
