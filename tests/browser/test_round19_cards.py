"""Round 19: the largest card a check accepts is published by the check page's
button, in the browser (its form carries the card in fields within the limit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.ratecards.views import MAX_CARD_BYTES
from tests.browser.conftest import admin_with_sample_cards, check_card_on_page, vendor_and_staff
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.integration.pricing.conftest import example_document
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def test_a_one_megabyte_card_checked_in_the_browser_is_published_by_its_button(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    email = admin_with_sample_cards(live_server)
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][0]["description"] = ""
    bare = len(json.dumps(document, default=str, ensure_ascii=False).encode())
    document["rules"][0]["description"] = "é" * ((MAX_CARD_BYTES - bare) // 2)
    card = tmp_path / "2027.2.json"
    card.write_text(json.dumps(document, default=str, ensure_ascii=False), encoding="utf-8")
    assert MAX_CARD_BYTES - 1 <= card.stat().st_size <= MAX_CARD_BYTES

    check_card_on_page(page, email, card)
    assert "The card is valid. Nothing is published yet" in page.locator("main").inner_text()
    page.get_by_role("button", name="Publish rate card 2027.2").click()
    page.wait_for_url("**/console/rate-cards/2027.2")
    assert "Rate card 2027.2 published" in page.locator("main").inner_text()


def test_the_effect_on_current_licensees_is_accessible(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    vendor, _ = vendor_and_staff(live_server)
    email = admin_with_sample_cards(live_server)
    with live_server.app.app_context():
        principal = accounts.principal_for(vendor)
        application = agreements.create_draft(Actor.of(principal), draft(STAFF_USE))
        agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][7]["model"]["percent"] = "12"
    card = tmp_path / "2027.2.json"
    card.write_text(json.dumps(document, default=str))

    check_card_on_page(page, email, card)
    effect = page.get_by_role("table").filter(has_text="Largest changes first")
    assert "8,000.00" in page.locator("main").inner_text()
    assert effect.count() >= 1
    assert_accessible(page)
