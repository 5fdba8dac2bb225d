"""Round 60 (asof60): the invoices export `as_of` a day read each invoice's steps from
their latest of each kind (`paid_at`, `written_off_at`), so an invoice paid before the
day, its payment returned after it and paid again, had no `paid_date` on the day, and one
written off before the day, paid, reopened and written off again after it read `open`.
Now each invoice reads as its whole history stood at the day's end, on every path, and
a day's rows are the same when exported again after more has happened.

Each invoice is 1,000.00, issued 2027-01-15; each step at 18:00 UTC (noon at the office)
of its day, recorded then:

    PAID_AGAIN   a wire 01-20; the bank returns it 02-10; a wire 03-05
    PART_PAID    400.00 on 01-25, 600.00 on 02-15
    REFUNDED     a wire 01-20; a credit note of 300.00 02-01; its refund sent by wire
                 02-05; the bank returns the refund 02-12
    WRITTEN_OFF  written off 01-25; a wire 02-05 (the write-off ends); the bank returns
                 it 02-15 (open again); written off again 03-01
    VOIDED       written off 01-25; voided 02-05
    CREDITED     a credit note in full 02-01

Round 63 (exports63): the history is lived, and its days taken, once a module and
backend on `module_connection`; each test reads them, or exports again, in a savepoint
of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.exports.datasets import invoices
from licensing.exports.filters import ExportFilter
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.support import factories
from tests.support.audited import unaudited_state_changes
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.exports import both, exporter
from tests.support.factories import billing_clerk
from tests.support.monthly_statements import IN_JANUARY, invoice, organization

COLUMNS = (
    "state",
    "paid_date",
    "voided_date",
    "amount_paid",
    "amount_credited",
    "amount_refunded",
    "balance_due",
)


@contextmanager
def _on(day: date) -> Iterator[datetime]:
    """Noon at the office on `day`, the clock there too (the audit log's time)."""
    now = datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        yield now


def _wire(target: Invoice, amount: str, day: date) -> int:
    with _on(day) as now:
        return paid_offline(target.id, amount, f"W-{target.id}-{day}", received_on=day, now=now).id


def _returned(payment_id: int, day: date) -> None:
    with _on(day) as now:
        reversed_offline(payment_id, "Returned by the bank", returned_on=day, now=now)


def _written_off(target: Invoice, day: date) -> None:
    with _on(day) as now:
        billing.mark_uncollectible(
            target.id, reason="The licensee stopped answering", now=now, actor=billing_clerk()
        )


def _credited(target: Invoice, amount: str, day: date) -> int:
    with _on(day) as now:
        return credited(target.id, amount, "Licence cut short", now=now).id


def _history() -> tuple[dict[str, str], list[tuple[date, Callable[[], object]]]]:
    """The invoices (their names by number) and their steps, in order of day."""
    owner = organization("Saltmarsh Diagnostics")
    made = {name: invoice(owner.id, "1000.00", IN_JANUARY) for name in _NAMES}
    again, part, refunded, written, voided, whole = (made[name] for name in _NAMES)
    held: dict[str, int] = {}

    def keep(key: str, record_id: int) -> None:
        held[key] = record_id

    def refund_sent() -> None:
        with _on(date(2027, 2, 5)) as now:
            keep(
                "refund",
                refunded_offline(
                    held["note"], "300.00", "RF-1", sent_on=date(2027, 2, 5), now=now
                ).id,
            )

    def refund_returned() -> None:
        with _on(date(2027, 2, 12)) as now:
            billing.return_offline_refund(
                held["refund"],
                reason="The licensee's account was closed",
                returned_on=date(2027, 2, 12),
                now=now,
                actor=billing_clerk(),
            )

    def void() -> None:
        with _on(date(2027, 2, 5)) as now:
            billing.void_invoice(
                voided.id, reason="Issued in error", now=now, actor=billing_clerk()
            )

    steps: list[tuple[date, Callable[[], object]]] = [
        (date(2027, 1, 20), lambda: keep("again", _wire(again, "1000.00", date(2027, 1, 20)))),
        (date(2027, 1, 20), lambda: _wire(refunded, "1000.00", date(2027, 1, 20))),
        (date(2027, 1, 25), lambda: _wire(part, "400.00", date(2027, 1, 25))),
        (date(2027, 1, 25), lambda: _written_off(written, date(2027, 1, 25))),
        (date(2027, 1, 25), lambda: _written_off(voided, date(2027, 1, 25))),
        (date(2027, 2, 1), lambda: keep("note", _credited(refunded, "300.00", date(2027, 2, 1)))),
        (date(2027, 2, 1), lambda: _credited(whole, "1000.00", date(2027, 2, 1))),
        (date(2027, 2, 5), refund_sent),
        (date(2027, 2, 5), lambda: keep("off", _wire(written, "1000.00", date(2027, 2, 5)))),
        (date(2027, 2, 5), void),
        (date(2027, 2, 10), lambda: _returned(held["again"], date(2027, 2, 10))),
        (date(2027, 2, 12), refund_returned),
        (date(2027, 2, 15), lambda: _wire(part, "600.00", date(2027, 2, 15))),
        (date(2027, 2, 15), lambda: _returned(held["off"], date(2027, 2, 15))),
        (date(2027, 3, 1), lambda: _written_off(written, date(2027, 3, 1))),
        (date(2027, 3, 5), lambda: _wire(again, "1000.00", date(2027, 3, 5))),
    ]
    return {str(each.number): name for name, each in made.items()}, steps


_NAMES = ("PAID_AGAIN", "PART_PAID", "REFUNDED", "WRITTEN_OFF", "VOIDED", "CREDITED")

OPEN, P, U, V = "open", "paid", "uncollectible", "void"
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    # Before every step but the issue.
    "2027-01-19": dict.fromkeys(_NAMES, (OPEN, "", "", "0.00", "0.00", "0.00", "1000.00")),
    "2027-01-30": {
        "PAID_AGAIN": (P, "2027-01-20", "", "1000.00", "0.00", "0.00", "0.00"),
        "PART_PAID": (OPEN, "", "", "400.00", "0.00", "0.00", "600.00"),
        "REFUNDED": (P, "2027-01-20", "", "1000.00", "0.00", "0.00", "0.00"),
        "WRITTEN_OFF": (U, "", "", "0.00", "0.00", "0.00", "1000.00"),
        "VOIDED": (U, "", "", "0.00", "0.00", "0.00", "1000.00"),
        "CREDITED": (OPEN, "", "", "0.00", "0.00", "0.00", "1000.00"),
    },
    "2027-02-07": {
        "PAID_AGAIN": (P, "2027-01-20", "", "1000.00", "0.00", "0.00", "0.00"),
        "PART_PAID": (OPEN, "", "", "400.00", "0.00", "0.00", "600.00"),
        "REFUNDED": (P, "2027-01-20", "", "1000.00", "300.00", "300.00", "0.00"),
        "WRITTEN_OFF": (P, "2027-02-05", "", "1000.00", "0.00", "0.00", "0.00"),
        "VOIDED": (V, "", "2027-02-05", "0.00", "0.00", "0.00", "0.00"),
        "CREDITED": (P, "2027-02-01", "", "0.00", "1000.00", "0.00", "0.00"),
    },
    "2027-02-20": {
        "PAID_AGAIN": (OPEN, "", "", "0.00", "0.00", "0.00", "1000.00"),
        "PART_PAID": (P, "2027-02-15", "", "1000.00", "0.00", "0.00", "0.00"),
        "REFUNDED": (P, "2027-01-20", "", "1000.00", "300.00", "0.00", "0.00"),
        "WRITTEN_OFF": (OPEN, "", "", "0.00", "0.00", "0.00", "1000.00"),
        "VOIDED": (V, "", "2027-02-05", "0.00", "0.00", "0.00", "0.00"),
        "CREDITED": (P, "2027-02-01", "", "0.00", "1000.00", "0.00", "0.00"),
    },
    "2027-03-02": {
        "PAID_AGAIN": (OPEN, "", "", "0.00", "0.00", "0.00", "1000.00"),
        "PART_PAID": (P, "2027-02-15", "", "1000.00", "0.00", "0.00", "0.00"),
        "REFUNDED": (P, "2027-01-20", "", "1000.00", "300.00", "0.00", "0.00"),
        "WRITTEN_OFF": (U, "", "", "0.00", "0.00", "0.00", "1000.00"),
        "VOIDED": (V, "", "2027-02-05", "0.00", "0.00", "0.00", "0.00"),
        "CREDITED": (P, "2027-02-01", "", "0.00", "1000.00", "0.00", "0.00"),
    },
    # After every step: as each stands today.
    "2027-03-10": {
        "PAID_AGAIN": (P, "2027-03-05", "", "1000.00", "0.00", "0.00", "0.00"),
        "PART_PAID": (P, "2027-02-15", "", "1000.00", "0.00", "0.00", "0.00"),
        "REFUNDED": (P, "2027-01-20", "", "1000.00", "300.00", "0.00", "0.00"),
        "WRITTEN_OFF": (U, "", "", "0.00", "0.00", "0.00", "1000.00"),
        "VOIDED": (V, "", "2027-02-05", "0.00", "0.00", "0.00", "0.00"),
        "CREDITED": (P, "2027-02-01", "", "0.00", "1000.00", "0.00", "0.00"),
    },
}


def _read(body: bytes, names: dict[str, str], *, every: bool = True) -> dict[str, tuple[str, ...]]:
    """The rows by invoice name: every row named (`every`), or those of `names` alone
    (a test beside the module's history)."""
    rows = csv.DictReader(io.StringIO(body.decode("utf-8")))
    return {
        names[row["invoice_number"]]: tuple(row[c] for c in COLUMNS)
        for row in rows
        if every or row["invoice_number"] in names
    }


def _lived(client: FlaskClient, staff: User) -> tuple[dict[str, str], dict[str, bytes]]:
    """The history lived day by day, each day of `EXPECTED` exported as of itself as
    soon as its steps are done (before any later step): the rows a finance system took
    then, by day."""
    names, steps = _history()
    fetch = exporter(client, staff, "invoices")
    taken: dict[str, bytes] = {}
    for day in sorted(EXPECTED):
        while steps and steps[0][0].isoformat() <= day:
            steps.pop(0)[1]()
        taken[day] = fetch("csv", as_of=day)
    assert steps == []
    return names, taken


@pytest.fixture(scope="module")
def prepared(
    database_template: DatabaseTemplate, module_connection: Connection
) -> tuple[dict[str, str], dict[str, bytes]]:
    """Lived once a module and backend (round 63: each test lived it again, 1-3 s of
    set-up), under the audit watch, each day taken as its steps were done."""
    with app_in_transaction(database_template.url, {}, module_connection, keep=True) as made_on:
        staff = factories.make_staff(db.session(), roles=("billing",))
        with unaudited_state_changes(made_on) as watch:
            taken = _lived(made_on.test_client(), staff)
        assert watch.gaps == [], "state changed with no audit event of the record"
        return taken


@pytest.fixture
def lived(
    prepared: tuple[dict[str, str], dict[str, bytes]], app: Flask
) -> tuple[dict[str, str], dict[str, bytes]]:
    """The module's history, for a test whose `app` runs in a savepoint of the
    module's connection."""
    return prepared


def test_each_path_reads_as_its_history_stood_before_between_and_after_its_steps(
    lived: tuple[dict[str, str], dict[str, bytes]],
) -> None:
    names, taken = lived
    for day, rows in EXPECTED.items():
        assert _read(taken[day], names) == rows, day


def test_a_day_exported_again_after_everything_since_gives_the_same_rows(
    client: FlaskClient, billing_staff: User, lived: tuple[dict[str, str], dict[str, bytes]]
) -> None:
    names, taken = lived
    fetch = exporter(client, billing_staff, "invoices")
    for day, then in taken.items():
        again = fetch("csv", as_of=day)
        # The file's header says when it was made; its rows are the same, byte for byte.
        assert again.split(b"\r\n")[1:] == then.split(b"\r\n")[1:], day
        assert _read(again, names) == EXPECTED[day], day


def test_the_database_writes_the_rows_python_writes_on_every_day(
    lived: tuple[dict[str, str], dict[str, bytes]],
) -> None:
    for day in EXPECTED:
        for given in (
            ExportFilter(as_of=date.fromisoformat(day)),
            ExportFilter(as_of=date.fromisoformat(day), state="uncollectible"),
        ):
            by_database, by_python = both(given, invoices.DATASET)
            assert by_database == by_python, given


def test_the_state_filter_reads_the_state_of_the_day(
    client: FlaskClient, billing_staff: User, lived: tuple[dict[str, str], dict[str, bytes]]
) -> None:
    names, _ = lived
    fetch = exporter(client, billing_staff, "invoices")
    for day, rows in EXPECTED.items():
        for state in (OPEN, P, U, V):
            chosen = _read(fetch("csv", as_of=day, state=state), names)
            assert set(chosen) == {name for name, row in rows.items() if row[0] == state}, (
                day,
                state,
            )


def test_by_paid_chooses_by_the_paid_day_of_the_day(
    client: FlaskClient, billing_staff: User, lived: tuple[dict[str, str], dict[str, bytes]]
) -> None:
    names, _ = lived
    fetch = exporter(client, billing_staff, "invoices")
    january = {"by": "paid", "from": "2027-01-01", "to": "2027-01-31"}
    # Paid on 20 January as of the month's end; by 2 March one was owed again.
    for day, paid_in_january in (
        ("2027-01-30", {"PAID_AGAIN", "REFUNDED"}),
        ("2027-03-02", {"REFUNDED"}),
    ):
        chosen = _read(fetch("csv", as_of=day, **january), names)
        assert set(chosen) == paid_in_january, day
        given = ExportFilter(
            as_of=date.fromisoformat(day),
            date_basis="paid",
            date_from=date(2027, 1, 1),
            date_to=date(2027, 1, 31),
        )
        by_database, by_python = both(given, invoices.DATASET)
        assert by_database == by_python, given


LARGEST = "99999999999999.99"


def test_an_invoice_of_the_largest_amount_paid_and_returned_ten_times_is_summed_exactly(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    # Ten wires of the largest amount a column holds, each returned the next day: on
    # SQLite a plain SUM of them ran past its integer before the returns were taken off.
    owner = organization("Saltmarsh Diagnostics")
    target = invoice(owner.id, LARGEST, IN_JANUARY)
    for each in range(10):
        received = date(2027, 2, 1 + 2 * each)
        _returned(_wire(target, LARGEST, received), date(2027, 2, 2 + 2 * each))
    _wire(target, LARGEST, date(2027, 3, 1))
    names = {str(target.number): "LARGEST"}
    fetch = exporter(client, billing_staff, "invoices")
    owing = ("open", "", "", "0.00", "0.00", "0.00", LARGEST)
    for day, row in {
        "2027-02-20": owing,
        "2027-02-01": ("paid", "2027-02-01", "", LARGEST, "0.00", "0.00", "0.00"),
        "2027-03-01": ("paid", "2027-03-01", "", LARGEST, "0.00", "0.00", "0.00"),
    }.items():
        assert _read(fetch("csv", as_of=day), names, every=False) == {"LARGEST": row}, day
    assert Decimal(LARGEST) == target.total
