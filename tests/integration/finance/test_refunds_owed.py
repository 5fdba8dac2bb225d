"""Round 52: the Finance page reconciles on its own while a refund is owed.

    A  INV 1000.00 issued 2027-03-02; wire 1000.00 received 03-05; credit note 150.00
       on 03-20 (all of it owed back: the invoice was paid); 100.00 of it sent back
       03-25, the other 50.00 on 04-12
    B  INV  500.00 issued 2027-03-01, not paid

At March's end 50.00 is owed back and not yet sent; at April's, nothing. Outstanding
less the refunds owed changes each month by invoiced - collected + reversed -
credited + refunded, in the month the refund is owed and in the month it is sent.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.finance import queries, services
from licensing.finance.queries import Filters, PeriodFigures
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.pages import without_time_tags

ZERO = Decimal(0)
MARCH, APRIL = date(2027, 3, 1), date(2027, 4, 1)


def _march_and_april() -> None:
    """A and B's invoices, A's payment, credit note and refunds (the docstring)."""
    session = db.session()
    a = factories.make_organization(session).id
    b = factories.make_organization(session).id
    paid = issue(a, "1000.00", date(2027, 3, 2))
    issue(b, "500.00", date(2027, 3, 1))
    paid_offline(
        paid.id, "1000.00", "WIRE-1", received_on=date(2027, 3, 5), now=at(date(2027, 3, 5))
    )
    note = credited(paid.id, "150.00", "Royalty report amended", now=at(date(2027, 3, 20)))
    assert note.refund_due == Decimal("150.00")
    refunded_offline(
        note.id, "100.00", "RF-1", sent_on=date(2027, 3, 25), now=at(date(2027, 3, 25))
    )
    refunded_offline(note.id, "50.00", "RF-2", sent_on=date(2027, 4, 12), now=at(date(2027, 4, 12)))


def _change(row: PeriodFigures) -> Decimal:
    return row.invoiced - row.collected + row.reversed - row.credited + row.refunded


def test_a_refund_owed_at_a_months_end_and_sent_in_the_next_reconciles_in_both(app: Any) -> None:
    _march_and_april()
    figures = queries.cash_flow(db.session(), Filters(date(2027, 2, 1), APRIL, currency="USD"))
    february, march, april = figures
    assert (february.outstanding, february.refunds_owed) == (ZERO, ZERO)
    assert (march.credited, march.refunded) == (Decimal("150.00"), Decimal("100.00"))
    assert (march.outstanding, march.refunds_owed) == (Decimal("500.00"), Decimal("50.00"))
    assert (april.refunded, april.outstanding, april.refunds_owed) == (
        Decimal("50.00"),
        Decimal("500.00"),
        ZERO,
    )
    # Outstanding less the refunds owed changes by the month's figures, every month.
    for previous, row in itertools.pairwise(figures):
        moved = (row.outstanding - row.refunds_owed) - (
            previous.outstanding - previous.refunds_owed
        )
        assert moved == _change(row), row.period.key

    # A range starting in April reads the refund owed at March's end from before it
    # (A was paid in full before the range) and ends owing nothing back.
    (alone,) = queries.cash_flow(db.session(), Filters(APRIL, APRIL, currency="USD"))
    assert alone == april
    (quarter,) = queries.cash_flow(
        db.session(), Filters(MARCH, MARCH, granularity="quarter", currency="USD")
    )
    assert (quarter.outstanding, quarter.refunds_owed) == (Decimal("500.00"), Decimal("50.00"))


def test_the_monthly_report_adds_up_with_the_refunds_owed_at_each_end(app: Any) -> None:
    _march_and_april()
    prepared = datetime(2027, 5, 3, 15, tzinfo=UTC)
    asked = services.ReportOf(APRIL, "CPT Licensing Office", "USD", now=prepared)
    report = services.monthly_report(db.session(), asked)
    assert (report.refunds_owed_at_start, report.refunds_owed) == (Decimal("50.00"), ZERO)
    start = report.outstanding_at_start - report.refunds_owed_at_start
    change = report.invoiced - report.collected + report.reversed - report.credited
    assert report.outstanding - report.refunds_owed == start + change + report.refunded
    march = [row for row in report.trend if row.period == "2027-03"]
    assert [row.refunds_owed for row in march] == [Decimal("50.00")]


def test_the_finance_page_shows_the_refunds_owed_and_says_the_formula_with_them(
    client: FlaskClient, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    _march_and_april()
    signed_in(client, billing_staff)
    page = client.get(
        "/console/finance/", query_string={"from": "2027-03", "to": "2027-04", "currency": "USD"}
    )
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert '<th scope="col" class="num">Refunds owed at end</th>' in body
    table = body.split('id="cash-table"')[1].split("</table>")[0]
    rows = [
        [cell.strip() for cell in re.findall(r">([^<>]*)<", row) if cell.strip()]
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    ]
    assert rows == [
        ["2027-03", "1,500.00", "1,000.00", "0.00", "150.00", "100.00", "50.00", "500.00"],
        ["2027-04", "0.00", "0.00", "0.00", "0.00", "50.00", "0.00", "500.00"],
    ]
    text = " ".join(re.sub(r"<[^>]+>", " ", without_time_tags(body)).split())
    assert "refunds owed at April 30, 2027, not yet sent, 0.00 USD" in text
    assert (
        "Period by period, outstanding at end \u2212 refunds owed at end changes by "
        "invoiced \u2212 collected + reversed \u2212 credited + net refunds"
    ) in text
