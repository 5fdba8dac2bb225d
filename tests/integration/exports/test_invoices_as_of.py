"""Round 59 (asof59): the invoices export said each invoice as it stands today, so a
finance system re-reading a closed quarter had to go to `receivables` for what was owed
at its end. With `as_of` it says each invoice issued by that day as it stood at the
day's end at the office, by the receivables' rule (the bank's days): its state, paid
and voided days, paid, credited, refunded and balance due. Its balances add up to the
receivables export as of the day, invoice by invoice, and to the Finance page's
*Outstanding* on the day (less the invoices voided since, which count nowhere there).

    A  INV 1000.00  issued 2027-01-15, a wire received 01-20         paid from 01-20
    B  INV  500.00  issued 2027-01-15, written off 02-10             open, then uncollectible
    C  INV  700.00  issued 2027-01-15, a cheque received 01-18, returned by the
                    bank on 01-25, recorded 03-03 behind a credit note of 03-01:
                    paid by `paid_at` since 01-18, owing 01-25 to 02-28 by the bank's days
    D  INV  300.00  issued 2027-01-15, voided 02-05 (issued in error)
    E  INV  200.00  issued 2027-02-15                                 not there before
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services as billing
from licensing.exports.datasets import invoices
from licensing.exports.filters import ExportFilter
from licensing.finance.queries import owed_on
from tests.support.billing import cheque_returned_behind_a_credit
from tests.support.exports import Export, both, exporter
from tests.support.factories import bearer, billing_clerk
from tests.support.monthly_statements import IN_JANUARY, invoice, organization, paid


def _history() -> dict[str, str]:
    """The module's docstring's invoices: their letters by number."""
    owner = organization("Quillfeather Analytics")
    a = invoice(owner.id, "1000.00", IN_JANUARY)
    paid(a, date(2027, 1, 20))
    b = invoice(owner.id, "500.00", IN_JANUARY)
    c = invoice(owner.id, "700.00", IN_JANUARY)
    d = invoice(owner.id, "300.00", IN_JANUARY)
    billing.void_invoice(
        d.id,
        reason="Issued in error",
        now=datetime(2027, 2, 5, 18, 0, tzinfo=UTC),
        actor=billing_clerk(),
    )
    billing.mark_uncollectible(
        b.id,
        reason="The licensee stopped answering",
        now=datetime(2027, 2, 10, 18, 0, tzinfo=UTC),
        actor=billing_clerk(),
    )
    cheque_returned_behind_a_credit(c.id, "700.00")
    e = invoice(owner.id, "200.00", datetime(2027, 2, 15, 15, 0, tzinfo=UTC))
    return {str(each.number): letter for letter, each in zip("ABCDE", (a, b, c, d, e), strict=True)}


_FETCHERS: dict[tuple[int, str], Export] = {}


@pytest.fixture(autouse=True)
def _tokens_of_this_test() -> Iterator[None]:
    """Each test's tokens are its own (its transaction is rolled back after it)."""
    _FETCHERS.clear()
    yield
    _FETCHERS.clear()


def _rows(
    client: FlaskClient, staff: User, format_name: str, dataset: str = "invoices", **filters: str
) -> list[dict]:
    """The export's rows through the API (one token a test and dataset)."""
    key = (id(client), dataset)
    if key not in _FETCHERS:
        _FETCHERS[key] = exporter(client, staff, dataset)
    body = _FETCHERS[key](format_name, **filters).decode("utf-8")
    if format_name == "jsonl":
        return [json.loads(line) for line in body.splitlines()[1:]]
    return list(csv.DictReader(io.StringIO(body)))


def _by_letter(letters: dict[str, str], rows: list[dict]) -> dict[str, dict]:
    return {letters[row["invoice_number"]]: row for row in rows}


def _said(row: dict, *names: str) -> tuple[str, ...]:
    return tuple("" if row[name] is None else str(row[name]) for name in names)


COLUMNS = ("state", "paid_date", "voided_date", "amount_paid", "amount_credited")
MONEY = ("balance_due", "amount_refunded")


def test_each_invoice_reads_as_it_stood_at_the_end_of_the_day(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    letters = _history()
    today = _by_letter(letters, _rows(client, billing_staff, "csv"))
    # Today: C reads paid (credited in full), its cheque's return behind the note.
    assert _said(today["C"], *COLUMNS, *MONEY) == (
        "paid", "2027-01-18", "", "0.00", "700.00", "0.00", "0.00",
    )  # fmt: skip
    expected = {
        "2027-01-19": {
            "A": ("open", "", "", "0.00", "0.00", "1000.00", "0.00"),
            "B": ("open", "", "", "0.00", "0.00", "500.00", "0.00"),
            "C": ("paid", "2027-01-18", "", "700.00", "0.00", "0.00", "0.00"),
            "D": ("open", "", "", "0.00", "0.00", "300.00", "0.00"),
        },
        "2027-02-20": {
            "A": ("paid", "2027-01-20", "", "1000.00", "0.00", "0.00", "0.00"),
            "B": ("uncollectible", "", "", "0.00", "0.00", "500.00", "0.00"),
            # Owed by the bank's days: its cheque returned on 25 January.
            "C": ("open", "", "", "0.00", "0.00", "700.00", "0.00"),
            "D": ("void", "", "2027-02-05", "0.00", "0.00", "0.00", "0.00"),
            "E": ("open", "", "", "0.00", "0.00", "200.00", "0.00"),
        },
    }
    for day, invoices_then in expected.items():
        for format_name in ("csv", "jsonl"):
            rows = _by_letter(letters, _rows(client, billing_staff, format_name, as_of=day))
            assert {letter: _said(row, *COLUMNS, *MONEY) for letter, row in rows.items()} == (
                invoices_then
            ), (day, format_name)
    # A state filter reads the state as it stood.
    owing = _rows(client, billing_staff, "csv", as_of="2027-02-20", state="open")
    assert {letters[row["invoice_number"]] for row in owing} == {"C", "E"}


def test_the_balances_as_of_each_day_are_the_receivables_and_the_finance_pages(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    letters = _history()
    voided_since = {row["invoice_number"] for row in _rows(client, billing_staff, "csv")} - {
        row["invoice_number"]
        for row in _rows(client, billing_staff, "csv", state="open")
        + _rows(client, billing_staff, "csv", state="paid")
        + _rows(client, billing_staff, "csv", state="uncollectible")
    }
    assert {letters[number] for number in voided_since} == {"D"}
    day = date(2027, 1, 14)
    while day <= date(2027, 3, 5):
        then = _rows(client, billing_staff, "csv", as_of=day.isoformat())
        owing = {row["invoice_number"]: row["balance_due"] for row in then}
        owing = {number: due for number, due in owing.items() if Decimal(due) > 0}
        receivable = _rows(client, billing_staff, "csv", "receivables", as_of=day.isoformat())
        assert owing == {row["invoice_number"]: row["balance"] for row in receivable}, day
        page = sum((owed.balance for owed in owed_on(db.session(), "USD", day)), Decimal(0))
        counted = sum(
            (Decimal(due) for number, due in owing.items() if number not in voided_since),
            Decimal(0),
        )
        assert counted == page, day
        assert all(row["issue_date"] <= day.isoformat() for row in then), day
        day += timedelta(days=3)


def test_the_database_writes_the_csv_python_writes(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    _history()
    for day in (date(2027, 1, 19), date(2027, 2, 6), date(2027, 2, 20), date(2027, 3, 2)):
        for given in (
            ExportFilter(as_of=day),
            ExportFilter(as_of=day, state="open", currency="USD"),
            ExportFilter(as_of=day, date_basis="issued", date_from=date(2027, 1, 1)),
        ):
            by_database, by_python = both(given, invoices.DATASET)
            assert by_database == by_python, given
            assert by_database.count(b"\r\n") > 1, given


def test_without_as_of_the_export_is_today_and_its_filter_says_none(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    _history()
    fetch = exporter(client, billing_staff, "invoices")
    body = fetch("jsonl").decode("utf-8")
    assert "as_of" not in json.loads(body.splitlines()[0])["filter"]
    dated = fetch("jsonl", as_of="2027-02-20")
    assert json.loads(dated.decode("utf-8").splitlines()[0])["filter"]["as_of"] == "2027-02-20"
    refused = client.get(
        "/api/v1/exports/invoices",
        query_string={"as_of": "2027-02-31"},
        headers=bearer(billing_staff),
    )
    assert refused.status_code == 422


def test_the_finance_pages_aging_links_the_invoices_as_they_stood_on_its_day(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: Any
) -> None:
    letters = _history()
    with time_machine.travel(datetime(2027, 3, 10, 15, 0, tzinfo=UTC), tick=False):
        console = signed_in(client, billing_staff)
        page = console.get(
            "/console/finance/",
            query_string={"from": "2027-01", "to": "2027-02", "as_of": "2027-02-20"},
        ).get_data(as_text=True)
        found = re.search(r'<a href="([^"]+)">invoices as of (.*?) \(CSV\)</a>', page)
        assert found is not None, page
        assert "February 20, 2027" in found.group(2)
        link = html.unescape(found.group(1))
        assert {"dataset=invoices", "as_of=2027-02-20", "currency=USD"} <= set(
            link.split("?", 1)[1].split("&")
        )
        rows = list(csv.DictReader(io.StringIO(console.get(link).get_data(as_text=True))))
    owing = {letters[r["invoice_number"]]: r["balance_due"] for r in rows}
    assert owing == {"A": "0.00", "B": "500.00", "C": "700.00", "D": "0.00", "E": "200.00"}
    aging = sum(
        (owed.balance for owed in owed_on(db.session(), "USD", date(2027, 2, 20))), Decimal(0)
    )
    assert sum((Decimal(due) for due in owing.values()), Decimal(0)) == aging
