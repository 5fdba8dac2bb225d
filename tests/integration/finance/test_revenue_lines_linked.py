"""Round 60 (linesfig60): every Finance figure led to the rows that make it except
*License revenue by classification* (and its royalty credit notes and net): invoice
lines, which no console list showed. Each of its cells and totals now opens the
console's invoice lines list narrowed to the figure's months, currency, kind and
classification, whose sum is the figure to the cent; the invoice lines export with
the list's filter downloads the same lines (CSV and JSON Lines).

Round 63 (exports63): the ledger is made once a module and backend on
`module_connection`, and every currency's cells, their lists and the exports each list
links are followed once (`_walked`): the three tests that each followed them all read
that one walk; every other test reads the ledger in a savepoint of its own."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, select

from licensing import db
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.finance import classification
from licensing.finance.classification import Classification, RevenueLine
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.support import factories
from tests.support.audited import unaudited_state_changes
from tests.support.billing import credited
from tests.support.exports import exporter
from tests.support.factories import billing_clerk

from .conftest import at

# The module runs on one worker: the ledger and its walk made once a module and backend
# (`module_connection`) was made again on each worker its tests were handed to
# (round 64: the CI spread them over both).
pytestmark = pytest.mark.xdist_group("revenue_lines_linked")

SignIn = Callable[..., FlaskClient]

DEV = Classification("development", "software", "provider", "commercial")
DIST = Classification("distribution", "saas", "consumer", "commercial")
EDU = Classification("education", "print", "academic", "nonprofit")
# What each source's line N was priced as, by (source type, source id, position):
# the test's classifiers read it (round 39's test plugs one in the same way); a line
# missing here is unclassified, as a line that does not match its quote is.
PRICED: dict[tuple[str, int, int], Classification] = {}


def _plugged(source_type: str) -> Callable[[Any, Any], dict[int, Classification]]:
    def classify(_session: Any, lines: list[RevenueLine]) -> dict[int, Classification]:
        return {
            line.invoice_line_id: PRICED[key]
            for line in lines
            if (key := (source_type, line.source_id or 0, line.position)) in PRICED
        }

    return classify


def _issue(
    organization_id: int,
    source: tuple[str, int],
    lines: list[tuple[str, Classification | None]],
    day: date,
    currency: str = "USD",
) -> Invoice:
    source_type, source_id = source
    for position, (_amount, priced) in enumerate(lines, start=1):
        if priced is not None:
            PRICED[(source_type, source_id, position)] = priced
    with db.transaction() as session:
        return billing.create_invoice(
            session,
            organization_id=organization_id,
            currency=currency,
            charges=[
                billing.Charge(f"{source_type} line {n}", Decimal(amount))
                for n, (amount, _) in enumerate(lines, start=1)
            ],
            source_type=source_type,
            source_id=source_id,
            payment_terms_days=30,
            late_fee_monthly_percent=Decimal("1.5"),
            now=at(day),
            actor=Actor.SYSTEM,
        )


def _plug(patch: pytest.MonkeyPatch) -> None:
    patch.setitem(classification._CLASSIFIERS, "agreement", _plugged("agreement"))
    patch.setitem(classification._CLASSIFIERS, "royalty_report", _plugged("royalty_report"))


CURRENCIES = ("USD", "EUR", "JPY")
PAGE = {"from": "2027-01", "to": "2027-03"}
AFTER = datetime(2027, 5, 3, 15, tzinfo=UTC)


# The files of each export a list links that the tests read (round 64: the walk also
# fetched the credit note lines' JSON Lines, which no test reads).
READ = {"invoice_lines": ("csv", "jsonl"), "credit_note_lines": ("csv",)}


@dataclass
class Walk:
    """What billing staff saw following every revenue cell of the Finance page, each
    currency's, once (round 63: three tests each followed every cell again): the
    page, each list a cell opens (its status and body), and each export a list links
    (CSV, and JSON Lines for the invoice lines), by its query. An export is fetched
    once for its query (round 64: a cell's gross, credit notes and net lists link the
    same files, which the walk fetched again for each, 160 of its 490 fetches)."""

    pages: dict[str, str] = field(default_factory=dict)
    lists: dict[str, tuple[int, str]] = field(default_factory=dict)
    exports: dict[tuple[str, str, frozenset[tuple[str, str]]], bytes] = field(default_factory=dict)

    def get(self, href: str) -> tuple[int, str]:
        return self.lists[href]

    def export(self, dataset: str, format_name: str, query: dict[str, str]) -> bytes:
        return self.exports[dataset, format_name, frozenset(query.items())]


def _walked(client: FlaskClient, staff: User) -> Walk:
    """Every currency's page, every cell's list and every export a list links."""
    walk = Walk()
    fetch = {
        (dataset, format_name): exporter(client, staff, dataset)
        for dataset, formats in READ.items()
        for format_name in formats
    }
    with time_machine.travel(AFTER, tick=False):
        response = client.post(
            "/sign-in", data={"email": staff.email, "password": factories.DEFAULT_PASSWORD}
        )
        assert response.status_code == 302
        for currency in CURRENCIES:
            page = client.get("/console/finance/", query_string={**PAGE, "currency": currency})
            assert page.status_code == 200
            walk.pages[currency] = markup = page.get_data(as_text=True)
            for href, _name in _revenue_links(markup):
                if "/console/finance/lines" not in href or href in walk.lists:
                    continue
                answer = client.get(href)
                body = answer.get_data(as_text=True)
                walk.lists[href] = (answer.status_code, body)
                for element_id in ("lines-export", "credit-lines-export"):
                    query = _export_link(body, element_id)
                    if query is None:
                        continue
                    dataset = query.pop("dataset")
                    for format_name in READ[dataset]:
                        key = (dataset, format_name, frozenset(query.items()))
                        if key not in walk.exports:
                            walk.exports[key] = fetch[dataset, format_name](format_name, **query)
    return walk


@dataclass
class Prepared:
    walk: Walk


@pytest.fixture(scope="module")
def prepared_ledger(database_template: DatabaseTemplate, module_connection: Connection) -> Prepared:
    """The ledger made once a module and backend (round 63: each of 17 tests made its
    own), under the audit watch, and the Finance page's cells walked once."""
    with (
        pytest.MonkeyPatch.context() as patch,
        app_in_transaction(database_template.url, {}, module_connection, keep=True) as made_on,
    ):
        _plug(patch)
        with unaudited_state_changes(made_on) as watch:
            _made()
        assert watch.gaps == [], "state changed with no audit event of the record"
        staff = factories.make_staff(db.session(), roles=("billing",))
        return Prepared(_walked(made_on.test_client(), staff))


@pytest.fixture
def ledger(prepared_ledger: Prepared, app: Flask, monkeypatch: pytest.MonkeyPatch) -> Walk:
    """The module's ledger, for a test whose `app` runs in a savepoint of the module's
    connection, with its classifiers plugged; and the walk of its cells."""
    _plug(monkeypatch)
    return prepared_ledger.walk


def _made() -> None:
    """2027 Q1 in three currencies: up-front and royalty lines in three
    classifications (one line unclassified), royalty credit notes (one in the range
    on a royalty invoice of December, one split over three lines), a manual invoice
    (other), a void up-front invoice and invoices before and after the range."""
    PRICED.clear()
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
    _issue(osprey, ("agreement", 1), [("1000.00", DEV), ("250.50", DIST)], date(2027, 1, 10))
    royalties = _issue(
        osprey,
        ("royalty_report", 11),
        [("812.40", DIST), ("100.01", DEV), ("33.33", None)],
        date(2027, 2, 15),
    )
    credited(royalties.id, "300.00", "Amended down", now=at(date(2027, 3, 5)))
    december = _issue(heron, ("royalty_report", 12), [("400.00", EDU)], date(2026, 12, 20))
    credited(december.id, "99.99", "Late correction", now=at(date(2027, 2, 1)))
    _issue(heron, ("agreement", 2), [("1500.00", EDU)], date(2027, 3, 31))
    _issue(heron, ("manual", 0), [("75.00", None)], date(2027, 2, 2))
    void = _issue(heron, ("agreement", 3), [("999.99", DEV)], date(2027, 2, 3))
    billing.void_invoice(
        void.id, reason="Issued in error", now=at(date(2027, 2, 4)), actor=billing_clerk()
    )
    _issue(osprey, ("royalty_report", 13), [("640.00", DIST)], date(2027, 4, 2))
    _issue(osprey, ("agreement", 4), [("500.00", DEV)], date(2027, 1, 20), currency="EUR")
    eur = _issue(
        heron,
        ("royalty_report", 14),
        [("333.33", DIST), ("66.67", EDU)],
        date(2027, 2, 20),
        currency="EUR",
    )
    credited(eur.id, "100.00", "Amended down", now=at(date(2027, 3, 1)))
    jpy = _issue(
        osprey,
        ("royalty_report", 15),
        [("10001", DIST), ("2999", DEV), ("7", EDU)],
        date(2027, 3, 3),
        currency="JPY",
    )
    credited(jpy.id, "1000", "Amended down", now=at(date(2027, 3, 20)))
    _issue(heron, ("manual", 0), [("150", None)], date(2027, 3, 21), currency="JPY")


def _amount(text: str) -> Decimal:
    return Decimal(text.split()[0].rstrip(":").replace(",", ""))


def _revenue_links(markup: str) -> list[tuple[str, str]]:
    """(href, accessible name) of every link in the revenue section."""
    section = markup.split('id="revenue-heading"', 1)[1].split("</section>", 1)[0]
    return [
        (html.unescape(href), html.unescape(name))
        for href, name in re.findall(r'<a href="([^"]+)" aria-label="([^"]+)">', section)
    ]


def _rows(markup: str) -> list[tuple[str, str, Decimal]]:
    """(invoice number, line, amount) of each row listed."""
    if 'id="invoice-lines-list"' not in markup:
        return []
    table = markup.split('id="invoice-lines-list"', 1)[1].split("</table>", 1)[0]
    found = []
    for row in re.findall(r"<tr id=\"(?:line|credit)-[^\"]+\">(.*?)</tr>", table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        number = re.sub(r"<[^>]+>", " ", cells[1]).split()[0]
        amount = re.sub(r"<[^>]+>", " ", cells[-1]).split()[0]
        found.append((number, cells[2].strip(), Decimal(amount.replace(",", ""))))
    return found


@pytest.mark.parametrize("currency", CURRENCIES)
def test_every_revenue_cell_links_the_invoice_lines_that_sum_to_it(
    ledger: Walk, currency: str
) -> None:
    """Read from the module's walk of every cell (`_walked`)."""
    markup = ledger.pages[currency]
    links = [
        (href, name) for href, name in _revenue_links(markup) if "/console/finance/lines" in href
    ]
    tables = markup.count('<tr><th scope="row">', markup.index('id="revenue-heading"'))
    rows_shown = sum(
        len(re.findall(r'<tr><th scope="row">', part.split("</table>", 1)[0]))
        for part in markup.split('id="revenue-')[1:]
        if part.startswith(("use-table", "product_type-table", "user_type-table"))
        or part.startswith("organization_type-table")
    )
    assert tables
    assert rows_shown
    # Five totals, and five money cells a row of each axis's table.
    assert len(links) == 5 + 5 * rows_shown
    sums: set[Decimal] = set()
    for href, name in links:
        figure = _amount(name)
        query = dict(parse_qsl(urlsplit(href).query))
        assert (query["from"], query["to"]) == ("2027-01", "2027-03")
        assert query["currency"] == currency
        status, body = ledger.get(href)
        assert status == 200, href
        rows = _rows(body)
        listed = sum((amount for _, _, amount in rows), Decimal(0))
        # The credit notes alone: the page shows them positive, the rows reverse lines.
        sign = -1 if dict(parse_qsl(urlsplit(href).query)).get("shown") == "credited" else 1
        assert sign * listed == figure, (href, name)
        if rows:
            found = re.search(rf'id="line-sum-{currency}">.*?([-\d,.]+) {currency}', body)
            assert found is not None
            assert Decimal(found[1].replace(",", "")) == figure, (href, name)
        sums.add(figure)
    assert len(sums) > 5  # the cells differ: a filter left out would show


def test_the_figures_are_the_ledgers_and_each_lists_lines_are_its_own(
    app: Flask, ledger: Walk, billing_staff: User, signed_in: SignIn
) -> None:
    """Worked by hand: USD, SaaS (product type) in Q1: royalties invoiced 812.40, their
    credit notes 300.00 split 812.40/100.01/33.33 of 945.74 (257.70), net 554.70; the
    void invoice, April's and December's invoice are not listed."""
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        markup = staff.get(
            "/console/finance/",
            query_string={"from": "2027-01", "to": "2027-03", "currency": "USD"},
        ).get_data(as_text=True)
        named = {name: href for href, name in _revenue_links(markup)}
        saas = "of SaaS (product type), its invoice lines"
        gross = named[f"812.40: royalties invoiced (gross) {saas}"]
        credit = named[f"257.70: royalty credit notes {saas}"]
        net = named[f"554.70: royalties net of credit notes {saas}"]
        assert [row[2] for row in _rows(staff.get(gross).get_data(as_text=True))] == [
            Decimal("812.40")
        ]
        assert [row[2] for row in _rows(staff.get(credit).get_data(as_text=True))] == [
            Decimal("-257.70")
        ]
        assert sorted(row[2] for row in _rows(staff.get(net).get_data(as_text=True))) == [
            Decimal("-257.70"),
            Decimal("812.40"),
        ]
        # The totals: license revenue, other (the manual invoice), royalty credit notes
        # (300.00 and December's 99.99).
        assert "3,696.24 USD: the up-front and royalty invoice lines" in markup
        assert "75.00 USD: the other invoices" in markup
        assert "399.99 USD: the royalty credit notes issued in these months" in markup


@pytest.mark.parametrize("currency", CURRENCIES)
def test_the_invoice_lines_export_with_the_lists_filter_is_the_lists_lines(
    ledger: Walk, currency: str
) -> None:
    """Read from the module's walk of every cell and the exports each list links."""
    followed = 0
    for href, _name in _revenue_links(ledger.pages[currency]):
        if "/console/finance/lines" not in href:
            continue
        _status, body = ledger.get(href)
        export = re.search(r'<a href="([^"]+)" id="lines-export">', body)
        query = dict(parse_qsl(urlsplit(href).query))
        if query.get("shown") == "credited":
            assert export is None
            continue
        assert export is not None, href
        export_query = dict(parse_qsl(urlsplit(html.unescape(export[1])).query))
        assert export_query.pop("dataset") == "invoice_lines"
        text = ledger.export("invoice_lines", "csv", export_query).decode("utf-8")
        exported = sorted(
            (row["invoice_number"], row["line_position"], Decimal(row["amount"]))
            for row in csv.DictReader(io.StringIO(text))
        )
        assert exported == sorted(_invoiced_rows(body)), href
        records = [
            json.loads(line)
            for line in ledger.export("invoice_lines", "jsonl", export_query)
            .decode("utf-8")
            .splitlines()[1:]
        ]
        assert (
            sorted(
                (row["invoice_number"], str(row["line_position"]), Decimal(row["amount"]))
                for row in records
            )
            == exported
        )
        followed += 1
    assert followed >= 10


def _invoiced_rows(body: str) -> list[tuple[str, str, Decimal]]:
    """The list's rows that are lines invoiced (not a credit note's part)."""
    if 'id="invoice-lines-list"' not in body:
        return []
    table = body.split('id="invoice-lines-list"', 1)[1].split("</table>", 1)[0]
    found = []
    for row in re.findall(r'<tr id="line-[^"]+">(.*?)</tr>', table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        number = re.sub(r"<[^>]+>", " ", cells[1]).split()[0]
        amount = re.sub(r"<[^>]+>", " ", cells[-1]).split()[0]
        found.append((number, cells[2].strip(), Decimal(amount.replace(",", ""))))
    return found


def test_the_list_refuses_a_filter_it_does_not_offer_beside_its_field(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    staff = signed_in(app.test_client(), billing_staff)
    answer = staff.get("/console/finance/lines?kind=rent&use=gardening&from=2027-13")
    assert answer.status_code == 422
    body = html.unescape(answer.get_data(as_text=True))
    assert "Kind takes one of: Up-front fees" in body
    assert "the link gave “gardening”" in body
    assert "From month takes a month such as 2027-03" in body
    assert staff.get("/console/finance/lines?kind=fee&kind=royalty").status_code == 400


def test_licensing_staff_and_vendors_may_not_open_the_lines(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    session = db.session()
    licensing = factories.make_staff(session, roles=("licensing",))
    assert signed_in(app.test_client(), licensing).get("/console/finance/lines").status_code == 403
    assert signed_in(app.test_client(), vendor).get("/console/finance/lines").status_code == 403


# --- Round 61 (lines61): paged by the database; the credit notes exported too ----------


def _export_link(body: str, element_id: str) -> dict[str, str] | None:
    """The export a list links by `element_id`, as the API's query (its dataset apart)."""
    found = re.search(rf'<a href="([^"]+)" id="{element_id}">', body)
    return dict(parse_qsl(urlsplit(html.unescape(found[1])).query)) if found else None


@pytest.mark.parametrize("currency", CURRENCIES)
def test_every_revenue_cell_is_the_invoice_lines_export_less_the_credit_note_lines_export(
    ledger: Walk, currency: str
) -> None:
    """Round 60 left the royalty credit notes out of the files: the invoice lines
    export of a net cell summed to its gross. Each list now links the credit note lines
    export with its filter (`kind=royalty` and the classification) beside the invoice
    lines', and the cell's figure is the first's amounts less the second's, the second's
    rows the list's credit notes' parts. (Read from the module's walk of every cell
    and the exports each list links.)"""
    credited_cells = 0
    for href, name in _revenue_links(ledger.pages[currency]):
        if "/console/finance/lines" not in href:
            continue
        figure = _amount(name)
        shown = dict(parse_qsl(urlsplit(href).query)).get("shown")
        _status, body = ledger.get(href)
        invoiced_query = _export_link(body, "lines-export")
        credits_query = _export_link(body, "credit-lines-export")
        invoiced = credited = Decimal(0)
        if invoiced_query is not None:
            assert invoiced_query.pop("dataset") == "invoice_lines"
            text = ledger.export("invoice_lines", "csv", invoiced_query).decode("utf-8")
            invoiced = sum(
                (Decimal(row["amount"]) for row in csv.DictReader(io.StringIO(text))),
                Decimal(0),
            )
        if credits_query is not None:
            assert credits_query.pop("dataset") == "credit_note_lines"
            assert credits_query["kind"] == "royalty"
            text = ledger.export("credit_note_lines", "csv", credits_query).decode("utf-8")
            parts = list(csv.DictReader(io.StringIO(text)))
            credited = sum((Decimal(row["amount"]) for row in parts), Decimal(0))
            # Round 62 (lines62): row for row, a part of 0.00 in both.
            listed = sorted(
                (number, position, -amount) for number, position, amount in _credit_rows(body)
            )
            assert (
                sorted(
                    (row["invoice_number"], row["line_position"], Decimal(row["amount"]))
                    for row in parts
                )
                == listed
            ), href
            credited_cells += bool(parts)
        assert (credited if shown == "credited" else invoiced - credited) == figure, (
            href,
            name,
        )
    assert credited_cells >= 2  # the credit notes' cells and the nets were followed


def _credit_rows(body: str) -> list[tuple[str, str, Decimal]]:
    """The list's rows that are a credit note's part: (invoice number, line, amount)."""
    invoiced = set(_invoiced_rows(body))
    return [row for row in _rows(body) if row not in invoiced or row[2] < 0]


def test_the_credit_note_lines_export_takes_the_pages_classification(
    client: FlaskClient, ledger: Walk, billing_staff: User
) -> None:
    """Worked by hand: USD, SaaS's royalty credit notes in Q1 are 257.70 (300.00 over
    812.40/100.01/33.33); development's 31.73, the unclassified line's 10.57;
    December's 99.99 on an education line; up-front fees have none; a type no line
    has, none."""
    fetch = exporter(client, billing_staff, "credit_note_lines")
    q1 = {"by": "issued", "from": "2027-01-01", "to": "2027-03-31", "currency": "USD"}

    def parts(**filters: str) -> list[tuple[str, Decimal]]:
        text = fetch("csv", **q1, **filters).decode("utf-8")
        return [
            (row["line_position"], Decimal(row["amount"]))
            for row in csv.DictReader(io.StringIO(text))
        ]

    assert parts(kind="royalty", product_type="saas") == [("1", Decimal("257.70"))]
    assert parts(kind="royalty", use="development") == [("2", Decimal("31.73"))]
    assert parts(kind="royalty", user_type="academic") == [("1", Decimal("99.99"))]
    assert parts(kind="royalty", use="unclassified") == [("3", Decimal("10.57"))]
    assert parts(kind="fee") == []
    assert parts(kind="royalty", organization_type="government") == []
    assert sum((amount for _, amount in parts(kind="royalty")), Decimal(0)) == Decimal("399.99")


def test_a_credit_note_s_part_of_nothing_is_a_row_of_the_list_and_of_the_file(
    app: Flask,
    client: FlaskClient,
    ledger: Walk,
    billing_staff: User,
    signed_in: SignIn,
) -> None:
    """Round 62 (lines62): round 61 left a credit note's part of 0.00 on the list and
    out of `credit_note_lines`, so the two disagreed row for row (sums equal). 0.01
    credited over 812.40, 100.01 and 33.33 is 0.01, 0.00 and 0.00: three rows in both,
    narrowed to a classification too (development's part of nothing)."""
    royalties = (
        db.session()
        .scalars(
            select(Invoice).where(Invoice.source_type == "royalty_report", Invoice.source_id == 11)
        )
        .one()
    )
    note = credited(royalties.id, "0.01", "Rounding", now=at(date(2027, 3, 6)))
    fetch = exporter(client, billing_staff, "credit_note_lines")
    q1 = {"from": "2027-03-06", "to": "2027-03-06", "currency": "USD", "kind": "royalty"}
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        for narrowed in ({}, {"use": "development"}, {"use": "unclassified"}):
            body = staff.get(
                "/console/finance/lines",
                query_string={
                    "from": "2027-03",
                    "to": "2027-03",
                    "currency": "USD",
                    "kind": "royalty",
                    "shown": "credited",
                    **narrowed,
                },
            ).get_data(as_text=True)
            listed = sorted(
                (
                    re.sub(r"<[^>]+>", "", cells[2]).strip(),
                    -_amount(re.sub(r"<[^>]+>", " ", cells[-1])),
                )
                for row in re.findall(rf'<tr id="credit-{note.id}-line-\d+">(.*?)</tr>', body, re.S)
                if (cells := re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
            )
            text = fetch("csv", by="issued", **q1, **narrowed).decode("utf-8")
            exported = sorted(
                (row["line_position"], Decimal(row["amount"]))
                for row in csv.DictReader(io.StringIO(text))
                if row["credit_note_number"] == note.number
            )
            assert exported == listed, narrowed
            assert len(exported) == (3 if not narrowed else 1)
            assert sum((amount for _, amount in exported), Decimal(0)) == (
                Decimal("0.01") if not narrowed else 0
            )


FILTERS = [
    {},
    {"kind": "fee"},
    {"kind": "royalty"},
    {"kind": "license"},
    {"kind": "other"},
    {"shown": "invoiced"},
    {"shown": "credited"},
    {"kind": "royalty", "shown": "credited"},
    {"kind": "fee", "shown": "credited"},
    {"kind": "license", "shown": "invoiced"},
    # Round 61 (classified61): a classification asked, chosen by the lines' columns.
    {"kind": "royalty", "product_type": "saas"},
    {"kind": "royalty", "shown": "credited", "use": "development"},
    {"kind": "license", "shown": "invoiced", "user_type": "academic"},
    {"use": "unclassified"},
    {"kind": "other", "organization_type": "unclassified"},
    {"organization_type": "commercial", "use": "distribution"},
    {"kind": "fee", "product_type": "print"},
    {"organization_type": "government"},
]


@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY", None])
def test_a_list_paged_by_the_database_is_the_list_chosen_in_python(
    app: Flask, ledger: Walk, currency: str | None
) -> None:
    """Round 61: the database chooses, orders, pages and sums the rows (with a
    classification asked too, by the lines' stored columns: classified61): page by page
    (three rows a page) the rows and every page's amounts are those the whole list
    chosen, classified and sorted in Python (round 60's reading) shows, and the totals
    its."""
    from licensing.finance import lines

    session = db.session()
    for months in ((date(2027, 1, 1), date(2027, 3, 31)), (date(2027, 2, 1), date(2027, 2, 28))):
        for asked in FILTERS:
            values = {axis: asked[axis] for axis in classification.AXES if axis in asked}
            given = lines.LineFilter(
                *months, currency, asked.get("kind"), asked.get("shown"), values
            )
            every = lines.entries(session, given)
            assert lines.summed(session, given) == lines.totals(every), asked
            statement = lines.keys(given)
            paged: list[lines.Entry] = []
            for offset in range(0, len(every) + 3, 3):
                page = session.execute(statement.limit(3).offset(offset)).all()
                paged.extend(lines.page_entries(session, page))
            assert paged == every, (months, asked)
    assert lines.entries(session, lines.LineFilter(currency=currency))  # not all empty


def test_a_page_of_the_list_classifies_no_line_it_reads_each_as_stored_when_issued(
    app: Flask,
    ledger: Walk,
    billing_staff: User,
    signed_in: SignIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round 60's list classified every line of the months on every page (a year at
    30,000 invoices: seconds a page); lines61 classified the 50 rows it shows when no
    classification was asked, and still every line of the months when one was. Now
    (classified61) a line's classification is stored when it is issued: a page, with or
    without a classification asked, classifies no line, and its count and figure are the
    whole list's."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Kestrel Data Ltd.").id
    for day in range(1, 29):
        _issue(
            osprey, ("agreement", 100 + day), [("10.00", DEV), ("0.01", None)], date(2027, 2, day)
        )
    classified: list[int] = []
    plugged = classification._CLASSIFIERS["agreement"]

    def counted(session: Any, given: Any) -> Any:
        classified.append(len(given))
        return plugged(session, given)

    monkeypatch.setitem(classification._CLASSIFIERS, "agreement", counted)
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        first = staff.get("/console/finance/lines?month=2027-02&currency=USD&kind=fee")
        body = first.get_data(as_text=True)
        assert first.status_code == 200
        assert len(_rows(body)) == 50
        # 56 lines of February's up-front invoices (the void one's is not counted).
        assert re.search(r"<td class=\"num\">56</td>", body)
        found = re.search(r'id="line-sum-USD">.*?([-\d,.]+) USD', body)
        assert found is not None
        assert found[1] == "280.28"
        second = staff.get("/console/finance/lines?month=2027-02&currency=USD&kind=fee&page=2")
        assert len(_rows(second.get_data(as_text=True))) == 6
        # A cell of the page's tables: development's up-front fees of February.
        narrowed = staff.get(
            "/console/finance/lines?month=2027-02&currency=USD&kind=fee&use=development"
        )
        body = narrowed.get_data(as_text=True)
        assert narrowed.status_code == 200
        assert len(_rows(body)) == 28
        found = re.search(r'id="line-sum-USD">.*?([-\d,.]+) USD', body)
        assert found is not None
        assert found[1] == "280.00"
    assert classified == []
