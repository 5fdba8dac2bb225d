"""Round 18: an admin checks next year's rate card in the browser before publishing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.browser.conftest import admin_with_sample_cards, check_card_on_page
from tests.integration.pricing.conftest import example_document
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer


def test_an_admin_checks_a_card_then_publishes_what_was_checked(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    email = admin_with_sample_cards(live_server)
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][2]["model"]["amount"] = "2750.00"
    card = tmp_path / "2027.2.json"
    card.write_text(json.dumps(document, default=str))

    check_card_on_page(page, email, card)
    main = page.locator("main")
    assert "The card is valid. Nothing is published yet" in main.inner_text()
    assert "Differences from 2027.1" in main.inner_text()
    assert_accessible(page)
    page.get_by_role("button", name="Publish rate card 2027.2").click()
    page.wait_for_url("**/console/rate-cards/2027.2")
    assert "Rate card 2027.2 published" in page.locator("main").inner_text()
    page.goto("/console/rate-cards/")
    assert "replaced by 2027.2" in page.locator("main").inner_text()
