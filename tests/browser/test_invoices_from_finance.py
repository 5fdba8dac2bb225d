"""Round 58 (financelinks58), in Chromium against the live server: a billing clerk
closing the month reads the Finance page's *Invoiced*, *Outstanding* and the aging,
and asks which invoices make them. Each figure is a link (the aging's bars too): it
opens the console's invoice list narrowed to the months issued, or to the invoices
owing at the period's end or in the aging's row on its day, each with its amount then,
whose total is the figure. The lists are checked with axe. The walk passes at the real
time and under `TRAVEL_TO`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from licensing import db
from licensing.billing import services as billing
from licensing.calendar import month_text, office_date
from licensing.db import utcnow
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.billing import paid_offline
from tests.support.factories import billing_clerk
from tests.support.servers import LiveServer


def _month_of_invoices(live_server: LiveServer) -> tuple[str, list[str]]:
    """Osprey's invoices of today: 1,000.00 part paid (400.00 by wire), 500.00 unpaid,
    and 300.00 voided (issued in error); the billing clerk's email and the numbers of
    the two that count."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name="Osprey Analytics Inc.")
        clerk = factories.make_staff(session, roles=("billing",))
        session.commit()
        issued = utcnow() - timedelta(minutes=5)
        part_paid = send_activation(activated(organization.id, ("1000.00",), at=issued))
        unpaid = send_activation(activated(organization.id, ("500.00",), at=issued))
        in_error = send_activation(activated(organization.id, ("300.00",), at=issued))
        assert part_paid is not None
        assert unpaid is not None
        assert in_error is not None
        paid_offline(part_paid.id, "400.00", "W-PART-1")
        billing.void_invoice(in_error.id, reason="Issued in error", actor=billing_clerk())
        return clerk.email, [part_paid.number, unpaid.number]


def _text(page: Any, selector: str = "main") -> str:
    return " ".join(page.inner_text(selector).split())


def _listed(page: Any) -> str:
    return _text(page, "main table")


def test_a_billing_clerk_follows_invoiced_outstanding_and_an_aging_bar_to_their_invoices(
    page: Any, live_server: LiveServer
) -> None:
    clerk, numbers = _month_of_invoices(live_server)
    today = office_date(utcnow())
    month = f"{today:%Y-%m}"
    page.emulate_media(reduced_motion="reduce")  # bars drawn where they stay
    sign_in(page, clerk)
    page.goto("/console/finance/")
    page.get_by_role("link", name=f"This month ({month_text(today)})").click()
    page.wait_for_url(f"**/console/finance/?from={month}&to={month}*")
    assert "invoiced 1,500.00 USD" in _text(page)

    # The summary's Invoiced: the month's invoices not void, their totals the figure.
    page.get_by_role(
        "link", name="1,500.00 USD: the invoices issued in these days, not void"
    ).click()
    page.wait_for_url("**/console/invoices?*")
    page.locator(".listed-issued").wait_for()
    assert "invoiced 1,500.00 USD, voided since 0.00 USD" in _text(page, ".listed-issued")
    listed = _listed(page)
    assert all(number in listed for number in numbers)
    assert page.locator("main table tbody tr").count() == 2
    assert page.get_by_label("Issued from month").input_value() == month
    assert_accessible(page)

    # The month's Outstanding at its end: what each owed then, added up.
    page.go_back()
    page.wait_for_url(f"**/console/finance/?from={month}&to={month}*")
    page.get_by_role(
        "link", name=f"1,100.00: outstanding at the end of {month}, its invoices"
    ).click()
    page.wait_for_url("**/console/invoices?*owing_on=*")
    page.locator(".listed-balance").wait_for()
    assert "listed owed 1,100.00 USD at the end of" in _text(page, ".listed-balance")
    assert "600.00 USD" in _listed(page)
    assert_accessible(page)

    # The aging's bar of balances not yet due, clicked, opens that row's invoices.
    page.go_back()
    page.wait_for_url(f"**/console/finance/?from={month}&to={month}*")
    page.wait_for_function(
        "() => document.querySelector('canvas[data-table=\"aging-table\"]')?.dataset.drawn"
    )
    x, y = page.evaluate(
        """() => {
          const canvas = document.querySelector('canvas[data-table="aging-table"]');
          canvas.scrollIntoView({block: "center"});
          const bar = canvas.chart.getDatasetMeta(0).data[0];
          const box = canvas.getBoundingClientRect();
          return [box.left + bar.x, box.top + (bar.y + bar.base) / 2];
        }"""
    )
    page.mouse.click(x, y)
    page.wait_for_url("**/console/invoices?*aging=current*")
    page.locator(".listed-balance").wait_for()
    assert "listed owed 1,100.00 USD at the end of" in _text(page, ".listed-balance")
    assert "current (not yet due) then" in _text(page, ".listed-balance")
    assert page.get_by_label("Days past due then").input_value() == "current"


def test_a_billing_clerk_follows_a_top_licensees_invoiced_to_its_invoices(
    page: Any, live_server: LiveServer
) -> None:
    """Round 59 (financelists59): the top licensees' *Invoiced* is a link too, to the
    licensee's invoices issued in the range's months, not void, totalling it."""
    clerk, numbers = _month_of_invoices(live_server)
    today = office_date(utcnow())
    month = f"{today:%Y-%m}"
    sign_in(page, clerk)
    page.goto(f"/console/finance/?from={month}&to={month}&currency=USD")
    page.locator("#licensees-table").wait_for()
    page.get_by_role(
        "link", name="1,500.00: invoiced to Osprey Analytics Inc. in these months, its invoices"
    ).click()
    page.wait_for_url("**/console/invoices?*organization=*")
    page.locator(".listed-issued").wait_for()
    assert "invoiced 1,500.00 USD, voided since 0.00 USD" in _text(page, ".listed-issued")
    listed = _listed(page)
    assert all(number in listed for number in numbers)
    assert page.locator("main table tbody tr").count() == 2
    assert "Osprey Analytics Inc." in _text(page)
    assert_accessible(page)
