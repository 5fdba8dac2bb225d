"""Round 58 (financelinks58): round 57 linked the Finance page's Collected, Reversed,
Credited and Net refunds to the lists whose totals they are, but not the figures whose
rows are invoices: *Invoiced* and *Voided* (the invoice list had no issue-day filter),
each period end's *Outstanding* and *Refunds owed* and the aging's single rows
(balances on a past day, which no list showed). The console's invoice list now takes
the months issued, a balance on a day (owing, or owed back) and a row of the aging, and
each of those figures, in the page's table, summary and charts, links the invoices
that make it, whose amounts add up to it, as the exports' rows do."""

from __future__ import annotations

import csv
import html
import io
import json
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
from licensing.billing import services
from licensing.money import parse_decimal
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.exports import exporter
from tests.support.factories import billing_clerk

from .conftest import at, issue

SignIn = Callable[..., FlaskClient]
FINANCE = "/console/finance/"
# Each invoice figure's column in the page's table (after the period), and the
# sentence of the linked list that totals it.
COLUMNS = {"invoiced": 0, "refunds_owed": 5, "outstanding": 6}
TOTALS = {
    "invoiced": ("listed-issued", r"invoiced ([-0-9,.]+)"),
    "voided": ("listed-issued", r"voided since ([-0-9,.]+)"),
    "outstanding": ("listed-balance", r"owed ([-0-9,.]+)"),
    "refunds_owed": ("listed-balance", r"owed back ([-0-9,.]+)"),
    "aging": ("listed-balance", r"owed ([-0-9,.]+)"),
}
# The receivables export's `aging_bucket` of each of the page's aging rows.
EXPORT_BUCKETS = {
    "current": "current",
    "1_30": "1-30",
    "31_60": "31-60",
    "61_90": "61-90",
    "over_90": "over_90",
    "disputed": "not_chased",
}


def _words(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _amount(text: str) -> Decimal:
    return parse_decimal(text.split()[0].replace(",", ""), allow_negative=True)


def _href(cell: str) -> str | None:
    found = re.search(r'<a href="([^"]+)"', cell)
    return html.unescape(found[1]) if found else None


def _ledger() -> set[str]:
    """January to April 2027; returns the numbers of the invoices voided after the
    end of February. USD:

        A 1,000.00 issued 10 Jan (due 9 Feb); 400.00 received 5 Feb (a part payment);
          100.00 credited 2 Mar                      -> owes 1,000 / 600 / 500
        B 2,500.00 issued 14 Feb; paid in full 20 Mar -> owes 2,500 at February's end
        C   300.00 issued 3 Mar, voided 4 Mar          -> counts nowhere: Voided
        D   750.50 issued 15 Mar (due 14 Apr), unpaid -> current at March's end
        E   500.00 issued 20 Jan, paid 25 Jan; 300.00 credited 5 Feb (owed back), 100.00
          of it refunded 10 Mar                      -> refunds owed 300 / 200
        F   400.00 issued 1 Feb (due 3 Mar); a cheque received 10 Feb, returned by the
          bank 5 Mar                                 -> owes 0 in February, 400 in March
        G   150.00 issued 20 Feb, voided 2 Apr       -> counts nowhere, though owed then
        H   200.00 issued 5 Apr                      -> another month
    EUR, which the USD page and its links leave out: 999.00 issued 1 Feb, 90.00 of it
    received 3 Feb."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
    a = issue(osprey, "1000.00", date(2027, 1, 10))
    paid_offline(a.id, "400.00", "W-A", received_on=date(2027, 2, 5), now=at(date(2027, 2, 5)))
    credited(a.id, "100.00", "Seats removed", now=at(date(2027, 3, 2)))
    b = issue(heron, "2500.00", date(2027, 2, 14))
    paid_offline(b.id, "2500.00", "W-B", received_on=date(2027, 3, 20), now=at(date(2027, 3, 20)))
    c = issue(osprey, "300.00", date(2027, 3, 3))
    services.void_invoice(
        c.id, reason="Issued in error", now=at(date(2027, 3, 4)), actor=billing_clerk()
    )
    issue(heron, "750.50", date(2027, 3, 15))
    e = issue(heron, "500.00", date(2027, 1, 20))
    paid_offline(e.id, "500.00", "W-E", received_on=date(2027, 1, 25), now=at(date(2027, 1, 25)))
    seats = credited(e.id, "300.00", "Licence narrowed", now=at(date(2027, 2, 5)))
    refunded_offline(
        seats.id, "100.00", "W-REF", sent_on=date(2027, 3, 10), now=at(date(2027, 3, 10))
    )
    f = issue(osprey, "400.00", date(2027, 2, 1))
    cheque = paid_offline(
        f.id, "400.00", "CHK-F", "check", received_on=date(2027, 2, 10), now=at(date(2027, 2, 10))
    )
    reversed_offline(
        cheque.id, "Cheque bounced", returned_on=date(2027, 3, 5), now=at(date(2027, 3, 5))
    )
    g = issue(heron, "150.00", date(2027, 2, 20))
    services.void_invoice(
        g.id, reason="Issued in error", now=at(date(2027, 4, 2)), actor=billing_clerk()
    )
    issue(osprey, "200.00", date(2027, 4, 5))
    euros = issue(heron, "999.00", date(2027, 2, 1), currency="EUR")
    paid_offline(euros.id, "90.00", "W-EUR", received_on=date(2027, 2, 3), now=at(date(2027, 2, 3)))
    return {g.number}


def _page(staff: FlaskClient, **query: str) -> str:
    answer = staff.get(FINANCE, query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_data(as_text=True)


def _table(markup: str, table_id: str) -> dict[str, list[str]]:
    table = markup.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return {
        _words(found[1]): re.findall(r"<td[^>]*>(.*?)</td>", found[2], re.DOTALL)
        for found in re.finditer(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, re.DOTALL)
    }


def _listed(staff: FlaskClient, url: str, figure: str, currency: str) -> Decimal:
    """The total the linked invoice list gives for `figure` in `currency` (0 when it
    lists none), checked against the amounts of its rows."""
    answer = staff.get(url)
    assert answer.status_code == 200, (url, answer.get_data(as_text=True)[:500])
    markup = answer.get_data(as_text=True)
    sentence, pattern = TOTALS[figure]
    found = re.findall(rf'id="{sentence}-([A-Z]{{3}})"[^>]*>(.*?)</p>', markup, re.DOTALL)
    assert {code for code, _ in found} <= {currency}, found  # the page's currency only
    if not found:
        assert "No invoice matches." in markup, url
        return Decimal(0)
    match = re.search(pattern, _words(found[0][1]))
    assert match is not None, _words(found[0][1])
    total = _amount(match[1])
    # The rows make the total: the amount each owed then, or its total.
    head = markup.split("<thead>", 1)[1].split("</thead>", 1)[0]
    columns = [_words(cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", head)]
    wanted = (
        "Total"
        if figure in ("invoiced", "voided")
        else next(name for name in columns if name.startswith(("Owed at", "Owed back at")))
    )
    body = markup.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL) for row in body.split("</tr>")[:-1]]
    assert len(rows) < 50  # one page
    amounts = [_amount(_words(row[columns.index(wanted)])) for row in rows]
    assert sum(amounts, Decimal(0)) == total, (url, amounts, total)
    return total


class Exports:
    """The invoices and receivables exports as finance fetches them (one token each)."""

    def __init__(self, client: FlaskClient, staff: User) -> None:
        self.fetch = {name: exporter(client, staff, name) for name in ("invoices", "receivables")}

    def rows(self, dataset: str, **filters: str) -> list[dict[str, str]]:
        text = self.fetch[dataset]("csv", **filters).decode("utf-8")
        return list(csv.DictReader(io.StringIO(text)))


def _issued(exports: Exports, first: str, last: str, currency: str) -> tuple[Decimal, Decimal]:
    """The invoices export's totals by issue date: not void (Invoiced), void (Voided)."""
    rows = exports.rows("invoices", by="issued", currency=currency, **{"from": first, "to": last})
    void = [Decimal(row["total"]) for row in rows if row["state"] == "void"]
    counted = [Decimal(row["total"]) for row in rows if row["state"] != "void"]
    return sum(counted, Decimal(0)), sum(void, Decimal(0))


def _owing(
    exports: Exports, day: str, currency: str, voided: set[str], bucket: str = ""
) -> Decimal:
    """The receivables export's balances on `day` (of an aging row's `bucket`), less
    the invoices voided since (which the page counts nowhere)."""
    return sum(
        (
            Decimal(row["balance"])
            for row in exports.rows("receivables", as_of=day, currency=currency)
            if row["invoice_number"] not in voided
            and (not bucket or row["aging_bucket"] == EXPORT_BUCKETS[bucket])
        ),
        Decimal(0),
    )


def _query(url: str | None) -> dict[str, str]:
    assert url is not None
    return dict(parse_qsl(urlsplit(url).query))


def _chart_links(markup: str, table_id: str) -> dict[str, list[str | None]]:
    found = re.search(rf"data-chart='([^']*)' data-table=\"{table_id}\"", markup)
    assert found is not None, table_id
    spec = json.loads(html.unescape(found[1]))
    return {series["label"]: series["links"] for series in spec["series"]}


def test_invoiced_voided_outstanding_refunds_owed_and_each_aging_row_link_the_invoices_making_them(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: SignIn
) -> None:
    voided_since = _ledger()
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        exports = Exports(client, billing_staff)
        checked: dict[str, Decimal] = {}
        for view in (
            {"from": "2027-01", "to": "2027-04", "currency": "USD", "as_of": "2027-03-31"},
            {"from": "2027-01", "to": "2027-06", "by": "quarter", "currency": "USD"},
            {"from": "2027-02", "to": "2027-03", "currency": "EUR", "as_of": "2027-02-28"},
        ):
            markup = _page(staff, **view)
            currency = view["currency"]
            # The range's, in the summary above the table.
            for figure in ("invoiced", "voided", "refunds_owed"):
                if figure == "voided" and 'id="voided"' not in markup:
                    continue
                cell = markup.split(f'id="{figure}-total">', 1)[1].split("</span>", 1)[0]
                url = _href(cell)
                assert url is not None, (view, figure)
                assert _query(url)["currency"] == currency
                assert _listed(staff, url, figure, currency) == _amount(_words(cell)), figure
            # Each period's, in its row of the table, equal to the exports'.
            table = _table(markup, "cash-table")
            links = _chart_links(markup, "cash-table")
            for index, (key, cells) in enumerate(table.items()):
                urls = {figure: _href(cells[column]) for figure, column in COLUMNS.items()}
                shown = {f: _amount(_words(cells[c])) for f, c in COLUMNS.items()}
                for figure, url in urls.items():
                    assert url is not None, (view, key, figure)
                    assert _listed(staff, url, figure, currency) == shown[figure], (key, figure)
                    checked[f"{currency} {key} {figure}"] = shown[figure]
                # The chart's bars open the same lists as the table's cells.
                assert links["Invoiced"][index] == urls["invoiced"]
                assert links["Outstanding at period end"][index] == urls["outstanding"]
                assert links["Collected"][index] == _href(cells[1])
                first = _query(urls["invoiced"])["from"]
                end = _query(urls["outstanding"])["owing_on"]
                invoiced, _void = _issued(exports, f"{first}-01", end, currency)
                assert invoiced == shown["invoiced"], (key, "export")
                exported = _owing(exports, end, currency, voided_since)
                assert exported == shown["outstanding"], (key, "export")
            # Each row of the aging, in its table and its chart.
            aging = _table(markup, "aging-table")
            bars = _chart_links(markup, "aging-table")["Balance"]
            for index, (label, cells) in enumerate(aging.items()):
                url = _href(cells[1])
                assert url is not None, label
                assert bars[index] == url, label
                bucket, as_of = _query(url)["aging"], _query(url)["owing_on"]
                assert as_of == view.get("as_of", "2027-05-03")  # today by default
                shown_amount = _amount(_words(cells[1]))
                assert _listed(staff, url, "aging", currency) == shown_amount, label
                exported = _owing(exports, as_of, currency, voided_since, bucket)
                assert exported == shown_amount, (label, "export")
                checked[f"{currency} aging {as_of} {bucket}"] = shown_amount

        # The figures are not all nothing, and each would differ were a filter wrong: a
        # month (H is April's), a currency (EUR), a void (C, G), a part payment (A).
        assert checked["USD 2027-03 invoiced"] == Decimal("750.50")  # C void, not counted
        assert checked["USD 2027-02 invoiced"] == Decimal("2900.00")  # B, F; G voided since
        assert checked["USD 2027-02 outstanding"] == Decimal("3100.00")  # A 600 + B 2,500
        assert checked["USD 2027-03 outstanding"] == Decimal("1650.50")  # A 500, F, D
        assert checked["USD 2027-02 refunds_owed"] == Decimal("300.00")
        assert checked["USD 2027-03 refunds_owed"] == Decimal("200.00")
        assert checked["USD 2027-Q1 outstanding"] == Decimal("1650.50")
        assert checked["USD aging 2027-03-31 31_60"] == Decimal("500.00")  # A, due 9 Feb
        assert checked["USD aging 2027-03-31 1_30"] == Decimal("400.00")  # F, due 3 Mar
        assert checked["USD aging 2027-03-31 current"] == Decimal("750.50")
        assert checked["EUR 2027-02 outstanding"] == Decimal("909.00")
        assert checked["EUR aging 2027-02-28 current"] == Decimal("909.00")


def test_voided_links_the_void_invoices_issued_in_the_range_and_their_total_is_the_exports(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: SignIn
) -> None:
    _ledger()
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        markup = _page(staff, **{"from": "2027-02", "to": "2027-03", "currency": "USD"})
        cell = markup.split('id="voided-total">', 1)[1].split("</span>", 1)[0]
        assert _amount(_words(cell)) == Decimal("450.00")  # C and G
        url = _href(cell)
        assert url is not None
        assert _listed(staff, url, "voided", "USD") == Decimal("450.00")
        exports = Exports(client, billing_staff)
        assert _issued(exports, "2027-02-01", "2027-03-31", "USD")[1] == Decimal("450.00")


def test_the_invoice_lists_new_filters_refuse_what_they_cannot_read_beside_their_fields(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    staff = signed_in(app.test_client(), billing_staff)
    for query, field, words in (
        ("owing_on=2027-02-30", "owing_on", "Owing at the end of takes a day such as"),
        ("owed_back_on=soon", "owed_back_on", "Owed a refund at the end of takes a day"),
        ("owing_on=2027-01-31&owed_back_on=2027-01-31", "owed_back_on", "not both"),
        ("aging=2_weeks", "aging", "Days past due then takes one of: Current (not yet due)"),
        ("from=2027-13", "from", "Issued from month takes a month such as 2027-03"),
        ("state=bogus", "state", "Invoiced (issued, not void)"),
    ):
        answer = staff.get(f"/console/invoices?{query}")
        assert answer.status_code == 422, query
        markup = answer.get_data(as_text=True)
        assert f'id="{field}-error"' in markup, query
        assert words in _words(markup), query
        assert "<tbody>" not in markup
    assert staff.get("/console/invoices?owing_on=2027-01-31&owing_on=2027-02-28").status_code == 400
