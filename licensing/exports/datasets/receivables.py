"""receivables: accounts receivable as of a date, with aging buckets.

An invoice is receivable on the as-of date when it was issued by then, was not
void by then, and its total plus the refunds sent by then (round 53: money back out
to the licensee; round 54: less those the card's bank had returned by then) exceeds
the payments received and credit notes issued by then (a payment the bank returned
counts as received until the day it was returned: `billing.queries.collected_between`
and `reversed_between`, the Finance page's definitions). So a past date gives the
ledger as it stood that day, even for invoices paid, voided or reversed since.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Subquery, case, literal, not_, or_, select

from licensing.billing.models import CreditNote, Invoice, Payment, PaymentReversal, Refund
from licensing.billing.queries import (
    collected_between,
    credited_by,
    disputed_on,
    money_moved,
    moving_or_owing_all,
    not_chased_on,
    owed_again_by,
    owed_since,
    owing_since_on,
    refund_returned_between,
    refunded_between,
    reversed_between,
    written_off_on,
)
from licensing.billing.states import DRAFT, OPEN, PAID, UNCOLLECTIBLE, VOID
from licensing.calendar import office_day_start
from licensing.db import Statement, money_sum
from licensing.exports.base import DATE, INTEGER, MONEY, TEXT, Column, Dataset, ExportContext, Row
from licensing.exports.columns import (
    CURRENCY,
    INVOICE_ISSUE_DATE,
    INVOICE_NUMBER,
    LICENSEE,
    one_of,
)
from licensing.exports.filters import ISSUED, ExportFilter
from licensing.exports.queries import (
    amount,
    each,
    licensee,
    of_licensee,
    on_days,
)
from licensing.finance.queries import aging_index

# The aging buckets of `finance.queries.AGING_BUCKETS`, in order: the name the
# `bucket` column gives each, the column of its balance, and when a balance is in it.
_BUCKETS = (
    ("current", "current", "not yet past due"),
    ("1-30", "days_1_30", "1-30 days past due"),
    ("31-60", "days_31_60", "31-60 days past due"),
    ("61-90", "days_61_90", "61-90 days past due"),
    ("over_90", "over_90", "over 90 days past due"),
)
BUCKETS = tuple(name for name, _column, _when in _BUCKETS)
# `aging_bucket`'s value for a balance not chased because of a dispute: the Finance
# page's row *Disputed or lost, not yet owed again*.
NOT_CHASED = "not_chased"

COLUMNS = (
    Column("as_of", DATE, "The day the balances are as of."),
    INVOICE_NUMBER,
    *LICENSEE,
    Column(
        "state",
        TEXT,
        "The invoice's state at the end of the as-of date (open or uncollectible; paid "
        "when owed back), as the invoices export as of that day reads it.",
    ),
    CURRENCY,
    INVOICE_ISSUE_DATE,
    Column("due_date", DATE, "The invoice's due date."),
    Column("days_past_due", INTEGER, "Days after the due date on the as-of date (0 if not due)."),
    Column("total", MONEY, "The invoice's total."),
    Column(
        "paid_to_date",
        MONEY,
        "Payments received by the as-of date, less those the bank had returned by then.",
    ),
    Column("credited_to_date", MONEY, "Credit notes issued by the as-of date."),
    Column("balance", MONEY, "What was owed on the as-of date."),
    Column("bucket", TEXT, one_of(BUCKETS, "days past due")),
    *(Column(column, MONEY, f"The balance if {when}, else 0.") for _, column, when in _BUCKETS),
    Column(
        "disputed",
        MONEY,
        "The balance if a dispute of one of the invoice's card payments was open on the "
        "as-of date (contested with the bank, not chased), else 0; it is in its "
        "days-past-due column too.",
    ),
    Column(
        "owed_since",
        DATE,
        "The day the balance is aged from: the due date, or the later day it was owed "
        "again after a dispute lost (the close plus the invoice's payment terms).",
    ),
    Column(
        "days_past_owed",
        INTEGER,
        "Days after owed_since on the as-of date (0 if not yet owed).",
    ),
    Column(
        "aging_bucket",
        TEXT,
        one_of(
            (*BUCKETS, NOT_CHASED),
            "days past owed_since; not_chased while a dispute is open, or lost and "
            "not yet owed again: the Finance page's aging",
        ),
    ),
    Column(
        "refunded_to_date",
        MONEY,
        "Refunds sent on its credit notes by the as-of date, less those the card's bank "
        "had returned by then: the balance is total - paid_to_date - credited_to_date + "
        "refunded_to_date (round 53; returns since round 54).",
    ),
    Column(
        "owed_back",
        MONEY,
        "With owed_back_on (round 59): what the invoice was owed back at the end of that "
        "day, credited beyond what it owed less the refunds sent by then (the Finance "
        "page's refunds owed), its balance 0; else 0.",
    ),
)


def bucket(days_past_due: int) -> str:
    """The finance dashboard's aging bucket, by the name this export gives it."""
    return BUCKETS[aging_index(days_past_due)]


def _per_invoice(invoice_id: Any, total: Any, *conditions: ColumnElement[bool]) -> Subquery:
    """`total` of the rows meeting `conditions`, one row an invoice (`invoice_id`,
    `amount`), to join to the invoices."""
    return (
        select(invoice_id, total.label("amount")).where(*conditions).group_by(invoice_id).subquery()
    )


def _statement(given: ExportFilter, as_of: date, *, owed_back: bool = False) -> Statement:
    # Summed from the dated events, not the invoice's stored totals (`owed_of`, the
    # one rule for what it owes now, round 54): the balance is as of a day, maybe
    # past, and only the events say what was owed then (`finance.queries`, "the
    # ledger summed in SQL", says why; the two agree once every event has happened).
    # Received and returned are not bounded by the invoice (round 51): a payment that
    # did not clear is reversed and the invoice paid again, so ten wires of the largest
    # amount returned add up beyond what SQLite's SUM of the scaled integers holds
    # ("integer overflow" past about 9.2e14): `money_sum`, exact on both databases.
    # Credited and refunded too (round 60, edges60), where a plain SUM was taken to
    # hold because each adds up within one invoice's total: every sum over money on
    # SQLite is the one helper, whatever bounds it today, and each is read back here.
    # Each a sum per invoice, grouped once and joined (round 55): as a subquery for
    # each invoice, PostgreSQL probed four indexes once an invoice (at 30,000 invoices
    # 279,600 buffers and 0.74-0.78 s; grouped, 3,800 buffers and 0.36-0.42 s, the
    # same rows; SQLite about the same either way).
    received = _per_invoice(
        Payment.invoice_id, money_sum(Payment.amount), collected_between(None, as_of)
    )
    returned = _per_invoice(
        PaymentReversal.invoice_id,
        money_sum(PaymentReversal.amount),
        reversed_between(None, as_of),
    )
    credited = _per_invoice(
        CreditNote.invoice_id, money_sum(CreditNote.amount), CreditNote.issue_date <= as_of
    )
    # Refunds sent by then (round 53): money back out, which the balance counts, less
    # those the card's bank had returned by then (round 54: a refund returned later
    # still counts on the days before its return, as a payment returned later does).
    refunded = _per_invoice(
        Refund.invoice_id,
        money_sum(Refund.amount),
        refunded_between(None, as_of),
        not_(refund_returned_between(None, as_of)),
    )
    end_of_day = office_day_start(as_of + timedelta(days=1))
    # Round 62 (asof62): the state at the end of the day, by the invoices export's rule
    # as of a day; a row owes then, so it is open or written off (`paid` for one owed
    # back, set in `rows`). The day it last began to owe by the bank's days is read from
    # the events only of the invoices written off and moved on after the day.
    written_moved = select(Invoice.id).where(
        Invoice.written_off_at.is_not(None),
        Invoice.id.in_(money_moved(as_of + timedelta(days=1))),
    )
    owing_since, bank = owing_since_on(as_of, written_moved)
    state = case((written_off_on(as_of, owing_since), literal(UNCOLLECTIBLE)), else_=literal(OPEN))
    statement = (
        select(
            Invoice.number,
            *licensee(Invoice),
            state.label("state"),
            Invoice.currency,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.total,
            received.c.amount.label("received"),
            returned.c.amount.label("returned"),
            credited.c.amount.label("credited"),
            refunded.c.amount.label("refunded"),
            disputed_on(as_of).label("disputed"),
            not_chased_on(as_of).label("not_chased"),
            owed_again_by(as_of).label("owed_again_on"),
        )
        .outerjoin(received, received.c.invoice_id == Invoice.id)
        .outerjoin(returned, returned.c.invoice_id == Invoice.id)
        .outerjoin(credited, credited.c.invoice_id == Invoice.id)
        .outerjoin(refunded, refunded.c.invoice_id == Invoice.id)
        .outerjoin(bank, bank.c.invoice_id == Invoice.id)
    ).where(
        Invoice.state != DRAFT,
        Invoice.issue_date <= as_of,
        or_(Invoice.state != VOID, Invoice.voided_at >= end_of_day),
        # Only the invoices that may owe on the as-of day (round 55, statements55: the
        # one rule, `moving_or_owing`): one left out owes nothing now and nothing
        # moved on it after the day, so it owed nothing then and had no row. Owed back
        # (round 59): only an invoice credited by then can be (the Finance page's
        # *Refunds owed* counts those alone).
        credited_by(as_of) if owed_back else moving_or_owing_all(as_of + timedelta(days=1)),
    )
    statement = of_licensee(statement, Invoice, given)
    return on_days(statement, Invoice.issue_date, given)


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    # Round 59: `owed_back_on` lists the invoices owed a refund at the end of that day
    # (credited beyond what they owed, less refunds sent by then), where `as_of` lists
    # those owing: the Finance page's *Refunds owed* at a period's end, which no export
    # gave on a past day.
    owed_back = given.owed_back_on is not None
    as_of = given.owed_back_on or given.as_of
    assert as_of is not None  # the filter defaults it to today
    statement = _statement(given, as_of, owed_back=owed_back).order_by(Invoice.due_date, Invoice.id)
    for r in each(context.session, statement):
        paid = (r.received or Decimal(0)) - (r.returned or Decimal(0))
        credited = r.credited or Decimal(0)
        refunded = r.refunded or Decimal(0)
        balance = r.total - paid - credited + refunded
        if (balance >= 0) if owed_back else (balance <= 0):
            continue
        overdue = max((as_of - r.due_date).days, 0) if r.due_date else 0
        which = bucket(overdue)
        currency = r.currency
        zero = amount(Decimal(0), currency)
        owed = zero if owed_back else amount(balance, currency)
        yield (
            as_of,
            r.number,
            r.organization_id,
            r.legal_name,
            PAID if owed_back else r.state,
            currency,
            r.issue_date,
            r.due_date,
            overdue,
            amount(r.total, currency),
            amount(paid, currency),
            amount(credited, currency),
            owed,
            which,
            *(owed if name == which else zero for name in BUCKETS),
            owed if r.disputed else zero,
            *_aged_as_chased(r, as_of),
            amount(refunded, currency),
            amount(-balance, currency) if owed_back else zero,
        )


def _aged_as_chased(r: Any, as_of: date) -> tuple[date | None, int, str]:
    """`owed_since`, `days_past_owed` and `aging_bucket`: the balance aged as the
    overdue run chases it (the Finance page's aging), where the columns before
    keep their meaning of schema version 1 (days past the issued due date)."""
    owed = owed_since(r.due_date, r.owed_again_on) if r.due_date else None
    days = max((as_of - owed).days, 0) if owed else 0
    return owed, days, NOT_CHASED if r.not_chased else bucket(days)


DATASET = Dataset(
    name="receivables",
    title="Accounts receivable (aging)",
    description=(
        "What each invoice owed on the as-of date (today unless given), "
        "in aging buckets by days past due."
    ),
    schema_version=1,
    columns=COLUMNS,
    rows=rows,
    date_bases=(ISSUED,),
    filters=frozenset({"organization", "currency", "as_of", "owed_back_on"}),
    order=70,
)
