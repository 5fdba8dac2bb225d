"""Round 55 (statements55): the monthly run chooses its statements by the one rule.

The run chose the organizations with something to state in a month by `paid_at` (not
paid in full before the month) or a movement in it. `paid_at` is when the invoice was
last marked paid, as booked: a bank's return recorded late, after a credit note that
leaves the invoice owing nothing *now*, does not reopen it, yet by the bank's days it
owed from the return to the credit note:

    INV 1000.00  issued 2027-01-15; a cheque of 1000.00 received 01-18 (paid,
                 `paid_at` 01-18); the bank returned it on 01-25; the licence
                 cancelled: a credit note of 1000.00 on 03-01; on 03-03 the return
                 is recorded: the invoice stays paid (owes nothing now)

It owed 1000.00 all February with nothing moving in it. A run for February after the
return was recorded (late: the statement is usually sent on 1 March) did not choose
it, and sent nothing; the statement of February, read on its own, closes at 1000.00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask

from licensing import db
from licensing.accounts.models import Organization
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.services import monthly_statements
from licensing.billing.statements import statement_of_account
from tests.support.billing import cheque_returned_behind_a_credit
from tests.support.monthly_statements import IN_JANUARY, invoice, organization, statement_emails

FEBRUARY = date(2027, 2, 1)
LATE_RUN = datetime(2027, 3, 5, 15, 0, tzinfo=UTC)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)


def _owing_all_february_paid_in_january() -> Organization:
    """The history of the module's docstring: its organization."""
    owing = organization("Quillfeather Analytics")
    issued = invoice(owing.id, "1000.00", IN_JANUARY)
    # Received 18 January, returned 25 January, credited 1 March (recorded 3 March).
    cheque_returned_behind_a_credit(issued.id, "1000.00")
    stored = db.session().get(Invoice, issued.id)
    assert stored is not None
    db.session().refresh(stored)
    # Owes nothing now, so nothing reopened it: still paid, since January.
    assert (stored.state, stored.owed) == ("paid", Decimal(0))
    assert stored.paid_at is not None
    assert stored.paid_at < _at(date(2027, 2, 1))
    return owing


def test_a_late_run_sends_the_statement_of_a_month_owed_throughout_with_an_old_paid_at(
    app: Flask,
) -> None:
    owing = _owing_all_february_paid_in_january()
    statement = statement_of_account(
        db.session(), owing, "USD", FEBRUARY, date(2027, 2, 28), as_of=LATE_RUN
    )
    assert (statement.opening, statement.closing, statement.lines) == (
        Decimal("1000.00"),
        Decimal("1000.00"),
        (),
    )

    assert monthly_statements.statements_due(db.session(), FEBRUARY).to_read == [(owing.id, "USD")]
    run = services.send_monthly_statements(FEBRUARY, now=LATE_RUN)

    assert (len(run.sent), run.nothing_to_send) == (1, 0)
    (message,) = statement_emails()
    assert message.to == [owing.billing_email]
    assert "1,000.00 USD owed at the month's end" in message.subject


def test_a_month_after_the_credit_note_has_nothing_to_state_and_is_not_read(app: Flask) -> None:
    _owing_all_february_paid_in_january()
    # April: nothing owed since 1 March, nothing moved in April (no statement read).
    due = monthly_statements.statements_due(db.session(), date(2027, 4, 1))
    assert (due.to_read, due.quiet) == ([], 1)
