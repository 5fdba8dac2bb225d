"""Round 61 (asof61): the invoices export `as_of` a day read its amounts by the bank's
days but its paid day by when the invoice was booked paid, and a write-off's end by the
booked payment: a cheque the bank had on 18 January, entered on 22 January, read `paid`
with no `paid_date` as of 20 January. Now money follows the bank's days throughout (the
amounts, paid or not, the paid day, the payment that ends a write-off) and decisions
their booked time (a void, a write-off), whenever each was entered.

Each invoice is 1,000.00, issued 2027-01-15; each step is booked at 18:00 UTC (noon at
the office) of its booking day, dated by the bank as said:

    ENTERED_LATE  a cheque the bank had on 01-18, entered on 01-22
    DATED_LATE    a wire booked on 01-20 whose bank day is 01-24 (the day corrected
                  after: no form books a payment before its day)
    RETURNED      a wire of 01-16; the bank returned it on 01-19, entered on 01-26; a
                  wire of 01-21, entered on 01-27
    WRITTEN_OFF   written off on 01-20; a cheque the bank had on 01-18 (entered 01-25)
                  and returned on 01-19 (entered 02-01): by the bank's days it owed
                  from 01-19 and was never paid after its write-off
    REFUNDED      a wire of 01-16; a credit note of 300.00 on 01-17 and its refund
                  sent on 01-18; the bank returned the wire on 01-19; a wire of 01-21,
                  entered on 01-26

Every day is exported after every step was entered (what a finance system re-reading a
closed month gets). On the base (88df43724) every crossing failed on both databases: the
rows already read so were DATED_LATE's before 01-24, RETURNED's and REFUNDED's of 01-18
and 01-20 and WRITTEN_OFF's of 01-20 and 01-22; every other differed (its paid day
missing or the day booked, WRITTEN_OFF `open` from 01-26).

Round 63 (exports63): the steps are lived once a module and backend on
`module_connection` and each day exported once, through the API, for every crossing;
each test reads them, or exports again, in a savepoint of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, literal, select, update

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services as billing
from licensing.billing.models import Invoice, Payment
from licensing.calendar import office_date
from licensing.db import OfficeDay, UTCDateTime
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


def _received(target: Invoice, day: date, *, entered: date) -> int:
    with _on(entered) as now:
        return paid_offline(
            target.id, "1000.00", f"W-{target.id}-{day}", received_on=day, now=now
        ).id


def _returned(payment_id: int, day: date, *, entered: date) -> None:
    with _on(entered) as now:
        reversed_offline(payment_id, "Returned by the bank", returned_on=day, now=now)


def _written_off(target: Invoice, day: date) -> None:
    with _on(day) as now:
        billing.mark_uncollectible(
            target.id, reason="The licensee stopped answering", now=now, actor=billing_clerk()
        )


def _bank_day_corrected(payment_id: int, day: date) -> None:
    """The payment's bank day set to `day` after it was booked (an import, or a day
    typed wrongly and mended): dated after it was entered."""
    db.session().execute(update(Payment).where(Payment.id == payment_id).values(received_on=day))


def _lived() -> dict[str, str]:
    """The invoices' steps, entered in the order of their booking days; their names by
    number."""
    owner = organization("Saltmarsh Diagnostics")
    made = {name: invoice(owner.id, "1000.00", IN_JANUARY) for name in _NAMES}
    late, dated, returned, written, refunded = (made[name] for name in _NAMES)
    day = date.fromisoformat

    first_wire = _received(returned, day("2027-01-16"), entered=day("2027-01-16"))
    refunded_wire = _received(refunded, day("2027-01-16"), entered=day("2027-01-16"))
    with _on(day("2027-01-17")) as now:
        note = credited(refunded.id, "300.00", "Licence cut short", now=now).id
    with _on(day("2027-01-18")) as now:
        refunded_offline(note, "300.00", "RF-1", sent_on=day("2027-01-18"), now=now)
    _returned(refunded_wire, day("2027-01-19"), entered=day("2027-01-19"))
    booked = _received(dated, day("2027-01-20"), entered=day("2027-01-20"))
    _bank_day_corrected(booked, day("2027-01-24"))
    _written_off(written, day("2027-01-20"))
    _received(late, day("2027-01-18"), entered=day("2027-01-22"))
    bounced = _received(written, day("2027-01-18"), entered=day("2027-01-25"))
    _returned(first_wire, day("2027-01-19"), entered=day("2027-01-26"))
    _received(refunded, day("2027-01-21"), entered=day("2027-01-26"))
    _received(returned, day("2027-01-21"), entered=day("2027-01-27"))
    _returned(bounced, day("2027-01-19"), entered=day("2027-02-01"))
    return {str(each.number): name for name, each in made.items()}


_NAMES = ("ENTERED_LATE", "DATED_LATE", "RETURNED", "WRITTEN_OFF", "REFUNDED")

OPEN, P, U = "open", "paid", "uncollectible"
OWING = (OPEN, "", "", "0.00", "0.00", "0.00", "1000.00")
WRITTEN_OFF = (U, "", "", "0.00", "0.00", "0.00", "1000.00")


def _paid(on: str, credited: str = "0.00") -> tuple[str, ...]:
    return (P, on, "", "1000.00", credited, credited, "0.00")


EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "2027-01-18": {
        "ENTERED_LATE": _paid("2027-01-18"),
        "DATED_LATE": OWING,
        "RETURNED": _paid("2027-01-16"),
        "WRITTEN_OFF": _paid("2027-01-18"),
        "REFUNDED": _paid("2027-01-16", "300.00"),
    },
    "2027-01-20": {
        "ENTERED_LATE": _paid("2027-01-18"),
        "DATED_LATE": OWING,
        "RETURNED": OWING,
        "WRITTEN_OFF": WRITTEN_OFF,
        "REFUNDED": (OPEN, "", "", "0.00", "300.00", "300.00", "1000.00"),
    },
    "2027-01-22": {
        "ENTERED_LATE": _paid("2027-01-18"),
        "DATED_LATE": OWING,
        "RETURNED": _paid("2027-01-21"),
        "WRITTEN_OFF": WRITTEN_OFF,
        "REFUNDED": _paid("2027-01-21", "300.00"),
    },
    # The days after every step but the last return.
    **{
        day: {
            "ENTERED_LATE": _paid("2027-01-18"),
            "DATED_LATE": _paid("2027-01-24"),
            "RETURNED": _paid("2027-01-21"),
            "WRITTEN_OFF": WRITTEN_OFF,
            "REFUNDED": _paid("2027-01-21", "300.00"),
        }
        for day in ("2027-01-26", "2027-01-28", "2027-02-05")
    },
}


def _read(body: bytes, names: dict[str, str]) -> dict[str, tuple[str, ...]]:
    rows = csv.DictReader(io.StringIO(body.decode("utf-8")))
    return {names[row["invoice_number"]]: tuple(row[c] for c in COLUMNS) for row in rows}


@dataclass
class Lived:
    """The module's history: the invoices' names by number, and each day of `EXPECTED`
    exported as of itself through the API once every step was entered."""

    names: dict[str, str]
    read: dict[str, dict[str, tuple[str, ...]]]


@pytest.fixture(scope="module")
def prepared(database_template: DatabaseTemplate, module_connection: Connection) -> Lived:
    """Lived once a module and backend (round 63: each test lived it again, 1-3 s of
    set-up), under the audit watch, and each day exported once: every crossing's test
    and the paid days' read the same six files a finance system pulls (five tests
    fetched them again each)."""
    with app_in_transaction(database_template.url, {}, module_connection, keep=True) as made_on:
        with unaudited_state_changes(made_on) as watch:
            names = _lived()
        assert watch.gaps == [], "state changed with no audit event of the record"
        staff = factories.make_staff(db.session(), roles=("billing",))
        fetch = exporter(made_on.test_client(), staff, "invoices")
        return Lived(names, {day: _read(fetch("csv", as_of=day), names) for day in EXPECTED})


@pytest.fixture
def lived(prepared: Lived, app: Flask) -> Lived:
    """The module's history, for a test whose `app` runs in a savepoint of the
    module's connection."""
    return prepared


@pytest.fixture
def names(lived: Lived) -> dict[str, str]:
    return lived.names


@pytest.mark.parametrize("crossing", _NAMES)
def test_each_crossing_reads_by_the_banks_days_and_the_write_off_as_booked(
    lived: Lived, crossing: str
) -> None:
    read = {day: rows[crossing] for day, rows in lived.read.items()}
    assert read == {day: rows[crossing] for day, rows in EXPECTED.items()}


def test_the_paid_day_is_given_whenever_the_state_is_paid(lived: Lived) -> None:
    for day in EXPECTED:
        for state, paid_date, *_ in lived.read[day].values():
            assert (state == P) == bool(paid_date), day
            assert paid_date <= day, day


def test_the_state_filter_and_by_paid_read_the_same_days(
    client: FlaskClient, billing_staff: User, names: dict[str, str]
) -> None:
    fetch = exporter(client, billing_staff, "invoices")
    for day, rows in EXPECTED.items():
        for state in (OPEN, P, U):
            chosen = _read(fetch("csv", as_of=day, state=state), names)
            assert set(chosen) == {name for name, row in rows.items() if row[0] == state}
        # Paid from 18 to 21 January, by the bank's days.
        chosen = _read(
            fetch("csv", as_of=day, by="paid", **{"from": "2027-01-18", "to": "2027-01-21"}), names
        )
        assert set(chosen) == {
            name for name, row in rows.items() if "2027-01-18" <= row[1] <= "2027-01-21"
        }, day


def test_the_database_writes_the_rows_python_writes(names: dict[str, str]) -> None:
    for day in EXPECTED:
        as_of = date.fromisoformat(day)
        for given in (
            ExportFilter(as_of=as_of),
            ExportFilter(as_of=as_of, state=U),
            ExportFilter(
                as_of=as_of,
                date_basis="paid",
                date_from=date(2027, 1, 18),
                date_to=date(2027, 1, 21),
            ),
        ):
            by_database, by_python = both(given, invoices.DATASET)
            assert by_database == by_python, given


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2027, 1, 19, 5, 59, tzinfo=UTC),  # 23:59 on the 18th, standard time
        datetime(2027, 1, 19, 6, 0, tzinfo=UTC),  # midnight starting the 19th
        datetime(2027, 3, 14, 7, 59, tzinfo=UTC),  # the morning daylight time begins
        datetime(2027, 7, 1, 4, 59, tzinfo=UTC),  # 23:59 on 30 June, daylight time
        datetime(2027, 7, 1, 5, 0, tzinfo=UTC),
        datetime(2027, 11, 7, 6, 30, tzinfo=UTC),  # the hour daylight time ends
    ],
)
def test_the_office_day_in_sql_is_the_calendars_on_either_side_of_midnight(
    app: Flask, moment: datetime
) -> None:
    # A card payment's day is Stripe's time stamp's office day, read in the statement.
    day = db.session().scalar(select(OfficeDay(literal(moment, UTCDateTime()))))
    assert day == office_date(moment)
