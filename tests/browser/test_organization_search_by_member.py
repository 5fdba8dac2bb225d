"""Round 57 (billingwords57) in Chromium: a billing clerk with a caller on the phone
finds the caller's organization by the caller's name, then by an address, reads which
of its people matched, and opens the organization's page from the row."""

from __future__ import annotations

from typing import Any

from licensing import db
from tests.browser.conftest import one_line, signed_in_tab
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer


def test_a_clerk_finds_the_callers_organization_by_the_callers_name_and_address(
    browser: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        session = db.session()
        harbor = factories.make_organization(session, legal_name="Harborlight Analytics LLC")
        factories.make_vendor(
            session,
            organization=harbor,
            full_name="Imogen Hart",
            email="imogen.hart@harbor.example",
        )
        elsewhere = factories.make_organization(session, legal_name="Quayside Labs Ltd")
        factories.make_vendor(
            session, organization=elsewhere, full_name="Tom Lee", email="tom@quay.example"
        )
        clerk = factories.make_staff(session, roles=("billing",))
        session.commit()
        clerk_email = clerk.email
    tab = signed_in_tab(browser, live_server, clerk_email)
    tab.goto("/console/organizations")
    search = tab.get_by_label("Name, or a member's name or email")
    # "Imogen, from the licensee's accounts team": her name, in the clerk's case.
    search.fill("imogen HART")
    search.press("Enter")
    tab.wait_for_url("**/console/organizations?*")
    rows = [one_line(row) for row in tab.locator("tbody tr").all_inner_texts()]
    assert len(rows) == 1
    assert rows[0].startswith("Harborlight Analytics LLC Imogen Hart (imogen.hart@harbor.example)")
    assert tab.get_by_role("columnheader", name="Members found").is_visible()
    assert_accessible(tab)
    # By the address she reads out.
    search = tab.get_by_label("Name, or a member's name or email")
    search.fill("tom@quay")
    search.press("Enter")
    tab.wait_for_function("() => document.querySelector('tbody').innerText.includes('Quayside')")
    rows = [one_line(row) for row in tab.locator("tbody tr").all_inner_texts()]
    assert len(rows) == 1
    assert "Quayside Labs Ltd Tom Lee (tom@quay.example)" in rows[0]
    tab.get_by_role("link", name="Quayside Labs Ltd").click()
    tab.wait_for_url("**/console/organizations/*")
    assert "Quayside Labs Ltd" in tab.locator("h1").inner_text()
