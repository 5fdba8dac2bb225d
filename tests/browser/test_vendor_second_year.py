"""Round 52: a vendor's reporting year of amendments, a correction, a refund and a
renewal, walked in Chromium (docs/journeys.md, "Round 52: a vendor's amendments,
renewals and a second year").

Tallowbyte Software, in its second year (its first, this year's card, licensed the
scheduler's development for a flat fee, paid), reports its second licence's quarters
(the scheduler distributed to clinics): Q1 typed in the form and paid by wire, then
amended down (a credit note follows, and a refund is owed, which billing staff pay
part of), Q2 filed from the form drawn from Q1's customers, sent back by the
licensing officer and filed again after its due date, the organization's billing
contact changed, and the licence renewed in its last months with a different product
mix, priced on the card in effect for the renewal's year. At each page the test reads
what waits on whom, by when, what is owed and why.

On any day: the licence is next year's card's whole year (`ReportingYear`), and the
walk only travels forward (Chromium keeps the real clock for its cookies)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from licensing import db
from licensing.billing.models import Invoice
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.browser.conftest import card_of_a_year, sign_in, signed_in_tab
from tests.integration.agreements.conftest import AUTO_USE
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.axe import assert_accessible
from tests.support.card_years import CardYears
from tests.support.first_quarter import TRAVEL_HOUR
from tests.support.monthly_statements import paid
from tests.support.reporting_year import ReportingYear
from tests.support.servers import LiveServer
from tests.support.wires import wired_by_service

pytestmark = pytest.mark.xdist_group("vendor_second_year")


def _words(text: str) -> str:
    return " ".join(text.split())


def _main(page: Any) -> str:
    return _words(page.inner_text("main"))


def _waiting(page: Any) -> str:
    page.goto("/portal/")
    _signed_in_again(page)
    return _words(page.locator("main table").first.inner_text())


def _signed_in_again(page: Any) -> None:
    if "/sign-in" in page.url:
        page.get_by_label("Email address").fill(VENDOR)
        page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()


def _issued(page: Any) -> str:
    found = re.search(r"Invoice (INV-\d{4}-\d{6}) is issued", page.inner_text(".flashes"))
    assert found, page.inner_text(".flashes")
    return found.group(1)


def _at(day: date) -> datetime:
    return datetime.combine(day, TRAVEL_HOUR)


def _type_rows(form: Any, rows: list[tuple[str, str, str]], first: int = 1) -> None:
    for number, (customer, name, quantity) in enumerate(rows, start=first):
        form.get_by_label(f"Row {number}, customer ID").fill(customer)
        form.get_by_label(f"Row {number}, customer name").fill(name)
        form.get_by_label(f"Row {number}, country").fill("US")
        form.get_by_label(f"Row {number}, quantity").fill(quantity)


VENDOR = "ines@tallowbyte.example"
FIRST_YEAR_USE = {**AUTO_USE, "use": "development", "product_name": "Tallowbyte Scheduler SDK"}


def test_a_vendor_amends_is_refunded_is_sent_back_changes_its_billing_contact_and_renews(
    browser: Any, page: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    year = ReportingYear.around(office_date(utcnow()))
    start, end = year.term
    q1, q2 = year.period(1), year.period(2)
    after = end + timedelta(days=1)  # the renewal's year, on a card of its own
    renewal_card = f"{after.year}.2"
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(year.years.next_version, start, end), published_by="tests"
        )
        ratecards.import_card(
            card_of_a_year(
                renewal_card, after, after.replace(year=after.year + 1) - timedelta(days=1)
            ),
            published_by="tests",
        )
        session = db.session()
        organization = factories.make_organization(
            session,
            legal_name="Tallowbyte Software Ltd",
            billing_contact_name="Rui Albers",
            billing_email="books@tallowbyte.example",
        )
        vendor = factories.make_vendor(session, organization, email=VENDOR, full_name="Ines Marlow")
        officer = factories.make_staff(session, roles=("licensing",))
        clerk = factories.make_staff(session, roles=("billing",)).email
        # Its first year (this year's card, ending a month from today): the scheduler
        # in development, a flat fee invoiced on acceptance and paid.
        first_year = make_active_agreement(
            vendor, officer, FIRST_YEAR_USE, term=(card_years.this_from, card_years.this_to)
        )
        upfront = session.scalars(
            select(Invoice).where(Invoice.organization_id == organization.id)
        ).one()
        paid(upfront, office_date(utcnow()))
        first_number = first_year.number
        # Its second year, the licence the walk lives: the scheduler distributed to
        # clinics, 2,500 end users estimated, royalties reported quarterly.
        agreement = make_active_agreement(vendor, officer, AUTO_USE, term=year.term)
        number, agreement_id = agreement.number, agreement.id
        officer_email = officer.email
        session.commit()
    sign_in(page, VENDOR)

    # 1. Q1 typed in the form (2,500 end users), invoiced, paid by wire.
    with time_machine.travel(year.after(1)):
        page.goto(f"/portal/royalty-reports/{agreement_id}/{q1.start}")
        _signed_in_again(page)
        form = page.locator("#report-form")
        _type_rows(form, [("TB-1", "Harbor Clinic", "1500"), ("TB-2", "Lakeside Practice", "1000")])
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        first = _issued(page)
        # Round 57: the page's sentences say their days in words.
        first_due = day_text(office_date(year.after(1)) + timedelta(days=30))
        assert f"Invoice {first} (open: 33,800.00 USD to pay by {first_due})" in _main(page)
        wired_by_service(live_server, clerk, first, "33800.00")

        # 2. Q1 amended down after it was paid: Lakeside Practice had 800 end users.
        # 2,300 end users: 31,400.00, 2,400.00 less, credited; the invoice was paid, so
        # the 2,400.00 is owed back.
        page.goto("/portal/royalty-reports")
        page.get_by_role("link", name="Report RR-000001").click()
        page.get_by_role("link", name="Amend this report").click()
        form = page.locator("#report-form")
        form.get_by_label("Row 2, quantity").fill("800")
        form.get_by_label("Why is report RR-000001 amended?").fill("Lakeside Practice recounted")
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        credited = re.search(
            r"The royalty is 2,400\.00 USD lower: credit note (CN-\d{4}-\d{6}) is issued",
            page.inner_text(".flashes"),
        )
        assert credited, page.inner_text(".flashes")
        credit = credited.group(1)
        assert "1 2,300 end users 31,400.00 USD 33,800.00 USD -2,400.00 USD" in _main(page)
        # Round 52: the page said "Credited" and nothing of the money owed back.
        assert (
            f"Refund {credit} credits an amount already paid: 2,400.00 USD is owed back to "
            "you; 2,400.00 USD is still to be sent by the licensing office's billing staff."
        ) in _main(page)
        # Round 52: the list said "-2,400.00 (change by amendment)" as Q1's royalty.
        page.goto("/portal/royalty-reports")
        assert (
            f"{q1.start} to {q1.end} {q1.due_on} submitted 31,400.00 USD (2,400.00 USD less "
            f"by amendment) {first}, credit note {credit} Report RR-000002"
        ) in _main(page)
        owed_back = (
            f"Refund of 2,400.00 USD due to you (credit note {credit}) on invoice {first}: "
            "the licensing office's billing staff send it back by bank transfer or check and "
            "email your billing contact when it is sent; the invoice lists it then the "
            "licensing office's billing staff"
        )
        assert owed_back in _waiting(page)

        # 3. Billing staff send back 1,000.00 of it by wire; 1,400.00 is still owed.
        console = signed_in_tab(browser, live_server, clerk)
        console.goto("/console/invoices")
        console.get_by_role("link", name=first).click()
        refund = console.get_by_role("region", name=f"Refund credit note {credit}")
        refund.get_by_label("How").select_option("wire")
        refund.get_by_label("Amount to refund").fill("1000.00")
        refund.get_by_label("Reference", exact=True).fill("FEDWIRE REFUND 1")
        refund.get_by_role("button", name="Refund").click()
        assert f"Refunded 1,000.00 USD ({credit})." in console.inner_text(".flashes")
        assert "Refund outstanding (not yet sent) 1,400.00 USD" in _main(console)
        console.context.close()
        assert (
            f"Refund of 1,400.00 USD due to you (credit note {credit}) on invoice {first}: "
            "1,000.00 USD of the 2,400.00 USD owed back is sent; the licensing office's billing "
            "staff send the rest back by bank transfer or check"
        ) in _waiting(page)
        page.goto("/portal/invoices")
        assert f"{first} " in _main(page)
        assert "33,800.00 USD 0.00 USD paid refund of 1,400.00 USD due to you" in _main(page)

    # 4. Q2 from the form drawn from Q1's customers (round 52: it started blank), sent
    # back by the officer, and filed again after its due date.
    with time_machine.travel(year.after(2)):
        page.goto(f"/portal/royalty-reports/{agreement_id}/{q2.start}")
        _signed_in_again(page)
        form = page.locator("#report-form")
        assert form.get_by_label("Row 1, customer ID").input_value() == "TB-1"
        assert form.get_by_label("Row 2, customer name").input_value() == "Lakeside Practice"
        assert form.get_by_label("Row 2, quantity").input_value() == ""
        assert "with last period's 2 customers, quantities blank" in _main(page)
        assert_accessible(page)
        form.get_by_label("Row 1, quantity").fill("1600")
        form.get_by_label("Row 2, quantity").fill("800")
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        second = _issued(page)
        # 2,400 end users to date: 32,600.00, less the 31,400.00 charged.
        assert "1 2,400 end users 32,600.00 USD 31,400.00 USD 1,200.00 USD" in _main(page)

        console = signed_in_tab(browser, live_server, officer_email)
        console.goto("/console/royalty-reports")
        console.get_by_role("link", name="RR-000003").first.click()
        note = "Harbor Clinic's contract counts 1,700 end users; please check."
        console.get_by_label("Note to the licensee").fill(note)
        console.get_by_role("button", name="Ask for a corrected report").click()
        assert "A corrected report is asked for. We emailed" in console.inner_text(".flashes")
        console.context.close()
        correction_due = office_date(year.after(2)) + timedelta(days=30)
        assert (
            f"a correction is asked for Licensing staff ask: {note} Amend the report by "
            f"{day_text(correction_due)}, saying what changed. you"
        ) in _waiting(page)
    late_day = max(q2.due_on, correction_due) + timedelta(days=4)
    with time_machine.travel(_at(late_day)):
        waiting = _waiting(page)
        was_due = day_text(correction_due)
        assert f"Amend the report, saying what changed: it was due on {was_due}." in waiting
        second_due = office_date(year.after(2)) + timedelta(days=30)
        assert f"Invoice {second} to pay 1,200.00 USD due {day_text(second_due)}: " in waiting
        page.get_by_role("link", name="Royalty report RR-000003").click()
        # Round 52: it said "The corrected report is due by" a day gone.
        days_late = (late_day - correction_due).days
        assert (
            f"The corrected report was due by {was_due}: it is {days_late} days late."
        ) in _main(page)
        form = page.locator("#report-form")
        form.get_by_label("Row 1, quantity").fill("1700")
        form.get_by_label("Why is report RR-000003 amended?").fill("Harbor Clinic recounted")
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        corrected = _issued(page)
        assert "1 2,500 end users 33,800.00 USD 32,600.00 USD 1,200.00 USD" in _main(page)
        assert "a correction is asked for" not in _waiting(page)
        console = signed_in_tab(browser, live_server, officer_email)
        console.goto("/console/royalty-reports")
        queue = _main(console)
        # Round 56: every invoice of an amended period, the first report's too.
        assert (
            f"31,400.00 USD (2,400.00 USD less by amendment) {first}, credit note {credit}"
        ) in queue
        assert (
            f"2,400.00 USD (1,200.00 USD more by amendment) {second}, {corrected} RR-000004"
        ) in queue
        console.context.close()
        for invoice in (second, corrected):  # the sent-back report's invoice stood
            wired_by_service(live_server, clerk, invoice, "1200.00")
        assert "to pay" not in _waiting(page)

        # 5. The billing contact changes: both addresses are told.
        page.goto("/organization")
        page.get_by_label("Billing contact name").fill("Mara Quill")
        page.get_by_label("Billing contact email").fill("accounts@tallowbyte.example")
        page.get_by_role("button", name="Save").click()
        assert (
            "We emailed the old and the new billing contact: books@tallowbyte.example, "
            "accounts@tallowbyte.example."
        ) in page.inner_text(".flashes")

    # 6. The renewal: said from when (round 52: offered from the acceptance), then
    # offered; renewed with a second product, on the card of the renewal's year.
    opens = end - timedelta(days=90)
    with time_machine.travel(_at(opens - timedelta(days=30))):
        page.goto(f"/portal/agreements/{agreement_id}")
        _signed_in_again(page)
        assert (
            f"You can renew this agreement from {day_text(opens)}, 90 days before its term "
            f"ends on {day_text(end)}: the renewal then runs from {day_text(after)}, on the "
            "rate card in effect that day"
        ) in _main(page)
        assert page.get_by_role("button", name="Renew for the next rate card year").count() == 0
    with time_machine.travel(_at(end - timedelta(days=60))):
        ends = f"Agreement {number} ends on {day_text(end)}: renew it to stay licensed"
        assert ends in _waiting(page)
        page.goto("/portal/agreements")
        assert first_number in _main(page)  # its first year's licence, beside it
        page.goto(f"/portal/agreements/{agreement_id}")
        page.get_by_role("button", name="Renew for the next rate card year").click()
        assert "End users: 2,500 · from royalty report RR-000004" in _main(page)
        page.get_by_role("button", name="Add another use").click()
        page.locator("#uses-1-product_name").fill("Tallowbyte Scheduler SDK")
        page.locator("#uses-1-description").fill("The scheduler's engine for integrators")
        page.locator("#uses-1-use").select_option("development")
        page.locator("#uses-1-product_type").select_option("saas")
        page.locator("#uses-1-user_type").select_option("provider")
        page.locator("#uses-1-territories").fill("United States")
        page.locator("#uses-1-languages").fill("en")
        page.get_by_role("button", name="Save the draft").click()
        draft = _main(page)
        assert f"Term {day_text(after)} to " in draft
        assert f"Rate card {renewal_card} (the card in effect on the start date" in draft
        assert "The price if you submit now: 36,300.00 USD" in draft
        assert (
            f"On rate card {renewal_card} this renewal is 36,300.00 USD: 2,500.00 USD more than "
            f"{number} on rate card {year.years.next_version} (33,800.00 USD)."
        ) in draft
        assert "2. Tallowbyte Scheduler SDK — 2,500.00 — Not licensed before." in draft
