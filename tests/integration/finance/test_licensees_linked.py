"""Round 59 (financelists59): the Finance page's top licensees linked each licensee's
page but not the rows behind its figures: "which invoices make Heron's 3,250.50
invoiced?" meant the invoices export. Each licensee's *Invoiced* (its cell and its bar
in the chart) now opens the console's invoice list narrowed to the licensee, the range's
months issued, not void, in the page's currency, whose total invoiced is the figure and
the invoices export's rows of the licensee add up to it."""

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
from tests.support import factories
from tests.support.exports import exporter
from tests.support.factories import billing_clerk

from .conftest import at, issue

SignIn = Callable[..., FlaskClient]


def _ledger() -> dict[str, int]:
    """2027. Osprey: 1,000.00 issued 10 Jan; 300.00 issued 3 Feb and voided the day
    after; 200.00 issued 5 Apr (after the range); 999.00 EUR issued 1 Feb. Heron:
    2,500.00 issued 14 Feb, 750.50 issued 15 Mar. Each licensee's organization id."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
    issue(osprey, "1000.00", date(2027, 1, 10))
    error = issue(osprey, "300.00", date(2027, 2, 3))
    services.void_invoice(
        error.id, reason="Issued in error", now=at(date(2027, 2, 4)), actor=billing_clerk()
    )
    issue(osprey, "200.00", date(2027, 4, 5))
    issue(osprey, "999.00", date(2027, 2, 1), currency="EUR")
    issue(heron, "2500.00", date(2027, 2, 14))
    issue(heron, "750.50", date(2027, 3, 15))
    return {"Osprey Analytics Inc.": osprey, "Heron Labs LLC": heron}


def _words(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _amount(text: str) -> Decimal:
    return Decimal(text.split()[0].replace(",", ""))


def test_each_top_licensees_invoiced_links_its_invoices_whose_total_is_the_figure(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: SignIn
) -> None:
    organizations = _ledger()
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        answer = staff.get(
            "/console/finance/",
            query_string={"from": "2027-01", "to": "2027-03", "currency": "USD"},
        )
        assert answer.status_code == 200
        markup = answer.get_data(as_text=True)
        table = markup.split('id="licensees-table"', 1)[1].split("</table>", 1)[0]
        chart = re.search(r"data-chart='([^']*)' data-table=\"licensees-table\"", markup)
        assert chart is not None
        bars = {
            series["label"]: series["links"]
            for series in json.loads(html.unescape(chart[1]))["series"]
        }
        invoices = exporter(client, billing_staff, "invoices")
        exported = list(
            csv.DictReader(
                io.StringIO(
                    invoices(
                        "csv",
                        by="issued",
                        currency="USD",
                        **{"from": "2027-01-01", "to": "2027-03-31"},
                    ).decode("utf-8")
                )
            )
        )
        shown = {}
        rows = re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, re.DOTALL)
        for index, (name_cell, cells_markup) in enumerate(rows):
            name = _words(name_cell)
            cell = re.findall(r"<td[^>]*>(.*?)</td>", cells_markup, re.DOTALL)[0]
            link = re.search(r'<a href="([^"]+)" aria-label="([^"]+)"', cell)
            assert link is not None, name
            url = html.unescape(link[1])
            figure = _amount(_words(cell))
            shown[name] = figure
            assert html.unescape(link[2]) == (
                f"{_words(cell)}: invoiced to {name} in these months, its invoices"
            )
            assert bars["Invoiced"][index] == url  # the bar opens what the cell does
            assert dict(parse_qsl(urlsplit(url).query)) == {
                "organization": str(organizations[name]),
                "from": "2027-01",
                "to": "2027-03",
                "currency": "USD",
                "state": "invoiced",
            }
            listed = staff.get(url)
            assert listed.status_code == 200
            page = listed.get_data(as_text=True)
            sentence = re.search(r'id="listed-issued-USD"[^>]*>(.*?)</p>', page, re.DOTALL)
            assert sentence is not None, name
            total = re.search(r"invoiced ([0-9,.]+)", _words(sentence[1]))
            assert total is not None
            assert _amount(total[1]) == figure, name
            # The export's rows of the licensee, not void, add up to it too.
            assert (
                sum(
                    (
                        Decimal(row["total"])
                        for row in exported
                        if row["organization_id"] == str(organizations[name])
                        and row["state"] != "void"
                    ),
                    Decimal(0),
                )
                == figure
            )
        # Each would read otherwise were a filter wrong: a void (Osprey's 300.00), a
        # month after the range (its 200.00), a currency (its EUR), the licensee.
        assert shown == {
            "Heron Labs LLC": Decimal("3250.50"),
            "Osprey Analytics Inc.": Decimal("1000.00"),
        }
        # Collected and outstanding stay plain figures (as known now, which no list reads).
        assert bars["Collected"] == []
