"""Round 5 in Chromium: the royalty cycle's loose ends as their users meet them.
The vendor's billing contact pages through the periods and opens an amendment's
credit note from the report; billing staff do the same from the console; an
administrator follows a report from the audit log; licensing staff read where a
renewal's figures came from on its review page.

On any day (round 50): the agreement is next year's card's whole year
(`reporting_vendor`'s `ReportingYear`); its first period is filed at the day it may
first be reported, and the pages are read at the second's, travelling forward only."""

from __future__ import annotations

import re
from typing import Any

import time_machine
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from tests.browser.conftest import reporting_vendor, sign_in
from tests.integration.royalties.conftest import row
from tests.support import factories
from tests.support.agreements import renewal_window
from tests.support.axe import assert_accessible
from tests.support.reporting_year import ReportingYear, filed
from tests.support.servers import LiveServer


def _file(
    vendor_email: str, agreement_id: int, year: ReportingYear, rows: list[Any], **amendment: Any
) -> Any:
    """`rows` filed for the first period, on the day it may first be reported."""
    vendor = db.session().scalars(select(User).where(User.email == vendor_email)).one()
    start = year.period(1).start
    filing = filed(vendor, agreement_id, start, rows, now=year.after(1), **amendment)
    assert filing.report is not None
    return filing.report


def test_the_royalty_loose_ends_as_vendor_billing_staff_administrator_and_licensing_staff(
    page: Any, live_server: LiveServer
) -> None:
    email, agreement, year = reporting_vendor(live_server)
    with live_server.app.app_context():
        first = _file(email, agreement.id, year, [row(1, "A", quantity=3000)])
        lowered = _file(
            email, agreement.id, year, [row(1, "A", quantity=2900)], amends=first.id, reason="2,900"
        )
        [credit_note] = lowered.credit_notes
        reference = lowered.reference
        session = db.session()
        billing = factories.make_staff(session, roles=("billing",)).email
        admin = factories.make_staff(session, roles=("admin",)).email
        licensing = factories.make_staff(session, roles=("licensing",)).email
        vendor = session.scalars(select(User).where(User.email == email)).one()
        renewal = agreements.start_renewal(
            agreement.id, Actor.of(accounts.principal_for(vendor)), now=renewal_window(agreement)
        )
        renewal_id = renewal.id

    periods = len(year.periods)  # 4, or 5 where the year starts after a quarter's first day
    with time_machine.travel(year.after(2)):
        sign_in(page, email)
        page.goto("/portal/royalty-reports")
        pager = page.locator("nav.pager").inner_text()
        assert f"Reporting periods 1\u2013{periods} of {periods}" in pager
        page.get_by_role("link", name=f"Report {reference}").click()
        _opens_the_credit_note(page, credit_note)
        assert_accessible(page)
        # The next person in the same tab: its cookies dropped, as signing out ends the
        # session (round 68: three *Sign out*s and the pages they led to, which no check
        # read; signing out is walked by test_two_step_sign_in.py and the passkey walks).
        page.context.clear_cookies()

        sign_in(page, billing)
        page.goto("/console/royalty-reports")
        page.get_by_role("link", name=reference).click()
        _opens_the_credit_note(page, credit_note, console=True)
        page.context.clear_cookies()

        sign_in(page, admin)
        page.goto("/console/audit")
        page.get_by_role("link", name=reference).first.click()
        page.get_by_role("heading", name=f"Royalty report {reference}").wait_for()
        page.context.clear_cookies()

        sign_in(page, licensing)
        page.goto(f"/console/applications/{renewal_id}")
        figures = page.get_by_role("region", name="Where the renewal's quantities come from")
        text = " ".join(figures.inner_text().split())
        assert f"End users: 2,900 · from royalty report {reference}" in text
        assert "the licensee last reported" in text
        assert_accessible(page)


def _opens_the_credit_note(page: Any, number: str, *, console: bool = False) -> None:
    """The report names the credit note as a link to its PDF, which opens; on the
    console to the credit note's own page (round 56), whose PDF link opens."""
    link = page.locator("dl.facts").get_by_role("link", name=number)
    if console:
        link.click()
        page.get_by_role("heading", name=re.compile(f"Credit note {number}")).wait_for()
        link = page.get_by_role("link", name="Download the credit note PDF")
    answer = page.request.get(link.get_attribute("href"))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
