"""The license journey in Chromium against the live server (CSRF on, real SMTP):
a vendor applies for two uses, one needing staff review; staff return it for
information; the vendor resubmits; staff approve with a modified amount; the
vendor accepts; the agreement is active and its PDF downloads with the SHA-256
recorded at acceptance. And: a rejection, with reconsideration inside and
outside the 14-day window (the rejection's time is set by the test)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.db import utcnow
from tests.browser.conftest import signed_in_tab, vendor_and_staff
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.support.card_years import CardYears
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def _fill_use(page: Any, index: int, values: dict[str, str]) -> None:
    for name, value in values.items():
        selector = f"#uses-{index}-{name}"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)


def test_a_vendor_applies_staff_return_and_approve_with_a_change_and_the_vendor_accepts(
    browser: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    # This year's card, around the office's today: a 2027 term is over from 2028, and
    # an ended term waits for staff at submission (round 49).
    vendor, staff = vendor_and_staff(live_server, example=False)
    page = signed_in_tab(browser, live_server, vendor.email, on_the_form=True)

    # Apply for two uses: a SaaS product (auto) and a data file (staff review).
    page.get_by_role("link", name="Applications").first.click()
    page.get_by_role("link", name="Apply for a license").click()
    page.fill("#term_start", card_years.this_from.isoformat())
    page.fill("#term_end", card_years.this_to.isoformat())
    _fill_use(
        page,
        0,
        {
            "product_name": "Scrubber Pro",
            "use": "distribution",
            "product_type": "saas",
            "user_type": "provider",
            "delivery": "hosted",
            "quantity-end_users": "2500",
        },
    )
    page.get_by_role("button", name="Add another use").click()
    _fill_use(
        page,
        1,
        {
            "product_name": "Fernhill Code Feed",
            "use": "distribution",
            "product_type": "data_file",
            "user_type": "provider",
            "delivery": "data_feed",
            "revenue": "80000",
        },
    )
    page.get_by_role("button", name="Save the draft").click()
    assert "is saved as a draft" in page.inner_text(".flashes")
    reference = page.get_by_role("heading", level=1).inner_text().split()[0]
    # The vendor sees the price before submitting: 33,800.00 + 10% of 80,000 (minimum 5,000).
    assert "The price if you submit now: 41,800.00 USD" in page.inner_text("main")
    application_url = page.url

    # Submitting without the attestation is refused; with it, it goes to staff.
    page.get_by_role("button", name="Submit for pricing and review").click()
    assert "Confirm that the information" in page.inner_text("main")
    page.check("#attest")
    page.get_by_role("button", name="Submit for pricing and review").click()
    assert "submitted" in page.get_by_role("heading", level=1).inner_text()
    assert "41,800.00" in page.inner_text("main")  # 33,800.00 + 10% of 80,000 (minimum 5,000)

    # Staff find it in the queue and return it for information.
    console = signed_in_tab(browser, live_server, staff.email)
    console.goto("/console/applications")
    console.get_by_role("link", name=reference).click()
    console.select_option("#action", "return")
    console.fill("#review-reason", "Please confirm the expected revenue in Canada.")
    console.get_by_role("button", name="Record the decision").click()
    assert "Returned to the vendor" in console.inner_text(".flashes")

    # The vendor sees what is asked, changes the revenue and resubmits.
    page.goto(application_url)
    assert "Please confirm the expected revenue in Canada." in page.inner_text("main")
    page.get_by_role("link", name="Change the application").click()
    page.fill("#uses-1-revenue", "90000")
    page.get_by_role("button", name="Save the draft").click()
    page.fill("#response", "About 10,000 of it from Canada.")
    page.check("#attest")
    page.get_by_role("button", name="Resubmit for pricing and review").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("submitted")

    # Staff approve with a modified amount for the data file, giving the reason.
    # Their page still shows the return and does not update itself: reload it
    # once, now that the vendor's page shows the resubmission is stored.
    console.reload()
    console.fill("#amount-1", "7500.00")
    console.fill("#reason-1", "Pilot rate for the first year")
    console.get_by_role("button", name="Approve and issue the agreement").click()
    assert "the agreement is issued" in console.inner_text(".flashes")
    text = console.inner_text("main")
    assert "approved with changes" in text
    assert "as submitted" in text  # both versions are kept

    # The vendor accepts the agreement.
    page.goto(application_url)
    page.get_by_role("link", name="Read and accept the agreement").click()
    assert "41,300.00" in page.inner_text("main")
    shown_digest = page.inner_text("#pdf-sha256").strip()
    page.get_by_role("button", name="Accept the agreement").click()
    assert "Confirm that you are authorised" in page.inner_text("main")
    page.fill("#signer_name", "Samira Haddad")
    page.fill("#signer_title", "Chief Executive")
    page.check("#authority_confirmed")
    page.get_by_role("button", name="Accept the agreement").click()
    assert "accepted and active" in page.inner_text(".flashes")
    assert "active" in page.get_by_role("heading", level=1).inner_text()
    accepted_digest = page.inner_text("#accepted-sha256").strip()
    assert accepted_digest == shown_digest

    # The PDF downloads with the same SHA-256 as accepted.
    pdf_url = page.get_attribute("#agreement-pdf", "href")
    download = page.request.get(pdf_url)
    assert download.status == 200
    assert download.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(download.body()).hexdigest() == accepted_digest

    # Every step is in the application's history.
    console.goto(application_url.replace("/portal/", "/console/"))
    history = console.inner_text("main")
    for action in ("returned", "resubmitted", "approved", "quote stored"):
        assert f"Application {action}" in history


def test_a_rejection_can_be_reconsidered_within_14_days_and_not_after(
    browser: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    # This year's card (round 50): on the 2027 example card it held from 2028 too (run
    # at 2028-01-04 and 2028-06-01), but reviewed and reconsidered a term already over.
    vendor, staff = vendor_and_staff(live_server, example=False)
    term = (card_years.this_from, card_years.this_to)
    with live_server.app.app_context():
        vendor_principal = accounts.principal_for(vendor)
        staff_actor = Actor.of(accounts.principal_for(staff))
        ids = []
        for days_ago in (13, 15):
            application = agreements.create_draft(
                Actor.of(vendor_principal), draft(STAFF_USE, term=term)
            )
            agreements.submit(
                application.id, Actor.of(vendor_principal), policy=issuing(), attest=True
            )
            agreements.reject(
                application.id,
                "Revenue not evidenced",
                staff_actor,
                now=utcnow() - timedelta(days=days_ago),
            )
            ids.append(application.id)
    inside, outside = ids
    page = signed_in_tab(browser, live_server, vendor.email)

    # 13 days after the rejection: the vendor asks, and staff grant it.
    page.goto(f"/portal/applications/{inside}")
    page.fill("#reason", "Audited accounts are attached to our email.")
    page.get_by_role("button", name="Request reconsideration").click()
    assert "awaiting reconsideration" in page.get_by_role("heading", level=1).inner_text()
    console = signed_in_tab(browser, live_server, staff.email)
    console.goto(f"/console/applications/{inside}")
    console.select_option("#action", "grant_reconsideration")
    console.get_by_role("button", name="Record the decision").click()
    assert "in review" in console.get_by_role("heading", level=1).inner_text()

    # 15 days after: the page says the decision is final, and a request is refused.
    page.goto(f"/portal/applications/{outside}")
    assert "14 days to request reconsideration have passed" in page.inner_text("main")
    assert page.locator("#reason").count() == 0
    token = page.locator("input[name=csrf_token]").first
    csrf = token.get_attribute("value") if token.count() else ""
    refused = page.request.post(
        f"/portal/applications/{outside}/reconsideration",
        form={"reason": "Please", "csrf_token": csrf or ""},
    )
    assert refused.status == 409
    assert "the rejection is final" in refused.text()
