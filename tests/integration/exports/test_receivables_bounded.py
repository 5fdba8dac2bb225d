"""Round 55 (statements55): the receivables export reads only the invoices that may owe
on its as-of day (`billing.queries.moving_or_owing_all(as_of + 1)`, the one rule), not
every invoice ever issued: one left out owes nothing now and nothing moved on it after
the day, so it owed nothing then and never had a row. Its rows are as before (the
export's own tests, the month end and the statements hold them); here, which invoices
it reads, and that one owing after its `paid_at` is still among them.

    A  INV 1000.00  issued 2027-01-15, paid 01-20                -> read until 01-20
    B  INV  500.00  issued 2027-01-15, unpaid                    -> always read
    C  INV  700.00  issued 2027-01-15, a cheque received 01-18, returned by the
                    bank on 01-25; a credit note of 700.00 on 03-01; the return
                    recorded on 03-03: paid since 01-18 by `paid_at`, owing from
                    01-25 to 02-28 by the bank's days               -> read until 02-28
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.exports.datasets import receivables
from licensing.exports.filters import ExportFilter
from tests.support.billing import cheque_returned_behind_a_credit
from tests.support.exports import receivables as exported
from tests.support.monthly_statements import IN_JANUARY, invoice, organization, paid


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)


def _history() -> dict[str, str]:
    """The module's docstring's invoices: their numbers by letter."""
    owner = organization("Quillfeather Analytics")
    a = invoice(owner.id, "1000.00", IN_JANUARY)
    paid(a, date(2027, 1, 20))
    b = invoice(owner.id, "500.00", IN_JANUARY)
    c = invoice(owner.id, "700.00", IN_JANUARY)
    # Received 18 January, returned 25 January, credited 1 March (recorded 3 March).
    cheque_returned_behind_a_credit(c.id, "700.00")
    numbers = {"A": a.number, "B": b.number, "C": c.number}
    assert all(numbers.values())
    return {number: letter for letter, number in numbers.items() if number}


def _read(letters: dict[str, str], day: date) -> set[str]:
    """The invoices the export's statement reads for `day`, by letter."""
    statement = receivables._statement(ExportFilter(as_of=day), day)
    return {letters[row.number] for row in db.session().execute(statement)}


def test_the_receivables_export_reads_only_the_invoices_that_may_owe_on_its_day(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    letters = _history()
    expected = {
        # Before A was paid, every invoice may owe.
        date(2027, 1, 16): ({"A", "B", "C"}, {"A", "B", "C"}),
        # A paid on 20 January, nothing moving since: not read; C owed again from 25
        # January (its return), though `paid_at` says paid since 18 January.
        date(2027, 1, 20): ({"B", "C"}, {"B"}),
        date(2027, 2, 20): ({"B", "C"}, {"B", "C"}),
        # C credited on 1 March: owes nothing from then, nothing moves after.
        date(2027, 3, 1): ({"B"}, {"B"}),
    }
    for day, (read, rows) in expected.items():
        assert _read(letters, day) == read, day
        on_day = exported(client, billing_staff, day.isoformat())
        assert {letters[row["invoice_number"]] for row in on_day} == rows, day
