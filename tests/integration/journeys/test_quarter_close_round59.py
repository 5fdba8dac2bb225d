"""Round 59 (closewalk59): the finance team closes the second quarter of 2027, read by
its finance manager on the Finance page and by the finance system that ingests the
exports (docs/finance-dashboard.md, "Closing a quarter").

The quarter is round 51's busy April (`april`: royalty reports filed and amended, card
and offline payments, a partial refund to the card, credit notes, a dispute lost and one
won, a flagged card payment accepted short, a cheque returned, an overdue invoice's late
fee, three currencies), then, at 23:59 on 30 June at the office (04:59 UTC on 1 July), a
500.00 invoice issued and a 120.00 one paid by card. On 2 July the manager reads the
quarter and pulls every export of it, CSV and JSON Lines; in July the next quarter's
activity comes (payments of the quarter's invoices, a wire of April returned, a credit
note, an amendment of a royalty report, the overdue run's late fees), and the quarter is
exported again.

Round 63: the month, the quarter's last minute and the close's pulls (every export of
the quarter, and the whole ledger's invoices, payments, credit notes and lines) are
made once a module and backend (`closed_quarter`); each test reads them, and writes
what it writes (July's activity, a void), in a savepoint of its own.

Round 64: the month is made without the finance system's nightly pulls of April
(`pulled_nightly`), which no test here reads; the month's records are the same.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing import services as billing
from licensing.finance import queries as finance
from licensing.finance.queries import Filters
from licensing.royalties.models import RoyaltyReport
from tests.conftest import DatabaseTemplate
from tests.integration.billing.refund_support import paid_by_card
from tests.integration.exports.conftest import read_jsonl
from tests.integration.journeys.busy_april import (  # noqa: F401 - fixtures
    _TOKENS,
    PreparedApril,
    _api,
    _credited,
    _file,
    _headers,
    _invoice,
    _manual,
    _paid,
    april_billing_staff,
    april_vendor,
    config_changes,
    loaded,
    module_app,
    prepared_april,
    stored,
)
from tests.integration.royalties.conftest import row
from tests.support.servers import LocalStripe

# The module runs on one worker: the month and the close made once a module and backend
# (`module_connection`) was made again on each worker its tests were handed to
# (round 64: the CI spread them over both).
pytestmark = pytest.mark.xdist_group("quarter_close_round59")

ZERO = Decimal(0)
QUARTER = (date(2027, 4, 1), date(2027, 6, 30))
DAYS = {"from": "2027-04-01", "to": "2027-06-30"}
# 23:59 on 30 June at the office (Chicago, UTC-05:00 in summer): 1 July in UTC.
LAST_MINUTE = datetime(2027, 7, 1, 4, 59, tzinfo=UTC)
CLOSE = datetime(2027, 7, 2, 15, 0, tzinfo=UTC)  # 10:00 on 2 July at the office
# Every export of the quarter as the close pulls it: (dataset, filter) -> the days.
EXPORTS: dict[tuple[str, str], dict[str, str]] = {
    ("invoices", "issued"): {"by": "issued", **DAYS},
    ("invoice_lines", "issued"): {"by": "issued", **DAYS},
    ("payments", "paid"): {"by": "paid", **DAYS},
    ("payments", "reversed"): {"by": "reversed", "state": "reversed", **DAYS},
    ("credit_notes", "issued"): {"by": "issued", **DAYS},
    ("credit_note_lines", "issued"): {"by": "issued", **DAYS},
    ("refunds", "paid"): {"by": "paid", **DAYS},
    ("refunds", "reversed"): {"by": "reversed", **DAYS},
    ("royalty_report_lines", "issued"): {"by": "issued", **DAYS},
    ("revenue_recognition", "period"): {"by": "period", **DAYS},
    ("agreements", "period"): {"by": "period", **DAYS},
    ("receivables", "as_of"): {"as_of": "2027-06-30"},
}
# The columns that say what a record is *now* (docs/exports.md: "each row is the
# record as it stands"), which the next quarter's activity may change in a closed
# quarter's rows; every other cell of every row stays as it was.
AS_IT_STANDS = {
    "invoices": {
        "state",
        "paid_date",
        "voided_date",
        "amount_paid",
        "amount_credited",
        "balance_due",
        "amount_refunded",
    },
    "invoice_lines": {"invoice_state"},
    # Round 60: the names beside the addresses are the people's names now.
    "payments": {
        "state",
        "reversed_on",
        "reversal_reason",
        "reversed_by",
        "reversed_amount",
        "reversed_by_name",
    },
    "royalty_report_lines": {"report_state", "review_state"},
    "receivables": {"state"},
    "agreements": {"state", "ended_date", "charged_to_date", "renewed_by"},
}
DOCS = Path(__file__).resolve().parents[3] / "docs" / "exports.md"


def _total(rows: Iterable[dict[str, Any]], column: str = "amount") -> Decimal:
    return sum((Decimal(r[column]) for r in rows if r[column] not in (None, "")), ZERO)


def _csv(client: FlaskClient, staff: User, dataset: str, **filters: str) -> str:
    response = client.get(
        f"/api/v1/exports/{dataset}",
        query_string={"format": "csv", **filters},
        headers=_headers(staff),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _documented_columns(dataset: str) -> list[str]:
    """The columns docs/exports.md's table lists for `dataset`, in order."""
    section = DOCS.read_text().split(f"### `{dataset}`:", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE)


# The whole ledger as the finance system holds it at the close: every row so far.
LEDGER = ("invoices", "payments", "credit_notes", "invoice_lines")


@dataclass(frozen=True)
class ClosedQuarter:
    """The quarter as its close found it: what was made (records by id, `stored`),
    every export of the quarter pulled at the close (`_the_quarter`), and the whole
    ledger's CSV files (`LEDGER`) pulled then too."""

    made: dict[str, Any]
    pulled: dict[tuple[str, str], tuple[str, bytes]]
    ledger: dict[str, str]


@pytest.fixture(scope="module")
def pulled_nightly() -> bool:
    """The month is made without the finance system's nightly pulls: the close reads
    no night's pull (round 64: 198 exports, most of the month's making)."""
    return False


@pytest.fixture(scope="module")
def closed_quarter(
    request: pytest.FixtureRequest,
    database_template: DatabaseTemplate,
    module_connection: Connection,
    localstripe: LocalStripe,
    prepared_april: PreparedApril,  # noqa: F811
) -> ClosedQuarter:
    """April's records, then the quarter's last minute at the office, and the close's
    pulls at 10:00 on 2 July: made once a module and backend on the module's connection
    (round 63: each test made the month and the minute again, and pulled the same 24
    files of the quarter, which it only reads)."""
    with module_app(request, database_template, module_connection, localstripe) as application:
        client = application.test_client()
        session = db.session()
        vendor = session.get(User, prepared_april.vendor_id)
        billing_staff = session.get(User, prepared_april.billing_staff_id)
        assert vendor is not None
        assert billing_staff is not None
        made = loaded(prepared_april.made)
        late_payer = _invoice(made["overdue"]["number"]).organization_id
        _TOKENS.clear()
        with time_machine.travel(LAST_MINUTE, tick=False):
            made["last_minute"] = _manual(client, billing_staff, late_payer, "500.00")
            carded = _invoice(
                _manual(client, billing_staff, vendor.organization_id, "120.00")["number"]
            )
            made["last_minute_card"] = carded.number
            made["last_minute_payment"] = paid_by_card(client, vendor, localstripe, carded).id
        with time_machine.travel(CLOSE, tick=False):
            pulled = _the_quarter(client, billing_staff)
            ledger = {dataset: _csv(client, billing_staff, dataset) for dataset in LEDGER}
        _TOKENS.clear()
        return ClosedQuarter(stored(made), pulled, ledger)


@pytest.fixture
def quarter(closed_quarter: ClosedQuarter, app: Flask) -> dict[str, Any]:
    """What was made, its records loaded in this test's session."""
    _TOKENS.clear()  # a token the test before made went with its savepoint
    return loaded(closed_quarter.made)


@pytest.fixture
def at_close(closed_quarter: ClosedQuarter, app: Flask) -> ClosedQuarter:
    """The quarter's exports and the ledger as pulled at the close."""
    _TOKENS.clear()
    return closed_quarter


def _the_quarter(client: FlaskClient, staff: User) -> dict[tuple[str, str], tuple[str, bytes]]:
    """Every export of the quarter, (CSV text, JSON Lines bytes), as pulled at the close."""
    pulled = {}
    for (dataset, basis), filters in EXPORTS.items():
        text = _csv(client, staff, dataset, **filters)
        lines = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": "jsonl", **filters},
            headers=_headers(staff),
        )
        assert lines.status_code == 200, lines.get_data(as_text=True)
        pulled[(dataset, basis)] = (text, lines.get_data())
    return pulled


def _page_words(client: FlaskClient, **query: str) -> tuple[str, str]:
    page = client.get("/console/finance/", query_string=query)
    assert page.status_code == 200
    markup = page.get_data(as_text=True)
    return markup, _words(markup)


def _words(markup: str) -> str:
    """A page's text as read, without the spaces its tags leave before punctuation."""
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())
    return re.sub(r" ([,.;:])", r"\1", words)


def test_the_quarter_on_the_finance_page_is_every_export_of_it_to_the_cent(
    client: FlaskClient,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    at_close: ClosedQuarter,
) -> None:
    session = db.session()
    pulled = at_close.pulled
    everything = {r["invoice_number"]: r for r in _rows(at_close.ledger["invoices"])}
    voided_since = {n for n, r in everything.items() if r["state"] == "void"}
    for (dataset, _basis), (text, lines) in pulled.items():
        header, body = read_jsonl(lines)
        # Each file's header is the one docs/exports.md documents, in both formats, and
        # the two formats hold the same rows and the same values.
        assert text.splitlines()[0].split(",") == ["schema_version", *_documented_columns(dataset)]
        assert [c["name"] for c in header["columns"]] == _documented_columns(dataset)
        assert len(body) == len(_rows(text)), dataset
        for from_csv, from_json in zip(_rows(text), body, strict=True):
            for name, value in from_json.items():
                cell = from_csv[name]
                said = "" if value is None else value
                if isinstance(value, dict):
                    said = json.dumps(value, separators=(",", ":"))
                    cell = json.dumps(json.loads(cell), separators=(",", ":"))
                assert cell.lstrip("'") == str(said), (dataset, name)

    def rows(dataset: str, basis: str, currency: str) -> list[dict[str, str]]:
        return [r for r in _rows(pulled[(dataset, basis)][0]) if r["currency"] == currency]

    for currency in ("USD", "EUR", "JPY"):
        (figures,) = finance.cash_flow(
            session, Filters(QUARTER[0], date(2027, 6, 1), "quarter", currency)
        )
        assert figures.period.key == "2027-Q2"
        issued = rows("invoices", "issued", currency)
        not_void = [r for r in issued if r["state"] != "void"]
        assert figures.invoiced == _total(not_void, "total"), currency
        assert finance.voided(session, currency, *QUARTER)[1] == _total(
            (r for r in issued if r["state"] == "void"), "total"
        )
        # Every line of the quarter's invoices, voided ones too, is its invoices' totals.
        assert _total(rows("invoice_lines", "issued", currency)) == _total(issued, "total")
        paid = rows("payments", "paid", currency)
        assert figures.collected == _total(
            r for r in paid if r["state"] in ("succeeded", "reversed")
        )
        assert figures.reversed == _total(rows("payments", "reversed", currency), "reversed_amount")
        notes = rows("credit_notes", "issued", currency)
        assert figures.credited == _total(notes)
        assert figures.credited == _total(rows("credit_note_lines", "issued", currency))
        assert figures.refunded == _total(rows("refunds", "paid", currency)) - _total(
            rows("refunds", "reversed", currency)
        )
        owed = rows("receivables", "as_of", currency)
        assert figures.outstanding == _total(
            (r for r in owed if r["invoice_number"] not in voided_since), "balance"
        )
        for aged in finance.aging(session, currency, QUARTER[1]):
            bucket = {"1_30": "1-30", "31_60": "31-60", "61_90": "61-90", "disputed": "not_chased"}
            mine = [r for r in owed if r["aging_bucket"] == bucket.get(aged.key, aged.key)]
            assert (aged.amount, aged.invoices) == (_total(mine, "balance"), len(mine)), aged.key
        # Each licensee's statement of account for the quarter closes on its receivables.
        for organization_id in {r["organization_id"] for r in owed}:
            organization = session.get(Organization, int(organization_id))
            assert organization is not None
            statement = billing.statement_for(
                session,
                organization,
                billing.Asked(start="2027-04-01", end="2027-06-30", currency=currency),
                now=CLOSE,
            )
            theirs = [r for r in owed if r["organization_id"] == organization_id]
            assert statement.closing == _total(theirs, "balance"), (currency, organization_id)
    # The royalties of the quarter: gross and credit notes by the lines exports; the
    # reports filed in it (amendments and the reports they superseded) are the royalty
    # invoices less the credit notes the filings issued.
    revenue = finance.revenue(session, Filters(QUARTER[0], date(2027, 6, 1), "quarter"))
    royalty_lines = [r for r in rows("invoice_lines", "issued", "USD") if r["kind"] == "royalty"]
    assert revenue.royalty == _total(royalty_lines)
    credited_royalties = [
        r for r in rows("credit_note_lines", "issued", "USD") if r["kind"] == "royalty"
    ]
    assert revenue.royalty_credited == _total(credited_royalties)
    by_staff = [
        r
        for r in rows("credit_notes", "issued", "USD")
        if not r["royalty_report"]
        and everything[r["invoice_number"]]["source_type"] == "royalty_report"
    ]
    dues = _total(rows("royalty_report_lines", "issued", "USD"), "due")
    assert revenue.royalty_net == dues - _total(by_staff)

    # The page the manager reads: the quarter, aged at its last day.
    with time_machine.travel(CLOSE, tick=False):
        signed_in(client, billing_staff)
        markup, words = _page_words(
            client, **{"from": "2027-04", "to": "2027-06", "by": "quarter", "as_of": "2027-06-30"}
        )
        (figures,) = finance.cash_flow(session, Filters(QUARTER[0], date(2027, 6, 1), "quarter"))
        assert "From April 1, 2027 to June 30, 2027, by quarter, in USD" in words
        said = dict(
            re.findall(
                r"(invoiced|collected|reversed|credited|net refunds)"
                r"(?: \([^)]*\))? (-?[\d,]+\.\d\d) USD",
                words,
            )
        )
        assert {k: Decimal(v.replace(",", "")) for k, v in said.items()} == {
            "invoiced": figures.invoiced,
            "collected": figures.collected,
            "reversed": figures.reversed,
            "credited": figures.credited,
            "net refunds": figures.refunded,
        }
        # The revenue section links the rows behind it (round 59), for the quarter's days.
        section = markup.split('id="revenue-exports"', 1)[1].split("</p>", 1)[0]
        linked = {
            name: html.unescape(href)
            for href, name in re.findall(r'<a href="([^"]+)">([^<]+)</a>', section)
        }
        assert set(linked) == {
            "invoice lines issued",
            "credit note lines issued",
            "royalty report lines filed",
            "revenue recognized in these months",
        }
        for href in linked.values():
            assert {"from=2027-04-01", "to=2027-06-30", "currency=USD"} <= set(
                href.split("?", 1)[1].split("&")
            )
        downloaded = _rows(client.get(linked["invoice lines issued"]).get_data(as_text=True))
        assert _total(downloaded) == figures.invoiced + finance.voided(session, "USD", *QUARTER)[1]
        downloaded = _rows(client.get(linked["credit note lines issued"]).get_data(as_text=True))
        assert _total(downloaded) == figures.credited
        downloaded = _rows(client.get(linked["royalty report lines filed"]).get_data(as_text=True))
        assert _total(downloaded, "due") == dues


def test_every_row_of_the_quarters_exports_is_found_in_the_others_by_a_key(
    quarter: dict[str, Any], at_close: ClosedQuarter
) -> None:
    pulled = {key: _rows(text) for key, (text, _lines) in at_close.pulled.items()}
    # The finance system's ledger: every invoice, payment, credit note and line so far.
    invoices = {r["invoice_number"]: r for r in _rows(at_close.ledger["invoices"])}
    payments = {r["payment_id"]: r for r in _rows(at_close.ledger["payments"])}
    notes = {r["credit_note_number"]: r for r in _rows(at_close.ledger["credit_notes"])}
    every_line = {
        (r["invoice_number"], r["line_position"]) for r in _rows(at_close.ledger["invoice_lines"])
    }
    lines = {(r["invoice_number"], r["line_position"]) for r in pulled[("invoice_lines", "issued")]}
    invoices_by_id = {r["invoice_id"]: r for r in invoices.values()}
    for found in pulled[("invoice_lines", "issued")]:
        assert invoices_by_id[found["invoice_id"]]["invoice_number"] == found["invoice_number"]
    for found in pulled[("invoices", "issued")]:
        if found["source_type"] == "late_fee":  # the late fee names the invoice it is for
            assert found["source_reference"] in invoices
        assert {(found["invoice_number"], "1")} <= lines
    for basis in ("paid", "reversed"):
        for found in pulled[("payments", basis)]:
            assert found["invoice_number"] in invoices, found["payment_id"]
            if found["reinstates_payment_id"]:  # a dispute won: the money withdrawn
                withdrawn = payments[found["reinstates_payment_id"]]
                assert withdrawn["stripe_dispute_id"] == found["stripe_dispute_id"]
                assert withdrawn["invoice_number"] == found["invoice_number"]
    for found in pulled[("credit_notes", "issued")]:
        assert found["invoice_number"] in invoices
    for found in pulled[("credit_note_lines", "issued")]:
        assert notes[found["credit_note_number"]]["invoice_number"] == found["invoice_number"]
    for basis in ("paid", "reversed"):
        for found in pulled[("refunds", basis)]:
            note = notes[found["credit_note_number"]]
            assert note["invoice_number"] == found["invoice_number"]
            # Round 59: a card refund names the card payment it went back to.
            if found["method"] == "card":
                paid = payments[found["payment_id"]]
                assert (paid["method"], paid["invoice_number"]) == ("card", found["invoice_number"])
            else:
                assert found["payment_id"] == ""
    card_refunds = [r for r in pulled[("refunds", "paid")] if r["method"] == "card"]
    assert [r["payment_id"] for r in card_refunds] == [str(quarter["card_rest"].id)]
    for found in pulled[("receivables", "as_of")]:
        assert invoices[found["invoice_number"]]["total"] == found["total"]
    for found in pulled[("revenue_recognition", "period")]:
        assert (found["invoice_number"], found["line_position"]) in every_line
        if found["document_type"] == "credit_note":
            assert notes[found["document_number"]]["invoice_number"] == found["invoice_number"]
    for found in pulled[("royalty_report_lines", "issued")]:
        if found["invoice_number"]:
            invoice = invoices[found["invoice_number"]]
            assert (invoice["royalty_report_id"], invoice["royalty_report_number"]) == (
                found["report_id"],
                found["report_number"],
            )
        for number in filter(None, found["credit_note_numbers"].split(";")):
            assert notes[number]["royalty_report"] == found["report_number"]


# The key a finance system books each dataset's rows by (docs/exports.md), and the
# column that names the row's document in `_changes`'s answer.
KEYS = {
    "invoices": ("invoice_id",),
    "invoice_lines": ("invoice_id", "line_position"),
    "payments": ("payment_id",),
    "credit_notes": ("credit_note_id",),
    "credit_note_lines": ("credit_note_number", "line_position"),
    "refunds": ("refund_id",),
    "royalty_report_lines": ("report_id", "line"),
    "revenue_recognition": ("document_type", "document_number", "line_position", "period"),
    "agreements": ("agreement_number",),
    "receivables": ("invoice_number",),
}


def _changes(before: str, after: str, dataset: str) -> dict[str, set[str]]:
    """Row by row, the columns whose cells changed, by the row's invoice number (its
    report number for royalty report lines); the rows themselves, by their keys and in
    their order, must be the same."""
    old, new = _rows(before), _rows(after)
    keys = KEYS[dataset]
    assert [[r[k] for k in keys] for r in old] == [[r[k] for k in keys] for r in new], dataset
    named = "report_number" if dataset == "royalty_report_lines" else "invoice_number"
    if dataset == "agreements":
        named = "agreement_number"
    changed: dict[str, set[str]] = {}
    for was, now in zip(old, new, strict=True):
        moved = {name for name in was if was[name] != now[name]}
        if moved:
            changed[was[named]] = changed.get(was[named], set()) | moved
    return changed


def test_the_closed_quarter_exported_again_after_the_next_quarters_activity_is_the_same_rows(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    quarter: dict[str, Any],
    at_close: ClosedQuarter,
) -> None:
    session = db.session()
    v_agreement_id = session.scalar(
        db.select(RoyaltyReport.agreement_id).where(RoyaltyReport.id == quarter["v1b"]["id"])
    )
    before = at_close.pulled
    figures_before = finance.cash_flow(session, Filters(QUARTER[0], date(2027, 6, 1), "quarter"))
    aging_before = finance.aging(session, "USD", QUARTER[1])
    wire = next(
        r for r in _rows(before[("payments", "paid")][0]) if r["reference"] == "WIRE-V-0407"
    )
    with time_machine.travel(datetime(2027, 7, 6, 15, tzinfo=UTC), tick=False):
        # The quarter's open invoices paid, April's wire returned by the bank in July,
        # a credit note on a quarter's invoice, the late fees of July.
        _paid(client, billing_staff, _invoice(quarter["w1"]["invoice"]).id, "6000.00", "W-JUL")
        _api(
            client,
            billing_staff,
            f"/payments/{wire['payment_id']}/reversal",
            {"reason": "Wire recalled by the sending bank.", "returned_on": "2027-07-06"},
        )
        _credited(
            client, billing_staff, _invoice(quarter["last_minute"]["number"]).id, "20.00", "July"
        )
        ran = app.test_cli_runner().invoke(
            args=["invoices", "overdue", "--now", datetime(2027, 7, 6, 16, tzinfo=UTC).isoformat()]
        )
        assert ran.exit_code == 0, ran.output
    with time_machine.travel(datetime(2027, 7, 7, 15, tzinfo=UTC), tick=False):
        # The licensee amends its first quarter's report again (up, invoiced in July).
        assert v_agreement_id is not None
        _file(
            client,
            vendor,
            type("Agreement", (), {"id": v_agreement_id}),
            [row(1, "A", quantity=2950)],
            amends=quarter["v1b"]["id"],
            reason="Clinic A had 2950 users after all",
        )
    with time_machine.travel(datetime(2027, 7, 8, 15, tzinfo=UTC), tick=False):
        after = _the_quarter(client, billing_staff)
    # The same rows, in the same order; only the columns that say what a record is now
    # changed, and each of those only where July's activity touched its record.
    changed = {key: _changes(before[key][0], after[key][0], key[0]) for key in EXPORTS}
    for (dataset, basis), rows in changed.items():
        for record, columns in rows.items():
            assert columns <= AS_IT_STANDS.get(dataset, set()), (dataset, basis, record, columns)
    assert changed[("invoices", "issued")] == {
        quarter["v1"]["invoice"]: {"state", "paid_date", "amount_paid", "balance_due"},
        quarter["w1"]["invoice"]: {"state", "paid_date", "amount_paid", "balance_due"},
        quarter["last_minute"]["number"]: {"amount_credited", "balance_due"},
    }
    assert changed[("payments", "paid")] == {
        quarter["v1"]["invoice"]: {
            "state",
            "reversed_on",
            "reversal_reason",
            "reversed_by",
            "reversed_amount",
            "reversed_by_name",
        }
    }
    # The figures the quarter was closed on are as they were.
    assert (
        finance.cash_flow(session, Filters(QUARTER[0], date(2027, 6, 1), "quarter"))
        == figures_before
    )
    assert finance.aging(session, "USD", QUARTER[1]) == aging_before
    # The JSON Lines files too, but for the header's moment of generation.
    for key in EXPORTS:
        if not AS_IT_STANDS.get(key[0]):
            assert before[key][1].split(b"\n", 1)[1] == after[key][1].split(b"\n", 1)[1], key

    # A void reaches back: voided in July, the quarter's last invoice leaves the
    # quarter's invoiced and outstanding (a void counts nowhere), which the console's
    # confirmation now says, offering the credit note that would not.
    last = _invoice(quarter["last_minute_card"])
    with time_machine.travel(datetime(2027, 7, 8, 16, tzinfo=UTC), tick=False):
        signed_in(client, billing_staff)
        late = _manual(client, billing_staff, last.organization_id, "45.00")
        url = f"/console/invoices/{late['id']}/void"
        asked = client.post(url, data={"void-reason": "Issued in error"})
        assert asked.status_code == 200
        assert "in a month that has ended" not in asked.get_data(as_text=True)
        for_june = _invoice(quarter["last_minute"]["number"])
        asked = client.post(
            f"/console/invoices/{for_june.id}/void", data={"void-reason": "Issued in error"}
        )
        words = _words(asked.get_data(as_text=True))
        assert (
            "It was issued on June 30, 2027, in a month that has ended: voided, it comes out of "
            "June 2027's invoiced and outstanding on the Finance page"
        ) in words
        assert "issue a credit note instead" in words
        done = client.post(
            f"/console/invoices/{for_june.id}/void",
            data={"void-reason": "Issued in error", "confirmed": "yes"},
        )
        assert done.status_code == 302
    # Confirmed, it leaves the closed quarter's invoiced and outstanding.
    (closed,) = figures_before
    (now,) = finance.cash_flow(session, Filters(QUARTER[0], date(2027, 6, 1), "quarter"))
    assert (now.invoiced, now.outstanding) == (
        closed.invoiced - Decimal("500.00"),
        closed.outstanding - Decimal("500.00"),
    )


def test_the_last_minute_of_the_quarter_at_the_office_is_the_quarters_everywhere(
    client: FlaskClient,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    quarter: dict[str, Any],
    at_close: ClosedQuarter,
) -> None:
    invoice = quarter["last_minute"]["number"]
    carded = quarter["last_minute_card"]
    payment_id = str(quarter["last_minute_payment"])
    pulled = {key: _rows(text) for key, (text, _lines) in at_close.pulled.items()}
    with time_machine.travel(CLOSE, tick=False):
        june = {
            key: _rows(_csv(client, billing_staff, key[0], **{**filters, "from": "2027-06-30"}))
            for key, filters in EXPORTS.items()
            if key[0] in ("invoices", "payments", "invoice_lines") and key[1] != "reversed"
        }
        july = {
            dataset: _rows(
                _csv(client, billing_staff, dataset, **{"from": "2027-07-01", "to": "2027-07-31"})
            )
            for dataset in ("invoices", "payments", "invoice_lines")
        }
        recorded_june = _rows(
            _csv(
                client,
                billing_staff,
                "invoices",
                by="recorded",
                **{"from": "2027-06-30", "to": "2027-06-30"},
            )
        )
        recorded_july = _rows(
            _csv(
                client,
                billing_staff,
                "invoices",
                by="recorded",
                **{"from": "2027-07-01", "to": "2027-07-01"},
            )
        )
    issued = {r["invoice_number"]: r for r in pulled[("invoices", "issued")]}
    assert issued[invoice]["issue_date"] == issued[carded]["issue_date"] == "2027-06-30"
    assert issued[carded]["paid_date"] == "2027-06-30"
    (paid,) = [r for r in pulled[("payments", "paid")] if r["payment_id"] == payment_id]
    # The office's day, whatever the UTC stamp says.
    assert paid["paid_date"] == "2027-06-30"
    assert paid["created_at"].startswith("2027-07-01T04:59")
    for dataset in ("invoices", "invoice_lines"):
        assert {invoice, carded} <= {r["invoice_number"] for r in june[(dataset, "issued")]}
        assert not {invoice, carded} & {r["invoice_number"] for r in july[dataset]}
    assert payment_id in {r["payment_id"] for r in june[("payments", "paid")]}
    assert payment_id not in {r["payment_id"] for r in july["payments"]}
    assert {invoice, carded} <= {r["invoice_number"] for r in recorded_june}
    assert not {invoice, carded} & {r["invoice_number"] for r in recorded_july}
    (owed,) = [r for r in pulled[("receivables", "as_of")] if r["invoice_number"] == invoice]
    assert (owed["issue_date"], owed["balance"], owed["aging_bucket"]) == (
        "2027-06-30",
        "500.00",
        "current",
    )
    assert carded not in {r["invoice_number"] for r in pulled[("receivables", "as_of")]}
    recognized = [
        r for r in pulled[("revenue_recognition", "period")] if r["invoice_number"] == invoice
    ]
    assert [(r["period"], r["amount"]) for r in recognized] == [("2027-06", "500.00")]

    # The page: in the second quarter and June, not in the third quarter or July.
    session = db.session()
    (second,) = finance.cash_flow(session, Filters(QUARTER[0], date(2027, 6, 1), "quarter"))
    (third,) = finance.cash_flow(session, Filters(date(2027, 7, 1), date(2027, 7, 1), "quarter"))
    assert third.invoiced == third.collected == ZERO
    months = finance.cash_flow(session, Filters(date(2027, 6, 1), date(2027, 7, 1)))
    assert [(m.period.key, m.invoiced, m.collected) for m in months] == [
        ("2027-06", Decimal("620.00"), Decimal("120.00")),
        ("2027-07", ZERO, ZERO),
    ]
    assert second.outstanding - months[0].outstanding == ZERO
    with time_machine.travel(CLOSE, tick=False):
        signed_in(client, billing_staff)
        listed = client.get(
            "/console/invoices", query_string={"month": "2027-06", "currency": "USD"}
        ).get_data(as_text=True)
    assert invoice in listed
    assert carded in listed
