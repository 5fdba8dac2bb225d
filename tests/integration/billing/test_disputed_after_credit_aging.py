"""Round 55 (aging55): a card payment's dispute, booked with Stripe's earlier day after a
credit note in full, on the Finance page's aging.

    INV 250.00 paid by card on 2027-01-20 (`paid_at`); the licence cancelled: a credit
    note of 250.00 on 03-10; on 03-12 Stripe's dispute arrives, lost, the money
    withdrawn on 03-02: the invoice stays paid (250.00 - 0.00 - 250.00 = 0.00)

By the bank's days it owed 250.00 from 03-02 to 03-09. The invoice never reopened, so
no day owed again was set and nothing was asked for again: since round 55
(statements55) that balance is *Disputed or lost, not yet owed again* on the page and
`not_chased` in the export, where both aged it from its due date (1-30 days).
`paid_at` (20 January) chose it out of the page's aging; the rule
(`billing.queries.moving_or_owing`) keeps it, as the receivables export and the ledger
count it (`tests/integration/finance/test_aging_after_paid_at.py` has the offline case).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.finance import queries as finance
from tests.support.exports import receivables
from tests.support.factories import billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import WITHDRAWN, charge_of, lost
from .refund_support import paid_by_card
from .stripe_support import stripe_config

ZERO = Decimal(0)
OWED = Decimal("250.00")


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_dispute_withdrawn_before_a_credit_note_in_full_is_in_the_aging_on_its_days(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    with time_machine.travel(datetime(2027, 1, 20, 15, tzinfo=UTC), tick=True):
        invoice = invoice_for(vendor, ("250.00",))
        payment = paid_by_card(client, vendor, localstripe, invoice)
    with time_machine.travel(datetime(2027, 3, 10, 15, tzinfo=UTC), tick=True):
        services.issue_credit_note(
            invoice.id, amount=OWED, reason="Licence cancelled", actor=billing_clerk()
        )
    with time_machine.travel(datetime(2027, 3, 12, 15, tzinfo=UTC), tick=True):
        lost(client, payment, charge_of(localstripe, payment), amount=25000, at=WITHDRAWN)
    session = db.session()
    session.expire_all()
    stored = session.get(Invoice, invoice.id)
    assert stored is not None
    assert (stored.state, stored.owed) == ("paid", ZERO)

    for day, owes in (
        (date(2027, 3, 1), ZERO),
        (date(2027, 3, 5), OWED),
        (date(2027, 3, 10), ZERO),
    ):
        ledger = finance.receivables(session, "USD", None, day)
        assert sum((each.balance_on(day) for each in ledger), ZERO) == owes, day
        aged = {row.key: row.amount for row in finance.aging(session, "USD", day)}
        assert sum(aged.values(), ZERO) == owes, day
        # Round 55 (statements55): not 1-30 days past its due date (14 February), as if
        # chased: the dispute lost set no day owed again (the invoice owed nothing at
        # its close) and nothing was ever asked for again: not chased, on the page...
        assert (aged["1_30"], aged["disputed"]) == (ZERO, owes), day
    # ...and in the export alike.
    # Round 62 (asof62): its state as it stood that day, owing by the bank's days: open
    # (it read today's, paid).
    (row,) = receivables(client, billing_staff, "2027-03-05")
    assert (row["balance"], row["aging_bucket"], row["state"]) == ("250.00", "not_chased", "open")
    assert (row["bucket"], row["days_1_30"]) == ("1-30", "250.00")  # schema 1's columns


def test_a_reopening_booked_later_leaves_the_days_before_it_not_chased(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 62 (asof62): "never reopened since" was today's state (not open or written
    off), so a reopening booked on 1 April turned 5 March's balance chased, 1-30 days
    past due, on the page and in the export as of 5 March. It is now the reopening as
    booked by the end of the day asked (the books' decision on its own day): 5 March
    reads as it did, and the export's state is the day's, open."""
    with time_machine.travel(datetime(2027, 1, 20, 15, tzinfo=UTC), tick=True):
        invoice = invoice_for(vendor, ("250.00",))
        payment = paid_by_card(client, vendor, localstripe, invoice)
    with time_machine.travel(datetime(2027, 3, 10, 15, tzinfo=UTC), tick=True):
        services.issue_credit_note(
            invoice.id, amount=OWED, reason="Licence cancelled", actor=billing_clerk()
        )
    with time_machine.travel(datetime(2027, 3, 12, 15, tzinfo=UTC), tick=True):
        lost(client, payment, charge_of(localstripe, payment), amount=25000, at=WITHDRAWN)
    session = db.session()
    # The books reopen it on 1 April, as the machine's step stamps it.
    session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id)
        .values(state="open", paid_at=None, reopened_at=datetime(2027, 4, 1, 15, tzinfo=UTC))
    )
    session.expire_all()
    aged = {row.key: row.amount for row in finance.aging(session, "USD", date(2027, 3, 5))}
    assert (aged["1_30"], aged["disputed"]) == (ZERO, OWED)
    (row,) = receivables(client, billing_staff, "2027-03-05")
    assert (row["balance"], row["aging_bucket"], row["state"]) == ("250.00", "not_chased", "open")
