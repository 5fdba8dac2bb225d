"""invoices: every issued invoice, one row each, with what is paid, credited and due."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Date, and_, case, func, literal, not_, select, type_coerce, union_all
from sqlalchemy.orm import aliased

from licensing.billing.models import CreditNote, Invoice, Payment, PaymentReversal, Refund
from licensing.billing.queries import (
    bank_days,
    collected_between,
    money_moved,
    owed_of,
    refund_returned_between,
    refunded_between,
    reversed_between,
    written_off_on,
)
from licensing.billing.states import (
    COLLECTIBLE,
    INVOICE_SOURCES,
    INVOICE_STATES,
    OPEN,
    PAID,
    ROYALTY_REPORT,
    UNCOLLECTIBLE,
    VOID,
)
from licensing.calendar import office_day_start
from licensing.db import Money, Statement, money_total
from licensing.exports.base import DATE, INTEGER, MONEY, TEXT, Column
from licensing.exports.columns import (
    CURRENCY,
    INVOICE_ID,
    INVOICE_NUMBER,
    ISSUE_DATE,
    LICENSEE,
    one_of,
    report_number,
)
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import ISSUED, RECORDED, ExportFilter
from licensing.exports.filters import PAID as BY_PAID
from licensing.exports.queries import day_of, issued_invoices, licensee, on_days
from licensing.royalties.models import RoyaltyReport

STATES = tuple(state for state in INVOICE_STATES if state != "draft")
STATE = Column("state", TEXT, one_of(STATES))

# `Invoice.owed`: the refunds sent count (round 53).
_OWED = owed_of(Invoice)
# What is still owed: only an open or uncollectible invoice owes, and never less than 0.
_BALANCE_DUE = type_coerce(
    case(
        (Invoice.state.in_(COLLECTIBLE) & (literal(Decimal(0), Money()) < _OWED), _OWED),
        else_=literal(Decimal(0), Money()),
    ),
    Money(),
)


# A royalty invoice's report, the report that one amends, and the amended report's
# invoice (round 33: an original report's invoice and its amendment's share their
# `source_reference`, the agreement and period, which stays as it was).
_REPORT = aliased(RoyaltyReport, name="billed_report")
_AMENDED = aliased(RoyaltyReport, name="amended_report")
_AMENDED_INVOICE = aliased(Invoice, name="amended_invoice")


def _joined(statement: Statement) -> Statement:
    return (
        statement.select_from(Invoice)
        .outerjoin(
            _REPORT, (Invoice.source_type == ROYALTY_REPORT) & (_REPORT.id == Invoice.source_id)
        )
        .outerjoin(_AMENDED, _AMENDED.id == _REPORT.amends_id)
        .outerjoin(_AMENDED_INVOICE, _AMENDED_INVOICE.id == _AMENDED.invoice_id)
    )


def _source(statement: Statement, given: ExportFilter) -> Statement:
    return issued_invoices(_joined(statement), given)


class _Then(NamedTuple):
    """What the columns that say what an invoice is *now* read as of a day (round 59,
    asof59): its state, paid and voided days, paid, credited, refunded and balance due
    at the end of that office day, by the receivables' rule (`receivables`)."""

    state: Any
    paid_at: Any
    # How `paid_at` reads as a day: today's is a time stamp (`day_of`), the day's a day.
    paid_day: Any
    voided_at: Any
    amount_paid: Any
    amount_credited: Any
    balance_due: Any
    amount_refunded: Any
    source: Any


def _money(value: Any) -> Any:
    return type_coerce(value, Money())


def _as_of(day: date) -> _Then:
    """The invoice as it stood at the end of `day` at the office.

    Its amounts are the receivables' (`receivables._statement`, the Finance page's
    *Outstanding*): payments received by then (offline by the day received, card by
    Stripe's day) less those the bank had returned by then, credit notes issued by then,
    refunds sent by then less those returned by then. Summed only for the invoices money
    moved on after the day (`billing.queries.money_moved`, the rule of "may owe on day
    D", aging55 and round 56): on any other the stored totals are those sums already.
    Its state follows: void if voided by then; else paid if it owed nothing, else
    uncollectible if written off by then and not paid in full since by the bank's days,
    else open. Its paid day is the bank's day it last became paid, when it was paid
    then; its void day when void by then.

    Round 61 (asof61): one rule for every column, money by the bank's days and
    decisions by when they were booked. The paid day and the payment that ends a
    write-off were the steps as booked (`paid_at`, `invoice.paid`), while the amounts
    were the bank's days: a cheque the bank had on the 18th, entered on the 22nd, read
    `paid` with no paid day as of the 20th. Now both are the bank's days
    (`billing.queries.bank_days`); only the void and the write-off are read as booked
    (`voided_at`; the write-off's office day, `last_step_before`)."""
    ends = office_day_start(day + timedelta(days=1))
    after = day + timedelta(days=1)
    moved = money_moved(after).cte("moved")
    of_moved = select(moved.c.invoice_id)
    events = union_all(
        select(
            Payment.invoice_id.label("invoice_id"),
            Payment.amount.label("paid"),
            _ZERO.label("credited"),
            _ZERO.label("refunded"),
        ).where(collected_between(None, day), Payment.invoice_id.in_(of_moved)),
        select(PaymentReversal.invoice_id, -PaymentReversal.amount, _ZERO, _ZERO).where(
            reversed_between(None, day), PaymentReversal.invoice_id.in_(of_moved)
        ),
        select(CreditNote.invoice_id, _ZERO, CreditNote.amount, _ZERO).where(
            CreditNote.issue_date <= day, CreditNote.invoice_id.in_(of_moved)
        ),
        select(Refund.invoice_id, _ZERO, _ZERO, Refund.amount).where(
            refunded_between(None, day),
            not_(refund_returned_between(None, day)),
            Refund.invoice_id.in_(of_moved),
        ),
    ).subquery("events")
    sums = (
        select(
            events.c.invoice_id,
            money_total(events.c.paid).label("paid"),
            money_total(events.c.credited).label("credited"),
            money_total(events.c.refunded).label("refunded"),
        )
        .group_by(events.c.invoice_id)
        .subquery("then")
    )
    moving = moved.c.invoice_id.is_not(None)

    def summed(total: Any, stored: Any) -> Any:
        return _money(case((moving, func.coalesce(total, _ZERO)), else_=stored))

    paid = summed(sums.c.paid, Invoice.amount_paid)
    credited = summed(sums.c.credited, Invoice.amount_credited)
    refunded = summed(sums.c.refunded, Invoice.amount_refunded)
    owed = _money(Invoice.total - paid - credited + refunded)
    # Never NULL, so that its negation is true of an invoice never voided.
    void = and_(Invoice.voided_at.is_not(None), Invoice.voided_at < ends)
    owes = owed > _ZERO  # never NULL: the amounts are summed or stored
    # Round 60 (asof60): the write-off the last taken by then, from the invoice's whole
    # history (`last_step_before`), not the latest ever taken. Round 61 (asof61): it
    # stands while the invoice has owed since its office day by the bank's days (a
    # payment the bank had on or after that day ends it, whenever it was entered; one
    # it returned before it does not), as the state's paid, from the same days.
    # Round 62 (asof62): the bank's days read from the events of the invoices money
    # moved on after the day alone; every other had on the day the days it keeps
    # (`billing.bank_days`: the same statement over the same events, none after it).
    bank = bank_days(day, of_moved)
    paid_on = case((moving, bank.c.paid_on), else_=Invoice.bank_paid_on)
    owing_since = case((moving, bank.c.owing_since), else_=Invoice.bank_owing_since)
    still_written_off = written_off_on(day, owing_since)
    state = case(
        (void, literal(VOID)),
        (~owes, literal(PAID)),
        (still_written_off, literal(UNCOLLECTIBLE)),
        else_=literal(OPEN),
    )

    paid_at = case((and_(~void, ~owes), paid_on))

    def source(statement: Statement, given: ExportFilter) -> Statement:
        statement = (
            _joined(statement)
            .outerjoin(moved, moved.c.invoice_id == Invoice.id)
            .outerjoin(sums, sums.c.invoice_id == Invoice.id)
            .outerjoin(bank, bank.c.invoice_id == Invoice.id)
            .where(Invoice.issue_date <= day)
        )
        # Round 60: `by=paid` chooses by the paid day as of the day, as the rows say it.
        by_paid = given.date_basis == BY_PAID
        chosen = replace(given, state=None, date_basis=None if by_paid else given.date_basis)
        statement = issued_invoices(statement, chosen)
        if by_paid:
            if given.date_from or given.date_to:
                statement = statement.where(paid_at.is_not(None))
            statement = on_days(statement, paid_at, given)
        return statement.where(state == given.state) if given.state else statement

    return _Then(
        state=state,
        paid_at=type_coerce(paid_at, Date()),
        paid_day=None,
        voided_at=case((void, Invoice.voided_at)),
        amount_paid=paid,
        amount_credited=credited,
        balance_due=_money(case((and_(~void, owes), owed), else_=_ZERO)),
        amount_refunded=refunded,
        source=source,
    )


_ZERO = literal(Decimal(0), Money())
_TODAY = _Then(
    state=Invoice.state,
    paid_at=Invoice.paid_at,
    paid_day=day_of,
    voided_at=Invoice.voided_at,
    amount_paid=Invoice.amount_paid,
    amount_credited=Invoice.amount_credited,
    balance_due=_BALANCE_DUE,
    amount_refunded=Invoice.amount_refunded,
    source=_source,
)


def _declared(then: _Then) -> Declared:
    """The table of fields, the columns saying what an invoice is read as `then` says."""
    return Declared(
        record=Invoice,
        table=(
            Field(INVOICE_ID, Invoice.id),
            Field(INVOICE_NUMBER, Invoice.number),
            *map(Field, LICENSEE, licensee(Invoice)),
            Field(STATE, then.state),
            Column("source_type", TEXT, one_of(INVOICE_SOURCES)),
            Column(
                "source_reference",
                TEXT,
                "The agreement number; for a royalty invoice, the agreement number and the "
                "period's first day, shared by an amendment's invoice (royalty_report_id tells "
                "them apart); for a late fee, the overdue invoice's number.",
            ),
            CURRENCY,
            ISSUE_DATE,
            Column("due_date", DATE, "The day payment is due."),
            Field(
                Column("paid_date", DATE, "The office day it became paid, if it is."),
                then.paid_at,
                then.paid_day,
            ),
            Field(
                Column("voided_date", DATE, "The office day it was voided, if it was."),
                then.voided_at,
                day_of,
            ),
            Column("payment_terms_days", INTEGER, "Net days."),
            Column("total", MONEY, "The sum of its lines."),
            Field(Column("amount_paid", MONEY, "Payments applied to it."), then.amount_paid),
            Field(
                Column("amount_credited", MONEY, "Credit notes issued against it."),
                then.amount_credited,
            ),
            Field(
                Column(
                    "balance_due", MONEY, "What is still owed (0 unless open or uncollectible)."
                ),
                then.balance_due,
            ),
            Field(
                Column(
                    "royalty_report_id",
                    INTEGER,
                    "The royalty report a royalty invoice bills (royalty_report_lines' report_id).",
                ),
                _REPORT.id,
            ),
            Field(
                Column(
                    "amends_report_id",
                    INTEGER,
                    "For an amendment's royalty invoice: the report the amendment amends.",
                ),
                _REPORT.amends_id,
            ),
            Field(
                Column(
                    "amends_invoice_number",
                    TEXT,
                    "For an amendment's royalty invoice: the amended report's invoice, if it "
                    "issued one (both share source_reference, the agreement and period).",
                ),
                _AMENDED_INVOICE.number,
            ),
            # Round 51: the reports by their numbers, as the invoice's memo names them.
            Field(
                Column(
                    "royalty_report_number",
                    TEXT,
                    "RR-NNNNNN: the royalty report a royalty invoice bills, as its memo names it.",
                ),
                _REPORT.id,
                report_number,
            ),
            Field(
                Column(
                    "amends_report_number",
                    TEXT,
                    "RR-NNNNNN: for an amendment's royalty invoice, the report it amends.",
                ),
                _REPORT.amends_id,
                report_number,
            ),
            # Round 53: the balance counts the refunds sent, so the row says them.
            Field(
                Column(
                    "amount_refunded",
                    MONEY,
                    "Refunds sent on its credit notes: balance_due is total - amount_paid - "
                    "amount_credited + amount_refunded, when above 0.",
                ),
                then.amount_refunded,
            ),
        ),
        source=then.source,
        order=(Invoice.issue_date, Invoice.id),
    )


DECLARED = _declared(_TODAY)


def _chosen(given: ExportFilter) -> Declared:
    """Today's invoices, or (round 59) as they stood at the end of the `as_of` day."""
    return DECLARED if given.as_of is None else _declared(_as_of(given.as_of))


DATASET = DECLARED.dataset(
    name="invoices",
    title="Invoices",
    description=(
        "Every issued invoice (drafts are not documents yet), oldest issue first; with "
        "as_of, those issued by that day, each as it stood at the day's end (its state, "
        "paid and voided days, amounts and balance due, as the receivables export counts "
        "them)."
    ),
    schema_version=1,
    date_bases=(ISSUED, BY_PAID, RECORDED),
    filters=frozenset({"organization", "state", "currency", "as_of"}),
    states=STATES,
    order=10,
    chosen=_chosen,
    # Without as_of, today's invoices as they stand (receivables' as_of is today).
    as_of_today=False,
)
