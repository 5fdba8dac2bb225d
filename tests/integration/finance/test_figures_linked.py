"""Round 57 (creditlist57): the Finance page's figures named the exports behind them,
but no rows a clerk could open: "which credit notes make March's 200.00 credited?"
meant downloading a CSV. Each figure with a console list behind it (*Credited*: the
credit notes; *Net refunds*: the refunds) now links that list for the page's months
and currency, in its summary and in each period's row; the linked list's totals are
the figure. Round 57 (payments57): *Collected* and *Reversed* link the payments list,
whose totals are both."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.money import parse_decimal
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.factories import billing_clerk

from .conftest import at, issue

SignIn = Callable[..., FlaskClient]
FINANCE = "/console/finance/"
# The list each figure links, and the column of its totals that is the figure.
LISTS = {
    "collected": ("payment-totals", 1),
    "reversed": ("payment-totals", 2),
    "credited": ("credit-note-totals", 1),
    "refunded": ("refund-totals", 3),
}
# The figure's column in the page's table (after the period).
COLUMNS = {"collected": 1, "reversed": 2, "credited": 3, "refunded": 4}


def _words(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _amount(text: str) -> Decimal:
    return parse_decimal(text.split()[0].replace(",", ""), allow_negative=True)


def _href(cell: str) -> str | None:
    found = re.search(r'<a href="([^"]+)"', cell)
    return html.unescape(found[1]) if found else None


def _ledger() -> None:
    """January to April 2027. USD: a paid invoice credited 300.00 on 5 February, a
    wire refund of 100.00 sent on 20 February and returned by the bank on 4 March,
    another of 150.00 sent on 10 March; an unpaid one credited 200.00 on 15 March and
    80.00 on 3 April; a cheque of 300.00 on it received on 5 March and returned by the
    bank on 2 April. EUR, which the USD page leaves out: 50.00 credited on 20 March and
    a wire of 100.00 received on 25 March."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
    paid = issue(osprey, "500.00", date(2027, 2, 1))
    paid_offline(
        paid.id, "500.00", "W-IN-1", received_on=date(2027, 2, 2), now=at(date(2027, 2, 2))
    )
    seats = credited(paid.id, "300.00", "Seats removed", now=at(date(2027, 2, 5)))
    bounced = refunded_offline(
        seats.id, "100.00", "W-FEB", sent_on=date(2027, 2, 20), now=at(date(2027, 2, 20))
    )
    services.return_offline_refund(
        bounced.id,
        reason="Beneficiary account closed",
        returned_on=date(2027, 3, 4),
        now=at(date(2027, 3, 6)),
        actor=billing_clerk(),
    )
    refunded_offline(
        seats.id, "150.00", "W-MAR", sent_on=date(2027, 3, 10), now=at(date(2027, 3, 10))
    )
    unpaid = issue(heron, "1000.00", date(2027, 3, 1))
    credited(unpaid.id, "200.00", "Price correction", now=at(date(2027, 3, 15)))
    credited(unpaid.id, "80.00", "Late fee waived", now=at(date(2027, 4, 3)))
    cheque = paid_offline(
        unpaid.id,
        "300.00",
        "CHK-7",
        "check",
        received_on=date(2027, 3, 5),
        now=at(date(2027, 3, 5)),
    )
    reversed_offline(
        cheque.id, "Cheque bounced", returned_on=date(2027, 4, 2), now=at(date(2027, 4, 2))
    )
    euros = issue(heron, "400.00", date(2027, 3, 2), currency="EUR")
    credited(euros.id, "50.00", "Seats removed", now=at(date(2027, 3, 20)))
    paid_offline(
        euros.id, "100.00", "W-EUR", received_on=date(2027, 3, 25), now=at(date(2027, 3, 25))
    )


def _listed_total(staff: FlaskClient, url: str, figure: str, currency: str) -> Decimal:
    """The total the linked list gives for `figure` in `currency` (0 when it lists none)."""
    answer = staff.get(url)
    assert answer.status_code == 200, (url, answer.get_data(as_text=True)[:500])
    markup = answer.get_data(as_text=True)
    table_id, column = LISTS[figure]
    if f'id="{table_id}"' not in markup:
        return Decimal(0)
    table = markup.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = {
        found[1]: re.findall(r"<td[^>]*>(.*?)</td>", found[2])
        for found in re.finditer(r'<th scope="row">([A-Z]{3})</th>(.*?)</tr>', table, re.DOTALL)
    }
    assert set(rows) <= {currency}, rows  # the page's currency only
    return _amount(_words(rows[currency][column])) if rows else Decimal(0)


def _page(staff: FlaskClient, **query: str) -> str:
    answer = staff.get(FINANCE, query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_data(as_text=True)


def _table_cells(markup: str) -> dict[str, list[str]]:
    table = markup.split('id="cash-table"', 1)[1].split("</table>", 1)[0]
    return {
        found[1]: re.findall(r"<td[^>]*>(.*?)</td>", found[2], re.DOTALL)
        for found in re.finditer(r'<th scope="row">([0-9Q-]+)</th>(.*?)</tr>', table, re.DOTALL)
    }


def test_each_collected_reversed_credited_and_net_refunds_figure_links_rows_that_sum_to_it(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    _ledger()
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        for view in (
            {"from": "2027-01", "to": "2027-04", "currency": "USD"},
            {"from": "2027-01", "to": "2027-06", "by": "quarter", "currency": "USD"},
            {"from": "2027-03", "to": "2027-03", "currency": "EUR"},
        ):
            markup = _page(staff, **view)
            currency = view["currency"]
            checked = 0
            # The range's figures, in the summary above the table.
            for figure in LISTS:
                cell = markup.split(f'id="{figure}-total">', 1)[1].split("</span>", 1)[0]
                url = _href(cell)
                assert url is not None, (view, figure)
                assert f"currency={currency}" in url
                assert _listed_total(staff, url, figure, currency) == _amount(_words(cell))
                checked += 1
            # Each period's, in its row of the table.
            for key, cells in _table_cells(markup).items():
                for figure, column in COLUMNS.items():
                    url = _href(cells[column])
                    assert url is not None, (view, key, figure)
                    shown = _amount(_words(cells[column]))
                    assert _listed_total(staff, url, figure, currency) == shown, (key, figure)
                    checked += 1
            assert checked > 2

        # The figures are not all nothing: March in USD collected the cheque's 300.00,
        # reversed nothing, credited 200.00, net refunds 50.00 (150.00 sent, the February
        # wire's 100.00 returned); April reversed the cheque's 300.00.
        cells = _table_cells(_page(staff, **{"from": "2027-03", "to": "2027-04"}))
        assert [_amount(_words(cells["2027-03"][column])) for column in COLUMNS.values()] == [
            Decimal("300.00"),
            Decimal("0.00"),
            Decimal("200.00"),
            Decimal("50.00"),
        ]
        assert _amount(_words(cells["2027-04"][COLUMNS["reversed"]])) == Decimal("300.00")


def test_a_reader_who_sees_no_money_is_offered_no_list_of_it(
    app: Flask, licensing_staff: User, signed_in: SignIn
) -> None:
    """Licensing staff see the page's queue health only: no figure, so no link to its
    rows (the menu leads them to the lists themselves, as to the invoices)."""
    _ledger()
    markup = _page(signed_in(app.test_client(), licensing_staff))
    assert "/console/credit-notes?" not in markup
    assert "/console/refunds?" not in markup
    assert "/console/payments?" not in markup


def _overdue_ledger(today: date) -> None:
    """USD: an invoice 100 days old part paid (61-90 days past due), one 45 days old
    (1-30), one 5 days old (not yet due); EUR: one 45 days old, which the USD page and
    its link leave out."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    oldest = issue(osprey, "900.00", today - timedelta(days=100))
    paid_offline(
        oldest.id,
        "250.00",
        "W-PART",
        received_on=today - timedelta(days=90),
        now=at(today - timedelta(days=90)),
    )
    issue(osprey, "400.00", today - timedelta(days=45))
    issue(osprey, "300.00", today - timedelta(days=5))
    issue(osprey, "700.00", today - timedelta(days=45), currency="EUR")


def test_the_agings_past_due_balances_link_the_overdue_invoices_whose_balances_add_up_to_them(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    today = office_date(utcnow())
    _overdue_ledger(today)
    staff = signed_in(app.test_client(), billing_staff)
    markup = _page(staff, currency="USD")
    aging = markup.split('id="aging-table"', 1)[1].split("</table>", 1)[0]
    rows = {
        _words(found[1]): [_words(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", found[2])]
        for found in re.finditer(r'<th scope="row">(.*?)</th>(.*?)</tr>', aging, re.DOTALL)
    }
    past_due = sum(
        (_amount(cells[1]) for label, cells in rows.items() if "past due" in label), Decimal(0)
    )
    assert past_due == Decimal("1050.00")  # 650.00 + 400.00
    line = markup.split('id="overdue-total">', 1)[1].split("</p>", 1)[0]
    assert "2 invoices, 1,050.00 USD" in _words(line)
    url = _href(line)
    assert url is not None
    listed = staff.get(url)
    assert listed.status_code == 200
    owed = listed.get_data(as_text=True).split('id="listed-owed">', 1)[1].split("</p>", 1)[0]
    assert _words(owed).startswith("The 2 invoices listed owe 1,050.00 USD now")
    assert "700.00" not in _words(listed.get_data(as_text=True).split("<table", 1)[1])

    # Aged on another day, the list (always today's) is not offered for it.
    earlier = _page(staff, currency="USD", as_of=(today - timedelta(days=20)).isoformat())
    line = earlier.split('id="overdue-total">', 1)[1].split("</p>", 1)[0]
    assert _href(line) is None


def test_the_invoice_list_refuses_a_currency_that_is_none_beside_its_field(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    answer = signed_in(app.test_client(), billing_staff).get(
        "/console/invoices?overdue=1&currency=dollars"
    )
    assert answer.status_code == 422
    markup = answer.get_data(as_text=True)
    assert 'id="currency-error"' in markup
    assert "Currency takes a currency's code such as USD" in _words(markup)
