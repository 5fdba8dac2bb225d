"""Round 59 (expired59): a licensing officer finds the licences that ended without a
renewal, in Chromium at 1280 px (docs/journeys.md, "Round 59: licences that ended
without a renewal (expired59)").

Two agreements of one licensee end unrenewed, twenty days apart, and the run expires
them. The renewals due no longer list them; the console home links the office's list
of agreements expired without a renewal, which says, the longest ended first, how long
ago each ended and until when its licensee is asked to renew; its number opens the
agreement's page. On any day: the terms are next year's card's (`ReportingYear`), and
the walk only travels forward (Chromium keeps the real clock for its cookies)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from licensing import db
from licensing.agreements import services as agreements
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.browser.conftest import card_of_a_year, one_line, signed_in_tab
from tests.integration.agreements.conftest import AUTO_USE
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.axe import assert_accessible
from tests.support.first_quarter import TRAVEL_HOUR
from tests.support.reporting_year import ReportingYear
from tests.support.servers import LiveServer

pytestmark = pytest.mark.xdist_group("expired_unrenewed")

WIDTH = 1280
HOME_ROW = "Agreements expired without a renewal in the last 90 days"


def _at(day: date) -> datetime:
    return datetime.combine(day, TRAVEL_HOUR)


def test_an_officer_finds_the_licences_that_ended_unrenewed_from_the_console_home(
    browser: Any, live_server: LiveServer
) -> None:
    year = ReportingYear.around(office_date(utcnow()))
    start, end = year.term
    earlier = end - timedelta(days=20)
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(year.years.next_version, start, end), published_by="tests"
        )
        session = db.session()
        organization = factories.make_organization(session, legal_name="Fenwick Claims Tools Inc")
        vendor = factories.make_vendor(session, organization, email="ada@fenwick.example")
        officer = factories.make_staff(session, roles=("licensing",))
        first = make_active_agreement(vendor, officer, AUTO_USE, term=(start, earlier))
        second = make_active_agreement(vendor, officer, AUTO_USE, term=(start, end))
        numbers, first_id, officer_email = (first.number, second.number), first.id, officer.email
        session.commit()

    today = end + timedelta(days=5)
    with time_machine.travel(_at(today)):
        with live_server.app.app_context():
            assert sorted(agreements.expire().expired) == sorted(numbers)
        console = signed_in_tab(browser, live_server, officer_email, width=WIDTH)
        # Gone from the renewals due from the day after the term (nowhere else until now).
        console.goto("/console/agreements/renewals-due")
        console.locator("main h1").wait_for()
        assert "No active agreement ends within 90 days." in console.inner_text("main")
        console.goto("/console/")
        console.locator("main h1").wait_for()
        console.get_by_role("link", name=HOME_ROW).click()
        console.wait_for_url("**/console/agreements/expired-unrenewed")
        console.locator("main table").wait_for()
        rows = [one_line(text) for text in console.locator("main tbody tr").all_inner_texts()]
        leaves = earlier + timedelta(days=90)
        assert rows[0] == (
            f"{numbers[0]}\tFenwick Claims Tools Inc\t{earlier.isoformat()}\tEnded 25 days ago: "
            f"unlicensed since {day_text(earlier + timedelta(days=1))}. Its licensee's "
            f"dashboard asks for the renewal until {day_text(leaves)}. It leaves this list "
            f"after {day_text(leaves)}.\tNot chased Record a contact"
        ).replace("\t", " "), rows
        assert rows[1].startswith(
            f"{numbers[1]} Fenwick Claims Tools Inc {end.isoformat()} Ended 5 days ago"
        )
        # The days in words keep their ISO day for machines.
        assert console.locator(f"main time[datetime='{leaves.isoformat()}']").count() == 2
        assert console.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert_accessible(console)
        # Exactly: round 60's "Record a contact for <number>" names it too.
        console.get_by_role("link", name=numbers[0], exact=True).click()
        console.wait_for_url(f"**/console/agreements/{first_id}")
        console.locator("main h1").wait_for()
        assert f"Ended At the end of its term on {day_text(earlier)}" in one_line(
            console.inner_text("main")
        )
    console.context.close()
