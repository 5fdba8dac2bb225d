"""Round 57 (creditlist57), in Chromium against the live server: a billing clerk closing
the month reads *Credited* on the Finance page and asks which credit notes make it.
The figure is a link: it opens the console's credit-notes list for the month and
currency, whose total is the figure, each credit note with its reason and what went
back of it; the row's cell in the page's table leads to the same list. The list is
checked with axe. The walk passes at the real time and under `TRAVEL_TO`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from licensing import db
from licensing.billing import services as billing
from licensing.calendar import month_text, office_date
from licensing.db import utcnow
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.billing import paid_offline, refunded_offline
from tests.support.factories import billing_clerk
from tests.support.servers import LiveServer


def _month_of_credits(live_server: LiveServer) -> tuple[str, list[str]]:
    """Osprey's paid invoice credited 150.00 (two seats removed) and 100.00 of it sent
    back by wire, and its unpaid one credited 40.00 (a price correction), today; the
    billing clerk's email and the credit notes' numbers."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name="Osprey Analytics Inc.")
        clerk = factories.make_staff(session, roles=("billing",))
        session.commit()
        issued = utcnow() - timedelta(minutes=5)
        paid = send_activation(activated(organization.id, ("1000.00",), at=issued))
        unpaid = send_activation(activated(organization.id, ("500.00",), at=issued))
        assert paid is not None
        assert unpaid is not None
        paid_offline(paid.id, "1000.00", "W-IN-1")
        seats = billing.issue_credit_note(
            paid.id, amount=Decimal("150.00"), reason="Two seats removed", actor=billing_clerk()
        )
        refunded_offline(seats.id, "100.00", "W-BACK-1")
        price = billing.issue_credit_note(
            unpaid.id, amount=Decimal("40.00"), reason="Price correction", actor=billing_clerk()
        )
        return clerk.email, [seats.number, price.number]


def _text(page: Any, selector: str = "main") -> str:
    return " ".join(page.inner_text(selector).split())


def test_a_billing_clerk_follows_the_credited_figure_to_the_credit_notes_that_make_it(
    page: Any, live_server: LiveServer
) -> None:
    clerk, numbers = _month_of_credits(live_server)
    month = f"{office_date(utcnow()):%Y-%m}"
    sign_in(page, clerk)
    page.goto("/console/finance/")
    page.get_by_role("link", name=f"This month ({month_text(office_date(utcnow()))})").click()
    page.wait_for_url(f"**/console/finance/?from={month}&to={month}*")
    assert "credited 190.00 USD" in _text(page)

    # The summary's figure is a link to its rows.
    page.get_by_role("link", name="190.00 USD: the credit notes issued in these days").click()
    page.wait_for_url("**/console/credit-notes?*")
    assert page.get_by_role("heading", level=1).inner_text() == "Credit notes"
    totals = page.locator("#credit-note-totals tbody tr").first.inner_text().split()
    assert totals == ["USD", "2", "190.00", "USD", "40.00", "USD", "150.00", "USD"]
    rows = page.locator("#credit-notes-list tbody tr")
    assert rows.count() == 2
    listed = _text(page, "#credit-notes-list")
    for number in numbers:
        assert number in listed
    assert "Two seats removed" in listed
    assert "150.00 USD owed back: 100.00 USD refunded; 50.00 USD still to send" in listed
    assert "Price correction" in listed
    # The list keeps the page's month and currency in its form.
    assert page.get_by_label("From month").input_value() == month
    assert page.get_by_label("To month").input_value() == month
    assert page.get_by_label("Currency").input_value() == "USD"
    assert_accessible(page)

    # The month's cell in the page's table leads to the same rows.
    page.go_back()
    page.wait_for_url(f"**/console/finance/?from={month}&to={month}*")
    page.get_by_role("link", name=f"190.00: credited in {month}, its credit notes").click()
    page.wait_for_url("**/console/credit-notes?*")
    assert page.locator("#credit-notes-list tbody tr").count() == 2

    # From a credit note to its own page.
    page.get_by_role("link", name=numbers[0], exact=True).click()
    page.wait_for_url("**/console/credit-notes/*")
    assert numbers[0] in page.get_by_role("heading", level=1).inner_text()
