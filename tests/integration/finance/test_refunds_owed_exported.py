"""Round 59 (financelists59): the Finance page showed *Refunds owed* at each period's
end, but no export gave what was owed back on a past day (the receivables export lists
balances owing, above zero), so a finance system could not reconcile the figure. The
receivables export now takes `owed_back_on`: the invoices owed a refund at the end of
that day, each with what it was owed back (`owed_back`), whose sum is the page's
figure; the page links it beside the other exports."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.exports import exporter

from .conftest import at, issue

SignIn = Callable[..., FlaskClient]
MONTH_ENDS = {
    "2027-01": "2027-01-31",
    "2027-02": "2027-02-28",
    "2027-03": "2027-03-31",
    "2027-04": "2027-04-30",
}


def _ledger() -> None:
    """USD, 2027:

        E 500.00 issued 20 Jan, paid 25 Jan; 300.00 credited 5 Feb (owed back), 100.00
          of it refunded 10 Mar                        -> owed back 300 / 200
        K 800.00 issued 15 Jan, a cheque of 800.00 on 18 Jan; 250.00 credited 10 Feb
          (owed back); the cheque returned 5 Mar        -> owed back 250, then owes 550
        A 1,000.00 issued 10 Jan, unpaid; 100.00 credited 2 Mar -> never owed back
    EUR, which a USD export leaves out: 400.00 issued 12 Jan, paid 14 Jan, 50.00
    credited 2 Feb."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
    e = issue(heron, "500.00", date(2027, 1, 20))
    paid_offline(e.id, "500.00", "W-E", received_on=date(2027, 1, 25), now=at(date(2027, 1, 25)))
    seats = credited(e.id, "300.00", "Licence narrowed", now=at(date(2027, 2, 5)))
    refunded_offline(
        seats.id, "100.00", "W-REF", sent_on=date(2027, 3, 10), now=at(date(2027, 3, 10))
    )
    k = issue(osprey, "800.00", date(2027, 1, 15))
    cheque = paid_offline(
        k.id, "800.00", "CHK-K", "check", received_on=date(2027, 1, 18), now=at(date(2027, 1, 18))
    )
    credited(k.id, "250.00", "Seats removed", now=at(date(2027, 2, 10)))
    reversed_offline(
        cheque.id, "Cheque bounced", returned_on=date(2027, 3, 5), now=at(date(2027, 3, 5))
    )
    a = issue(osprey, "1000.00", date(2027, 1, 10))
    credited(a.id, "100.00", "Seat removed", now=at(date(2027, 3, 2)))
    euros = issue(heron, "400.00", date(2027, 1, 12), currency="EUR")
    paid_offline(
        euros.id, "400.00", "W-EUR", received_on=date(2027, 1, 14), now=at(date(2027, 1, 14))
    )
    credited(euros.id, "50.00", "Seat removed", now=at(date(2027, 2, 2)))


def _words(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _refunds_owed_column(markup: str) -> dict[str, Decimal]:
    """Each period's *Refunds owed at end* in the page's table."""
    table = markup.split('id="cash-table"', 1)[1].split("</table>", 1)[0]
    found = {}
    for row in re.finditer(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, re.DOTALL):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row[2], re.DOTALL)
        found[_words(row[1])] = Decimal(_words(cells[5]).replace(",", ""))
    return found


def _owed_back(fetch: Callable[..., bytes], **filters: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(fetch("csv", **filters).decode("utf-8"))))


def test_the_receivables_owed_back_on_a_day_add_up_to_the_pages_refunds_owed_then(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: SignIn
) -> None:
    _ledger()
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        answer = staff.get(
            "/console/finance/",
            query_string={"from": "2027-01", "to": "2027-04", "currency": "USD"},
        )
        assert answer.status_code == 200
        markup = answer.get_data(as_text=True)
        page = _refunds_owed_column(markup)
        fetch = exporter(client, billing_staff, "receivables")
        exported = {}
        for month, end in MONTH_ENDS.items():
            rows = _owed_back(fetch, owed_back_on=end, currency="USD")
            exported[month] = sum((Decimal(row["owed_back"]) for row in rows), Decimal(0))
            # Each row is owed back that day, owing nothing; the day is its as_of.
            assert all(Decimal(row["owed_back"]) > 0 for row in rows), rows
            assert {row["balance"] for row in rows} <= {"0.00"}, rows
            assert {row["as_of"] for row in rows} <= {end}, rows
        assert exported == page
        assert page == {
            "2027-01": Decimal("0.00"),
            "2027-02": Decimal("550.00"),  # E 300, K 250
            "2027-03": Decimal("200.00"),  # E less its refund; K owes again
            "2027-04": Decimal("200.00"),
        }
        # Which invoices, and that the currency and a credit within the balance are
        # left out (A owed, EUR another currency's).
        february = _owed_back(fetch, owed_back_on="2027-02-28", currency="USD")
        assert sorted(row["owed_back"] for row in february) == ["250.00", "300.00"]
        euros = _owed_back(fetch, owed_back_on="2027-02-28", currency="EUR")
        assert [row["owed_back"] for row in euros] == ["50.00"]
        # A list of balances owing keeps its rows and says 0.00 owed back.
        owing = _owed_back(fetch, as_of="2027-03-31", currency="USD")
        assert owing
        assert {row["owed_back"] for row in owing} == {"0.00"}
        assert sum((Decimal(row["balance"]) for row in owing), Decimal(0)) == Decimal("1450.00")

        # The page links it, for the range's end and currency, beside its figure.
        link = re.search(r'<a href="([^"]+)" id="refunds-owed-export">', markup)
        assert link is not None
        query = dict(parse_qsl(urlsplit(html.unescape(link[1])).query))
        assert query == {"dataset": "receivables", "owed_back_on": "2027-04-30", "currency": "USD"}
        summary = markup.split('id="refunds_owed-total">', 1)[1].split("</span>", 1)[0]
        assert _words(summary).startswith("200.00")
        downloaded = staff.get(html.unescape(link[1]) + "&format=csv")
        assert downloaded.status_code == 200, downloaded.get_data(as_text=True)[:500]


def test_a_day_owed_back_and_a_day_owing_together_are_refused(
    client: FlaskClient, billing_staff: User
) -> None:
    answer = client.get(
        "/api/v1/exports/receivables",
        query_string={"as_of": "2027-03-31", "owed_back_on": "2027-03-31"},
        headers=factories.bearer(billing_staff),
    )
    assert answer.status_code == 422
    assert "not both" in answer.get_data(as_text=True)
    elsewhere = client.get(
        "/api/v1/exports/refunds",
        query_string={"owed_back_on": "2027-03-31"},
        headers=factories.bearer(billing_staff),
    )
    assert elsewhere.status_code == 422
