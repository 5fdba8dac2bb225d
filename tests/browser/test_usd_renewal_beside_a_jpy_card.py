"""Round 62 (currency62) in Chromium: a vendor licensed in USD renews after the office
publishes next year's cards, the USD one and then a JPY one for the same days
(docs/journeys.md, "Round 62: the card in effect in the currency asked for").

Samira Haddad's agreement for this year's card (USD) ends a month from the office's
today. The office publishes next year's USD card, then a JPY card for the same year
(published last, it is the card in effect for anything that names no card). Samira
renews from her agreement's page: the renewal is in USD on next year's USD card, and
its page says so and why; the revenue is labelled in USD; submitted, it is approved
at the same price as this year's. The public estimator, which names no currency,
keeps the contract's rule (the JPY card, published last) and says the USD card is in
effect too; chosen, it estimates in USD what the renewal costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from licensing import db
from licensing.agreements.services import ApplicationDraft
from tests.browser.conftest import (
    accepted_agreement,
    card_of_a_year,
    one_line,
    signed_in_tab,
    vendor_and_staff,
)
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.navigation import follow
from tests.support.servers import LiveServer

# This year's total on the example card's prices, by hand: 2,500 end users graduated
# (100 x 18.50 + 900 x 15.50 + 1,500 x 12.00 = 33,800.00) and the development fee.
USD_TOTAL = "36,300.00"


def _yen_card(years: CardYears) -> dict[str, Any]:
    """Next year's card in JPY: every use a flat 300,000 JPY."""
    return {
        "version": f"{years.next_from.year}.JPY",
        "title": "Royalty schedule in yen",
        "currency": "JPY",
        "effective_from": years.next_from.isoformat(),
        "effective_to": years.next_to.isoformat(),
        "rules": [
            {
                "id": "every-use",
                "description": "Every use, one fee",
                "when": {},
                "model": {"type": "flat", "amount": "300000"},
            }
        ],
        "adjustments": [],
    }


def _main(page: Any) -> str:
    return one_line(page.inner_text("main"))


def test_a_usd_licensee_renews_in_usd_after_a_jpy_card_is_published_for_the_same_days(
    page: Any, browser: Any, live_server: LiveServer, tmp_path: Path, card_years: CardYears
) -> None:
    years = card_years
    upcoming, yen = years.next_version, f"{years.next_from.year}.JPY"
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
        assert (agreement.currency, f"{agreement.total:,.2f}") == ("USD", USD_TOTAL)
        db.session().commit()

    # The office publishes next year's USD card, then the JPY card for the same days.
    runner = live_server.app.test_cli_runner()
    usd_card = card_of_a_year(upcoming, years.next_from, years.next_to)
    for name, document in (("usd", usd_card), ("jpy", _yen_card(years))):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        ran = runner.invoke(args=["ratecards", "import", str(path)])
        assert ran.exit_code == 0, ran.output

    # Samira renews from her agreement's page.
    tab = signed_in_tab(browser, live_server, vendor.email)
    tab.goto(f"/portal/agreements/{agreement_id}")
    tab.get_by_role("button", name="Renew for the next rate card year").click()
    tab.locator("#uses-0-revenue").wait_for()
    assert tab.locator('label[for="uses-0-revenue"]').inner_text() == (
        "Expected annual revenue (USD)"
    )
    tab.get_by_role("button", name="Save the draft").click()
    tab.get_by_text("The price if you submit now").wait_for()
    draft = _main(tab)
    assert (
        f"Rate card {upcoming} (the card in effect on the start date, in USD, the currency of "
        f"{number}, submitted today)"
    ) in draft
    assert f"The price if you submit now: {USD_TOTAL} USD" in draft
    assert yen not in draft
    assert_accessible(tab)

    tab.get_by_label("I confirm that the information in this application is accurate").check()
    tab.get_by_role("button", name="Submit for pricing and review").click()
    tab.locator(".flashes").wait_for()
    assert "is approved and agreement" in tab.inner_text(".flashes")
    assert f"{USD_TOTAL} USD" in _main(tab)
    assert "JPY" not in _main(tab)

    # The public estimator names no currency: the card published last (JPY), and the
    # USD card it could choose instead; chosen, the renewal's price in USD.
    page.goto("/estimate")
    page.get_by_label("Your organization is").select_option("commercial")
    page.get_by_label("License term starts").fill(years.next_from.isoformat())
    page.get_by_label("License term ends").fill(years.next_to.isoformat())
    page.locator("#uses-0-use").select_option("development")
    page.locator("#uses-0-product_type").select_option("software")
    page.locator("#uses-0-user_type").select_option("provider")
    page.get_by_role("button", name="Estimate the price").click()
    page.get_by_text("Estimated total:").wait_for()
    estimate = _main(page)
    assert "Estimated total: 300,000 JPY" in estimate
    assert (
        f"This estimate is in JPY, on rate card {yen}: of the cards in effect on the start "
        f"date, the one published last. Rate card {upcoming} (USD) is in effect too: to "
        "estimate in USD, choose it under Rate card."
    ) in estimate
    assert_accessible(page)
    page.get_by_role("link", name="Rate card", exact=True).click()
    page.get_by_label("Rate card").select_option(upcoming)
    # Loaded: a `count()` of nothing on a page half drawn would prove nothing.
    follow(page, "button", "Estimate the price")
    page.get_by_text("Estimated total: 2,500.00 USD").wait_for()
    assert page.locator("#other-currencies").count() == 0
