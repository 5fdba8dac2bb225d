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
- **Net refunds** (`refunded`; "Refunded" until round 55, though the figure is net):
  refunds sent by the day sent (`billing.queries.refunded_between`), less those the
  bank returned, by the day returned (`refund_returned_between`, round 54; an offline
  refund on the day billing staff gave, round 55): as with payments, a period's
  figures never change when a refund sent in it is returned later.
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
receivables too are summed by the database (round 53), at every period end
(`period_end_balances`) and, for the aging and the top licensees, per invoice on
one day (`owed_on`), leaving out the invoices that owe nothing now and on which
nothing moved from the window's first day on (`billing.queries.moving_or_owing`: they
owe nothing at any date in it; round 55, where `paid_at` left out some that did),
and summing the events of only the invoices something moves on in the window: any
other owes at every date in it what it owes now, its stored totals, read from the
invoices alone (round 56, `billing.queries.still_from_all`).
`Receivable.balance_on` is the same definition in Python, for statements of account.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    union_all,
)
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
    PaymentDispute,
    PaymentReversal,
    Refund,
    returned_day,
)
from licensing.billing.queries import (
    collected_between,
    credited_by,
    moving_from_all,
    moving_or_owing_all,
    not_chased_on,
    owed_again_by,
    owed_since,
    paid_between,
    refund_returned_at,
    refund_returned_between,
    refunded_between,
    reversed_between,
    still_from_all,
)
from licensing.billing.queries import owed_of as stored_owed_of
from licensing.billing.states import AGREEMENT, DRAFT, ROYALTY_REPORT, VOID
from licensing.db import Money, money_sum, money_total
from licensing.finance.classification import AXES, RevenueLine
from licensing.money import minor_units, proportional
from licensing.permissions import queries as permission_queries
from licensing.permissions.models import PermissionRequest
from licensing.permissions.states import WITH_STAFF

ZERO = Decimal(0)
ONE_DAY = timedelta(days=1)
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
    # Refunds sent on it (a settlement of -amount on the day sent) that the card's bank
    # returned later (round 54): `paid_on` the day sent, `returned_on` the day returned,
    # from which the licensee no longer has the money and the invoice owes it less.
    refunds_returned: list[Returned] = field(default_factory=list)
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
        refund sent (round 52: the Finance page's *Refunds owed*; round 53: summed by
        the database, `period_end_balances`, held to this by the tests)."""
        return max(-self._owed_on(day), ZERO)

    def _owed_on(self, day: date, *, as_known_now: bool = False) -> Decimal:
        """Its total less what settled it, plus what the bank returned, less the refunds
        it returned, by `day`: below zero when credited beyond what it owed."""
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
        refund_returned = sum(
            (
                each.amount
                for each in self.refunds_returned
                if (each.paid_on if as_known_now else each.returned_on) <= day
            ),
            ZERO,
        )
        return self.total - settled + returned - refund_returned


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


def _issued(currency: str | None) -> list[ColumnElement[bool]]:
    """Issued invoices that count (not draft, not void), of `currency` (None: any, the
    console's invoice list without one: round 58)."""
    counted: list[ColumnElement[bool]] = [Invoice.state.not_in(NOT_COUNTED)]
    return counted if currency is None else [*counted, Invoice.currency == currency]


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


# The most invoices `receivables(..., among=)` asks the payments and credit notes of
# by their ids (bound values); beyond, by the invoices' own condition again.
LEDGER_IDS_BOUND = 5000


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
    among: ColumnElement[bool] | None = None,
) -> list[Receivable]:
    """Invoices issued by `until` that may owe something on some day from `since`
    (those owing nothing now on which nothing moved from `since` on owe nothing in
    the window, `_unsettled_since`; every one without `since`): of one
    organization when given (or of the `organization_ids`: one read for several).
    `voided_too` adds void invoices, each owing until the day it was voided, as the
    receivables export lists them as of an earlier day (a statement of account).
    `credited_only`: only those with a credit note issued by `until` (the only ones
    credited beyond what they owed: `period_end_balances`). `among`: a further condition
    on the invoices (a statement of account's, round 53: those that move or may owe in
    its range, `billing.statements.moving_or_owing`)."""
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
        invoices = invoices.where(_unsettled_since(since))
    if organization_id is not None:
        invoices = invoices.where(Invoice.organization_id == organization_id)
    if organization_ids is not None:
        invoices = invoices.where(Invoice.organization_id.in_(organization_ids))
    if credited_only:
        invoices = invoices.where(credited_by(until))
    if among is not None:
        invoices = invoices.where(among)
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
    # The invoices read, asked again by their own condition, or (with `among`, whose
    # condition is costlier than the few ids it leaves) by their ids, up to a number
    # of bound values every database takes.
    by_ids = among is not None and len(ledger) <= LEDGER_IDS_BOUND
    ids: Any = list(ledger) if by_ids else select(invoices.subquery().c.id)
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
    # invoice less, on the day it went, as `Invoice.owed` counts it. One the card's
    # bank returned by `until` (round 54) is taken back on the day returned, not
    # dropped from the day sent: a past day's balance never changes after it.
    sent = _moved(
        session,
        Refund,
        (
            Refund.invoice_id,
            Refund.amount,
            Refund.returned_on,
            refund_returned_at().label("returned_at"),
        ),
        Refund.sent_on,
        Refund.invoice_id.in_(ids),
        refunded_between(None, until),
    )
    for each in sent:
        receivable = ledger[each.row.invoice_id]
        receivable.settlements.append((each.day, -each.row.amount))
        returned_on = returned_day(each.row.returned_on, each.row.returned_at)
        if returned_on is not None and returned_on <= until:
            receivable.refunds_returned.append(Returned(each.day, returned_on, each.row.amount))
    # The money tables are read in no order (round 60's semi-joins changed PostgreSQL's):
    # each invoice's events in the order of their days, so two reads of one ledger agree.
    for receivable in ledger.values():
        receivable.settlements.sort()
        receivable.returns.sort(key=_returned_order)
        receivable.refunds_returned.sort(key=_returned_order)
    return list(ledger.values())


def _returned_order(returned: Returned) -> tuple[date, date, Decimal]:
    return returned.paid_on, returned.returned_on, returned.amount


def _unsettled_since(since: date) -> ColumnElement[bool]:
    """Invoices that may owe something on some day from `since`: owing now, or moving
    on or after `since` (`billing.queries.moving_or_owing`: any other owed nothing the
    day before and nothing moved it since). Until round 55 (aging55): not paid in full
    before `since` by `paid_at`, which is when the invoice was last marked paid, not
    the bank's days: a cheque's return recorded after a credit note in full leaves the
    invoice paid (it owes nothing now), yet it owed from the return to the credit note,
    and the aging, the top licensees and a later range's Outstanding left it out."""
    return moving_or_owing_all(since)


# --- the ledger summed in SQL (round 53) ---------------------------------------------
#
# What `Receivable.balance_on` and `owed_back_on` give an invoice (the refunds owed
# are the latter), computed by the database for every invoice at once. Each event
# that moves an invoice's balance (its issue, +total; a payment received, -amount;
# the bank's return of one, +amount; a credit note, -amount; a refund sent, +amount)
# is placed in the first period end on or after its day (the office day of a card
# payment's or refund's settlement, as `paid_between` counts it); an event before the
# invoice's issue counts from the issue's end on (nothing is owed before: the
# services refuse such a payment, but the rule is `balance_on`'s). Each invoice's
# running sum at each end is what it owed; above zero it is outstanding, below zero
# it was credited beyond what it owed, net of refunds sent (a refund still owed).
#
# Why events, and not the one rule of what an invoice owes (`billing.queries.owed_of`,
# `Invoice.owed`: its stored totals, round 54): the stored totals say what it owes
# NOW, and these figures are balances at period ends and on chosen days in the past
# (the Finance page's *Outstanding* and *Refunds owed*, the aging and top licensees as
# of a date, a statement's opening and running balance). A payment the bank returns
# next month must leave this month's balance as it was; only the dated events can say
# what was owed on a day. The two agree once every event has happened: the stored
# totals are the sums of the events, whatever the history
# (`tests/integration/billing/test_stored_totals_equal_events.py`, which also holds
# `balance_on` and these sums to `Invoice.owed`), so where only "now" is asked, the
# stored totals are read (`billing.statements.moving_or_owing`, the invoices export,
# the vendor's balances, reminders and late fees).

_NOTHING: ColumnElement[Any] = literal_column("0")


def _end_of(ends: Sequence[date], by: Callable[[date], ColumnElement[bool]]) -> ColumnElement[int]:
    """The index of the first of `ends` (ascending) by which `by(end)` holds: the
    period end an event counts from (NULL after the last)."""
    return case(*((by(end), index) for index, end in enumerate(ends)))


def _paid_by(paid: type[Payment] | type[Refund]) -> Callable[[date], ColumnElement[bool]]:
    """A payment or refund made by a day (offline, its day; by card, the office day
    Stripe settled it)."""
    day = Payment.received_on if paid is Payment else Refund.sent_on
    return lambda end: paid_between(day, paid.settled_at, None, end)


def _floor(owed: ColumnElement[Decimal]) -> ColumnElement[Decimal]:
    """`owed`, never below zero (`Receivable.balance_on`)."""
    return case((owed > ZERO, owed), else_=_NOTHING)


_Events = TypeVar("_Events", bound="Select[*tuple[Any, ...]]")


def _of(statement: _Events, record: Any, invoices: Any) -> _Events:
    """`statement`'s rows of `record` (a payment, credit note or refund) whose invoice
    is one of `invoices` (the statement's receivables), joined."""
    return statement.join(invoices, invoices.c.id == record.invoice_id)


def _returned(invoices: Any, paid: ColumnElement[bool], *columns: Any) -> Select[Any, Any, Any]:
    """The bank's returns (reversals) of the receivables' payments counted as `paid`:
    each payment's invoice, then `columns`."""
    returns = select(Payment.invoice_id, *columns).join(
        PaymentReversal, PaymentReversal.payment_id == Payment.id
    )
    return _of(returns, Payment, invoices).where(paid)


def _owed_at_ends(currency: str | None, ends: Sequence[date], since: date) -> Select[Any]:
    """Each invoice's running balance at each of `ends` at which it changed, of the
    invoices something moves on from `since` on (`moving_from_all`; the others owe
    what they owe now at every end: `_still_at_ends`): rows of (`period`, the index of
    the end; `owed`, its balance then, below zero when credited beyond it;
    `credited`, 1 when credited by the last end)."""
    last = ends[-1]
    invoices = (
        select(
            Invoice.id,
            Invoice.total,
            _end_of(ends, lambda end: Invoice.issue_date <= end).label("issued"),
            case((credited_by(last), 1), else_=0).label("credited"),
        )
        .where(*_issued(currency), Invoice.issue_date <= last, moving_from_all(since))
        # Read once (its period of issue and flags computed once an invoice), not
        # once for each of the statements below that name it.
        .cte("receivable")
        .prefix_with("MATERIALIZED")
    )
    # Each event's invoice joined (round 55), where `IN (SELECT id FROM receivable)`
    # had PostgreSQL guess 200 invoices of 20,000 and probe the payments' index once
    # an invoice: a third of the statement's time at 30,000 invoices. Each event
    # carries its invoice's period of issue and flag from that join (round 59,
    # balanceplan59), where the events were joined to `receivable` again for them:
    # PostgreSQL, with statistics, estimated that second join at 24,000,000 rows
    # (about 50,000 real at 100,000 invoices), the grouping after it at 8,000,000,
    # and walked the invoice list's order index in a nested loop over them.
    carried = (invoices.c.issued, invoices.c.credited)
    paid = collected_between(None, last)
    events = union_all(
        select(
            invoices.c.id.label("invoice_id"),
            invoices.c.issued.label("period"),
            invoices.c.total.label("amount"),
            invoices.c.issued.label("issued"),
            invoices.c.credited.label("credited"),
        ),
        _of(
            select(Payment.invoice_id, _end_of(ends, _paid_by(Payment)), -Payment.amount, *carried),
            Payment,
            invoices,
        ).where(paid),
        _returned(
            invoices,
            paid,
            _end_of(ends, lambda end: PaymentReversal.returned_on <= end),
            PaymentReversal.amount,
            *carried,
        ),
        _of(
            select(
                CreditNote.invoice_id,
                _end_of(ends, lambda end: CreditNote.issue_date <= end),
                -CreditNote.amount,
                *carried,
            ),
            CreditNote,
            invoices,
        ),
        _of(
            select(Refund.invoice_id, _end_of(ends, _paid_by(Refund)), Refund.amount, *carried),
            Refund,
            invoices,
        ).where(refunded_between(None, last)),
        # A refund the card's bank returned: taken back on the day returned (round 54).
        _of(
            select(
                Refund.invoice_id,
                _end_of(ends, lambda end: refund_returned_between(None, end)),
                -Refund.amount,
                *carried,
            ),
            Refund,
            invoices,
        ).where(refund_returned_between(None, last)),
    ).subquery()
    invoice_id, period, amount = events.c.invoice_id, events.c.period, events.c.amount
    issued, credited = events.c.issued, events.c.credited
    counted_from = case((period < issued, issued), else_=period)
    # `money_total`, the plain SUM's and its window's place (round 60, edges60): an
    # invoice's payments and their returns, or its refunds and theirs, are not bounded
    # by its total, and SQLite's SUM of the scaled integers raised "integer overflow"
    # (a 500 on the Finance page) once the running total of one invoice's events of a
    # period passed about 9.2e14 whatever the total: twelve wires of the largest amount,
    # each returned.
    moved = (
        select(
            invoice_id.label("invoice_id"),
            counted_from.label("period"),
            credited,
            money_total(amount).label("amount"),
        )
        .where(period.is_not(None))
        .group_by(invoice_id, counted_from, credited)
        .subquery()
    )
    running = money_total(moved.c.amount).over(
        partition_by=moved.c.invoice_id, order_by=moved.c.period
    )
    return select(
        moved.c.invoice_id,
        moved.c.period,
        moved.c.credited,
        running.label("owed"),
    )


def _still_at_ends(currency: str, ends: Sequence[date], since: date) -> Select[Decimal, Decimal]:
    """What the invoices nothing moves on from `since` on add to every one of `ends`
    (round 56): each owes at every end what it owes now (`still_from_all`), so of
    those owing, their stored balance (Outstanding), and of those credited beyond it,
    what is owed back (Refunds owed), summed over the invoices' own columns; their
    dated events (most of a busy office's ledger) are not read."""
    owed = stored_owed_of(Invoice)
    return select(
        money_sum(_floor(owed)),
        money_sum(case((credited_by(ends[-1]), _floor(-owed)), else_=_NOTHING)),
    ).where(*_issued(currency), still_from_all(since))


def period_end_balances(
    session: Session, currency: str, ends: Sequence[date], since: date
) -> tuple[list[Decimal], list[Decimal]]:
    """At the end of each of `ends` (ascending): what was outstanding (the sum of each
    invoice's `balance_on`, of those that may owe from `since` on: `_unsettled_since`),
    and what credit notes had credited beyond what their invoices owed (`owed_back_on`),
    summed by the database (round 53: each invoice was read into Python with its
    payments and credits first)."""
    if not ends:
        return [], []
    owed = _owed_at_ends(currency, ends, since).subquery()
    still_ahead, still_back = session.execute(_still_at_ends(currency, ends, since)).one()
    ahead, back = _floor(owed.c.owed), _floor(-owed.c.owed)

    def before(figure: ColumnElement[Decimal]) -> ColumnElement[Decimal]:
        """The figure at the invoice's previous end (zero at its first)."""
        earlier = func.lag(figure).over(partition_by=owed.c.invoice_id, order_by=owed.c.period)
        return func.coalesce(earlier, _NOTHING)

    # Each invoice's change at each end it moved, of each figure it counts in.
    changes = select(
        owed.c.period,
        (ahead - before(ahead)).label("ahead"),
        case(
            (owed.c.credited == 1, back - before(back)),
            else_=_NOTHING,
        ).label("back"),
    ).subquery()
    moved = {
        period: (ahead_sum or ZERO, back_sum or ZERO)
        for period, ahead_sum, back_sum in session.execute(
            select(
                changes.c.period, money_sum(changes.c.ahead), money_sum(changes.c.back)
            ).group_by(changes.c.period)
        )
    }
    each = [moved.get(index, (ZERO, ZERO)) for index in range(len(ends))]
    # The still invoices' balances, the same at every end, counted from the first.
    each[0] = (each[0][0] + (still_ahead or ZERO), each[0][1] + (still_back or ZERO))
    return _running(ahead for ahead, _back in each), _running(back for _ahead, back in each)


def _running(changes: Iterable[Decimal]) -> list[Decimal]:
    found, running = [], ZERO
    for change in changes:
        running += change
        found.append(running)
    return found


class Owed(NamedTuple):
    """An invoice owing on a day (`owed_on`): its balance as the bank's days had it
    (`Receivable.balance_on`), and as known now (every reversal recorded so far
    counted from its payment's day: the top licensees)."""

    invoice_id: int
    organization_id: int
    due_date: date
    balance: Decimal
    known_now: Decimal


def owed_on(session: Session, currency: str, day: date) -> list[Owed]:
    """The invoices owing something at the end of `day`, either way (`Owed`), each
    balance summed by the database from the invoice's payments, returns and credit
    notes by then (round 53: read once for the aging and the top licensees, where
    each read every receivable into Python with its payments and credits). Only of
    the invoices something moves on after `day` (round 56): any other owes on `day`,
    either way, what it owes now (`_still_owing`)."""
    after = day + ONE_DAY
    invoices = (
        select(Invoice.id, Invoice.total)
        .where(*_issued(currency), Invoice.issue_date <= day, moving_from_all(after))
        .cte("receivable")
        .prefix_with("MATERIALIZED")  # read once, not once for each statement naming it
    )
    # Each event's invoice joined (round 55), where `IN (SELECT id FROM receivable)`
    # had PostgreSQL guess 200 invoices of 20,000 and probe the payments' index once
    # an invoice: a third of the statement's time at 30,000 invoices.
    paid = collected_between(None, day)
    returned_by_then = case((PaymentReversal.returned_on <= day, PaymentReversal.amount))
    refund_returned_by_then = case((refund_returned_between(None, day), -Refund.amount))
    events = union_all(
        select(
            invoices.c.id.label("invoice_id"),
            invoices.c.total.label("by_the_bank"),
            invoices.c.total.label("by_now"),
        ),
        _of(select(Payment.invoice_id, -Payment.amount, -Payment.amount), Payment, invoices).where(
            paid
        ),
        _returned(
            invoices, paid, func.coalesce(returned_by_then, _NOTHING), PaymentReversal.amount
        ),
        _of(
            select(CreditNote.invoice_id, -CreditNote.amount, -CreditNote.amount),
            CreditNote,
            invoices,
        ).where(CreditNote.issue_date <= day),
        _of(select(Refund.invoice_id, Refund.amount, Refund.amount), Refund, invoices).where(
            refunded_between(None, day)
        ),
        # A refund sent by then and returned by the card's bank (round 54): taken back
        # on the day returned, as the bank's days had it; as known now, never sent.
        _of(
            select(
                Refund.invoice_id,
                func.coalesce(refund_returned_by_then, _NOTHING),
                -Refund.amount,
            ),
            Refund,
            invoices,
        ).where(refunded_between(None, day), refund_returned_at().is_not(None)),
    ).subquery()
    invoice_id, by_the_bank, by_now = events.c.invoice_id, events.c.by_the_bank, events.c.by_now
    balance, known_now = money_total(by_the_bank), money_total(by_now)
    rows = session.execute(
        select(
            Invoice.id,
            Invoice.organization_id,
            Invoice.due_date,
            _floor(balance).label("balance"),
            _floor(known_now).label("known_now"),
        )
        .join(events, invoice_id == Invoice.id)
        .group_by(Invoice.id, Invoice.organization_id, Invoice.due_date)
        .having(or_(balance > ZERO, known_now > ZERO))
    )
    moving = [Owed(*row) for row in rows]  # type: ignore[arg-type]  # issued: a due date
    return moving + _still_owing(session, currency, after)


def _still_owing(session: Session, currency: str, start: date) -> list[Owed]:
    """The invoices owing now on which nothing moves from `start` on: each owed on the
    day before `start` what it owes now, as the bank's days had it and as known now
    alike (no return, credit note, refund or its return came after; round 54: the
    stored totals are the sums of the dated events), so their events are not read."""
    owed = stored_owed_of(Invoice)
    rows = session.execute(
        select(Invoice.id, Invoice.organization_id, Invoice.due_date, owed, owed).where(
            *_issued(currency), owed > ZERO, still_from_all(start)
        )
    )
    return [Owed(*row) for row in rows]  # type: ignore[arg-type]  # issued: a due date


# --- the invoices behind a balance, as a list shows them (round 58, financelinks58) ---

# The balances on a day the page shows, by what the console's invoice list calls them.
OWING = "owing"  # *Outstanding* at a period's end; the aging's rows
OWED_BACK = "owed_back"  # *Refunds owed* at a period's end


@dataclass(frozen=True)
class BalanceFilter:
    """The invoices behind one of the page's balances at the end of `day`: what they
    owed (`OWING`: *Outstanding* at a period's end, or with `bucket` one row of the
    aging as of the day: a key of `AGING_BUCKETS`, or `DISPUTED`'s), or what they were
    owed back (`OWED_BACK`: *Refunds owed* at a period's end), in `currency` (None:
    every currency's, each summed apart)."""

    day: date
    kind: str = OWING
    bucket: str | None = None
    currency: str | None = None


def balances_on(given: BalanceFilter) -> Any:
    """Round 58: each invoice the balance `given` names, with its amount then, as a
    common table expression (`invoice_id`, `amount`, `created_at`) a list joins: its
    balance at the end of the day as the bank's days had it (`Receivable.balance_on`),
    or what it was owed back (`owed_back_on`, of an invoice credited by then). The
    page's own sums, each
    invoice apart: those something moves on after the day summed from their events
    (`_owed_at_ends` at the one end), every other its stored balance
    (`still_from_all`, as `_still_at_ends` and `_still_owing` read them); so the
    amounts add up to the figure, *Outstanding* and *Refunds owed* at a period's end
    (`period_end_balances`) and each row of the aging (`aging`)."""
    day, after = given.day, given.day + ONE_DAY
    moving = _owed_at_ends(given.currency, [day], after).subquery()
    still = select(
        Invoice.id,
        stored_owed_of(Invoice),
        case((credited_by(day), 1), else_=0),
    ).where(*_issued(given.currency), still_from_all(after))
    each = union_all(select(moving.c.invoice_id, moving.c.owed, moving.c.credited), still)
    then = each.subquery("owed_then")
    if given.kind == OWED_BACK:
        amount, where = _floor(-then.c.owed), [then.c.credited == 1]
    else:
        amount, where = _floor(then.c.owed), []
    statement = (
        select(
            then.c.invoice_id,
            type_coerce(amount, Money()).label("amount"),
            Invoice.created_at,
        )
        .join(Invoice, Invoice.id == then.c.invoice_id)
        .where(amount > ZERO, *where)
    )
    if given.bucket is not None:
        statement = statement.where(aged_in(given.bucket, day))
    # Round 59 (balanceplan59): summed once, before the list's join, order and page
    # (MATERIALIZED), each row with its invoice's `created_at` for the list to order
    # by (`billing.queries`: newest first, as ever), so no plan can walk the
    # invoices' order index and test each invoice against the balances until the
    # page is full: with statistics PostgreSQL chose that walk on an estimate of the
    # balances 160 times the real, and a page took from 40 s to many minutes.
    return statement.cte("balances").prefix_with("MATERIALIZED")


def aged_in(bucket: str, day: date) -> ColumnElement[bool]:
    """Invoices in the aging's row `bucket` on `day` (`aging`'s rule in SQL, for the
    list its row links): not chased that day because of a dispute (`DISPUTED`), or
    chased and owed since a day (`owed_since`: the due date, or the later day owed
    again after a dispute lost) that many days past: the bucket's days past due as
    bounds on that day, so both databases compare dates alone."""
    not_chased = and_(_disputed(), not_chased_on(day))
    if bucket == DISPUTED[0]:
        return not_chased
    owed_again = owed_again_by(day)
    since = case(
        (and_(_disputed(), owed_again > Invoice.due_date), owed_again), else_=Invoice.due_date
    )
    index = [key for key, _label in AGING_BUCKETS].index(bucket)
    within = [~not_chased_on(day)]
    if index < len(_AGING_LIMITS):  # at most the bucket's most days past due
        within.append(since >= day - timedelta(days=_AGING_LIMITS[index]))
    if index > 0:  # more than the bucket's before
        within.append(since < day - timedelta(days=_AGING_LIMITS[index - 1]))
    return and_(*within)


# --- invoiced, collected, reversed, credited, outstanding by period -------------------


@dataclass(frozen=True)
class PeriodFigures:
    period: Period
    invoiced: Decimal
    collected: Decimal
    credited: Decimal
    outstanding: Decimal  # at the period's end
    # Paid back on credit notes beyond what was owed, less what the card's bank
    # returned of refunds in the period (round 54): with it, invoiced - collected -
    # credited + refunded is the change in outstanding once every refund owed is sent.
    refunded: Decimal = ZERO
    # Payments the bank returned in the period (made in it or before): owed again,
    # so invoiced - collected + reversed - credited + refunded is that change.
    reversed: Decimal = ZERO
    # Refunds owed at the period's end and not yet sent (round 52): what each credited
    # invoice owed back then, its refunds sent counted in its balance (round 53,
    # `period_end_balances`). Outstanding less it changes, period by period, by
    # invoiced - collected + reversed - credited + refunded, whether or not every
    # refund owed has been sent.
    refunds_owed: Decimal = ZERO


def refunds(
    session: Session, currency: str, start: date | None, end: date
) -> list[tuple[date, Decimal]]:
    """Refunds sent between `start` (open when None) and `end`, by the day sent (an
    offline refund's `sent_on`, else the office date Stripe confirmed it), those the
    card's bank returned since included; and, negative, the refunds the bank returned
    between them, by the day returned (round 54: a returned refund dropped out of the
    period it was sent in, so a past period's *Refunded* changed after the fact)."""
    sent = _moved(
        session,
        Refund,
        (Refund.amount,),
        Refund.sent_on,
        Refund.currency == currency,
        refunded_between(start, end),
    )
    returned = session.execute(
        select(Refund.returned_on, refund_returned_at(), Refund.amount).where(
            Refund.currency == currency, refund_returned_between(start, end)
        )
    )
    days = ((returned_day(on, at), amount) for on, at, amount in returned)
    return [(each.day, each.row.amount) for each in sent] + [
        (day, -amount) for day, amount in days if day is not None
    ]


def _by_day(session: Session, statement: Select[*tuple[Any, ...]]) -> list[tuple[date, Decimal]]:
    return [(row[0], row[1]) for row in session.execute(statement)]


def _by_period(amounts: Iterable[tuple[date, Decimal]], periods: Sequence[Period]) -> list[Decimal]:
    """Each of `periods`' (ascending, adjoining) sum of the `amounts` dated in it; those
    outside them left out. Each amount is placed once (round 56, finance56b: each
    period summed every amount of the range, twelve passes over a year's payments)."""
    ends = [period.end for period in periods]
    sums = [ZERO] * len(periods)
    for day, amount in amounts:
        index = bisect_left(ends, day)
        if index < len(periods) and periods[index].contains(day):
            sums[index] += amount
    return sums


def cash_flow(
    session: Session, filters: Filters, *, collected: Sequence[Collection] | None = None
) -> list[PeriodFigures]:
    """The figures of each period; the balances at each end summed by the database
    (`period_end_balances`, round 53). `collected`: the range's `collections`, if
    already read (the page reads them once for this and the top licensees)."""
    start, end, currency = filters.start, filters.end, filters.currency
    if collected is None:
        collected = collections(session, currency, start, end)
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
    received = [(c.received_on, c.amount) for c in collected]
    returned = [(r.returned_on, r.amount) for r in reversals(session, currency, start, end)]
    refunded = refunds(session, currency, start, end)
    periods = filters.periods
    ends = [period.end for period in periods]
    # Refunds owed: what each credited invoice owed back at each end, its refunds
    # sent by then counted in its own balance (round 53: the refunds sent were
    # subtracted from the sum over every invoice, so a payment the bank returned
    # after its refund was sent read a negative refund owed).
    outstanding, owed_back = period_end_balances(session, currency, ends, start)
    sums = zip(
        *(
            _by_period(amounts, periods)
            for amounts in (invoiced, received, credited, refunded, returned)
        ),
        strict=True,
    )
    return [
        PeriodFigures(
            period,
            invoiced=invoiced_in,
            collected=collected_in,
            credited=credited_in,
            outstanding=owed,
            refunded=refunded_in,
            reversed=returned_in,
            refunds_owed=back,
        )
        for period, owed, back, (
            invoiced_in,
            collected_in,
            credited_in,
            refunded_in,
            returned_in,
        ) in zip(periods, outstanding, owed_back, sums, strict=True)
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
    session: Session, currency: str, as_of: date, *, owed: Sequence[Owed] | None = None
) -> list[AgingRow]:
    """Balances owed on `as_of` by days past the day they were owed (the due date,
    or the day owed again after a dispute lost), and those not chased that day
    because of a dispute in a row of their own (`DISPUTED`), last. `owed`: the
    invoices owing on `as_of` (`owed_on`), if already read."""
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    not_chased = set(
        session.scalars(
            select(Invoice.id).where(*_issued(currency), _disputed(), not_chased_on(as_of))
        )
    )
    owed_again = _owed_again(session, currency, as_of)
    if owed is None:
        owed = owed_on(session, currency, as_of)
    for invoice in owed:
        if invoice.balance > 0:
            since = owed_since(invoice.due_date, owed_again.get(invoice.invoice_id))
            key = (
                DISPUTED[0]
                if invoice.invoice_id in not_chased
                else aging_bucket((as_of - since).days)
            )
            amounts[key] += invoice.balance
            counts[key] += 1
    return [
        AgingRow(key, label, counts[key], amounts.get(key, ZERO))
        for key, label in (*AGING_BUCKETS, DISPUTED)
    ]


def _owed_again(session: Session, currency: str, as_of: date) -> dict[int, date]:
    """The invoices with a dispute lost by `as_of`: the day owed again (`owed_again_by`)."""
    owed_again = owed_again_by(as_of)
    rows = session.execute(
        select(Invoice.id, owed_again).where(
            *_issued(currency), _disputed(), owed_again.is_not(None)
        )
    )
    return {invoice_id: day for invoice_id, day in rows if day is not None}


def _disputed() -> ColumnElement[bool]:
    """Invoices with a dispute of one of their card payments, ever: the only ones
    `not_chased_on` or `owed_again_by` can name. Read once as a set of ids (round 56,
    finance56b): each asked its disputes of every invoice of the currency, 30,000 at a
    busy office's size, where a handful have any."""
    return Invoice.id.in_(select(PaymentDispute.invoice_id))


# --- top licensees --------------------------------------------------------------------


@dataclass(frozen=True)
class Licensee:
    organization_id: int
    name: str
    invoiced: Decimal
    collected: Decimal
    outstanding: Decimal  # at the end of the range


def top_licensees(
    session: Session,
    filters: Filters,
    *,
    owed: Sequence[Owed] | None = None,
    collected: Sequence[Collection] | None = None,
) -> list[Licensee]:
    """The organizations invoiced most in the range, largest first; `owed` the
    invoices owing at the range's end (`owed_on`), and `collected` the range's
    `collections`, if already read."""
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
    paid: dict[int, Decimal] = defaultdict(Decimal)
    if collected is None:
        collected = collections(session, currency, start, end)
    for payment in collected:
        if payment.organization_id in chosen:
            paid[payment.organization_id] += payment.kept
    outstanding: dict[int, Decimal] = defaultdict(Decimal)
    for invoice in owed_on(session, currency, end) if owed is None else owed:
        if invoice.organization_id in chosen:
            outstanding[invoice.organization_id] += invoice.known_now
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
            paid.get(organization_id, ZERO),
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


def _within(column: Any, start: date | None, end: date | None) -> list[ColumnElement[bool]]:
    """`column` on or after `start` and on or before `end` (either open: None)."""
    return [
        *([column >= start] if start is not None else []),
        *([column <= end] if end is not None else []),
    ]


def issued_where(
    currency: str | None, start: date | None, end: date | None
) -> list[ColumnElement[bool]]:
    """The invoices issued on the days (not draft, not void) of `currency` (None: any)
    whose lines `issued_lines` reads (round 61: the invoice lines list pages them)."""
    return [*_issued(currency), *_within(Invoice.issue_date, start, end)]


def issued_lines(
    session: Session,
    currency: str | None,
    start: date | None,
    end: date | None,
    *,
    sources: Sequence[str] | None = None,
) -> list[tuple[RevenueLine, str, date]]:
    """The lines of the invoices issued on the days (not draft, not void), of
    `currency` (None: any), of the invoice `sources` (None: every one, late fees and
    manual invoices too), each with its invoice's currency and issue date: the page's
    revenue reads them (round 60, linesfig60: and the console's invoice lines)."""
    statement = (
        select(*_REVENUE_LINE, Invoice.currency, Invoice.issue_date)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(*issued_where(currency, start, end))
    )
    if sources is not None:
        statement = statement.where(Invoice.source_type.in_(sources))
    # An issued invoice has its issue date (`_issued`: not a draft).
    return [
        (RevenueLine(*row[:6]), row[6], row[7] or date.min) for row in session.execute(statement)
    ]


def royalty_credit_parts(session: Session, filters: Filters) -> list[tuple[RevenueLine, Decimal]]:
    """The royalty credit notes issued in the range (credit notes of royalty-report
    invoices, as the page's *Credited* dates them), each split over its invoice's
    lines in proportion to their amounts, as the `credit_note_lines` export splits
    it: (the credited line, its part)."""
    return [
        (part.line, part.amount)
        for part in royalty_credits(session, filters.currency, filters.start, filters.end)
    ]


@dataclass(frozen=True)
class CreditPart:
    """A royalty credit note's part on one line of its invoice (round 60, linesfig60)."""

    credit_note_id: int
    issue_date: date
    currency: str
    line: RevenueLine
    amount: Decimal


def royalty_credits_where(
    currency: str | None, start: date | None, end: date | None
) -> list[ColumnElement[bool]]:
    """The royalty credit notes issued on the days, of `currency` (None: any): credit
    notes of royalty-report invoices (the credit notes and invoices joined)."""
    return [
        *([CreditNote.currency == currency] if currency is not None else []),
        *_within(CreditNote.issue_date, start, end),
        Invoice.source_type == ROYALTY_REPORT,
    ]


def royalty_credits(
    session: Session,
    currency: str | None,
    start: date | None,
    end: date | None,
    *,
    ids: Iterable[int] | None = None,
) -> list[CreditPart]:
    """The royalty credit notes issued on the days, of `currency` (None: any), each
    split over its invoice's lines in proportion to their amounts, as the
    `credit_note_lines` export splits it (cumulative rounding, so the parts add up);
    `ids`: only those credit notes (round 61: a page of the invoice lines list's)."""
    rows = session.execute(
        select(CreditNote.id, CreditNote.amount, *_REVENUE_LINE)
        .add_columns(CreditNote.issue_date, CreditNote.currency)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            *royalty_credits_where(currency, start, end),
            *([CreditNote.id.in_(sorted(ids))] if ids is not None else []),
        )
        .order_by(CreditNote.id, InvoiceLine.position)
    ).all()
    parts: list[CreditPart] = []
    for credit_id, group in groupby(rows, key=lambda row: row[0]):
        lines = list(group)
        credited = [RevenueLine(*line[2:8]) for line in lines]
        day, credit_currency = lines[0][8], lines[0][9]
        shares = proportional(
            lines[0][1], [line.amount for line in credited], minor_units(credit_currency)
        )
        parts.extend(
            CreditPart(credit_id, day, credit_currency, line, share)
            for line, share in zip(credited, shares, strict=True)
        )
    return parts


def revenue(session: Session, filters: Filters) -> Revenue:
    """*License revenue by classification*: the up-front and royalty lines of the invoices
    issued in the range summed by the database, by source and by the classification
    each line keeps from the day it was issued (round 61, classified61: billing_0032;
    until then every line of the range was classified in Python, `classification.classify`),
    and the royalty credit notes' parts by their lines' classification."""
    stored = [getattr(InvoiceLine, axis) for axis in AXES]
    grouped = session.execute(
        select(Invoice.source_type, *stored, money_sum(InvoiceLine.amount))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            *issued_where(filters.currency, filters.start, filters.end),
            Invoice.source_type.in_(sorted(REVENUE_KINDS)),
        )
        .group_by(Invoice.source_type, *stored)
    ).all()
    credits = royalty_credit_parts(session, filters)
    credited_as = _stored_classification(session, {line.invoice_line_id for line, _ in credits})
    sums: dict[str, dict[str, dict[str, Decimal]]] = {
        axis: defaultdict(lambda: defaultdict(Decimal)) for axis in AXES
    }
    for source_type, *values, amount in grouped:
        for axis, value in zip(AXES, values, strict=True):
            sums[axis][value][REVENUE_KINDS[source_type]] += amount or ZERO
    for line, part in credits:
        for axis, value in zip(AXES, credited_as[line.invoice_line_id], strict=True):
            sums[axis][value]["royalty_credited"] += part
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
    total = sum((row[-1] or ZERO for row in grouped), ZERO)
    all_invoiced = session.scalar(
        select(money_sum(Invoice.total)).where(
            *_issued(filters.currency), Invoice.issue_date.between(filters.start, filters.end)
        )
    )
    royalty = sum((row[-1] or ZERO for row in grouped if row[0] == ROYALTY_REPORT), ZERO)
    return Revenue(
        by_axis,
        total,
        (all_invoiced or ZERO) - total,
        royalty=royalty,
        royalty_credited=sum((part for _line, part in credits), ZERO),
    )


def _stored_classification(session: Session, ids: set[int]) -> dict[int, tuple[str, ...]]:
    """The four axes each of the lines `ids` keeps from the day it was issued."""
    if not ids:
        return {}
    stored = [getattr(InvoiceLine, axis) for axis in AXES]
    return {
        line_id: tuple(values)
        for line_id, *values in session.execute(
            select(InvoiceLine.id, *stored).where(InvoiceLine.id.in_(sorted(ids)))
        )
    }


def currencies(session: Session) -> list[str]:
    """Currencies of issued invoices, for the filter: each the first issued invoice's
    after the one before, by the (currency, state) index (finance_0003, round 57), so
    the database reads an entry or so a currency, where `SELECT DISTINCT currency`
    read every invoice on every view (20-50 ms at 30,000 invoices)."""
    issued = Invoice.state.not_in(NOT_COUNTED)

    def first(*after: ColumnElement[bool]) -> Select[Any]:
        return select(Invoice.currency).where(issued, *after).order_by(Invoice.currency).limit(1)

    found = select(first().scalar_subquery().label("currency")).cte("found", recursive=True)
    following = first(Invoice.currency > found.c.currency).scalar_subquery()
    found = found.union_all(select(following).where(found.c.currency.is_not(None)))
    return sorted(session.scalars(select(found.c.currency).where(found.c.currency.is_not(None))))


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
