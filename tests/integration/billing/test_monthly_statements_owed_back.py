"""Round 56: a licensee the office owes a refund, with nothing moving in a month, is
sent no statement of that month, by the rule docs/billing.md gives ("Who gets one":
the statement goes when its closing balance is not zero or it has a movement; the
balance is the receivables export's, never below zero, so a credit shows as a credit
note's refund due in the month it arose). The refund owed is told once, in the
statement of the month the credit note arose (its subject and line), and is followed
after that on the credit note's *Refund outstanding* and the Finance page's *Refunds
owed at end*, not by a statement of nothing each month. statements55 left the question
open: the run's candidates (`statements_due`) are those that may owe above zero or
moved in the month; this holds that the statement read whole agrees."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.services import monthly_statements
from licensing.billing.statements import statement_of_account
from licensing.finance import queries as finance
from licensing.finance.queries import month_end
from tests.support.billing import credited
from tests.support.monthly_statements import (
    IN_DECEMBER,
    JANUARY,
    RUN,
    invoice,
    organization,
    paid,
    statement_emails,
)

FEBRUARY = date(2027, 2, 1)
# The morning of 1 March at the office: February is over.
FEBRUARY_RUN = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


def test_a_licensee_owed_a_refund_with_nothing_moving_in_a_month_gets_no_statement_of_it(
    app: Flask,
) -> None:
    licensee = organization("Brindle Harbor Labs")
    billed = invoice(licensee.id, "300.00", IN_DECEMBER)
    paid(billed, date(2027, 1, 10))
    credited(billed.id, "50.00", "Seat count lowered", now=datetime(2027, 1, 20, 16, tzinfo=UTC))

    # January's statement tells of the refund due, in the month it arose.
    services.send_monthly_statements(JANUARY, now=RUN)
    (january,) = statement_emails()
    assert january.subject.endswith("50.00 USD due to you as a refund at the month's end")

    # February: the refund still owed back (nothing sent), nothing moved.
    session = db.session()
    owed = session.get(Invoice, billed.id)
    assert owed is not None
    assert owed.owed == Decimal("-50.00")
    february = statement_of_account(
        session, licensee, "USD", FEBRUARY, month_end(FEBRUARY), as_of=FEBRUARY_RUN
    )
    assert (february.opening, february.closing, february.lines) == (Decimal(0), Decimal(0), ())
    assert monthly_statements.refund_still_due(february) == Decimal(0)
    # The office's own figure still has it: Refunds owed at February's end.
    _outstanding, owed_back = finance.period_end_balances(
        session, "USD", [month_end(FEBRUARY)], FEBRUARY
    )
    assert owed_back == [Decimal("50.00")]

    due = monthly_statements.statements_due(session, FEBRUARY)
    assert (licensee.id, "USD") not in due.to_read
    session.rollback()
    run = services.send_monthly_statements(FEBRUARY, now=FEBRUARY_RUN)
    assert run.sent == []
    assert run.not_sent == []
    assert statement_emails() == [january]

    # Named explicitly, the run reads it whole and still finds nothing to send.
    named = services.send_monthly_statements(FEBRUARY, now=FEBRUARY_RUN, due=[(licensee.id, "USD")])
    assert (named.sent, named.nothing_to_send) == ([], 1)
    assert statement_emails() == [january]
