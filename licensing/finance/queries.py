"""The finance dashboard's figures, read from the billing ledger.

Definitions (docs/finance-dashboard.md says the same for readers):

- **Invoiced**: totals of issued invoices (`open`, `paid`, `uncollectible`) by
  issue date. Void invoices were issued in error and count nowhere.
- **Collected**: payments, card and offline, by the day received (an offline
  payment's `received_on`, else the office date it was applied): those that
  succeeded and those reversed since (`billing.queries.collected_between`).
- **Reversed**: payments the bank returned, by the reversal's `returned_on`
  (`billing.queries.reversed_between`). A period's figures never change when a
  payment made in it is reversed later: the reversal is the later period's.
- **Credited**: credit notes by issue date.
- **Outstanding**: receivables at the end of each period: for each invoice
  issued by then, its total less payments received, plus those the bank had
  returned, and less credits issued, by then (never below zero, as a credit
  beyond the balance is a refund).
- **Refunds owed** (round 52): at the end of each period, what credit notes
  credited beyond what their invoices owed by then, less the refunds sent by then.
  Outstanding less it changes each period by invoiced - collected + reversed -
  credited + refunded.
- **Top licensees**: what each paid and owes as known now (net of every
  reversal recorded so far, like an invoice's balance).
- **Aging** of those balances as of a date, by days past the due date (or the day
  owed again after a dispute lost), and apart those not chased that day because of
  a dispute (open, or lost and not yet owed again).

Every figure is in one currency (the `currency` filter): amounts in different
currencies are never added. Sums are exact decimals from the database; the
receivables are computed per invoice in Python from narrow rows, leaving out
invoices settled before the window (they owe nothing at any date in it), read
once for the page (`page_ledger`), and summed at every period end from one pass
over each invoice's changes (`balances_at`, round 52).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing import calendar
from licensing.accounts.models import Organization
from licensing.agreements import queries as agreement_queries
from licensing.agreements.models import Application
from licensing.agreements.states import AWAITING_STAFF
from licensing.billing.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentReversal,
    Refund,
)
from licensing.billing.queries import (
    collected_between,
    not_chased_on,
    owed_again_by,
    owed_since,
    refunded_between,
    reversed_between,
)
from licensing.billing.states import AGREEMENT, DRAFT, ROYALTY_REPORT, VOID
from licensing.db import money_sum
from licensing.finance.classification import AXES, RevenueLine, classify
from licensing.money import minor_units, proportional
from licensing.permissions import queries as permission_queries
from licensing.permissions.models import PermissionRequest
from licensing.permissions.states import WITH_STAFF

ZERO = Decimal(0)
MONTH = "month"
QUARTER = "quarter"
GRANULARITIES = (MONTH, QUARTER)
NOT_COUNTED = (DRAFT, VOID)

# Invoice sources whose lines are license revenue (fees and royalties), by kind.
REVENUE_KINDS = {AGREEMENT: "up_front", ROYALTY_REPORT: "royalty"}


# --- periods ---------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str  # "2027-03" or "2027-Q1"
    start: date
    end: date

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def periods(first: date, last: date, granularity: str) -> list[Period]:
    """Calendar months (or quarters) from the one holding `first` to the one holding `last`."""
    step = 3 if granularity == QUARTER else 1
    cursor = month_start(first)
    if granularity == QUARTER:
        cursor = cursor.replace(month=(cursor.month - 1) // 3 * 3 + 1)
    found = []
    while cursor <= last:
        end = month_end(add_months(cursor, step - 1))
        key = (
            f"{cursor.year}-Q{(cursor.month - 1) // 3 + 1}"
            if granularity == QUARTER
            else f"{cursor:%Y-%m}"
        )
        found.append(Period(key, cursor, end))
        cursor = add_months(cursor, step)
    return found


@dataclass(frozen=True)
class Filters:
    """What the page and the report show: a range of months, one currency, and
    the date the receivables are aged on."""

    first_month: date
    last_month: date
    granularity: str = MONTH
    currency: str = "USD"
    as_of: date | None = None
    top: int = 10

    @property
    def start(self) -> date:
        return self.periods[0].start

    @property
    def end(self) -> date:
        return self.periods[-1].end

    @property
    def aging_date(self) -> date:
        return self.as_of or self.end

    @property
    def periods(self) -> list[Period]:
        return periods(self.first_month, self.last_month, self.granularity)


def _moment(day: date) -> datetime:
    """The start of `day` in UTC, a day early: a bound loose enough for office dates."""
    return datetime.combine(day - timedelta(days=1), time.min, tzinfo=UTC)


# --- the ledger --------------------------------------------------------------------


@dataclass(frozen=True)
class Returned:
    """A payment the bank returned: the day it was paid, the day it was returned."""

    paid_on: date
    returned_on: date
    amount: Decimal


@dataclass
class Receivable:
    """One issued invoice and what settled it (payments and credits), with dates,
    and the payments among them that the bank returned later."""

    invoice_id: int
    organization_id: int
    total: Decimal
    issue_date: date
    due_date: date
    settlements: list[tuple[date, Decimal]] = field(default_factory=list)
    returns: list[Returned] = field(default_factory=list)
    # The office day it was voided (issued in error): it owes nothing from then on,
    # as the receivables export counts it. Only a statement of account reads voided
    # invoices (`receivables(..., voided_too=True)`); the page's figures leave them out.
    voided_on: date | None = None

    def balance_on(self, day: date, *, as_known_now: bool = False) -> Decimal:
        """What was owed at the end of `day`, as the bank's days had it: a payment
        returned after `day` was still paid on it. `as_known_now` counts every
        reversal recorded so far from the day its payment was made instead (the
        top licensees: a bounced cheque is not money the licensee paid)."""
        return max(self._owed_on(day, as_known_now=as_known_now), ZERO)

    def owed_back_on(self, day: date) -> Decimal:
        """What credit beyond what it owed came to at the end of `day` (the other side
        of `balance_on`'s floor at zero): what the office owed back on it, before any
        refund sent (round 52: the Finance page's *Refunds owed*)."""
        return max(-self._owed_on(day), ZERO)

    def _owed_on(self, day: date, *, as_known_now: bool = False) -> Decimal:
        """Its total less what settled it, plus what the bank returned, by `day`:
        below zero when credited beyond what it owed."""
        if self.issue_date > day or (self.voided_on is not None and self.voided_on <= day):
            return ZERO
        settled = sum((amount for when, amount in self.settlements if when <= day), ZERO)
        returned = sum(
            (
                each.amount
                for each in self.returns
                if (each.paid_on if as_known_now else each.returned_on) <= day
            ),
            ZERO,
        )
        return self.total - settled + returned

    def changes(
        self, figure: Callable[[Receivable, date], Decimal] | None = None
    ) -> Iterator[tuple[date, Decimal]]:
        """Each day its balance (`balance_on`, or the `figure` given) may change, in
        order, with the change: its issue, each settlement, each return and its
        voiding. Between them the figure stands still, so these add up to it on any day."""
        of = figure or Receivable.balance_on
        days = {self.issue_date, *(when for when, _amount in self.settlements)}
        days.update(each.returned_on for each in self.returns)
        if self.voided_on is not None:
            days.add(self.voided_on)
        before = ZERO
        for day in sorted(days):
            balance = of(self, day)
            if balance != before:
                yield day, balance - before
            before = balance


def balances_at(
    ledger: Iterable[Receivable],
    ends: Sequence[date],
    figure: Callable[[Receivable, date], Decimal] | None = None,
) -> list[Decimal]:
    """What the `ledger` owed at the end of each of `ends` (ascending): the sum of
    `balance_on` (or the `figure` given) each end, from one pass over each invoice's
    changes (`changes`) rather than a pass over every invoice at every end (round 52)."""
    changes = (change for receivable in ledger for change in receivable.changes(figure))
    return running_at(changes, ends)


def running_at(changes: Iterable[tuple[date, Decimal]], ends: Sequence[date]) -> list[Decimal]:
    """The sum of the `changes` (day, amount) made by the end of each of `ends`
    (ascending): each added to the first end on or after its day."""
    moved = [ZERO] * len(ends)
    for day, change in changes:
        index = bisect_left(ends, day)  # the first end on or after the day
        if index < len(ends):
            moved[index] += change
    found, running = [], ZERO
    for change in moved:
        running += change
        found.append(running)
    return found


@dataclass(frozen=True)
class Collection:
    invoice_id: int
    organization_id: int
    amount: Decimal
    received_on: date
    # What the bank returned of it since (counted by `reversals`): all of a bounced
    # cheque, the disputed amount of a card payment disputed in part.
    returned: Decimal = ZERO

    @property
    def kept(self) -> Decimal:
        """What the licensee paid as known now: the amount less what was returned."""
        return self.amount - self.returned


@dataclass(frozen=True)
class Reversal:
    invoice_id: int
    organization_id: int
    amount: Decimal
    returned_on: date


def _received_on(received_on: date | None, settled_at: datetime | None) -> date | None:
    if received_on is not None:
        return received_on
    return calendar.office_date(settled_at) if settled_at is not None else None


def _issued(currency: str) -> list[ColumnElement[bool]]:
    return [Invoice.state.not_in(NOT_COUNTED), Invoice.currency == currency]


class _Moved(NamedTuple):
    """A payment or refund: the day it counts on, and its row (the columns asked
    for, by name: `row.amount`)."""

    day: date
    row: Row[*tuple[Any, ...]]


def _moved(
    session: Session,
    record: type[Payment] | type[Refund],
    columns: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    day: InstrumentedAttribute[date | None],
    *where: ColumnElement[bool],
    with_reversal: bool = False,
) -> Iterator[_Moved]:
    """Each payment or refund (`record`) `where` says, with its `columns`: made on its
    `day` (offline), else on the office date Stripe settled it. `with_reversal` joins
    a payment's reversal, if any, for its columns."""
    statement = select(*columns, day.label("offline_day"), record.settled_at).select_from(record)
    if with_reversal:
        statement = statement.outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
    rows = session.execute(statement.where(*where))
    for row in rows:
        made = _received_on(row.offline_day, row.settled_at)
        if made is not None:
            yield _Moved(made, row)


def _not_void(invoice_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """Money moved on an invoice that counts: a void invoice (issued in error) counts
    nowhere, so neither does a payment recorded against it and reversed before the
    void (the only payment a void invoice can have)."""
    return invoice_id.not_in(select(Invoice.id).where(Invoice.state.in_(NOT_COUNTED)))


def collections(session: Session, currency: str, start: date, end: date) -> list[Collection]:
    """Money collected from `start` to `end` (inclusive), by the day received:
    payments that succeeded, and those the bank returned since (their reversals
    count when returned: `reversals`). Billing's `collected_between` decides;
    payments of void invoices count nowhere, as their invoices."""
    paid = (
        Payment.invoice_id,
        Payment.organization_id,
        Payment.amount,
        PaymentReversal.amount.label("returned_amount"),
    )
    found = _moved(
        session,
        Payment,
        paid,
        Payment.received_on,
        Payment.currency == currency,
        collected_between(start, end),
        _not_void(Payment.invoice_id),
        with_reversal=True,
    )
    return [
        Collection(
            each.row.invoice_id,
            each.row.organization_id,
            each.row.amount,
            each.day,
            returned=each.row.returned_amount or ZERO,
        )
        for each in found
    ]


def reversals(session: Session, currency: str, start: date, end: date) -> list[Reversal]:
    """Payments the bank returned from `start` to `end` (inclusive), by the day
    returned (billing's `reversed_between`), whenever the payment was made; not
    those of void invoices (`_not_void`)."""
    rows = session.execute(
        select(
            PaymentReversal.invoice_id,
            PaymentReversal.organization_id,
            PaymentReversal.amount,
            PaymentReversal.returned_on,
        ).where(
            PaymentReversal.currency == currency,
            reversed_between(start, end),
            _not_void(PaymentReversal.invoice_id),
        )
    )
    return [Reversal(*row) for row in rows]


def receivables(
    session: Session,
    currency: str,
    since: date | None,
    until: date,
    *,
    organization_id: int | None = None,
    organization_ids: Sequence[int] | None = None,
    voided_too: bool = False,
    credited_only: bool = False,
) -> list[Receivable]:
    """Invoices issued by `until` that may owe something on some day from `since`
    (those paid in full before `since` owe nothing in the window: a reversal since
    reopens its invoice, clearing `paid_at`; every one without `since`): of one
    organization when given (or of the `organization_ids`: one read for several).
    `voided_too` adds void invoices, each owing until the day it was voided, as the
    receivables export lists them as of an earlier day (a statement of account).
    `credited_only`: only those with a credit note issued by `until` (the only ones
    credited beyond what they owed: `refunds_owed_at`)."""
    issued = (
        [Invoice.state != DRAFT, Invoice.currency == currency] if voided_too else _issued(currency)
    )
    invoices = select(
        Invoice.id,
        Invoice.organization_id,
        Invoice.total,
        Invoice.issue_date,
        Invoice.due_date,
        Invoice.voided_at,
    ).where(*issued, Invoice.issue_date <= until)
    if since is not None:
        invoices = invoices.where(or_(Invoice.paid_at.is_(None), Invoice.paid_at >= _moment(since)))
    if organization_id is not None:
        invoices = invoices.where(Invoice.organization_id == organization_id)
    if organization_ids is not None:
        invoices = invoices.where(Invoice.organization_id.in_(organization_ids))
    if credited_only:
        noted = select(CreditNote.invoice_id).where(CreditNote.issue_date <= until)
        invoices = invoices.where(Invoice.id.in_(noted))
    ledger = {
        row.id: Receivable(
            row.id,
            row.organization_id,
            row.total,
            row.issue_date,
            row.due_date,
            voided_on=calendar.office_date(row.voided_at) if row.voided_at else None,
        )
        for row in session.execute(invoices)
    }
    if not ledger:
        return []
    ids = select(invoices.subquery().c.id)
    columns = (
        Payment.invoice_id,
        Payment.amount,
        PaymentReversal.returned_on,
        PaymentReversal.amount.label("returned_amount"),
    )
    payments = _moved(
        session,
        Payment,
        columns,
        Payment.received_on,
        Payment.invoice_id.in_(ids),
        collected_between(None, until),
        with_reversal=True,
    )
    for each in payments:
        receivable = ledger[each.row.invoice_id]
        receivable.settlements.append((each.day, each.row.amount))
        if each.row.returned_on is not None:
            # A dispute may take back part of a payment: what the bank returned is the
            # reversal's amount, the rest stays paid (as the receivables export counts it).
            returned = Returned(each.day, each.row.returned_on, each.row.returned_amount)
            receivable.returns.append(returned)
    credits = session.execute(
        select(CreditNote.invoice_id, CreditNote.amount, CreditNote.issue_date).where(
            CreditNote.invoice_id.in_(ids)
        )
    )
    for credit in credits:
        ledger[credit.invoice_id].settlements.append((credit.issue_date, credit.amount))
    # A refund sent is money back out to the licensee (round 53): it settles the
    # invoice less, on the day it went, as `Invoice.owed` counts it.
    sent = _moved(
        session,
        Refund,
        (Refund.invoice_id, Refund.amount),
        Refund.sent_on,
        Refund.invoice_id.in_(ids),
        refunded_between(None, until),
    )
    for each in sent:
        ledger[each.row.invoice_id].settlements.append((each.day, -each.row.amount))
    return list(ledger.values())


def page_ledger(session: Session, filters: Filters) -> list[Receivable]:
    """The receivables of the range, read once for the page's cash flow, top
    licensees and (when its date is in the range) aging (round 52: each read them
    again). Any day from the range's start on, a receivable left out owes nothing
    (paid in full before it), so each figure is what its own read gives."""
    return receivables(session, filters.currency, filters.start, filters.end)


# --- invoiced, collected, reversed, credited, outstanding by period -------------------


@dataclass(frozen=True)
class PeriodFigures:
    period: Period
    invoiced: Decimal
    collected: Decimal
    credited: Decimal
    outstanding: Decimal  # at the period's end
    # Paid back on credit notes beyond what was owed: with it, invoiced - collected -
    # credited + refunded is the change in outstanding once every refund owed is sent.
    refunded: Decimal = ZERO
    # Payments the bank returned in the period (made in it or before): owed again,
    # so invoiced - collected + reversed - credited + refunded is that change.
    reversed: Decimal = ZERO
    # Refunds owed at the period's end and not yet sent (round 52): credit beyond what
    # the invoices owed, less refunds sent by then (`refunds_owed_at`). Outstanding
    # less it changes, period by period, by invoiced - collected + reversed -
    # credited + refunded, whether or not every refund owed has been sent.
    refunds_owed: Decimal = ZERO


def refunds(
    session: Session, currency: str, start: date | None, end: date
) -> list[tuple[date, Decimal]]:
    """Refunds sent (succeeded) between `start` (open when None) and `end`, by the day
    sent: an offline refund's `sent_on`, else the office date Stripe confirmed it."""
    sent = _moved(
        session,
        Refund,
        (Refund.amount,),
        Refund.sent_on,
        Refund.currency == currency,
        refunded_between(start, end),
    )
    return [(each.day, each.row.amount) for each in sent]


def refunds_owed_at(session: Session, currency: str, ends: Sequence[date]) -> list[Decimal]:
    """The refunds owed and not yet sent at the end of each of `ends` (ascending):
    what credit notes credited beyond what their invoices owed by then, the refunds
    sent by then counted in each invoice's own figure (`Receivable.owed_back_on`, the
    part `balance_on` leaves out). Read from every credited invoice, however long ago
    settled: a refund may be owed on an invoice paid before the range. Never below
    zero (round 53: the refunds sent were subtracted from the sum of every invoice's,
    so a payment returned after its refund was sent read a negative refund owed and
    an *Outstanding* short by the refund; now that invoice owes the refund again)."""
    if not ends:
        return []
    credited = receivables(session, currency, None, ends[-1], credited_only=True)
    return balances_at(credited, ends, Receivable.owed_back_on)


def _by_day(session: Session, statement: Select[*tuple[Any, ...]]) -> list[tuple[date, Decimal]]:
    return [(row[0], row[1]) for row in session.execute(statement)]


def _bucket(amounts: Iterable[tuple[date, Decimal]], period: Period) -> Decimal:
    return sum((amount for day, amount in amounts if period.contains(day)), ZERO)


def cash_flow(
    session: Session, filters: Filters, *, ledger: Sequence[Receivable] | None = None
) -> list[PeriodFigures]:
    """The figures of each period; `ledger` the range's receivables if already read
    (`receivables(session, currency, start, end)`, which `page_ledger` shares)."""
    start, end, currency = filters.start, filters.end, filters.currency
    invoiced = _by_day(
        session,
        select(Invoice.issue_date, money_sum(Invoice.total))
        .where(*_issued(currency), Invoice.issue_date.between(start, end))
        .group_by(Invoice.issue_date),
    )
    credited = _by_day(
        session,
        select(CreditNote.issue_date, money_sum(CreditNote.amount))
        .where(CreditNote.currency == currency, CreditNote.issue_date.between(start, end))
        .group_by(CreditNote.issue_date),
    )
    collected = [(c.received_on, c.amount) for c in collections(session, currency, start, end)]
    returned = [(r.returned_on, r.amount) for r in reversals(session, currency, start, end)]
    refunded = refunds(session, currency, start, end)
    if ledger is None:
        ledger = receivables(session, currency, start, end)
    periods = filters.periods
    ends = [period.end for period in periods]
    outstanding = balances_at(ledger, ends)
    owed_back = refunds_owed_at(session, currency, ends)
    return [
        PeriodFigures(
            period,
            invoiced=_bucket(invoiced, period),
            collected=_bucket(collected, period),
            credited=_bucket(credited, period),
            outstanding=owed,
            refunded=_bucket(refunded, period),
            reversed=_bucket(returned, period),
            refunds_owed=back,
        )
        for period, owed, back in zip(periods, outstanding, owed_back, strict=True)
    ]


def voided(session: Session, currency: str, start: date, end: date) -> tuple[int, Decimal]:
    """The invoices issued from `start` to `end` and voided since: how many, and their
    total. They count nowhere, but the invoices export lists them (state `void`), so
    the page shows them as a line of their own and the two reconcile."""
    count, total = session.execute(
        select(func.count(), money_sum(Invoice.total)).where(
            Invoice.state == VOID,
            Invoice.currency == currency,
            Invoice.issue_date.between(start, end),
        )
    ).one()
    return int(count or 0), Decimal(total or ZERO)


# --- aging ---------------------------------------------------------------------------

AGING_BUCKETS = (
    ("current", "Current (not yet due)"),
    ("1_30", "1-30 days past due"),
    ("31_60", "31-60 days past due"),
    ("61_90", "61-90 days past due"),
    ("over_90", "Over 90 days past due"),
)
# Balances not chased on the day because of a dispute: apart from the days past due,
# as the office is contesting them with the bank, or (a dispute lost) they are owed
# again only from a later day (`not_chased_on`).
DISPUTED = ("disputed", "Disputed or lost, not yet owed again")


# The most days past due in each bucket but the last: the dashboard's aging and the
# receivables export's (`exports/datasets/receivables.py`) bucket balances alike.
_AGING_LIMITS = (0, 30, 60, 90)


def aging_index(days_past_due: int) -> int:
    """The bucket's place in `AGING_BUCKETS`: 0 not yet due, ..., 4 over 90 days past due."""
    return bisect_left(_AGING_LIMITS, days_past_due)


def aging_bucket(days_past_due: int) -> str:
    return AGING_BUCKETS[aging_index(days_past_due)][0]


@dataclass(frozen=True)
class AgingRow:
    key: str
    label: str
    invoices: int
    amount: Decimal


def aging(
    session: Session, currency: str, as_of: date, *, ledger: Sequence[Receivable] | None = None
) -> list[AgingRow]:
    """Balances owed on `as_of` by days past the day they were owed (the due date,
    or the day owed again after a dispute lost), and those not chased that day
    because of a dispute in a row of their own (`DISPUTED`), last. `ledger`: the
    receivables of a range holding `as_of`, if already read (`page_ledger`)."""
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    not_chased = set(
        session.scalars(select(Invoice.id).where(*_issued(currency), not_chased_on(as_of)))
    )
    owed_again = _owed_again(session, currency, as_of)
    if ledger is None:
        ledger = receivables(session, currency, as_of, as_of)
    for receivable in ledger:
        balance = receivable.balance_on(as_of)
        if balance > 0:
            owed = owed_since(receivable.due_date, owed_again.get(receivable.invoice_id))
            key = (
                DISPUTED[0]
                if receivable.invoice_id in not_chased
                else aging_bucket((as_of - owed).days)
            )
            amounts[key] += balance
            counts[key] += 1
    return [
        AgingRow(key, label, counts[key], amounts.get(key, ZERO))
        for key, label in (*AGING_BUCKETS, DISPUTED)
    ]


def _owed_again(session: Session, currency: str, as_of: date) -> dict[int, date]:
    """The invoices with a dispute lost by `as_of`: the day owed again (`owed_again_by`)."""
    owed_again = owed_again_by(as_of)
    rows = session.execute(
        select(Invoice.id, owed_again).where(*_issued(currency), owed_again.is_not(None))
    )
    return {invoice_id: day for invoice_id, day in rows if day is not None}


# --- top licensees --------------------------------------------------------------------


@dataclass(frozen=True)
class Licensee:
    organization_id: int
    name: str
    invoiced: Decimal
    collected: Decimal
    outstanding: Decimal  # at the end of the range


def top_licensees(
    session: Session, filters: Filters, *, ledger: Sequence[Receivable] | None = None
) -> list[Licensee]:
    """The organizations invoiced most in the range, largest first; `ledger` the
    range's receivables if already read (`page_ledger`)."""
    start, end, currency = filters.start, filters.end, filters.currency
    invoiced = dict(
        session.execute(
            select(Invoice.organization_id, money_sum(Invoice.total))
            .where(*_issued(currency), Invoice.issue_date.between(start, end))
            .group_by(Invoice.organization_id)
        ).all()
    )
    ranked = sorted(invoiced.items(), key=lambda item: (-item[1], item[0]))[: filters.top]
    chosen = {organization_id for organization_id, _ in ranked}
    if not chosen:
        return []
    # What each paid and owes as known now: a payment the bank returned, whenever,
    # is not money the licensee paid (the period figures count it, then its reversal).
    collected: dict[int, Decimal] = defaultdict(Decimal)
    for payment in collections(session, currency, start, end):
        if payment.organization_id in chosen:
            collected[payment.organization_id] += payment.kept
    outstanding: dict[int, Decimal] = defaultdict(Decimal)
    if ledger is None:
        ledger = receivables(session, currency, end, end)
    for receivable in ledger:
        if receivable.organization_id in chosen:
            owed = receivable.balance_on(end, as_known_now=True)
            outstanding[receivable.organization_id] += owed
    names = dict(
        session.execute(
            select(Organization.id, Organization.legal_name).where(Organization.id.in_(chosen))
        ).all()
    )
    return [
        Licensee(
            organization_id,
            names.get(organization_id, f"Organization {organization_id}"),
            amount,
            collected.get(organization_id, ZERO),
            outstanding.get(organization_id, ZERO),
        )
        for organization_id, amount in ranked
    ]


# --- revenue by classification ---------------------------------------------------------


@dataclass(frozen=True)
class RevenueRow:
    value: str
    up_front: Decimal
    # Royalties invoiced (gross of credit notes) and the royalty credit notes
    # issued in the range, split over the credited invoice's lines as
    # `credit_note_lines` splits them (round 39: a finance reader wants net).
    royalty: Decimal
    royalty_credited: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.up_front + self.royalty

    @property
    def royalty_net(self) -> Decimal:
        """Royalties invoiced less royalty credit notes."""
        return self.royalty - self.royalty_credited


@dataclass(frozen=True)
class Revenue:
    """License revenue invoiced in the range by each classification axis, and
    what else was invoiced (late fees, manual invoices) so the two add up; and
    the royalty credit notes issued in the range (`royalty_credited`)."""

    by_axis: dict[str, list[RevenueRow]]
    total: Decimal
    other: Decimal
    royalty: Decimal = ZERO
    royalty_credited: Decimal = ZERO

    @property
    def royalty_net(self) -> Decimal:
        return self.royalty - self.royalty_credited


# An invoice line as `RevenueLine` takes it, in its field order.
_REVENUE_LINE = (
    InvoiceLine.id,
    InvoiceLine.invoice_id,
    Invoice.source_type,
    Invoice.source_id,
    InvoiceLine.position,
    InvoiceLine.amount,
)


def revenue_lines(session: Session, filters: Filters) -> list[RevenueLine]:
    rows = session.execute(
        select(*_REVENUE_LINE)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            *_issued(filters.currency),
            Invoice.issue_date.between(filters.start, filters.end),
            Invoice.source_type.in_(sorted(REVENUE_KINDS)),
        )
    )
    return [RevenueLine(*row) for row in rows]


def royalty_credit_parts(session: Session, filters: Filters) -> list[tuple[RevenueLine, Decimal]]:
    """The royalty credit notes issued in the range (credit notes of royalty-report
    invoices, as the page's *Credited* dates them), each split over its invoice's
    lines in proportion to their amounts, as the `credit_note_lines` export splits
    it: (the credited line, its part)."""
    rows = session.execute(
        select(CreditNote.id, CreditNote.amount, *_REVENUE_LINE)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            CreditNote.currency == filters.currency,
            CreditNote.issue_date.between(filters.start, filters.end),
            Invoice.source_type == ROYALTY_REPORT,
        )
        .order_by(CreditNote.id, InvoiceLine.position)
    ).all()
    parts: list[tuple[RevenueLine, Decimal]] = []
    for _credit_id, group in groupby(rows, key=lambda row: row[0]):
        lines = list(group)
        credited = [RevenueLine(*line[2:]) for line in lines]
        shares = proportional(
            lines[0][1], [line.amount for line in credited], minor_units(filters.currency)
        )
        parts.extend(zip(credited, shares, strict=True))
    return parts


def revenue(session: Session, filters: Filters) -> Revenue:
    lines = revenue_lines(session, filters)
    credits = royalty_credit_parts(session, filters)
    classified = classify(session, [*lines, *(line for line, _part in credits)])
    sums: dict[str, dict[str, dict[str, Decimal]]] = {
        axis: defaultdict(lambda: defaultdict(Decimal)) for axis in AXES
    }
    for line in lines:
        kind = REVENUE_KINDS[line.source_type]
        for axis in AXES:
            sums[axis][classified[line.invoice_line_id].value(axis)][kind] += line.amount
    for line, part in credits:
        for axis in AXES:
            sums[axis][classified[line.invoice_line_id].value(axis)]["royalty_credited"] += part
    by_axis = {
        axis: sorted(
            (
                RevenueRow(
                    value,
                    kinds.get("up_front", ZERO),
                    kinds.get("royalty", ZERO),
                    kinds.get("royalty_credited", ZERO),
                )
                for value, kinds in values.items()
            ),
            key=lambda row: (-row.total, row.value),
        )
        for axis, values in sums.items()
    }
    total = sum((line.amount for line in lines), ZERO)
    all_invoiced = session.scalar(
        select(money_sum(Invoice.total)).where(
            *_issued(filters.currency), Invoice.issue_date.between(filters.start, filters.end)
        )
    )
    royalty = sum((line.amount for line in lines if line.source_type == ROYALTY_REPORT), ZERO)
    return Revenue(
        by_axis,
        total,
        (all_invoiced or ZERO) - total,
        royalty=royalty,
        royalty_credited=sum((part for _line, part in credits), ZERO),
    )


def currencies(session: Session) -> list[str]:
    """Currencies of issued invoices, for the filter."""
    found = session.scalars(
        select(Invoice.currency).where(Invoice.state.not_in(NOT_COUNTED)).distinct()
    )
    return sorted(found)


# --- queue health ----------------------------------------------------------------------

ON_TRACK = "on_track"
DUE_SOON = "due_soon"
PAST_TARGET = "past_target"
BANDS = (
    (ON_TRACK, "On track"),  # younger than half the target
    (DUE_SOON, "Due soon"),  # half the target or older
    (PAST_TARGET, "Past target"),
)


@dataclass(frozen=True)
class QueueHealth:
    key: str
    title: str
    target_days: int
    bands: dict[str, int]
    oldest_days: int

    @property
    def count(self) -> int:
        return sum(self.bands.values())


def _band(age_days: int, target_days: int, past: bool) -> str:
    if past:
        return PAST_TARGET
    return DUE_SOON if age_days * 2 >= target_days else ON_TRACK


def _health(key: str, title: str, target: int, ages: Sequence[tuple[int, bool]]) -> QueueHealth:
    bands = {band: 0 for band, _ in BANDS}
    for age, past in ages:
        bands[_band(age, target, past)] += 1
    return QueueHealth(key, title, target, bands, max((age for age, _ in ages), default=0))


# Other queues a package adds (royalty reports): each gives its QueueHealth.
QueueSource = Callable[[Session, datetime], QueueHealth]
_QUEUE_SOURCES: dict[str, QueueSource] = {}


def register_queue(key: str, source: QueueSource) -> None:
    _QUEUE_SOURCES[key] = source


def health(key: str, title: str, target: int, ages: Sequence[tuple[int, bool]]) -> QueueHealth:
    """A queue's health from each item's (age, past its target)."""
    return _health(key, title, target, ages)


# What a permission request's service level is counted from (`Timed`).
_TIMED = ("state", "submitted_at", "decided_at", "closed_at", "sla_due_at", "answer_due_at")


def queue_health(
    session: Session, now: datetime, *, application_target: int, permission_target: int
) -> list[QueueHealth]:
    """Items waiting on licensing staff, by age in US business days against each
    queue's service level: applications from submission, less the days waited on
    the vendor, or from a reconsideration's request (the target is
    APPLICATION_REVIEW_SLA_DAYS), permission requests by their own deadline
    (`sla_due_at`, PERMISSION_SLA_DAYS, which stands still while waiting on the
    requester: `permissions.queries.service_level`)."""
    today = calendar.office_date(now)
    application_ages = []
    # From the queue's review clock (round 37): a reconsideration's request, else the
    # submission less the days the application waited on the vendor.
    for (clock,) in session.execute(
        select(agreement_queries.review_clock()).where(Application.state.in_(AWAITING_STAFF))
    ):
        age = calendar.business_days_between(calendar.office_date(clock), today)
        application_ages.append((age, age > application_target))
    permission_ages = []
    for request in session.execute(
        select(*(getattr(PermissionRequest, name) for name in _TIMED)).where(
            PermissionRequest.state.in_(WITH_STAFF)
        )
    ):
        # The office's days, as the queue counts them: not those waited on the
        # requester's answers (round 37).
        level = permission_queries.service_level(request, now, target_days=permission_target)
        permission_ages.append((level.age_days, level.overdue))
    return [
        _health(
            "applications",
            "Applications awaiting review",
            application_target,
            application_ages,
        ),
        _health(
            "permissions",
            "Permission requests with staff",
            permission_target,
            permission_ages,
        ),
        *(source(session, now) for source in _QUEUE_SOURCES.values()),
    ]
