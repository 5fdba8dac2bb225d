"""Round 3 of the journeys in Chromium: what staff read on the console."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from licensing import calendar
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.db import utcnow
from tests.browser.conftest import signed_in_tab, vendor_and_staff
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def test_staff_find_a_rejection_still_open_to_reconsideration_with_its_deadline_at_the_office(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, staff = vendor_and_staff(live_server)
    rejected_at = utcnow() - timedelta(days=2)
    with live_server.app.app_context():
        principal = accounts.principal_for(vendor)
        application = agreements.create_draft(Actor.of(principal), draft(STAFF_USE))
        agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
        rejected = agreements.reject(
            application.id,
            "Revenue not evidenced",
            Actor.of(accounts.principal_for(staff)),
            now=rejected_at,
        )
        assert rejected.reconsider_by is not None
        reference, deadline = rejected.reference, calendar.deadline_text(rejected.reconsider_by)

    console = signed_in_tab(browser, live_server, staff.email)
    console.goto("/console/")
    row = console.locator("tr", has_text="Rejected applications open to reconsideration")
    assert f"The first window closes {deadline}." in row.inner_text()
    row.get_by_role("link").click()
    listed = console.locator("tr", has_text=reference).inner_text()
    assert deadline in listed
    # When it was rejected reads at the office, as the deadline does, not in UTC.
    assert calendar.instant_text(rejected_at) in listed
    assert "UTC" not in listed
    console.get_by_role("link", name=reference).click()
    facts = console.inner_text("dl")
    assert re.search(rf"The vendor may ask for it until {re.escape(deadline)}", facts)
