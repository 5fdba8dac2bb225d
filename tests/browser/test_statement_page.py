"""Round 26: the statement of account as its reader ticks it off in Chromium. Each
day and each document number of the movements reads on one line at a laptop's width;
they wrapped at their hyphens ("2027-01-" over "15", "INV-2027-" over "000001"), as
the PDF's dates did before round 25.

On any day (round 50): its days were 2026's, read by travelling to 15 December 2026,
a travel back from any later real day (Chromium keeps the real clock and drops the
session cookie the server set to expire before it). They are counted back from the
office's today now, and the statement is read without travel."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from licensing import db
from licensing.billing import services
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.factories import billing_clerk
from tests.support.servers import LiveServer


def _at(day: date) -> datetime:
    """15:00 UTC on `day`: the same day at the office."""
    return datetime.combine(day, time(15, 0), tzinfo=UTC)


# How many lines the text of an element takes on screen: the distinct tops of its
# boxes (a link inside a cell, round 56, adds a box on the same line).
_LINES = (
    "e => { const r = document.createRange(); r.selectNodeContents(e);"
    " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"
)


def test_each_day_and_document_number_of_the_statement_reads_on_one_line(
    page: Any, live_server: LiveServer
) -> None:
    # Issued 25 days ago and paid in part 5 days later; the statement, read today,
    # starts 19 days before the invoice (as 1 November before 20 November 2026).
    today = office_date(utcnow())
    issued, paid = today - timedelta(days=25), today - timedelta(days=20)
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(
            activated(vendor.organization_id or 0, ("1200.00", "350.50"), at=_at(issued))
        )
        assert invoice is not None
        services.record_offline_payment(
            invoice.id,
            method="wire",
            amount=Decimal("500.00"),
            reference="W-1",
            received_on=paid,
            now=_at(paid),
            actor=billing_clerk(),
        )
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, vendor.email)
    page.goto(f"/portal/statement?from={issued - timedelta(days=19)}&to={today}")

    rows = page.locator("table tbody tr")
    assert rows.count() == 3  # the opening balance, the invoice, the payment
    for row in range(rows.count()):
        day, document = rows.nth(row).locator("td").nth(0), rows.nth(row).locator("td").nth(1)
        assert day.evaluate(_LINES) == 1, day.inner_text()
        if document.inner_text():
            assert document.evaluate(_LINES) == 1, document.inner_text()
    assert page.get_by_role("cell", name=invoice.number or "").count() == 2
    # Round 67: on a phone (375 px) the movements scrolled sideways, the balance out of
    # sight and each description ten lines tall: each movement stands as a block now,
    # its balance inside the screen and nothing wider than it.
    page.set_viewport_size({"width": 375, "height": 800})
    box = page.locator(".statement-movements")
    assert box.evaluate("b => b.scrollWidth <= b.clientWidth + 1"), box.evaluate(
        "b => [b.scrollWidth, b.clientWidth]"
    )
    for row in range(rows.count()):
        balance = rows.nth(row).locator("td").last.bounding_box()
        assert balance is not None
        assert balance["x"] + balance["width"] <= 375, balance
    named = rows.nth(1).locator("td[data-label='Balance']")
    assert named.evaluate("c => getComputedStyle(c, '::before').content") == '"Balance: "'
