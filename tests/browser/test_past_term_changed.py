"""Round 50 in Chromium: the whole past-term journey with a changed term. The vendor
applies for last year; licensing staff change the end date on the approval form,
whose sentence follows the dates being approved (the page's script, in the words the
server renders: `issuing.StartedTerm.for_staff`), and approve; the vendor accepts the
agreement (expired at once), files the first royalty report, due from the acceptance, and pays
its invoice by card (localstripe). Real time throughout: last year is over on any day
(docs/journeys.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import issuing
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.db import utcnow
from licensing.pricing import Quote
from tests.browser.conftest import card_of_a_year, fill_card, past_term_draft, signed_in_tab
from tests.integration.billing.stripe_support import WEBHOOK_SECRET, stripe_config
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer, LocalStripe
from tests.support.settings import issuing as issuing_policy

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _main(page: Any) -> str:
    return " ".join(page.inner_text("main").split())


def _told(page: Any) -> str:
    """The approval form's sentence as shown ("" while hidden)."""
    told = page.locator("#term-started")
    return "" if told.is_hidden() else " ".join(told.inner_text().split())


def _for_staff(live_server: LiveServer, application_id: int, start: date, end: date) -> str:
    """The server's sentence for approving `start`..`end` today."""
    with live_server.app.app_context():
        application = db.session().get(Application, application_id)
        assert application is not None
        assert application.submitted_quote is not None
        quote = Quote.from_snapshot(application.submitted_quote.snapshot)
        started = issuing.started_term(quote, start, end, calendar.office_date(utcnow()))
        return started.for_staff() if started else ""


def _pay_by_card(page: Any, balance: str) -> None:
    page.get_by_role("link", name=f"Pay {balance} USD by card").click()
    fill_card(page)
    page.get_by_role("button", name=f"Pay {balance} USD").click()
    page.locator("#payment-status").get_by_role("heading", name="Paid", exact=True).wait_for(
        timeout=20_000
    )


def test_staff_change_a_past_term_at_approval_and_the_vendor_reports_and_pays(
    browser: Any, live_server: LiveServer, localstripe: LocalStripe, tmp_path: Path
) -> None:
    localstripe.register_webhook("licensing", f"{live_server.url}/webhooks/stripe", WEBHOOK_SECRET)
    last_year = calendar.office_date(utcnow()).year - 1
    start, end = date(last_year, 1, 1), date(last_year, 12, 31)
    half = date(last_year, 6, 30)
    vendor, staff, application_id = past_term_draft(
        live_server, card_of_a_year(f"{last_year}.1", start, end), (start, end)
    )
    # Round 68: the draft submitted through the service its page calls; the draft's
    # page and its submission, for a term already over, are test_past_term.py's walk
    # (its page's sentence read before and after). This walk's point is the approval.
    with live_server.app.app_context():
        vendor_actor = Actor.of(accounts.principal_for(vendor))
        submitted = agreements.submit(
            application_id, vendor_actor, policy=issuing_policy(), attest=True
        )
        assert submitted.state == "submitted", submitted.state
    page = signed_in_tab(browser, live_server, vendor.email)

    # Staff change the end date: the sentence follows the term being approved.
    console = signed_in_tab(browser, live_server, staff.email)
    console.goto(f"/console/applications/{application_id}")
    assert _told(console) == _for_staff(live_server, application_id, start, end)
    assert f"The term ended on {calendar.day_text(end)}, before today" in _told(console)
    console.fill("#term_end", half.isoformat())
    console.wait_for_function(  # its days in words (round 59)
        "() => document.getElementById('term-started').textContent"
        f".includes('{calendar.day_text(half)}')"
    )
    assert _told(console) == _for_staff(live_server, application_id, start, half)
    assert "all 2 periods" in _told(console)
    # A term still running reads as one begun; a term not begun yet says nothing.
    running = date(last_year + 2, 6, 30)
    console.fill("#term_end", running.isoformat())
    assert _told(console) == _for_staff(live_server, application_id, start, running)
    assert _told(console).startswith(f"The term began on {calendar.day_text(start)}, before today")
    console.fill("#term_start", date(last_year + 2, 1, 1).isoformat())
    assert _told(console) == ""
    console.fill("#term_start", start.isoformat())
    console.fill("#term_end", half.isoformat())
    assert _told(console) == _for_staff(live_server, application_id, start, half)
    assert_accessible(console)
    console.fill("#term_reason", "The product was withdrawn at the end of June.")
    console.get_by_role("button", name="Approve and issue the agreement").click()
    assert "the agreement is issued" in console.inner_text(".flashes")

    page.goto(f"/portal/applications/{application_id}")
    page.get_by_role("link", name="Read and accept the agreement").click()
    # Before accepting, the page says what accepting a term already over does.
    expect(page.locator("#past-term")).to_contain_text(
        # In words (round 56): the sentence its acceptance's email carries too.
        f"The term ended on {calendar.day_text(half)}, before today: accepting this agreement "
        "licenses past use only"
    )
    page.fill("#signer_name", "Samira Haddad")
    page.fill("#signer_title", "Chief Executive")
    page.check("#authority_confirmed")
    page.get_by_role("button", name="Accept the agreement").click()
    said = " ".join(page.inner_text(".flashes").split())
    assert f"The term ended on {calendar.day_text(half)}, before this acceptance" in said
    expect(page.get_by_role("heading", level=1)).to_contain_text("expired")

    # Both reports are due from the acceptance; the vendor files the first (120 end
    # users: 100 x 18.50 + 20 x 15.50) and pays its invoice by card.
    page.goto("/portal/")
    waiting = _main(page)
    accepted_on = calendar.day_text(calendar.office_date(utcnow()))
    assert (
        f"{calendar.days_text(start, date(last_year, 3, 31))} Due now: its due date, "
        f"April 30, {last_year}, passed "
        f"before the agreement was accepted on {accepted_on}, so it is due from the acceptance."
    ) in waiting
    assert "Overdue" not in waiting
    page.get_by_role("link", name="Royalty report for").first.click()
    report = tmp_path / "q1.csv"
    report.write_text(f"{HEADER}\n1,SH-1,Harbor Clinic,US,end_users,120,\n")
    upload = page.locator("#report-csv")
    upload.get_by_label("CSV file").set_input_files(report)
    upload.get_by_role("button", name="Preview the royalty").click()
    assert "Total due 2,160.00 USD" in _main(page)
    upload = page.locator("#report-csv")
    upload.get_by_label("I attest").check()
    upload.get_by_role("button", name="Attest and submit the file").click()
    assert "Invoice INV-" in page.inner_text(".flashes")
    page.goto("/portal/")
    waiting = _main(page)
    assert f"{calendar.days_text(date(last_year, 4, 1), half)} Due now" in waiting
    page.get_by_role("link", name="to pay").first.click()
    _pay_by_card(page, "2,160.00")
    page.goto("/portal/")
    assert "to pay" not in _main(page)
    assert_accessible(page)
