"""Round 51: a small software vendor's first reporting year, walked in Chromium
(docs/journeys.md, "Round 51: a vendor's first reporting year").

Tallowbyte Software, new to licensing, prices its scheduler on the estimator, signs
up, applies for a distribution licence whose royalties are reported quarterly (its
rule reviewed by staff), is approved by a licensing officer, accepts, and lives the
year (since round 65 the sign-up, the application and the approval are made through
the services their pages call, which the first-quarter walk walks): Q1 filed on time
from the uploaded template, Q2 filed late after the reminder on its due day, Q1
amended for a customer it missed, Q3 sent back by the officer and filed again; the
royalty invoices paid, the first by card (localstripe's Stripe.js stand-in), the
others by wire recorded by billing staff (through their service since round 65); the
statement of account read; the licence renewed on the reported usage. At each step
the page says what waits on whom, by when, and what each number is.

On any day: the licence is next year's card's whole year, a month from the office's
today (`ReportingYear`), and the walk only travels forward (Chromium keeps the real
clock for its cookies). Every day, amount and document number it reads follows from
that year. localstripe signs its webhooks with the real clock, so the card is paid
at the real time, outside the travels; under `TRAVEL_TO` (`tests.support.
travelled_clock`) the first invoice is wired by billing staff too."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.calendar import day_text, days_text, office_date
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.ratecards import services as ratecards
from licensing.royalties.services.reminders import send_reminders
from tests.browser.conftest import (
    NewVendor,
    card_of_a_year,
    estimate_software,
    newest_mail,
    reviewed_software_card,
    signed_in_tab,
    submit_the_upload,
    upload_from_template,
    wired,
)
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.billing.stripe_support import WEBHOOK_SECRET, stripe_config
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.first_quarter import TRAVEL_HOUR
from tests.support.reporting_year import ReportingYear
from tests.support.servers import LiveServer, LocalStripe, SMTPServer
from tests.support.settings import delivery, issuing
from tests.support.travelled_clock import travelled_to
from tests.support.wires import wired_by_service

pytestmark = pytest.mark.xdist_group("vendor_first_year")

VENDOR = "ines@tallowbyte.example"
BILLING = "books@tallowbyte.example"
PASSWORD = "copper-heron-meadow-51"
INES = NewVendor(
    legal_name="Tallowbyte Software Ltd",
    street="3 Kiln Street",
    city="Burlington",
    region="VT",
    postal_code="05401",
    billing_name="Rui Albers",
    billing_email=BILLING,
    full_name="Ines Marlow",
    email=VENDOR,
    password=PASSWORD,
)
HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"
STANDING_DAYS = 30  # OVERDUE_STANDING_DAYS, the reminders' hold


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return {**stripe_config(localstripe), "quote_rate_limit": "off"}


def _words(text: str) -> str:
    return " ".join(text.split())


def _main(page: Any) -> str:
    return _words(page.inner_text("main"))


def _issued(page: Any) -> str:
    """The invoice number the filing's message names."""
    found = re.search(r"Invoice (INV-\d{4}-\d{6}) is issued", page.inner_text(".flashes"))
    assert found, page.inner_text(".flashes")
    return found.group(1)


def _at(day: date) -> datetime:
    return datetime.combine(day, TRAVEL_HOUR)


def _type_rows(form: Any, rows: list[tuple[str, str, str]], first: int = 1) -> None:
    """Customers typed into the rows form from row `first` (line and unit preselected:
    the agreement has one reportable line)."""
    for number, (customer, name, quantity) in enumerate(rows, start=first):
        form.get_by_label(f"Row {number}, customer ID").fill(customer)
        form.get_by_label(f"Row {number}, customer name").fill(name)
        form.get_by_label(f"Row {number}, country").fill("US")
        form.get_by_label(f"Row {number}, quantity").fill(quantity)


def _actor(email: str) -> Actor:
    """Who `email` acts as (inside the live server's app context)."""
    user = db.session().scalars(select(User).where(User.email == email)).one()
    return Actor.of(accounts.principal_for(user))


def _applied_from_the_estimate(live_server: LiveServer, term: tuple[date, date]) -> int:
    """Tallowbyte signed up (applying, Ines its confirmed administrator) and its
    application for the estimate's use (120 end users of the scheduler, distributed
    as a service to providers) submitted; the application's id. The card sends it to
    staff review."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(
            session,
            standing="applying",
            legal_name=INES.legal_name,
            address_line1=INES.street,
            city=INES.city,
            region=INES.region,
            postal_code=INES.postal_code,
            billing_contact_name=INES.billing_name,
            billing_email=INES.billing_email,
        )
        factories.make_vendor(
            session, organization, email=VENDOR, password=PASSWORD, full_name=INES.full_name
        )
        use = {
            **AUTO_USE,
            "product_name": "Tallowbyte Scheduler",
            "description": "Tallowbyte Scheduler",
            "quantity": {"end_users": 120},
        }
        draft = agreements.ApplicationDraft.from_fields(
            {"term_start": term[0], "term_end": term[1], "uses": (use,)}
        )
        vendor = _actor(VENDOR)
        application = agreements.create_draft(vendor, draft)
        submitted = agreements.submit(application.id, vendor, policy=issuing(), attest=True)
        assert submitted.state == "submitted", submitted.state
        return int(submitted.id)


def test_a_small_vendor_lives_its_first_reporting_year_from_a_price_to_a_renewal(
    browser: Any,
    page: Any,
    live_server: LiveServer,
    localstripe: LocalStripe,
    mailbox: SMTPServer,
    tmp_path: Path,
    card_years: CardYears,
) -> None:
    by_card = travelled_to() is None  # else billing staff wire the first invoice too
    if by_card:
        localstripe.register_webhook(
            "licensing", f"{live_server.url}/webhooks/stripe", WEBHOOK_SECRET
        )
    started = utcnow()
    year = ReportingYear.around(office_date(started))
    assert year.years == card_years
    start, end = year.term
    q1, q2, q3 = year.period(1), year.period(2), year.period(3)
    agreement = f"CPT-{start.year}-000001"
    after = end + timedelta(days=1)  # the renewal's year, on a card of its own
    reviewed_software_card(live_server, card_years.next_version, start, end)
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(
                f"{after.year}.2", after, after.replace(year=after.year + 1) - timedelta(days=1)
            ),
            published_by="tests",
        )
        officer = factories.make_staff(db.session(), roles=("licensing",)).email
        clerk = factories.make_staff(db.session(), roles=("billing",)).email
        db.session().commit()

    # 1. A price without an account: 120 end users, graduated, over the minimum.
    estimate_software(page, (start, end), 120, "Tallowbyte Scheduler")
    estimate = _main(page)
    assert "Estimated total: 2,160.00 USD" in estimate
    assert "120 end users, graduated: 100 x 18.50 + 20 x 15.50 = 2,160.00" in estimate
    assert "licensing staff must review part of this request" in estimate

    # Round 65: Ines signs up, confirms her address, applies from the estimate and the
    # officer approves, through the services the pages call: the first-quarter walk
    # (test_first_quarter_walk.py) walks those same pages (its sign-up flash, the
    # confirmation link, the application filled from the estimate, the approval on
    # the console), and this walk's point is the year after them. What she reads of
    # them here is read still: the price, what waits on whom, the approval's email.
    application_id = _applied_from_the_estimate(live_server, (start, end))
    application_url = f"/portal/applications/{application_id}"
    page.goto(application_url)
    INES.sign_in_again(page)
    assert "2,160.00 USD" in _main(page)
    assert (
        "APP-000001 is being reviewed The licensing office aims to decide by the end of"
        in INES.waiting(page)
    )

    # 2. The licensing officer approves; the vendor accepts.
    with live_server.app.app_context():
        reviewer = _actor(officer)
        agreements.start_review(application_id, reviewer)
        agreements.approve(application_id, reviewer, policy=issuing())
        mail.deliver_due(delivery())
    assert "nothing is invoiced when you accept it" in newest_mail(mailbox, VENDOR, "approved")
    assert f"Agreement {agreement} waits for your acceptance" in INES.waiting(page)
    page.goto(application_url)
    page.get_by_role("link", name="Read and accept the agreement").click()
    page.fill("#signer_name", "Ines Marlow")
    page.fill("#signer_title", "Director")
    page.check("#authority_confirmed")
    page.get_by_role("button", name="Accept the agreement").click()
    assert "Nothing is due up front" in page.inner_text(".flashes")
    assert (
        f"Next royalty report for {agreement}, {days_text(q1.start, q1.end)} Due "
        f"by {day_text(q1.due_on)}. "
        f"you, from {day_text(q1.first_filing_day)}"
    ) in INES.waiting(page)

    # 3. Q1, on time: the template downloaded, filled in and uploaded.
    with time_machine.travel(year.after(1)):
        assert (
            f"Royalty report for {agreement}, {days_text(q1.start, q1.end)} Due "
            f"by {day_text(q1.due_on)}: 29 days left." in (INES.waiting(page))
        )
        page.get_by_role("link", name=f"Royalty report for {agreement}").click()
        template = upload_from_template(
            page,
            tmp_path / "q1.csv",
            "1,TB-1,Harbor Clinic,US,end_users,60,\n1,TB-2,Lakeside Practice,US,end_users,35,\n",
        )
        assert template.splitlines() == [HEADER, "1,,,,end_users,,"]
        assert "1 95 end users 1,757.50 USD 0.00 USD 1,757.50 USD" in _main(page)
        submit_the_upload(page)
        first = _issued(page)
        invoice_day = office_date(year.after(1))
        first_due = invoice_day + timedelta(days=30)
        assert f"{first} (open: 1,757.50 USD to pay by {day_text(first_due)})" in _main(page)
        assert f"1,757.50 USD, due {day_text(first_due)}" in newest_mail(mailbox, BILLING, first)
        assert f"Invoice {first} to pay 1,757.50 USD due {day_text(first_due)} you" in INES.waiting(
            page
        )
        page.get_by_role("link", name=f"Invoice {first} to pay").click()
        invoice = _main(page)
        # Every number traced to the rule and the card.
        assert (
            f"rule distribution-software of rate card {card_years.next_version}): usage to "
            "date 95 end users (2 customers, each counted once at the largest quantity "
            "reported for the term so far); 95 end users, graduated: 95 x 18.50 = 1,757.50"
        ) in invoice
        # Round 51: nothing was charged up front, and the working says so.
        assert (
            "charged to date = the amount to date 1,757.50 (nothing was charged up front on "
            "acceptance); due = 1,757.50 charged to date - 0.00 charged before = 1,757.50"
        ) in invoice
        assert "balance due 1,757.50 USD" in invoice  # round 51: was 1757.50
        if not by_card:
            wired(browser, live_server, clerk, first, "1757.50")
    if by_card:
        page.goto("/portal/invoices")
        INES.sign_in_again(page)
        page.get_by_role("link", name=first).click()
        INES.pay_by_card(page, "1,757.50")
    assert "is paid in full" in newest_mail(
        mailbox, VENDOR if by_card else BILLING, "Payment received"
    )

    # 4. Q2: the reminder on its due day; filed six days late, typed in the form.
    with time_machine.travel(_at(q2.due_on)):
        with live_server.app.app_context():
            send_reminders(standing_days=STANDING_DAYS, now=utcnow())
            mail.deliver_due(delivery())
        # The reminder's subject says the period in words (round 56), its link the day.
        said = f"{day_text(q2.start)} to {day_text(q2.end)}"
        reminder = newest_mail(mailbox, VENDOR, f"Royalty report for {agreement}, {said}")
        assert "Your royalty report is due today." in reminder
        assert f"royalty-reports/1/{q2.start}" in reminder
    late_day = q2.due_on + timedelta(days=6)
    held_after = q2.due_on + timedelta(days=STANDING_DAYS)
    with time_machine.travel(_at(late_day)):
        # Round 51: how late, and the day it starts to hold the organization.
        hold = (
            f"It is 6 days overdue: file it by {day_text(held_after)}, or from "
            "the next day it counts "
            "like an overdue invoice and your organization cannot apply for new licenses "
            "until it is filed."
        )
        assert f"Overdue: it was due on {day_text(q2.due_on)}. {hold} you" in INES.waiting(page)
        page.get_by_role("link", name=f"Royalty report for {agreement}").click()
        assert f"Due on {day_text(q2.due_on)} · overdue {hold}" in _main(page)
        assert_accessible(page)
        form = page.locator("#report-form")
        _type_rows(
            form,
            [
                ("TB-1", "Harbor Clinic", "70"),
                ("TB-2", "Lakeside Practice", "35"),
                ("TB-3", "Pine Hill Surgery", "20"),
            ],
        )
        form.get_by_role("button", name="Preview the royalty").click()
        # 125 end users: 100 x 18.50 + 25 x 15.50 = 2,237.50, less Q1's 1,757.50.
        assert "1 125 end users 2,237.50 USD 1,757.50 USD 480.00 USD" in _main(page)
        form = page.locator("#report-form")
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        second = _issued(page)
        assert "(typed in the form, 3 rows), 6 days late" in _main(page)  # round 51

        # Q1 amended: Orchard Family Medicine was missed. Recomputed to date through
        # Q2: 140 end users, 2,470.00, of which 2,237.50 was charged.
        page.goto("/portal/royalty-reports")
        page.get_by_role("link", name="Report RR-000001").click()
        page.get_by_role("link", name="Amend this report").click()
        form = page.locator("#report-form")
        assert form.get_by_label("Row 2, quantity").input_value() == "35"
        _type_rows(form, [("TB-4", "Orchard Family Medicine", "15")], first=3)
        form.get_by_label("Why is report RR-000001 amended?").fill(
            "Orchard Family Medicine was missed"
        )
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        amended = _issued(page)
        report_page = _main(page)
        assert "Amends report RR-000001, because: Orchard Family Medicine was missed" in (
            report_page
        )
        assert "1 140 end users 2,470.00 USD 2,237.50 USD 232.50 USD" in report_page
        # The report's own invoice, among its facts (the period's charges link it too).
        page.locator("dl.facts").get_by_role("link", name=amended).click()
        assert f"Amends {first}, the invoice of the report this one amends" in _main(page)
        waiting = INES.waiting(page)
        assert f"Invoice {second} to pay 480.00 USD" in waiting
        assert f"Invoice {amended} to pay 232.50 USD" in waiting
        # Billing staff record the wires (their console form is walked by
        # test_billing_journey.py; the first invoice's, under travel, here).
        for number, amount in ((second, "480.00"), (amended, "232.50")):
            wired_by_service(live_server, clerk, number, amount)

    # 5. Q3 filed; the officer asks for a corrected report; the vendor amends it.
    with time_machine.travel(year.after(3)):
        assert (
            f"Royalty report for {agreement}, {days_text(q3.start, q3.end)} Due "
            f"by {day_text(q3.due_on)}: 29 days left." in (INES.waiting(page))
        )
        page.get_by_role("link", name=f"Royalty report for {agreement}").click()
        form = page.locator("#report-form")
        _type_rows(
            form,
            [
                ("TB-1", "Harbor Clinic", "70"),
                ("TB-2", "Lakeside Practice", "40"),
                ("TB-3", "Pine Hill Surgery", "20"),
            ],
        )
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        third = _issued(page)
        assert "1 145 end users 2,547.50 USD 2,470.00 USD 77.50 USD" in _main(page)

        console = signed_in_tab(browser, live_server, officer)
        console.goto("/console/royalty-reports")
        console.get_by_role("link", name="RR-000004").first.click()
        note = "Harbor Clinic reported 90 end users for the quarter; please check."
        console.get_by_label("Note to the licensee").fill(note)
        console.get_by_role("button", name="Ask for a corrected report").click()
        assert "A corrected report is asked for. We emailed" in console.inner_text(".flashes")
        correction_due = office_date(year.after(3)) + timedelta(days=30)
        asked = newest_mail(mailbox, VENDOR, "Please correct royalty report RR-000004")
        assert note in asked
        assert f"File the corrected report by {day_text(correction_due)}" in asked  # in words
        assert (
            f"Royalty report RR-000004 for {agreement}, {days_text(q3.start, q3.end)}: "
            "a correction is asked for "
            f"Licensing staff ask: {note} Amend the report by {day_text(correction_due)}"
        ) in INES.waiting(page)
        # The list of royalty reports puts it first, saying why (round 54: among the
        # filed ones, by due date), and its link leads to the amendment.
        page.goto("/portal/royalty-reports")
        top = _words(page.locator("tbody tr").first.inner_text())
        assert top.startswith(f"{agreement} {q3.start}"), top
        # Round 62: the period's charged, paid and still owed end the row.
        assert top.endswith(
            "Report RR-000004 A correction is asked for: amend the report "
            "77.50 USD 0.00 USD 77.50 USD to pay"
        ), top
        page.get_by_role("link", name=f"Amend the report for {agreement}, {q3.label}").click()
        form = page.locator("#report-form")
        form.get_by_label("Row 1, quantity").fill("90")
        form.get_by_label("Why is report RR-000004 amended?").fill("Harbor Clinic recounted")
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        corrected = _issued(page)
        assert "1 165 end users 2,857.50 USD 2,547.50 USD 310.00 USD" in _main(page)
        console.reload()
        assert "Corrected by report RR-000005" in _main(console)
        console.context.close()
        assert "a correction is asked for" not in INES.waiting(page)
        for number, amount in ((third, "77.50"), (corrected, "310.00")):
            wired_by_service(live_server, clerk, number, amount)

        # The statement of account, from the first day of the walk: every invoice and
        # payment, and nothing owed.
        page.goto(f"/portal/statement?from={office_date(started)}&to={office_date(utcnow())}")
        statement = _main(page)
        for number in (first, second, amended, third, corrected):
            assert f"{number} Invoice issued for Royalty report" in statement
        for number in (second, amended, third, corrected):
            assert f"{number} Payment received (wire, reference FEDWIRE {number})" in statement
        assert re.search(r"Closing balance on \S+ 0\.00 USD", statement), statement
        assert "to pay" not in INES.waiting(page)

    # 6. Two months before the term ends: renewed on the usage reported.
    with time_machine.travel(_at(end - timedelta(days=60))):
        page.goto("/portal/agreements/1")
        INES.sign_in_again(page)
        assert f"Charged to date 2,857.50 USD: usage reported through {day_text(q3.end)}" in _main(
            page
        )
        page.get_by_role("button", name="Renew for the next rate card year").click()
        figures = page.get_by_role("region", name="Where the renewal's quantities come from")
        assert (
            "End users: 165 · from royalty report RR-000005 for "
            f"{day_text(q3.start)} to {day_text(q3.end)} "
            "(estimated 120 in APP-000001)"
        ) in _words(figures.inner_text())
        assert page.get_by_label("Expected number of end users").input_value() == "165"
        page.get_by_role("button", name="Save the draft").click()
        assert "APP-000002" in _main(page)
