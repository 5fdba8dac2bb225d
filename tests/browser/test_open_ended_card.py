"""Round 42 in Chromium: a rate card that never ends. An administrator checks a card
written to 9999-12-31 and reads, before publishing, what the contract's proration over
its whole period makes of its prorated amounts; publishes it anyway (a warning, not a
refusal) and reads the same on the card's page and, since round 44, in the message
that confirms publishing and on an estimate priced on the card (docs/journeys.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from licensing import db
from tests.browser.conftest import sign_in
from tests.integration.pricing.conftest import card_document, development_estimate
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

WARNED = (
    "Prorated over its period to 9999-12-31, the development flat fee of 5,000.00 USD "
    "would be 0.63 USD for a one-year term from 2028-01-01."
)


def text(locator: Any) -> str:
    return " ".join(locator.inner_text().split())


def test_an_administrator_is_warned_of_an_open_ended_cards_prorated_amounts_and_publishes(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    with live_server.app.app_context():
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
        admin_email = str(admin.email)
    document = card_document(
        version="2028.1",
        title="2028 onwards",
        effective_from="2028-01-01",
        effective_to="9999-12-31",
    )
    for rule in document["rules"]:
        if rule["id"] == "development":
            rule["model"] = {**rule["model"], "amount": "5000.00"}
    card = tmp_path / "2028.1.json"
    card.write_text(json.dumps(document))

    sign_in(page, admin_email)
    page.goto("/console/rate-cards/")
    page.get_by_label("Rate card file (JSON)").set_input_files(str(card))
    page.get_by_role("button", name="Check without publishing").click()
    page.wait_for_load_state()
    warning = page.get_by_role("region", name="This card runs open-ended")
    assert WARNED in text(warning)
    assert_accessible(page)

    page.get_by_role("button", name="Publish rate card 2028.1").click()
    page.wait_for_url("**/console/rate-cards/2028.1")
    assert WARNED in text(page.get_by_role("region", name="This card runs open-ended"))
    # Round 44: the message that confirms publishing says it too.
    said = text(page.locator("p.flash-warning"))
    assert said.startswith("Rate card 2028.1 runs open-ended: its prorated amounts")
    assert WARNED in said
    assert_accessible(page)

    # Round 44: a vendor's estimate on it says why the fee is cents.
    query = urlencode(development_estimate())
    page.goto(f"/estimate?{query}")
    note = text(page.locator(".quote-proration-warning"))
    assert "Rate card 2028.1 runs open-ended, and this price is prorated over all of it:" in note
    assert (
        "the development flat fee of 5,000.00 USD is 0.63 USD for this term of 366 days."
    ) in note
    assert_accessible(page)
