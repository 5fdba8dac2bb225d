"""A small billing history made through the billing services, and the same
history written down as plain (date, amount) facts, so the tests can add the
expected figures up by hand, independently of the dashboard's queries.

    A  INV 1000.00  issued 2027-01-10 (due 02-09); 400.00 wire received 02-05;
                    credit note 100.00 on 03-02            -> owes 500.00
    B  INV 2500.00  issued 2027-02-14 (due 03-16); paid in full 03-20
    A  INV  300.00  issued 2027-03-03, void 03-04          -> counts nowhere
    B  INV  750.50  issued 2027-03-15 (due 04-14), unpaid
    A  INV  999.00 EUR issued 2027-02-01                   -> another currency
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask

from licensing import db
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.finance import queries as finance
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.factories import billing_clerk

# The finance dashboard over the history's first quarter, as of 2027-04-20.
RANGE = "/console/finance/?from=2027-01&to=2027-03&currency=USD&as_of=2027-04-20"


def at(day: date) -> datetime:
    """Mid-afternoon UTC: the same calendar day at the office (Chicago)."""
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)


@dataclass
class History:
    organizations: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    # (organization key, issue date, due date, total), issued USD invoices not voided
    invoices: list[tuple[str, date, date, Decimal]] = field(default_factory=list)
    # (organization key, invoice index, date, amount)
    payments: list[tuple[str, int, date, Decimal]] = field(default_factory=list)
    credits: list[tuple[int, date, Decimal]] = field(default_factory=list)


def sums_are_the_ledger_every_day(currency: str, days: Sequence[date]) -> None:
    """Round 53's daily cross-check: on every one of `days` (ascending) as a period
    end, the balances the database sums (`period_end_balances`: outstanding, credit
    beyond balances) are what `Receivable.balance_on` and `owed_back_on`, the
    definition in Python, give each invoice; and on every third day `owed_on`'s
    per-invoice owing, as the bank's days had it and as known now, is theirs too."""
    session = db.session()
    zero = Decimal(0)
    ledger = finance.receivables(session, currency, days[0], days[-1])
    credited = finance.receivables(session, currency, None, days[-1], credited_only=True)
    outstanding, beyond = finance.period_end_balances(session, currency, days, days[0])
    assert outstanding == [sum((each.balance_on(day) for each in ledger), zero) for day in days], (
        currency
    )
    assert beyond == [sum((each.owed_back_on(day) for each in credited), zero) for day in days], (
        currency
    )
    for day in days[::3]:
        owing = {
            each.invoice_id: (each.balance_on(day), each.balance_on(day, as_known_now=True))
            for each in finance.receivables(session, currency, day, day)
        }
        found = {
            row.invoice_id: (row.balance, row.known_now)
            for row in finance.owed_on(session, currency, day)
        }
        assert found == {key: both for key, both in owing.items() if any(both)}, (currency, day)


def issue(organization_id: int, amount: str, day: date, currency: str = "USD") -> Invoice:
    with db.transaction() as session:
        return billing.create_invoice(
            session,
            organization_id=organization_id,
            currency=currency,
            charges=[billing.Charge("Annual development fee", Decimal(amount))],
            source_type="manual",
            payment_terms_days=30,
            late_fee_monthly_percent=Decimal("1.5"),
            now=at(day),
            actor=Actor.SYSTEM,
        )


def refunded_credit(organization_id: int) -> None:
    """1,000.00 invoiced on 2027-01-10 and paid in full on 01-20; a 150.00 credit
    note on 01-25 (all of it owed back) and its refund sent by wire on 01-28."""
    invoice = issue(organization_id, "1000.00", date(2027, 1, 10))
    paid_offline(
        invoice.id, "1000.00", "W-1", received_on=date(2027, 1, 20), now=at(date(2027, 1, 20))
    )
    credit = credited(invoice.id, "150.00", "Seat removed", now=at(date(2027, 1, 25)))
    refunded_offline(
        credit.id, "150.00", "RF-1", sent_on=date(2027, 1, 28), now=at(date(2027, 1, 28))
    )


@pytest.fixture
def history(app: Flask) -> History:
    session = db.session()
    made = History()
    for key in ("A", "B"):
        organization = factories.make_organization(session)
        made.organizations[key] = organization.id
        made.names[key] = organization.legal_name
    a, b = made.organizations["A"], made.organizations["B"]

    first = issue(a, "1000.00", date(2027, 1, 10))
    made.invoices.append(("A", date(2027, 1, 10), date(2027, 2, 9), Decimal("1000.00")))
    paid_offline(
        first.id, "400.00", "WIRE-1", received_on=date(2027, 2, 5), now=at(date(2027, 2, 6))
    )
    made.payments.append(("A", 0, date(2027, 2, 5), Decimal("400.00")))
    credited(first.id, "100.00", "Goodwill", now=at(date(2027, 3, 2)))
    made.credits.append((0, date(2027, 3, 2), Decimal("100.00")))

    second = issue(b, "2500.00", date(2027, 2, 14))
    made.invoices.append(("B", date(2027, 2, 14), date(2027, 3, 16), Decimal("2500.00")))
    paid_offline(second.id, "2500.00", "ACH-7", method="ach", now=at(date(2027, 3, 20)))
    made.payments.append(("B", 1, date(2027, 3, 20), Decimal("2500.00")))

    voided = issue(a, "300.00", date(2027, 3, 3))
    billing.void_invoice(
        voided.id, reason="Issued in error", now=at(date(2027, 3, 4)), actor=billing_clerk()
    )

    issue(b, "750.50", date(2027, 3, 15))
    made.invoices.append(("B", date(2027, 3, 15), date(2027, 4, 14), Decimal("750.50")))

    issue(a, "999.00", date(2027, 2, 1), currency="EUR")
    return made


def balance_on(history: History, index: int, day: date) -> Decimal:
    """What invoice `index` still owed at the end of `day`, from the facts alone."""
    _key, issued, _due, total = history.invoices[index]
    if issued > day:
        return Decimal(0)
    paid = sum(
        (amount for _k, i, when, amount in history.payments if i == index and when <= day),
        Decimal(0),
    )
    credited = sum(
        (amount for i, when, amount in history.credits if i == index and when <= day), Decimal(0)
    )
    return max(total - paid - credited, Decimal(0))
