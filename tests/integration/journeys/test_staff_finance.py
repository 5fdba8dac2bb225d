"""Round 2 of the staff journeys: the Finance page's figures reconcile with the invoices."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Flask

from licensing import db
from licensing.finance import queries
from licensing.finance.queries import Filters
from tests.integration.finance.conftest import refunded_credit
from tests.support import factories


def test_refunds_sent_are_shown_so_the_months_figures_add_up_to_what_is_outstanding(
    app: Flask, billing_staff: Any, signed_in: Any
) -> None:
    organization = factories.make_organization(db.session())
    refunded_credit(organization.id)
    (january,) = queries.cash_flow(
        db.session(), Filters(date(2027, 1, 1), date(2027, 1, 1), currency="USD")
    )
    assert (january.invoiced, january.collected, january.credited, january.refunded) == (
        Decimal("1000.00"),
        Decimal("1000.00"),
        Decimal("150.00"),
        Decimal("150.00"),
    )
    # Nothing is owed at the end: invoiced - collected - credited + refunded = 0.
    assert january.outstanding == Decimal(0)
    assert (
        january.invoiced - january.collected - january.credited + january.refunded
        == january.outstanding
    )
    page = (
        signed_in(app.test_client(), billing_staff)
        .get("/console/finance/?from=2027-01&to=2027-01&currency=USD")
        .get_data(as_text=True)
    )
    # Without the refunds the page read 1,000.00 - 1,000.00 - 150.00 and 0.00
    # outstanding: 150.00 that nothing on it explained.
    row = re.search(r'<th scope="row">2027-01</th>(.*?)</tr>', page, re.S)
    assert row is not None
    # Round 57: credited and net refunds link their lists; the cell's words are read.
    cells = [
        re.sub(r"<[^>]+>", "", cell)
        for cell in re.findall(r'<td class="num">(.*?)</td>', row.group(1))
    ]
    # Invoiced, collected, reversed (round 16), credited, refunded, outstanding.
    # Invoiced, collected, reversed, credited, refunded, refunds owed at end (none:
    # the refund was sent; round 52), outstanding at end.
    assert cells == ["1,000.00", "1,000.00", "0.00", "150.00", "150.00", "0.00", "0.00"]
    net = "net refunds (refunds sent less those the bank returned) 150.00"
    assert net in re.sub(r"<[^>]+>", "", page)
