"""Round 55 (aging55): an invoice that owes on a day after its `paid_at`.

The Finance page chose the invoices that may owe on a day by `paid_at` (not paid in
full before it). `paid_at` is when the invoice was last marked paid, as booked; what
it owes on a day is the bank's days. A bank's return recorded late, after a credit
note that leaves the invoice owing nothing *now*, does not reopen it (nothing is owed
now), yet by the bank's days it owed from the return to the credit note:

    INV 1000.00  issued 2027-01-05 (due 02-04); a cheque of 1000.00 received 01-10
                 (paid, `paid_at` 01-10); the licence cancelled: a credit note of
                 1000.00 on 03-01 (all of it owed back); on 03-03 the bank's return
                 of the cheque is recorded, returned on 02-15: the invoice stays
                 paid (1000.00 - 0.00 - 1000.00 = 0.00, nothing owed back)

By the bank's days it owed 1000.00 from 02-15 to 02-28. The receivables export (the
bank's days, no `paid_at`) and the ledger say so; the aging, the top licensees and the
Outstanding of a range starting after its `paid_at` left it out. Every reading is
held to the ledger (`Receivable.balance_on` of every invoice, unbounded) on every day
from January to March, on both databases.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice
from licensing.finance import queries as finance
from licensing.finance.queries import Filters
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited, paid_offline, reversed_offline
from tests.support.exports import receivables

ZERO = Decimal(0)
OWED = Decimal("1000.00")
ISSUED, PAID = date(2027, 1, 5), date(2027, 1, 10)
RETURNED, CREDITED = date(2027, 2, 15), date(2027, 3, 1)
DAYS = [date(2027, 1, 1) + timedelta(days=n) for n in range(90)]  # January to March


def _cancelled_then_the_cheque_bounced() -> int:
    """The history of the module's docstring: the invoice's id."""
    organization_id = factories.make_organization(db.session()).id
    invoice = issue(organization_id, "1000.00", ISSUED)
    cheque = paid_offline(
        invoice.id,
        "1000.00",
        "CHK-1",
        method="check",
        received_on=PAID,
        now=at(PAID),
    )
    credited(invoice.id, "1000.00", "Licence cancelled", now=at(CREDITED))
    reversed_offline(
        cheque.id, "Cheque returned unpaid", returned_on=RETURNED, now=at(date(2027, 3, 3))
    )
    stored = db.session().get(Invoice, invoice.id)
    assert stored is not None
    db.session().refresh(stored)
    # Owes nothing now, so nothing reopened it: still paid, since 10 January.
    assert (stored.state, stored.owed) == ("paid", ZERO)
    assert stored.paid_at is not None
    assert stored.paid_at < at(date(2027, 1, 11))
    return invoice.id


def _owes(day: date) -> Decimal:
    """What the invoice owed on `day` by the bank's days: from its issue to the cheque,
    and from the cheque's return to the credit note."""
    return OWED if ISSUED <= day < PAID or RETURNED <= day < CREDITED else ZERO


def _ledger_on(day: date) -> Decimal:
    """Every issued USD invoice's balance on `day` by the bank's days, unbounded."""
    ledger = finance.receivables(db.session(), "USD", None, day)
    return sum((each.balance_on(day) for each in ledger), ZERO)


def test_an_invoice_owing_after_its_paid_at_is_in_the_aging_on_every_day_it_owes(
    client: FlaskClient, billing_staff: User
) -> None:
    invoice_id = _cancelled_then_the_cheque_bounced()
    session = db.session()
    for day in DAYS:
        owes = _owes(day)
        assert _ledger_on(day) == owes, day
        # As known now (the top licensees) the cheque never paid it: owed until credited.
        known_now = OWED if ISSUED <= day < CREDITED else ZERO
        owing = {
            row.invoice_id: (row.balance, row.known_now)
            for row in finance.owed_on(session, "USD", day)
        }
        assert owing == ({invoice_id: (owes, known_now)} if known_now else {}), day
        aged = finance.aging(session, "USD", day)
        assert sum((row.amount for row in aged), ZERO) == owes, day

    # On 20 February it is 16 days past its due date (4 February).
    aged = {row.key: row.amount for row in finance.aging(session, "USD", date(2027, 2, 20))}
    assert aged["1_30"] == OWED
    # The receivables export, bucket by bucket, says the same.
    (row,) = receivables(client, billing_staff, "2027-02-20")
    assert (row["balance"], row["aging_bucket"], row["paid_to_date"]) == ("1000.00", "1-30", "0.00")
    assert receivables(client, billing_staff, "2027-03-01") == []


def test_the_outstanding_and_top_licensees_of_a_range_after_its_paid_at_count_what_it_owed(
    client: FlaskClient, billing_staff: User
) -> None:
    _cancelled_then_the_cheque_bounced()
    session = db.session()
    # A range starting after its `paid_at`: February and March by month.
    february = Filters(date(2027, 2, 1), date(2027, 3, 1), currency="USD", as_of=date(2027, 2, 28))
    feb, mar = finance.cash_flow(session, february)
    assert (feb.reversed, feb.outstanding, feb.refunds_owed) == (OWED, OWED, ZERO)
    assert (mar.credited, mar.outstanding, mar.refunds_owed) == (OWED, ZERO, ZERO)
    # Every day of February and March as a period end: the ledger's outstanding.
    ends = DAYS[31:]
    outstanding, _back = finance.period_end_balances(session, "USD", ends, ends[0])
    assert outstanding == [_ledger_on(day) for day in ends]
    # The page's aging on the range's last day of February equals its Outstanding.
    assert sum((row.amount for row in finance.aging(session, "USD", feb.period.end)), ZERO) == (
        feb.outstanding
    )
    (row,) = receivables(client, billing_staff, "2027-02-28")
    assert Decimal(row["balance"]) == feb.outstanding

    # January and February: the licensee invoiced in January owed 1000.00 at the end of
    # February, as known now (the cheque never paid it).
    (top,) = finance.top_licensees(session, Filters(date(2027, 1, 1), date(2027, 2, 1)))
    assert (top.invoiced, top.collected, top.outstanding) == (OWED, ZERO, OWED)
