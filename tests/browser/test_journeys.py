"""Issue 15 in Chromium: journeys that ended in a dead end or a wrong number."""

from __future__ import annotations

from typing import Any

from licensing.accounts import services as accounts
from licensing.agreements import services as agreements
from tests.browser.test_application_journey import _people, _signed_in
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.support.servers import LiveServer

# No rule of the example card matches distribution of an AI model: staff price it.
UNPRICED_USE = {
    **STAFF_USE,
    "product_name": "Coder Model",
    "product_type": "ai_model",
    "delivery": "hosted",
    "revenue": None,
}


def test_unpriced_applications_read_to_be_priced_and_sort_apart_from_the_cheapest(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, staff = _people(live_server)
    with live_server.app.app_context():
        principal = accounts.principal_for(vendor)
        references = {}
        for name, use in (("priced", STAFF_USE), ("unpriced", UNPRICED_USE)):
            application = agreements.create_draft(principal, draft(use))
            agreements.submit(application.id, principal, attest=True)
            references[name] = application.reference
    console = _signed_in(browser, live_server, staff.email)
    console.goto("/console/applications?sort=amount_low")
    rows = console.locator("tbody tr").all_inner_texts()
    assert [references["priced"] in rows[0], references["unpriced"] in rows[1]] == [True, True]
    assert "to be priced" in rows[1]
    assert "0.00 USD" not in rows[1]
    assert "8,000.00 USD" in rows[0]
