"""Round 59: an agreement's last months, read by its licensee's administrator and the
licensing office in Chromium at 1280 px (docs/journeys.md, "Round 59: when an
agreement ends (termwalk59)").

Harrowgate Health's agreement (per end user, reported quarterly) nears its end: the
60-day email and the dashboard ask for the renewal, the office's renewals due says the
licensee was emailed; the term ends unrenewed and the run expires it; the dashboard,
the agreement's page and the console say since when and what a renewal drawn now
leaves unlicensed; the PDF stays the agreement as accepted; the last period's report,
allowed after the term, is reminded, filed late and invoiced; the renewal is drawn
from the expired agreement's page, from that day.

On any day: the licence is next year's card's whole year (`ReportingYear`), and the
walk only travels forward (Chromium keeps the real clock for its cookies)."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from licensing import db
from licensing.agreements import services as agreements
from licensing.calendar import day_text, days_text, office_date
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.ratecards import services as ratecards
from licensing.royalties.cli import remind_due
from tests.browser.conftest import card_of_a_year, newest_mail, one_line, signed_in_tab
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.royalties.conftest import row
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.axe import assert_accessible
from tests.support.first_quarter import TRAVEL_HOUR
from tests.support.reporting_year import ReportingYear, filed
from tests.support.servers import LiveServer, SMTPServer
from tests.support.settings import delivery

pytestmark = pytest.mark.xdist_group("agreement_end_of_term")

ADMIN = "noor@harrowgate.example"
WIDTH = 1280


def _at(day: date) -> datetime:
    return datetime.combine(day, TRAVEL_HOUR)


def _main(page: Any) -> str:
    return one_line(page.inner_text("main"))


def _open(page: Any, url: str, email: str) -> str:
    """`url` opened (signed in again where a travel forward ended the session): its
    main text in one line."""
    page.goto(url)
    if "/sign-in" in page.url:
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        page.goto(url)
    page.locator("main h1").first.wait_for()
    return _main(page)


def _waiting(page: Any) -> str:
    _open(page, "/portal/", ADMIN)
    return one_line(page.locator("main table").first.inner_text())


def test_an_agreement_ends_unrenewed_its_last_report_is_filed_late_and_it_is_renewed_after(
    browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    year = ReportingYear.around(office_date(utcnow()))
    start, end = year.term
    last = year.periods[-1]
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(year.years.next_version, start, end), published_by="tests"
        )
        session = db.session()
        organization = factories.make_organization(
            session, legal_name="Harrowgate Health Software Inc"
        )
        vendor = factories.make_vendor(session, organization, email=ADMIN, full_name="Noor Haddad")
        officer = factories.make_staff(session, roles=("licensing",))
        agreement = make_active_agreement(vendor, officer, AUTO_USE, term=year.term)
        number, agreement_id, issued_sha = agreement.number, agreement.id, agreement.pdf_sha256
        officer_email = officer.email
        session.commit()
        # Every period but the last filed on its first day (2,100 end users).
        for period in year.periods[:-1]:
            filed(
                vendor,
                agreement_id,
                period.start,
                [row(1, "HG-1", quantity=2100)],
                now=_at(period.first_filing_day),
            )
        db.session().commit()

    # 1. Sixty days before the term's last day: the email, the dashboard, the office.
    with time_machine.travel(_at(end - timedelta(days=60))):
        with live_server.app.app_context():
            assert agreements.expire().ending_reminded == [number]
            mail.deliver_due(delivery())
        email = newest_mail(mailbox, ADMIN, f"Agreement {number}: ends on")
        assert f"The term ends on {day_text(end)} and nothing renews it yet." in email
        assert f"Royalty reports for this term are still filed under {number}" in email
        page = signed_in_tab(browser, live_server, ADMIN, width=WIDTH)
        assert (
            f"Agreement {number} ends on {day_text(end)}: renew it to stay licensed Renew it "
            "on the agreement's page: the renewal is a new application for the term from "
            f"{day_text(end + timedelta(days=1))}"
        ) in _waiting(page)
        console = signed_in_tab(browser, live_server, officer_email, width=WIDTH)
        due = _open(console, "/console/agreements/renewals-due", officer_email)
        assert f"{number} Harrowgate Health Software Inc {end.isoformat()} No renewal yet" in due
        assert re.search(r"The licensee was emailed \w+ \d+, \d{4} at [\d:]+ [AP]M", due), due

    # 2. The term ends unrenewed: sixteen days on, the run expires it (it ran late).
    gone = end + timedelta(days=16)
    with time_machine.travel(_at(gone)):
        with live_server.app.app_context():
            assert agreements.expire().expired == [number]
            mail.deliver_due(delivery())
        email = newest_mail(mailbox, ADMIN, f"Agreement {number}: expired")
        assert "a renewal runs from the day it is drawn" in email
        unlicensed = days_text(end + timedelta(days=1), gone - timedelta(days=1))
        # Round 59: the dashboard asked for the renewal until the last day, then nothing.
        waiting = _waiting(page)
        assert (
            f"Agreement {number} expired on {day_text(end)}: renew it to license its uses again"
        ) in waiting
        assert f"it does not license {unlicensed}, between the two terms" in waiting
        # The last period is due: who waits on whom, and by when.
        assert (
            f"Royalty report for {number}, {day_text(last.start)} to {day_text(last.end)} Due "
            f"by {day_text(last.due_on)}: {(last.due_on - gone).days} days left. you"
        ) in waiting
        text = _open(page, f"/portal/agreements/{agreement_id}", ADMIN)
        assert (
            f"Ended At the end of its term on {day_text(end)}: it licenses no use after that "
            "day. Royalty reports for its term are still filed under it."
        ) in text
        assert (
            f"A renewal drawn today runs from {day_text(gone)}, on the rate card in effect "
            "then in USD (the agreement's currency), for a year at most: it does not "
            f"license {unlicensed}"
        ) in text
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert_accessible(page)
        # The PDF is the agreement as issued and accepted, its bytes unchanged.
        pdf = page.request.get(f"/portal/agreements/{agreement_id}/agreement.pdf")
        assert pdf.ok
        assert hashlib.sha256(pdf.body()).hexdigest() == issued_sha
        console_text = _open(console, f"/console/agreements/{agreement_id}", officer_email)
        assert f"Ended At the end of its term on {day_text(end)}" in console_text
        history = one_line(console.locator("main table").last.inner_text())
        assert "system Agreement expired state: active → expired" in history
        assert "system Agreement ending reminder sent" in history
        assert "No active agreement ends within 90 days." in _open(
            console, "/console/agreements/renewals-due", officer_email
        )

    # 3. The last period's report, after the term: reminded, late, then filed.
    late = last.due_on + timedelta(days=5)
    with time_machine.travel(_at(late)):
        with live_server.app.app_context():
            remind_due()
            mail.deliver_due(delivery())
        email = newest_mail(mailbox, ADMIN, f"Royalty report for {number}")
        assert "Your royalty report is 5 days overdue." in email
        assert (
            f"Royalty report for {number}, {day_text(last.start)} to {day_text(last.end)} "
            f"Overdue: it was due on {day_text(last.due_on)}. It is 5 days overdue"
        ) in _waiting(page)
        queue = _open(console, "/console/royalty-reports", officer_email)
        assert (
            f"{number} {last.start} to {last.end} {last.due_on} overdue 5 days overdue"
        ) in queue
        _open(page, f"/portal/royalty-reports/{agreement_id}/{last.start}", ADMIN)
        form = page.locator("#report-form")
        assert form.get_by_label("Row 1, customer ID").input_value() == "HG-1"
        form.get_by_label("Row 1, quantity").fill("2600")
        form.get_by_label("I attest").check()
        form.get_by_role("button", name="Attest and submit").click()
        issued = re.search(r"Invoice (INV-\d{4}-\d{6}) is issued", page.inner_text(".flashes"))
        assert issued, page.inner_text(".flashes")
        report = _main(page)
        assert f"(due {day_text(last.due_on)}) State submitted" in report
        assert "5 days late" in report
        assert "1 2,600 end users 35,000.00 USD 29,000.00 USD 6,000.00 USD" in report
        invoice = newest_mail(
            mailbox, organization_billing(live_server, agreement_id), "Invoice", issued.group(1)
        )
        assert "6,000.00 USD" in invoice
        assert "Overdue" not in _waiting(page)

        # 4. Renewed from the expired agreement's page: from that day, not the term's next.
        _open(page, f"/portal/agreements/{agreement_id}", ADMIN)
        page.get_by_role("button", name="Renew from today").click()
        page.get_by_text("renews the agreement").first.wait_for()
        draft = _main(page)
        assert "End users: 2,600 · from royalty report" in draft
        # No card for the next year yet: the office prices it by hand.
        assert f"No rate card in USD is published yet for a term starting {day_text(late)}" in draft
        assert "renew it to license its uses again" not in _waiting(page)
    page.context.close()
    console.context.close()


def organization_billing(live_server: LiveServer, agreement_id: int) -> str:
    """The billing contact's address of the agreement's organization."""
    from licensing.agreements.models import Agreement

    with live_server.app.app_context():
        found = db.session().get(Agreement, agreement_id)
        assert found is not None
        return str(found.organization.billing_email)
