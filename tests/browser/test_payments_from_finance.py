"""Round 57 (payments57), in Chromium against the live server: a billing clerk closing
the month reads *Collected* on the Finance page and asks which payments make it. The
figure is a link: it opens the console's payments list for the month and currency,
whose collected total is the figure (and whose reversed total is the page's
*Reversed*), each payment with its method, state and day; the row's cell in the page's
table leads to the same list. The list is checked with axe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from licensing import db
from licensing.calendar import month_text, office_date
from licensing.db import utcnow
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.billing import paid_offline, reversed_offline
from tests.support.servers import LiveServer


def _month_of_payments(live_server: LiveServer) -> tuple[str, list[int]]:
    """Osprey paid 600.00 by wire and 300.00 by cheque today, and the bank returned the
    cheque today: the billing clerk's email and the payments' ids."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name="Osprey Analytics Inc.")
        clerk = factories.make_staff(session, roles=("billing",))
        session.commit()
        issued = utcnow() - timedelta(minutes=5)
        first = send_activation(activated(organization.id, ("600.00",), at=issued))
        second = send_activation(activated(organization.id, ("300.00",), at=issued))
        assert first is not None
        assert second is not None
        wire = paid_offline(first.id, "600.00", "W-IN-1")
        cheque = paid_offline(second.id, "300.00", "CHK-7", "check")
        reversed_offline(
            cheque.id, "Cheque bounced", returned_on=office_date(utcnow()), now=utcnow()
        )
        return clerk.email, [wire.id, cheque.id]


def _text(page: Any, selector: str = "main") -> str:
    return " ".join(page.inner_text(selector).split())


def test_a_billing_clerk_follows_the_collected_figure_to_the_payments_that_make_it(
    page: Any, live_server: LiveServer
) -> None:
    clerk, (wire, cheque) = _month_of_payments(live_server)
    month = f"{office_date(utcnow()):%Y-%m}"
    sign_in(page, clerk)
    page.goto("/console/finance/")
    page.get_by_role("link", name=f"This month ({month_text(office_date(utcnow()))})").click()
    page.wait_for_url(f"**/console/finance/?from={month}&to={month}*")
    said = _text(page)
    assert "collected 900.00 USD" in said
    assert "reversed 300.00 USD" in said

    # The summary's figure is a link to its rows.
    page.get_by_role("link", name="900.00 USD: the payments collected in these days").click()
    page.wait_for_url("**/console/payments?*")
    assert page.get_by_role("heading", level=1).inner_text() == "Payments"
    totals = page.locator("#payment-totals tbody tr").first.inner_text().split()
    assert totals == ["USD", "2", "900.00", "USD", "300.00", "USD", "600.00", "USD"]
    assert page.locator("#payments-list tbody tr").count() == 2
    bounced = _text(page, f"#payment-{cheque}")
    assert "Check" in bounced
    assert "CHK-7" in bounced
    assert "reversed" in bounced
    assert "succeeded" in _text(page, f"#payment-{wire}")
    # The list keeps the page's month and currency in its form.
    assert page.get_by_label("From month").input_value() == month
    assert page.get_by_label("To month").input_value() == month
    assert page.get_by_label("Currency").input_value() == "USD"
    assert_accessible(page)

    # The month's cell in the page's table leads to the same rows.
    page.go_back()
    page.wait_for_url(f"**/console/finance/?from={month}&to={month}*")
    page.get_by_role("link", name=f"900.00: collected in {month}, its payments").click()
    page.wait_for_url("**/console/payments?*")
    assert page.locator("#payments-list tbody tr").count() == 2

    # From a payment to its own page.
    page.locator(f"#payment-{cheque} a[href$='/console/payments/{cheque}']").click()
    page.wait_for_url(f"**/console/payments/{cheque}")
    assert "Check payment" in page.get_by_role("heading", level=1).inner_text()
