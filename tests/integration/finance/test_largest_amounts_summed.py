"""Round 60 (edges60): every SUM over money at the largest amounts, on both databases.

One invoice's payments and their returns are not bounded by its total (a wire that did
not clear is returned and the invoice paid again), nor are its refunds and theirs (a
refund the bank returned is owed and sent again). SQLite's SUM of the scaled integers
raises "integer overflow" once its running total passes about 9.2e14 whatever the sum:
the Finance page's balances at each period's end, the balances behind a day's figures
that the invoice list narrows to, the aging's and the top licensees' balances on a day,
and the credit notes list's refunds summed per note failed with a 500. Each is now
`db.money_total` (its window `money_total(...).over(...)`), or `db.money_sum` where
the sum is read back as it is: the right figures, never a 500.

    Vastmoor   INV 99,999,999,999,999.99 issued 1 Jan; a wire of the whole received and
               returned on each of 2-13 Jan (twelve); 99,999,999,999,999.98 paid 20 Jan
               -> owes 0.01
    Brindle    INV 99,999,999,999,999.99 issued and paid 1-2 Jan, credited in full 2 Jan;
               a refund of the whole sent and returned on each of 3-14 Jan (twelve);
               99,999,999,999,999.98 sent 21 Jan -> owed back 0.01
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection

from licensing import db
from licensing.billing import services as billing
from licensing.finance import queries as finance
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.integration.finance.conftest import sums_are_the_ledger_every_day
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.factories import bearer, billing_clerk
from tests.support.monthly_statements import RUN, invoice, organization
from tests.support.pages import text_of

LARGEST = "99999999999999.99"
SHOWN = "99,999,999,999,999.99"
LESS_A_CENT = "99999999999999.98"
ROUND_TRIPS = 12  # past 9.2e14 in scaled units after the invoice's own total


def _at(day: int) -> datetime:
    """Mid-afternoon UTC of a January day: the same day at the office."""
    return datetime(2027, 1, day, 18, 0, tzinfo=UTC)


def _on(day: int) -> date:
    return date(2027, 1, day)


@dataclass(frozen=True)
class Licensee:
    id: int
    legal_name: str


def _history() -> tuple[Licensee, Licensee]:
    payer = organization("Vastmoor Holdings")
    owing = invoice(payer.id, LARGEST, _at(1))
    for day in range(2, 2 + ROUND_TRIPS):
        with time_machine.travel(_at(day), tick=False):
            wire = paid_offline(owing.id, LARGEST, f"W-{day}", received_on=_on(day), now=_at(day))
            reversed_offline(wire.id, "Did not clear", returned_on=_on(day), now=_at(day))
    with time_machine.travel(_at(20), tick=False):
        paid_offline(owing.id, LESS_A_CENT, "W-20", received_on=_on(20), now=_at(20))
    refundee = organization("Brindle Harbor Labs")
    owed_back = invoice(refundee.id, LARGEST, _at(1))
    with time_machine.travel(_at(2), tick=False):
        paid_offline(owed_back.id, LARGEST, "W-B", received_on=_on(2), now=_at(2))
        note = credited(owed_back.id, LARGEST, "Licence cancelled", now=_at(2))
    for day in range(3, 3 + ROUND_TRIPS):
        with time_machine.travel(_at(day), tick=False):
            sent = refunded_offline(note.id, LARGEST, f"R-{day}", sent_on=_on(day), now=_at(day))
            billing.return_offline_refund(
                sent.id,
                reason="Account closed",
                returned_on=_on(day),
                now=_at(day),
                actor=billing_clerk(),
            )
    with time_machine.travel(_at(21), tick=False):
        refunded_offline(note.id, LESS_A_CENT, "R-21", sent_on=_on(21), now=_at(21))
    db.session().commit()
    return Licensee(payer.id, payer.legal_name), Licensee(refundee.id, refundee.legal_name)


@pytest.fixture(scope="module")
def prepared_history(
    database_template: DatabaseTemplate, module_connection: Connection
) -> tuple[Licensee, Licensee]:
    """The two histories, made once a module and backend on its shared connection
    (`module_connection`), through the services as before: every test only reads
    them (pages, the export, statements), each in a savepoint of its own. Each of
    the four tests had made its own (26 round trips through the services)."""
    with app_in_transaction(database_template.url, {}, module_connection, keep=True):
        return _history()


@pytest.fixture
def history(prepared_history: tuple[Licensee, Licensee], app: Flask) -> tuple[Licensee, Licensee]:
    """The module's histories, under the test's own `app` (a savepoint)."""
    return prepared_history


def _words(response: Any) -> str:
    return re.sub(r"\s+", " ", text_of(response))


def test_the_finance_pages_balances_sum_twelve_round_trips_of_the_largest_amount(
    history: tuple[Licensee, Licensee], client: FlaskClient, signed_in: Any, billing_staff: Any
) -> None:
    session = db.session()
    ends = [_on(13), _on(14), _on(31)]
    # Each period's end summed from the invoices' events ("integer overflow" before).
    outstanding, owed_back = finance.period_end_balances(session, "USD", ends, _on(1))
    largest, cent = Decimal(LARGEST), Decimal("0.01")
    assert outstanding == [largest, largest, cent]
    assert owed_back == [largest, largest, cent]
    # Every day of January, the database's sums are each invoice's balance in Python.
    sums_are_the_ledger_every_day("USD", [_on(day) for day in range(1, 32)])
    with time_machine.travel(RUN, tick=False):
        signed_in(client, billing_staff)
        page = client.get("/console/finance/?from=2027-01&to=2027-01&currency=USD")
        assert page.status_code == 200  # a 500 on SQLite: "integer overflow"
        assert "0.01" in _words(page)
        report = client.get("/console/finance/report.pdf?month=2027-01")
        assert report.status_code == 200


def test_the_invoice_and_credit_note_lists_total_the_largest_amounts(
    history: tuple[Licensee, Licensee], client: FlaskClient, signed_in: Any, billing_staff: Any
) -> None:
    with time_machine.travel(RUN, tick=False):
        signed_in(client, billing_staff)
        owing = client.get("/console/invoices?owing_on=2027-01-13&currency=USD")
        assert owing.status_code == 200  # a 500 on SQLite: "integer overflow"
        assert "Vastmoor Holdings" in _words(owing)
        assert "Brindle Harbor Labs" not in _words(owing)
        assert SHOWN in _words(owing)
        back = client.get("/console/invoices?owed_back_on=2027-01-14&currency=USD")
        assert back.status_code == 200  # a 500 on SQLite
        assert "Brindle Harbor Labs" in _words(back)
        assert SHOWN in _words(back)
        notes = client.get("/console/credit-notes")
        assert notes.status_code == 200  # a 500 on SQLite: the note's refunds summed
        assert SHOWN in _words(notes)
        everything = client.get("/console/invoices?currency=USD&from=2027-01&to=2027-01")
        assert everything.status_code == 200
        assert "199,999,999,999,999.98" in _words(everything)  # both invoices' totals


def _rows(client: FlaskClient, query: str) -> dict[str, dict[str, str]]:
    exported = client.get(f"/console/exports?dataset=receivables&format=csv&{query}")
    assert exported.status_code == 200
    return {
        row["organization"]: row
        for row in csv.DictReader(io.StringIO(exported.get_data(as_text=True)))
    }


@pytest.mark.parametrize("day", [13, 31])
def test_the_receivables_export_and_statements_of_account_at_the_largest_amounts(
    history: tuple[Licensee, Licensee],
    client: FlaskClient,
    signed_in: Any,
    billing_staff: Any,
    day: int,
) -> None:
    payer, refundee = history
    with time_machine.travel(RUN, tick=False):
        signed_in(client, billing_staff)
        owing = _rows(client, f"as_of=2027-01-{day:02}")
        back = _rows(client, f"owed_back_on=2027-01-{day:02}")
        statements = {
            who.legal_name: client.get(
                f"/api/v1/organizations/{who.id}/statement?from=2027-01-01&to=2027-01-{day:02}",
                headers=bearer(billing_staff),
            )
            for who in (payer, refundee)
        }
    balance = LARGEST if day == 13 else "0.01"
    (row,) = owing.values()
    assert (row["organization"], row["total"], row["paid_to_date"], row["balance"]) == (
        "Vastmoor Holdings",
        LARGEST,
        "0.00" if day == 13 else LESS_A_CENT,
        balance,
    )
    (row,) = back.values()
    assert (
        row["organization"],
        row["credited_to_date"],
        row["refunded_to_date"],
        row["owed_back"],
    ) == (
        "Brindle Harbor Labs",
        LARGEST,
        "0.00" if day == 13 else LESS_A_CENT,
        balance,
    )
    for name, answer in statements.items():
        assert answer.status_code == 200, answer.get_json()
        closing = balance if name == "Vastmoor Holdings" else "0.00"
        assert answer.get_json()["closing_balance"] == closing, name
