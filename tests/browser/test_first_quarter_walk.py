"""Round 36: a new vendor's first quarter, walked in Chromium as the vendor meets it
(docs/journeys.md): a price without an account, sign-up and the confirmation email,
an application for a per-unit distribution use that licensing staff review, the
approval, the agreement read and accepted, the up-front invoice paid by card
(localstripe), the first quarter's usage uploaded from the page's template, its
invoice paid, then an amendment lowering it (a credit note, and a refund owed). At
each step the dashboard says what waits on whom. The live server runs in a thread of
this process, so time-machine moves its clock to the quarter's end; Stripe's
webhooks are signed at the real time, so cards are paid outside the travel.

On any day (round 49): the vendor applies for next year's card's whole year, a month
from the office's today (`card_years`), so the first quarter is the calendar quarter
that year starts in, and the walk travels forward only, to the day after it ends and
a few days on (Chromium keeps the real clock and drops a cookie set to expire before
it). Every day and number it reads comes from `FirstQuarter.starting(utcnow())`
(`tests/support/first_quarter.py`, unit-checked on the calendar's awkward days).

Travelled too (round 50): localstripe signs the webhook deliveries that settle a
card payment with the real clock, so under `TRAVEL_TO` (`tests.support.travelled_clock`)
the walk registers none and billing staff record each invoice's payment as a wire on
the console instead; the card path runs at the real time. The up-front invoice's
number and due day are read from the instant it was issued, not the walk's start, so
a walk started just before the office's midnight expects the day it was issued on."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pypdf import PdfReader

from licensing import db
from licensing.calendar import day_text, days_text
from licensing.db import utcnow
from tests.browser.conftest import (
    NewVendor,
    estimate_software,
    newest_mail,
    reviewed_software_card,
    signed_in_tab,
    submit_the_upload,
    upload_from_template,
    wired,
)
from tests.integration.billing.stripe_support import WEBHOOK_SECRET, stripe_config
from tests.support import factories
from tests.support.card_years import CardYears
from tests.support.first_quarter import FirstQuarter
from tests.support.servers import LiveServer, LocalStripe, SMTPServer
from tests.support.travelled_clock import travelled_to

VENDOR = "dana@quillfeather.example"
BILLING = "accounts@quillfeather.example"
PASSWORD = "amber-lantern-thistle-42"
DANA = NewVendor(
    legal_name="Quillfeather Health Software LLC",
    street="14 Wren Lane",
    city="Madison",
    region="WI",
    postal_code="53703",
    billing_name="Ola Brennan",
    billing_email=BILLING,
    full_name="Dana Whitlock",
    email=VENDOR,
    password=PASSWORD,
)
HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return {**stripe_config(localstripe), "quote_rate_limit": "off"}


def _main(page: Any) -> str:
    return " ".join(page.inner_text("main").split())


def _waiting(page: Any) -> str:
    return DANA.waiting(page)


def _sign_in_again(page: Any) -> None:
    DANA.sign_in_again(page)


def _mail(mailbox: SMTPServer, address: str, subject: str) -> str:
    return newest_mail(mailbox, address, subject)


def _pay_by_card(page: Any, balance: str) -> None:
    DANA.pay_by_card(page, balance)


def test_a_new_vendor_walks_from_a_price_to_a_corrected_first_quarter(
    browser: Any,
    page: Any,
    live_server: LiveServer,
    localstripe: LocalStripe,
    mailbox: SMTPServer,
    tmp_path: Path,
    card_years: CardYears,
) -> None:
    by_card = travelled_to() is None  # else billing staff record wires (see above)
    if by_card:
        localstripe.register_webhook(
            "licensing", f"{live_server.url}/webhooks/stripe", WEBHOOK_SECRET
        )
    started = utcnow()
    walk = FirstQuarter.starting(started)  # the days, travels and numbers below
    assert walk.years == card_years
    start, end = walk.term
    agreement, period = walk.agreement, walk.period
    # Next year's card (the example's rules over the year a month on), its
    # per-end-user software rule reviewed by staff.
    reviewed_software_card(live_server, card_years.next_version, start, end)
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("licensing",))
        billing_staff = factories.make_staff(db.session(), roles=("billing",)).email
        db.session().commit()
        staff_email = staff.email

    # 1. A price without an account: 40 end users, under the 1,000.00 minimum.
    estimate_software(page, (start, end), 40, "Quillfeather Chart")
    estimate = _main(page)
    assert "Estimated total: 1,000.00 USD" in estimate
    assert "licensing staff must review part of this request" in estimate
    assert "740.00 is below it, so the minimum applies" in estimate

    # Sign up from the estimate; the confirmation email's link; the first sign-in
    # lands on the application filled from the estimate.
    page.get_by_role("link", name="Apply for a license with these uses").click()
    DANA.sign_up(page)
    assert f"we sent a link to {VENDOR}" in page.inner_text(".flashes")
    confirm = _mail(mailbox, VENDOR, "Confirm your email address")
    assert "The link works until" in confirm
    page.goto(mailbox.link_to(VENDOR, "/verify-email"))
    assert "is confirmed" in page.inner_text(".flashes")
    _sign_in_again(page)
    # Round 67: the estimate kept with the account, as its first application's draft.
    page.wait_for_url("**/portal/applications/*/edit")
    assert page.locator("#uses-0-quantity-end_users").input_value() == "40"
    assert page.locator("#term_start").input_value() == start.isoformat()
    assert page.locator("#uses-0-delivery").input_value() == "hosted"  # a SaaS product
    page.locator("#uses-0-product_name").fill("Quillfeather Chart")
    page.get_by_role("button", name="Save the draft").click()
    assert "The price if you submit now: 1,000.00 USD" in _main(page)
    page.check("#attest")
    page.get_by_role("button", name="Submit for pricing and review").click()
    application_url = page.url
    assert "Licensing staff review it before it is approved; we email you" in page.inner_text(
        ".flashes"
    )
    # Round 66: by when the office aims to decide, where it said the state alone.
    waiting = _waiting(page)
    assert "is being reviewed The licensing office aims to decide by the end of" in waiting
    assert "(10 US business days from submission); we email you when it decides." in waiting
    assert "Type Commercial company" in _main(page)

    # 2. Staff approve; the vendor is told what acceptance invoices, on the
    # agreement's page too, accepts, and pays the up-front invoice by card.
    console = signed_in_tab(browser, live_server, staff_email)
    console.goto("/console/applications")
    console.get_by_role("link", name="APP-000001").click()
    console.get_by_role("button", name="Approve and issue the agreement").click()
    assert "the agreement is issued" in console.inner_text(".flashes")
    approved = _mail(mailbox, VENDOR, "approved")
    assert "260.00 USD is invoiced when you accept it" in approved
    assert "waits for your acceptance" in _waiting(page)
    page.goto(application_url)
    page.get_by_role("link", name="Read and accept the agreement").click()
    assert (
        page.locator("#due-on-acceptance")
        .inner_text()
        .startswith("When you accept, an invoice for 260.00 USD is issued at once, due in 30 days")
    )
    pdf = page.request.get(
        page.get_by_role("link", name="the agreement (PDF)").get_attribute("href")
    )
    assert pdf.ok
    assert pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.body()))
    assert "Quillfeather Health Software LLC" in reader.pages[0].extract_text()
    page.fill("#signer_name", "Dana Whitlock")
    page.fill("#signer_title", "Managing Director")
    page.check("#authority_confirmed")
    page.get_by_role("button", name="Accept the agreement").click()
    assert (
        "is issued for 260.00 USD due up front: pay it by card or by wire, ACH or check from "
        "its page."
    ) in page.inner_text(".flashes")
    # Round 66: the message links the invoice it names ("pay it from Invoices" did not).
    invoice_link = page.locator(".flashes a")
    assert re.fullmatch(r"/portal/invoices/\d+", invoice_link.get_attribute("href") or "")
    # Issued at the real time (cards are paid outside the travel): numbered in the
    # office's year and due 30 days after the office's day, as finalize_in does; the
    # office's day it was issued on, which may be the day after the walk started.
    walk = FirstQuarter.starting(started, issued=utcnow())
    first, due = walk.up_front.number, walk.up_front.due
    # The email says the day in words (round 56); the portal's list keeps YYYY-MM-DD.
    assert f"260.00 USD, due {day_text(due)}" in _mail(mailbox, BILLING, f"Invoice {first}")
    waiting = _waiting(page)
    assert f"Invoice {first} to pay 260.00 USD due {day_text(due)} you" in waiting
    assert f"Next royalty report for {agreement}" in waiting
    page.get_by_role("link", name=f"Invoice {first} to pay").click()
    # Round 50: the subtraction that leaves the usage royalties to the reports, so the
    # 260.00 follows from the line's 1,000.00 by hand.
    assert (
        "740.00 is usage royalties, invoiced on reported usage: 1,000.00 - 740.00 = 260.00; "
        "charged now (flat fees and the minimum's lift): 260.00 USD"
    ) in _main(page)
    if by_card:
        _pay_by_card(page, "260.00")
    else:
        wired(browser, live_server, billing_staff, first, "260.00")
    # The payer is told, and the billing contact: a wire has no payer.
    assert "is paid in full" in _mail(mailbox, VENDOR if by_card else BILLING, "Payment received")
    waiting = _waiting(page)
    assert "to pay" not in waiting
    assert (
        f"Due by {day_text(period.due_on)}. you, from {day_text(period.first_filing_day)}"
        in waiting
    )

    # 3. The quarter ended: the report waits on the vendor, who uploads the template.
    quarter, quarter_due = walk.quarter_invoice.number, walk.quarter_invoice.due
    with time_machine.travel(walk.reported_at):
        assert f"Royalty report for {agreement}, {days_text(period.start, period.end)}" in _waiting(
            page
        )
        page.get_by_role("link", name=f"Royalty report for {agreement}").click()
        # Round 66: the customers added below the template's own row, left as drawn
        # (its line and unit only), which the page leaves out as its form does.
        template = upload_from_template(
            page,
            tmp_path / "q1.csv",
            "1,QF-1,Harbor Clinic,US,end_users,30,\n1,QF-2,Lakeside Practice,US,end_users,25,\n",
            below_the_template=True,
        )
        assert template.splitlines() == [HEADER, "1,,,,end_users,,"]
        assert "Please correct" not in _main(page)
        preview = _main(page)
        # The up-front invoice is counted: 55 x 18.50 = 1,017.50, less 260.00 charged.
        assert "55 end users 1,017.50 USD 260.00 USD 757.50 USD" in preview
        submit_the_upload(page)
        assert f"Invoice {quarter} is issued" in page.inner_text(".flashes")
        assert f"757.50 USD, due {day_text(quarter_due)}" in _mail(mailbox, BILLING, quarter)
        assert f"Invoice {quarter} to pay 757.50 USD due {day_text(quarter_due)} you" in _waiting(
            page
        )
        page.get_by_role("link", name=f"Invoice {quarter} to pay").click()
        if not by_card:  # recorded on the day it was issued, as a card would be paid
            wired(browser, live_server, billing_staff, quarter, "757.50")
    if by_card:
        _pay_by_card(page, "757.50")

    # The report corrected (a customer counted twice): 45 end users come to 832.50,
    # under the minimum, so 1,000.00 is the royalty: 17.50 is credited, and since the
    # invoice is paid, owed back, which waits on the office.
    credit = walk.credit_note
    with time_machine.travel(walk.amended_at):
        page.goto("/portal/royalty-reports")
        _sign_in_again(page)
        page.get_by_role("link", name="Report RR-000001").click()
        page.get_by_role("link", name="Amend this report").click()
        form = page.locator("#report-form")
        assert form.get_by_label("Row 2, quantity").input_value() == "25"
        form.get_by_label("Row 2, quantity").fill("15")
        form.get_by_label("Why is report RR-000001 amended?").fill("QF-2 was counted twice")
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        assert f"The royalty is 17.50 USD lower: credit note {credit} is issued" in (
            page.inner_text(".flashes")
        )
        assert f"Credited credit note {credit}" in _main(page)
        told = _mail(mailbox, BILLING, f"Credit note {credit}")
        assert (
            "17.50 USD is a refund due to you; the licensing office's billing staff will send it"
            in told
        )
        waiting = _waiting(page)
        assert (
            f"Refund of 17.50 USD due to you (credit note {credit}) on invoice {quarter}" in waiting
        )
        assert "the licensing office" in waiting
        page.goto("/portal/invoices")
        assert "refund of 17.50 USD due to you" in _main(page)
