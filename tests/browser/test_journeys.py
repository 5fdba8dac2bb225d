"""Issue 15 in Chromium: journeys that ended in a dead end or a wrong number."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from tests.browser.conftest import (
    accepted_agreement,
    invoiced_vendor,
    signed_in_tab,
    vendor_and_staff,
)
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE, draft
from tests.support import factories
from tests.support.card_years import CardYears
from tests.support.documents import stored_pdf
from tests.support.servers import LiveServer
from tests.support.settings import issuing

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
    vendor, staff = vendor_and_staff(live_server)
    with live_server.app.app_context():
        principal = accounts.principal_for(vendor)
        references = {}
        for name, use in (("priced", STAFF_USE), ("unpriced", UNPRICED_USE)):
            application = agreements.create_draft(Actor.of(principal), draft(use))
            agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
            references[name] = application.reference
    console = signed_in_tab(browser, live_server, staff.email)
    console.goto("/console/applications?sort=amount_low")
    rows = console.locator("tbody tr").all_inner_texts()
    assert [references["priced"] in rows[0], references["unpriced"] in rows[1]] == [True, True]
    assert "to be priced" in rows[1]
    assert "0.00 USD" not in rows[1]
    assert "8,000.00 USD" in rows[0]


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_approval_with_a_set_fee_and_a_shorter_term_reads_right_in_the_pdf_and_console(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, staff = vendor_and_staff(live_server)
    with live_server.app.app_context():
        principal = accounts.principal_for(vendor)
        application = agreements.create_draft(Actor.of(principal), draft(UNPRICED_USE))
        agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
        application_id = application.id
    console = signed_in_tab(browser, live_server, staff.email)
    console.goto(f"/console/applications/{application_id}")
    console.fill("#amount-0", "18000.00")
    console.fill("#reason-0", "Pilot price for model licensing")
    console.fill("#term_end", "2027-06-30")
    console.fill("#term_reason", "A six-month pilot")
    console.get_by_role("button", name="Approve and issue the agreement").click()
    expect(console.locator(".flashes")).to_contain_text("the agreement is issued")
    # The page after the decision is rendered afresh: no reload needed.
    expect(console.locator("dl").first).to_contain_text("June 30, 2027")

    with live_server.app.app_context():
        agreement = (
            db.session()
            .scalars(select(Agreement).where(Agreement.application_id == application_id))
            .one()
        )
        text = _pdf_text(stored_pdf(agreement))
    assert "None" not in text
    assert "fee set at 18,000.00 USD" in text or "fee set at 18000.00 USD" in text
    assert "Annual fee" not in text
    assert "Fee for the term" in text
    notices = text[text.index("Required notices") : text.index("Acceptance This agreement")]
    assert "six-month pilot" not in notices
    assert text.index("six-month pilot") < text.index("Schedule A")


def test_a_renewal_for_a_year_without_a_rate_card_goes_to_staff_who_see_renewals_due(
    browser: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    # This year's card only (ending a month from the office's today): nothing for next
    # year. Round 49: on 2027.1 and a card around today, a 2027 agreement renewed in
    # 2028 started on the office's today, on the card around it, and was priced.
    years = card_years
    vendor, staff = vendor_and_staff(live_server, example=False)
    today = office_date(utcnow())  # the office's day, from which renewals are due
    with live_server.app.app_context():
        renewing = accepted_agreement(  # this year's, renewed for next year
            vendor,
            agreements.ApplicationDraft.from_fields(
                {"term_start": years.this_from, "term_end": years.this_to, "uses": (AUTO_USE,)}
            ),
        )
        ending = accepted_agreement(  # ending within 90 days, with no renewal
            vendor,
            agreements.ApplicationDraft.from_fields(
                {
                    "term_start": today - timedelta(days=100),
                    "term_end": years.this_to,
                    "uses": (AUTO_USE,),
                }
            ),
        )
        renewing_id, ending_number = renewing.id, ending.number

    # The vendor renews: told why staff will price it, and the submission goes through.
    page = signed_in_tab(browser, live_server, vendor.email)
    page.goto(f"/portal/agreements/{renewing_id}")
    page.get_by_role("button", name="Renew for the next rate card year").click()
    flashed = page.inner_text(".flashes")
    assert (
        f"No rate card in USD is published yet for a term starting {day_text(years.next_from)}"
        in flashed
    )  # the flash in words (round 58); the working keeps the ISO day
    page.get_by_role("button", name="Save the draft").click()
    text = page.inner_text("main")
    assert "The price if you submit now: to be priced by licensing staff" in text
    assert f"no rate card in USD is published yet for a term starting {years.next_from}" in text
    page.check("#attest")
    page.get_by_role("button", name="Submit for pricing and review").click()
    assert "submitted" in page.get_by_role("heading", level=1).inner_text()
    assert "name one with rate_card" not in page.inner_text("main")
    reference = page.get_by_role("heading", level=1).inner_text().split()[0]

    # Staff see the agreement ending within 90 days that nobody renews yet.
    console = signed_in_tab(browser, live_server, staff.email)
    console.goto("/console/")
    row = console.locator("tr", has_text="Agreements ending within 90 days")
    assert "1 without a renewal" in row.inner_text()
    row.get_by_role("link").click()
    listed = console.inner_text("main")
    assert ending_number in listed
    assert "No renewal yet" in listed

    # Staff price the renewal by hand and issue its agreement.
    console.goto("/console/applications")
    console.get_by_role("link", name=reference).click()
    assert "to be priced" in console.inner_text("main")
    console.fill("#amount-0", "36000.00")
    console.fill("#reason-0", "Next year's card not yet published: this year's price plus growth")
    console.get_by_role("button", name="Approve and issue the agreement").click()
    assert "the agreement is issued" in console.inner_text(".flashes")


def test_a_returned_application_states_its_deadline_as_an_office_end_of_day(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, staff = vendor_and_staff(live_server)
    with live_server.app.app_context():
        principal = accounts.principal_for(vendor)
        application = agreements.create_draft(Actor.of(principal), draft(STAFF_USE))
        agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
        agreements.return_for_information(
            application.id, "Confirm the revenue", Actor.of(accounts.principal_for(staff))
        )
        application_id = application.id
    page = signed_in_tab(browser, live_server, vendor.email)
    page.goto(f"/portal/applications/{application_id}")
    deadline = page.get_by_text("Resubmit by").first.inner_text()
    assert re.search(r"Resubmit by the end of \w+day, \w+ \d+, \d{4} \(US Central time\)", deadline)
    assert "UTC" not in deadline


def test_billing_staff_read_an_ach_payment_in_words(browser: Any, live_server: LiveServer) -> None:
    _email, invoice = invoiced_vendor(live_server, ("900.00",))
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
    console = signed_in_tab(browser, live_server, staff.email)
    console.goto(f"/console/invoices/{invoice.id}")
    console.get_by_label("Method").select_option("ach")
    console.get_by_label("Amount", exact=True).fill("900.00")
    console.get_by_label("Reference").fill("ACH 20270120-7")
    console.get_by_role("button", name="Record payment").click()
    console.get_by_text("Recorded an ACH transfer of 900.00 USD.").wait_for()
