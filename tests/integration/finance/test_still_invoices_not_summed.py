"""Round 56: the Finance page's balances sum the dated events of only the invoices
something moves on in the window (`billing.queries.moving_from_all`); every other
invoice owes at each period end, and on the aging's day, what it owes now (its stored
totals, `billing.queries.owed_of`), read from the invoices alone (`still_from_all`).

Until round 55 every invoice that owed now, or was credited, had all its payments,
returns, credit notes and refunds summed again on every view (20,000 at a busy
office's size). The figures must not move: a ledger of part payments, a payment the
bank returned (late, and behind a credit note in full), a credit note beyond its
invoice's balance part refunded, a void and a second currency is held, for ranges
starting on six days and every day to the end of April as a period end, and for
every day as the aging's, to the definition in Python (`Receivable.balance_on` and
`owed_back_on` of every invoice, unbounded), on both databases.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from flask import Flask

from licensing import db
from licensing.billing import services as billing
from licensing.finance import queries as finance
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import (
    cheque_returned_behind_a_credit,
    credited,
    paid_offline,
    refunded_offline,
    reversed_offline,
)
from tests.support.factories import billing_clerk

ZERO = Decimal(0)
DAYS = [date(2027, 1, 1) + timedelta(days=n) for n in range(120)]  # January to April
STARTS = [date(2027, 1, 1), date(2027, 2, 1), date(2027, 2, 15), date(2027, 3, 1)]
STARTS += [date(2027, 3, 20), date(2027, 4, 1)]


def _ledger() -> dict[str, int]:
    """The invoices of the module's docstring, by what happens to them: their ids."""
    a = factories.make_organization(db.session()).id
    b = factories.make_organization(db.session()).id
    made: dict[str, int] = {}

    settled = issue(a, "1000.00", date(2027, 1, 5))
    paid_offline(
        settled.id, "1000.00", "W-1", received_on=date(2027, 1, 10), now=at(date(2027, 1, 10))
    )
    made["settled in January"] = settled.id

    part = issue(a, "800.00", date(2027, 1, 6))
    paid_offline(part.id, "300.00", "W-2", received_on=date(2027, 1, 12), now=at(date(2027, 1, 12)))
    made["part paid in January, owing since"] = part.id

    beyond = issue(b, "900.00", date(2027, 1, 7))
    paid_offline(
        beyond.id, "900.00", "W-3", received_on=date(2027, 1, 15), now=at(date(2027, 1, 15))
    )
    note = credited(beyond.id, "150.00", "Seats removed", now=at(date(2027, 1, 20)))
    refunded_offline(
        note.id, "100.00", "RF-3", sent_on=date(2027, 1, 22), now=at(date(2027, 1, 22))
    )
    made["credited beyond, 50.00 owed back since January"] = beyond.id

    bounced = issue(b, "500.00", date(2027, 1, 8))
    cheque = paid_offline(
        bounced.id,
        "500.00",
        "CHK-4",
        method="check",
        received_on=date(2027, 1, 9),
        now=at(date(2027, 1, 9)),
    )
    reversed_offline(
        cheque.id, "Returned unpaid", returned_on=date(2027, 2, 10), now=at(date(2027, 2, 12))
    )
    made["its cheque returned in February"] = bounced.id

    behind = issue(a, "1000.00", date(2027, 1, 5))
    cheque_returned_behind_a_credit(behind.id, "1000.00")  # returned 01-25, credited 03-01
    made["returned behind a credit note of March"] = behind.id

    made["issued in March"] = issue(b, "700.00", date(2027, 3, 10)).id
    voided = issue(a, "300.00", date(2027, 1, 11))
    billing.void_invoice(
        voided.id, reason="Issued in error", now=at(date(2027, 2, 3)), actor=billing_clerk()
    )
    issue(a, "999.00", date(2027, 1, 4), currency="EUR")
    return made


def test_the_period_ends_and_the_aging_equal_the_ledger_with_the_still_invoices_read_whole(
    app: Flask,
) -> None:
    _ledger()
    session = db.session()
    ledger = finance.receivables(session, "USD", None, DAYS[-1])
    credited_ones = finance.receivables(session, "USD", None, DAYS[-1], credited_only=True)
    for start in STARTS:
        ends = [day for day in DAYS if day >= start]
        outstanding, owed_back = finance.period_end_balances(session, "USD", ends, start)
        assert outstanding == [sum((i.balance_on(end) for i in ledger), ZERO) for end in ends], (
            start
        )
        assert owed_back == [
            sum((i.owed_back_on(end) for i in credited_ones), ZERO) for end in ends
        ], start
    for day in DAYS:
        owing = {
            i.invoice_id: (i.balance_on(day), i.balance_on(day, as_known_now=True)) for i in ledger
        }
        found = {
            row.invoice_id: (row.balance, row.known_now)
            for row in finance.owed_on(session, "USD", day)
        }
        assert found == {key: both for key, both in owing.items() if any(both)}, day
    # A range's figures, whole: March (500.00 part paid, 500.00 bounced, 700.00 issued).
    march = finance.cash_flow(
        session,
        finance.Filters(
            date(2027, 3, 1), date(2027, 3, 1), currency="USD", as_of=date(2027, 3, 31)
        ),
    )
    assert [(each.outstanding, each.refunds_owed) for each in march] == [
        (Decimal("1700.00"), Decimal("50.00"))
    ]


def test_only_the_invoices_moving_in_the_range_have_their_events_summed(app: Flask) -> None:
    made = _ledger()
    session = db.session()

    def summed(ends: list[date], start: date) -> set[int]:
        rows = session.execute(finance._owed_at_ends("USD", ends, start)).all()
        return {row.invoice_id for row in rows}

    # From 1 March: the credit note of the 1st, and the invoice issued on the 10th; not
    # the invoices owing since January or owed back since January (read whole).
    assert summed([date(2027, 3, 31)], date(2027, 3, 1)) == {
        made["returned behind a credit note of March"],
        made["issued in March"],
    }
    assert summed([date(2027, 4, 30)], date(2027, 4, 1)) == set()
    assert summed([date(2027, 2, 28)], date(2027, 2, 1)) == {
        made["its cheque returned in February"],
        made["returned behind a credit note of March"],  # moves in March, after the end
    }
