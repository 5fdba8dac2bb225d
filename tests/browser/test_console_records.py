"""Issue 15, item 16 in Chromium: staff search the application queue, open the
organization's records from it, and follow an audit row to its record."""

from __future__ import annotations

from typing import Any

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from tests.browser.conftest import signed_in_tab, vendor_and_staff
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def test_staff_search_the_queue_open_the_organization_and_follow_an_audit_row(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, _ = vendor_and_staff(live_server)
    with live_server.app.app_context():
        session = db.session()
        staff = factories.make_staff(session, roles=("licensing", "admin"))
        session.commit()
        principal = accounts.principal_for(vendor)
        references = []
        for name in ("Quillon Audit Feed", "Fernhill Code Feed"):
            application = agreements.create_draft(
                Actor.of(principal), draft({**STAFF_USE, "product_name": name})
            )
            agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
            references.append(application.reference)
    tab = signed_in_tab(browser, live_server, staff.email)
    tab.goto("/console/applications")
    tab.get_by_label("Search").fill("quillon")
    tab.get_by_role("button", name="Show").click()
    tab.wait_for_url("**q=quillon*")  # the rows read are the answer's, not the form's
    tab.wait_for_load_state()
    rows = tab.locator("tbody tr").all_inner_texts()
    assert len(rows) == 1
    assert references[0] in rows[0]
    assert "Quillon Audit Feed" in rows[0]
    assert "of 10" in rows[0]  # business days against APPLICATION_REVIEW_SLA_DAYS
    assert_accessible(tab)

    tab.locator("tbody tr").first.locator("td").nth(2).get_by_role(
        "link"
    ).click()  # after Select and Application
    tab.wait_for_url("**/console/organizations/*")
    applications = tab.locator("h2#applications + div table").inner_text()
    assert references[0] in applications
    assert references[1] in applications
    assert_accessible(tab)

    tab.goto("/console/audit?actor=nobody-here")
    assert "No actor's name or email address contains" in tab.locator("tbody").inner_text()
    tab.goto("/console/audit")
    assert_accessible(tab)
    tab.get_by_role("link", name=references[1]).first.click()
    tab.wait_for_url("**/console/applications/*")
    assert references[1] in tab.locator("h1").inner_text()
