"""A reversed payment is booked in the period the bank returned it (round 16).

    A  INV 1000.00 issued 2027-09-10 (due 10-10); check 1000.00 received 10-05;
       the bank returns it 11-10 (reversed 11-12); a wire of 1000.00 on 12-03
    B  INV  500.00 issued 2027-10-01; wire 200.00 received 10-20; credit note
       100.00 on 10-25

October is read (the page's figures, the monthly report, aging, the receivables
export), then the check is reversed in November: October reads the same, to the
cent; November shows the reversal; every month's invoiced - collected + reversed
- credited + refunded is its change in outstanding; the payments export
reconciles with Collected and Reversed; top licensees count the reversal at once.
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
from licensing.billing import services as billing
from licensing.finance import queries, services
from licensing.finance.documents import MonthlyReport
from licensing.finance.queries import Filters, PeriodFigures
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited, paid_offline, reversed_offline
from tests.support.factories import billing_clerk

from .conftest import total

ZERO = Decimal(0)
OCTOBER = date(2027, 10, 1)
MONTHS = {
    "2027-10": ("2027-10-01", "2027-10-31"),
    "2027-11": ("2027-11-01", "2027-11-30"),
    "2027-12": ("2027-12-01", "2027-12-31"),
}
PREPARED = datetime(2028, 1, 2, 15, 0, tzinfo=UTC)


def _on(day: date) -> dict[str, date | datetime]:
    """Received on `day`, recorded the same day."""
    return {"received_on": day, "now": at(day)}


def _october() -> tuple[int, int]:
    """Organizations A and B, invoiced and paid through October (the docstring);
    the check's id and A's invoice's id."""
    session = db.session()
    a = factories.make_organization(session).id
    b = factories.make_organization(session).id
    first = issue(a, "1000.00", date(2027, 9, 10))
    check = paid_offline(first.id, "1000.00", "CHK 5120", method="check", **_on(date(2027, 10, 5)))
    second = issue(b, "500.00", date(2027, 10, 1))
    paid_offline(second.id, "200.00", "WIRE-3", **_on(date(2027, 10, 20)))
    credited(second.id, "100.00", "Goodwill", now=at(date(2027, 10, 25)))
    return check.id, first.id


def _bounced_in_november(check_id: int, invoice_id: int) -> None:
    reversed_offline(
        check_id,
        "Check returned: insufficient funds.",
        returned_on=date(2027, 11, 10),
        now=at(date(2027, 11, 12)),
    )
    paid_offline(invoice_id, "1000.00", "WIRE-8", **_on(date(2027, 12, 3)))


def _figures(last: date) -> list[PeriodFigures]:
    return queries.cash_flow(db.session(), Filters(date(2027, 8, 1), last, currency="USD"))


def _top_licensees() -> list[tuple[Decimal, Decimal]]:
    """September and October's top licensees (A, then B): collected, outstanding."""
    since_september = Filters(date(2027, 9, 1), OCTOBER, currency="USD")
    return [
        (row.collected, row.outstanding)
        for row in queries.top_licensees(db.session(), since_september)
    ]


def _october_report() -> MonthlyReport:
    asked = services.ReportOf(OCTOBER, "CPT Licensing Office", "USD", now=PREPARED)
    return services.monthly_report(db.session(), asked)


def test_october_reads_the_same_after_a_november_reversal_and_november_shows_it(
    app: Any, export_json: Callable[..., list[dict[str, Any]]]
) -> None:
    check_id, invoice_id = _october()
    before = _figures(OCTOBER)
    report_before = _october_report()
    top_before = _top_licensees()
    aging_before = queries.aging(db.session(), "USD", date(2027, 10, 31))
    receivables_before = export_json("receivables", as_of="2027-10-31")

    _bounced_in_november(check_id, invoice_id)
    after = _figures(date(2027, 12, 1))

    assert after[: len(before)] == before  # August to October, to the cent
    by_month = {row.period.key: row for row in after}
    october, november, december = (by_month[key] for key in MONTHS)
    assert (october.collected, october.reversed) == (Decimal("1200.00"), ZERO)
    assert october.outstanding == Decimal("200.00")  # B's 500 - 200 - 100
    assert (november.collected, november.reversed) == (ZERO, Decimal("1000.00"))
    assert november.outstanding == Decimal("1200.00")  # A owes its 1000 again
    assert (december.collected, december.outstanding) == (Decimal("1000.00"), Decimal("200.00"))
    # Every month's figures add up to its change in outstanding.
    for previous, row in itertools.pairwise(after):
        change = row.invoiced - row.collected + row.reversed - row.credited + row.refunded
        assert row.outstanding - previous.outstanding == change, row.period.key

    # The report already sent and the aging at October's end stand; only the top
    # licensees count what is known now (A's check did not pay it).
    assert _october_report() == report_before
    assert top_before == [(Decimal("1000.00"), ZERO), (Decimal("200.00"), Decimal("200.00"))]
    assert _top_licensees() == [
        (ZERO, Decimal("1000.00")),
        (Decimal("200.00"), Decimal("200.00")),
    ]
    assert queries.aging(db.session(), "USD", date(2027, 10, 31)) == aging_before

    # The receivables export as of October's end: the same balances (the state
    # column is the invoice's today), adding up to October's outstanding.
    receivables_after = export_json("receivables", as_of="2027-10-31")
    assert [{**row, "state": None} for row in receivables_after] == [
        {**row, "state": None} for row in receivables_before
    ]
    assert total(receivables_after, "balance") == october.outstanding
    november_end = export_json("receivables", as_of="2027-11-30")
    assert total(november_end, "balance") == november.outstanding

    # Finance reconciles with the payments export: succeeded and reversed rows by
    # paid day are Collected; reversed rows by the day returned are Reversed.
    for key, (start, end) in MONTHS.items():
        received = export_json("payments", **{"from": start, "to": end})
        counted = [row for row in received if row["state"] in ("succeeded", "reversed")]
        assert total(counted) == by_month[key].collected, key
        returned = export_json("payments", **{"from": start, "to": end, "by": "reversed"})
        assert total(returned) == by_month[key].reversed, key
        assert {row["state"] for row in returned} <= {"reversed"}
    assert len(export_json("payments", by="reversed")) == 3  # no days given: every payment


def test_the_finance_page_and_its_report_show_the_reversal_in_november(
    app: Any, client: FlaskClient, signed_in: Any, billing_staff: User
) -> None:
    check_id, invoice_id = _october()
    _bounced_in_november(check_id, invoice_id)
    page = signed_in(client, billing_staff).get(
        "/console/finance/?from=2027-10&to=2027-12&currency=USD"
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html.split('id="cash-heading"', 1)[1]))
    assert "collected 2,200.00 USD, reversed 1,000.00 USD" in summary
    row = html.split('<th scope="row">2027-11</th>', 1)[1].split("</tr>", 1)[0]
    # Round 57 (payments57): collected and reversed are links to the payments list.
    cells = re.findall(r'<td class="num">(.*?)</td>', row)
    shown = [re.sub(r"<[^>]+>", "", cell) for cell in cells[:3]]
    assert shown == ["0.00", "0.00", "1,000.00"]  # invoiced, collected, reversed
    assert 'href="/console/payments?from=2027-11&amp;to=2027-11&amp;currency=USD"' in cells[2]
    assert "by=reversed&amp;state=reversed" in html  # the reversals' export

    asked = services.ReportOf(date(2027, 11, 1), "CPT Licensing Office", "USD", now=PREPARED)
    november = services.monthly_report(db.session(), asked)
    assert november.reversed == Decimal("1000.00")
    assert november.outstanding - november.outstanding_at_start == (
        november.invoiced
        - november.collected
        + november.reversed
        - november.credited
        + november.refunded
    )
    assert [row.reversed for row in november.trend][-2:] == [ZERO, Decimal("1000.00")]


def test_a_payment_reversed_on_an_invoice_voided_since_counts_nowhere_like_the_invoice(
    app: Any,
) -> None:
    # A wire recorded against an invoice issued in error: reversed in November,
    # then the invoice voided. A void invoice counts nowhere, so neither do the
    # wire and its reversal: every month still adds up to its change in outstanding.
    _october()
    organization = factories.make_organization(db.session()).id
    wrong = issue(organization, "300.00", date(2027, 10, 2))
    wire = paid_offline(wrong.id, "300.00", "WIRE-5", **_on(date(2027, 10, 7)))
    reversed_offline(
        wire.id,
        "Recorded against the wrong invoice.",
        returned_on=date(2027, 11, 4),
        now=at(date(2027, 11, 4)),
    )
    billing.void_invoice(
        wrong.id, reason="Issued in error", now=at(date(2027, 11, 5)), actor=billing_clerk()
    )
    after = _figures(date(2027, 12, 1))
    by_month = {row.period.key: row for row in after}
    assert by_month["2027-10"].collected == Decimal("1200.00")  # A's check and B's wire
    assert by_month["2027-11"].reversed == ZERO
    for previous, row in itertools.pairwise(after):
        change = row.invoiced - row.collected + row.reversed - row.credited + row.refunded
        assert row.outstanding - previous.outstanding == change, row.period.key
