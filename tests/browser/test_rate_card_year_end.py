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
from licensing.agreements.services import ApplicationDraft
from licensing.calendar import day_text
from tests.browser.conftest import (
    accepted_agreement,
    sign_in,
    signed_in_tab,
    vendor_and_staff,
)
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.servers import LiveServer

NEW_RULE = {
    "id": "distribution-ai-model",
    "description": "AI models trained on or distributing CPT content",
    "when": {"use": "distribution", "product_type": "ai_model"},
    "model": {"type": "flat", "amount": "10000.00"},
    "review": "staff",
}


def next_years_card(this_years: dict[str, Any], years: CardYears) -> dict[str, Any]:
    """Next year's card drafted from this year's download (as 2028.1 from 2027.1):
    development 2,500.00 → 2,750.00, a new rule for AI models, and per-user software
    distribution now reviewed by staff."""
    card = dict(this_years)
    card.update(version=years.next_version, title=f"{years.next_from.year} rate card")
    card.update(effective_from=years.next_from.isoformat(), effective_to=years.next_to.isoformat())
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
    page: Any, browser: Any, live_server: LiveServer, tmp_path: Path, card_years: CardYears
) -> None:
    # This year's card (as 2027.1 in 2027), ending a month from the office's today, and
    # an agreement for its whole year: next year's card prices its renewal for a whole
    # year too (round 49: on 2027.1, a renewal drawn in 2028 started on the office's
    # today and was prorated).
    years = card_years
    this, upcoming = years.this_version, years.next_version
    vendor, _staff = vendor_and_staff(live_server, example=False)
    whole_year = ApplicationDraft.from_fields(
        {
            "term_start": years.this_from,
            "term_end": years.this_to,
            "uses": (AUTO_USE, DEVELOPMENT_USE),
        }
    )
    with live_server.app.app_context():
        agreement = accepted_agreement(vendor, whole_year)
        agreement_id, number = agreement.id, agreement.number
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
        admin_email = str(admin.email)

    # The administrator drafts next year's card from this year's download.
    sign_in(page, admin_email)
    page.goto(f"/console/rate-cards/{this}")
    with page.expect_download() as downloading:
        page.get_by_role("link", name=f"Download {this} as a JSON file").click()
    this_years = json.loads(Path(downloading.value.path()).read_text())
    card = tmp_path / f"{upcoming}.json"
    card.write_text(json.dumps(next_years_card(this_years, years)))
    days = (years.next_to - years.next_from).days + 1  # 365, or 366 over a 29 February

    page.goto("/console/rate-cards/")
    page.get_by_label("Rate card file (JSON)").set_input_files(str(card))
    page.get_by_role("button", name="Check without publishing").click()
    page.wait_for_load_state()
    checked = text(page.locator("main"))
    assert "The card is valid. Nothing is published yet" in checked
    assert f"Period {years.next_from} to {years.next_to} ({days} days)" in checked
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
    assert f"{number} (renewal) staff review on {upcoming}" in text(effect)
    assert "36,300.00 none in effect on its first day 36,550.00 250.00" in text(effect)
    assert_accessible(page)

    page.get_by_role("button", name=f"Publish rate card {upcoming}").click()
    page.wait_for_url(f"**/console/rate-cards/{upcoming}")
    published = f"Rate card {upcoming} published, in effect from {day_text(years.next_from)}"
    assert published in text(page.locator("main"))
    page.get_by_label("Earlier version").select_option(this)
    page.get_by_role("button", name="Show differences").click()
    page.wait_for_load_state()
    compared = text(page.locator("main"))
    assert (
        f"{this} ({years.this_from} to {years.this_to}) → "
        f"{upcoming} ({years.next_from} to {years.next_to})"
    ) in compared
    assert "Changed rule development: charge now flat fee of 2,750.00 USD" in compared

    # The vendor renews on the new card and reads what changed in the price, and why.
    tab = signed_in_tab(browser, live_server, vendor.email)
    tab.goto(f"/portal/agreements/{agreement_id}")
    tab.get_by_role("button", name="Renew for the next rate card year").click()
    tab.wait_for_load_state()
    tab.get_by_role("button", name="Save the draft").click()
    tab.wait_for_load_state()
    assert f"Rate card {upcoming} (the card in effect on the start date" in text(
        tab.locator("main")
    )
    changed = tab.get_by_role("region", name=f"What changed from {number}")
    assert (
        f"On rate card {upcoming} this renewal is 36,550.00 USD: 250.00 USD more than {number} on "
        f"rate card {this} (36,300.00 USD)."
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
