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
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline


def _refunded_credit(organization_id: int) -> None:
    """1,000.00 invoiced on 2027-01-10 and paid in full on 01-20; a 150.00 credit
    note on 01-25 (all of it owed back) and its refund sent by wire on 01-28."""
    invoice = issue(organization_id, "1000.00", date(2027, 1, 10))
    paid_offline(
        invoice.id, "1000.00", "W-1", received_on=date(2027, 1, 20), now=at(date(2027, 1, 20))
    )
    credit = credited(invoice.id, "150.00", "Seat removed", now=at(date(2027, 1, 25)))
    refunded_offline(
        credit.id, "150.00", "RF-1", sent_on=date(2027, 1, 28), now=at(date(2027, 1, 28))
    )


def test_refunds_sent_are_shown_so_the_months_figures_add_up_to_what_is_outstanding(
    app: Flask, billing_staff: Any, signed_in: Any
) -> None:
    organization = factories.make_organization(db.session())
    _refunded_credit(organization.id)
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
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    # Invoiced, collected, reversed (round 16), credited, refunded, outstanding.
    assert cells == ["1,000.00", "1,000.00", "0.00", "150.00", "150.00", "0.00"]
    assert "refunded 150.00" in re.sub(r"<[^>]+>", "", page)
