"""Round 49 in Chromium: an application for a term that has already ended. The
vendor reads on the application's page why it goes to licensing staff, staff read
on the review page that approving it licenses past use only, and the vendor's
acceptance says the agreement is expired at once, its reports due (not "accepted
and active"; docs/journeys.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import past_term_draft, signed_in_tab
from tests.integration.pricing.conftest import card_document
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

# A term that ended before any day this test runs on (the live server's real clock).
TERM = {"term_start": date(2025, 1, 1), "term_end": date(2025, 12, 31)}


def test_a_vendor_applies_for_a_term_already_over_and_its_agreement_is_expired_on_acceptance(
    browser: Any, live_server: LiveServer
) -> None:
    card = card_document(version="2025.1", effective_from="2025-01-01", effective_to="2025-12-31")
    vendor, staff, application_id = past_term_draft(
        live_server, card, (TERM["term_start"], TERM["term_end"])
    )
    page = signed_in_tab(browser, live_server, vendor.email)
    page.goto(f"/portal/applications/{application_id}")
    # Round 59: its day in words, as the page's other sentences.
    why = "The term ended on December 31, 2025, before today: a license for it covers past use only"
    expect(page.locator("#past-term")).to_contain_text(why)
    assert_accessible(page)

    # AUTO_USE is approved automatically on the card; a term already over is not.
    page.check("#attest")
    page.get_by_role("button", name="Submit for pricing and review").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("submitted")
    expect(page.locator("#past-term")).to_contain_text(why)

    console = signed_in_tab(browser, live_server, staff.email)
    console.goto(f"/console/applications/{application_id}")
    expect(console.locator("#term-started")).to_contain_text(
        # Round 59: its day in words, as the page's other sentences.
        "The term ended on December 31, 2025, before today: approving it licenses past use only"
    )
    assert "reportable at once" in console.inner_text("#term-started")
    console.get_by_role("button", name="Approve and issue the agreement").click()
    assert "the agreement is issued" in console.inner_text(".flashes")

    page.goto(f"/portal/applications/{application_id}")
    page.get_by_role("link", name="Read and accept the agreement").click()
    page.fill("#signer_name", "Samira Haddad")
    page.fill("#signer_title", "Chief Executive")
    page.check("#authority_confirmed")
    page.get_by_role("button", name="Accept the agreement").click()
    said = " ".join(page.inner_text(".flashes").split())
    # The sentence its email carries too: the day in words (round 56).
    assert "is accepted. The term ended on December 31, 2025, before this acceptance" in said
    assert "the agreement is expired at once" in said
    assert "accepted and active" not in said
    expect(page.get_by_role("heading", level=1)).to_contain_text("expired")
    assert_accessible(page)
