"""Round 50 in Chromium: a back-licence's reports and its renewal. The vendor's
application for last year is approved and accepted today (past use only, expired at
once): its reports are due today, not overdue since last year, in the console's queue
and on the period's page; the expired agreement offers to license the same uses from
today, and the renewal drawn starts today. Real time throughout: last year is over on
any day (docs/journeys.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from playwright.sync_api import expect

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.browser.conftest import card_of_a_year, past_term_draft, signed_in_tab
from tests.support.agreements import accept, agreement_of
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer
from tests.support.settings import issuing


def _main(page: Any) -> str:
    return " ".join(page.inner_text("main").split())


def _back_licensed(live_server: LiveServer) -> tuple[Any, Any, Agreement, date]:
    """Last year's first half applied for, approved and accepted today, with this
    year's card published for its renewal: (vendor, staff, the agreement, today)."""
    today = calendar.office_date(utcnow())
    last_year = today.year - 1
    vendor, staff, application_id = past_term_draft(
        live_server,
        card_of_a_year(f"{last_year}.1", date(last_year, 1, 1), date(last_year, 12, 31)),
        (date(last_year, 1, 1), date(last_year, 6, 30)),
    )
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(f"{today.year}.1", date(today.year, 1, 1), date(today.year, 12, 31)),
            published_by="tests",
        )
        actor = Actor.of(accounts.principal_for(vendor))
        agreements.submit(application_id, actor, policy=issuing(), attest=True)
        agreements.approve(
            application_id, Actor.of(accounts.principal_for(staff)), policy=issuing()
        )
        application = db.session().get(Application, application_id)
        assert application is not None
        agreement = accept(agreement_of(application), vendor)
        assert agreement.state == "expired"
        return vendor, staff, agreement, today


def test_a_back_licence_s_reports_are_due_today_and_it_is_licensed_from_today(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, staff, agreement, today = _back_licensed(live_server)
    last_year = today.year - 1

    # The console's queue: both due today, from the acceptance (was 400-odd and
    # 300-odd days overdue).
    console = signed_in_tab(browser, live_server, staff.email)
    console.goto(f"/console/royalty-reports?agreement={agreement.number}")
    queue = _main(console)
    assert queue.count("0 days left") == 2
    assert "days overdue" not in queue
    assert f"due from the acceptance on {today}" in queue
    assert console.locator("tr.overdue").count() == 0
    assert_accessible(console)

    # The period's page: due, beside the contract's due date.
    page = signed_in_tab(browser, live_server, vendor.email)
    page.goto(f"/portal/royalty-reports/{agreement.id}/{last_year}-01-01")
    assert f"Due on April 30, {last_year} · due Its due date" in _main(page)
    expect(page.locator("#back-report")).to_contain_text("so it is due from the acceptance")

    # The agreement: licensed for the past, then from today.
    page.goto(f"/portal/agreements/{agreement.id}")
    expect(page.locator("#renew-past-use")).to_contain_text(
        f"license the same uses from today, {calendar.day_text(today)}"
    )
    assert page.get_by_role("button", name="Renew for the next rate card year").count() == 0
    assert_accessible(page)
    page.get_by_role("button", name="License these uses from today").click()
    expect(page.locator(".flashes")).to_contain_text("renews the agreement")
    expect(page.locator("#term_start")).to_have_value(today.isoformat())
