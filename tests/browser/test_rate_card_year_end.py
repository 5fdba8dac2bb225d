"""Round 42 in Chromium: the licensing office's year end. A staff administrator
drafts next year's rate card from this year's (a changed price, a new rule, a rule
that now needs review), checks it against the card in effect and the renewals it
would price, publishes it with its effective date and compares the two; then a
vendor whose agreement ends renews on the new card and reads what changed in their
price and why (docs/journeys.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from licensing import db
from licensing.agreements.models import Application
from tests.browser.conftest import (
    accepted_agreement,
    sign_in,
    signed_in_tab,
    vendor_and_staff,
)
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, draft
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

NEW_RULE = {
    "id": "distribution-ai-model",
    "description": "AI models trained on or distributing CPT content",
    "when": {"use": "distribution", "product_type": "ai_model"},
    "model": {"type": "flat", "amount": "10000.00"},
    "review": "staff",
}


def next_years_card(this_years: dict[str, Any]) -> dict[str, Any]:
    """2028.1 drafted from 2027.1's download: development 2,500.00 → 2,750.00, a new
    rule for AI models, and per-user software distribution now reviewed by staff."""
    card = dict(this_years)
    card.update(version="2028.1", title="2028 rate card")
    card.update(effective_from="2028-01-01", effective_to="2028-12-31")
    rules = [dict(rule) for rule in card["rules"]]
    by_id = {rule["id"]: rule for rule in rules}
    by_id["development"]["model"] = {**by_id["development"]["model"], "amount": "2750.00"}
    by_id["distribution-software"]["review"] = "staff"
    rules.insert(rules.index(by_id["distribution-software"]), NEW_RULE)
    card["rules"] = rules
    return card


def text(locator: Any) -> str:
    return " ".join(locator.inner_text().split())


def test_the_office_publishes_next_years_card_and_a_vendor_renews_on_it(
    page: Any, browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    vendor, _staff = vendor_and_staff(live_server)  # 2027.1, the card in effect in 2027
    with live_server.app.app_context():
        agreement = accepted_agreement(vendor, draft(AUTO_USE, DEVELOPMENT_USE))
        agreement_id, number = agreement.id, agreement.number
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
        admin_email = str(admin.email)

    # The administrator drafts 2028.1 from 2027.1's download.
    sign_in(page, admin_email)
    page.goto("/console/rate-cards/2027.1")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download 2027.1 as a JSON file").click()
    this_years = json.loads(Path(downloading.value.path()).read_text())
    card = tmp_path / "2028.1.json"
    card.write_text(json.dumps(next_years_card(this_years)))

    page.goto("/console/rate-cards/")
    page.get_by_label("Rate card file (JSON)").set_input_files(str(card))
    page.get_by_role("button", name="Check without publishing").click()
    page.wait_for_load_state()
    checked = text(page.locator("main"))
    assert "The card is valid. Nothing is published yet" in checked
    assert "Period 2028-01-01 to 2028-12-31 (366 days)" in checked
    assert (
        "Changed rule development: charge now flat fee of 2,750.00 USD a year (prorated) "
        "(was flat fee of 2,500.00 USD a year (prorated))."
    ) in checked
    assert "Added rule distribution-ai-model at position 6" in checked
    assert (
        "Changed rule distribution-software: review from automatic approval to staff review."
        in checked
    )
    # The renewal it would price: the agreement's 36,300.00 becomes 36,550.00.
    effect = page.get_by_role("table").filter(has_text="Largest changes first").last
    # ... and that it would wait on staff: its software rule now needs review.
    assert f"{number} (renewal) staff review on 2028.1" in text(effect)
    assert "36,300.00 36,550.00 250.00" in text(effect)
    assert_accessible(page)

    page.get_by_role("button", name="Publish rate card 2028.1").click()
    page.wait_for_url("**/console/rate-cards/2028.1")
    assert "Rate card 2028.1 published, in effect from 2028-01-01" in text(page.locator("main"))
    page.get_by_label("Earlier version").select_option("2027.1")
    page.get_by_role("button", name="Show differences").click()
    page.wait_for_load_state()
    compared = text(page.locator("main"))
    assert "2027.1 (2027-01-01 to 2027-12-31) → 2028.1 (2028-01-01 to 2028-12-31)" in compared
    assert "Changed rule development: charge now flat fee of 2,750.00 USD" in compared

    # The vendor renews on the new card and reads what changed in the price, and why.
    tab = signed_in_tab(browser, live_server, vendor.email)
    tab.goto(f"/portal/agreements/{agreement_id}")
    tab.get_by_role("button", name="Renew for the next rate card year").click()
    tab.wait_for_load_state()
    tab.get_by_role("button", name="Save the draft").click()
    tab.wait_for_load_state()
    assert "Rate card 2028.1 (the card in effect on the start date" in text(tab.locator("main"))
    changed = tab.get_by_role("region", name=f"What changed from {number}")
    assert (
        f"On rate card 2028.1 this renewal is 36,550.00 USD: 250.00 more than {number} on "
        "rate card 2027.1 (36,300.00 USD)."
    ) in text(changed)
    assert (
        "2. Scrubber Pro SDK 2,500.00 2,750.00 250.00 more Changed rule development: charge now "
        "flat fee of 2,750.00 USD a year (prorated) (was flat fee of 2,500.00 USD a year "
        "(prorated))."
    ) in text(changed)
    assert (
        "1. Scrubber Pro 33,800.00 33,800.00 no change Changed rule distribution-software: "
        "review from automatic approval to staff review."
    ) in text(changed)
    assert_accessible(tab)

    tab.get_by_label("I confirm that the information in this application is accurate").check()
    tab.get_by_role("button", name="Submit for pricing and review").click()
    tab.wait_for_load_state()
    assert "Licensing staff review it before it is approved" in text(tab.locator("main"))
    assert "250.00 more" in text(tab.get_by_role("region", name=f"What changed from {number}"))

    # The reviewer reads the same on the console.
    with live_server.app.app_context():
        renewal = db.session().query(Application).filter_by(renewal_of_id=agreement_id).one()
    page.goto(f"/console/applications/{renewal.id}")
    reviewed = text(page.get_by_role("region", name=f"What changed from {number}"))
    assert "250.00 more" in reviewed
    assert "review from automatic approval to staff review" in reviewed
