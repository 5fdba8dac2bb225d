"""refunds: money sent back against credit notes, to the card or offline, one row each.

The Finance page's *Refunded* is these rows' amounts by the day sent (succeeded, and
failed after they were sent: `sent_date` given), less the amounts of those the card's
bank returned, by `returned_date` (round 54; `by=reversed` lists them): without them
that figure was the only one no export could reconcile. An offline return's reason and
who recorded it are the last columns (round 55)."""

from __future__ import annotations

from licensing.billing.models import CreditNote, Invoice, Refund
from licensing.billing.queries import refund_returned_at, refund_returned_between
from licensing.billing.states import REFUND_STATES
from licensing.db import Statement
from licensing.exports.base import DATE, DATETIME, INTEGER, MONEY, TEXT, Column
from licensing.exports.columns import (
    BANK_REFERENCE,
    CREDIT_NOTE_NUMBER,
    CURRENCY,
    LICENSEE,
    METHOD,
    RECORDED_AT,
    id_of,
    one_of,
)
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import PAID, RECORDED, REVERSED, ExportFilter
from licensing.exports.queries import (
    licensee,
    made_on,
    made_on_days,
    of_licensee,
    person_name,
    recorded_on_days,
)


def _source(statement: Statement, given: ExportFilter) -> Statement:
    statement = (
        statement.select_from(Refund)
        .join(CreditNote, CreditNote.id == Refund.credit_note_id)
        .join(Invoice, Invoice.id == Refund.invoice_id)
    )
    statement = of_licensee(statement, Refund, given, by_state=True)
    if given.date_basis == RECORDED:
        # A nightly pull: refunds recorded, confirmed or failed (Stripe's refund.failed,
        # even after it succeeded) on the days, whatever day sent.
        changed = (Refund.created_at, Refund.settled_at, Refund.failed_at)
        return recorded_on_days(statement, changed, given)
    if given.date_basis == REVERSED:
        # The refunds the bank returned on the days, whenever sent (round 54; offline
        # ones on the day staff gave, round 55).
        return statement.where(refund_returned_between(given.date_from, given.date_to))
    return made_on_days(statement, Refund.sent_on, Refund.settled_at, given)


DECLARED = Declared(
    record=Refund,
    table=(
        Field(id_of("refund"), Refund.id),
        Field(CREDIT_NOTE_NUMBER, CreditNote.number),
        Field(Column("invoice_number", TEXT, "The invoice the credit note is on."), Invoice.number),
        *map(Field, LICENSEE, licensee(Refund)),
        METHOD,
        Column(
            "state",
            TEXT,
            one_of(
                REFUND_STATES,
                "the Finance page counts each with a sent_date; "
                "one failed after it has a returned_date",
            ),
        ),
        CURRENCY,
        Column("amount", MONEY, "The amount sent back."),
        Field(
            Column(
                "sent_date",
                DATE,
                "Day sent (offline) or office day Stripe sent it (card: its event's time, "
                "round 56; before it, the office day its success was recorded).",
            ),
            Refund.sent_on,
            made_on,
            (Refund.settled_at,),
        ),
        BANK_REFERENCE,
        Column("stripe_refund_id", TEXT, "Stripe Refund id (card)."),
        Column("recorded_by", TEXT, "Who recorded or started it."),
        RECORDED_AT,
        Column("settled_at", DATETIME, "When it was confirmed (UTC)."),
        Field(
            Column(
                "returned_date",
                DATE,
                "Day the bank returned it, for a refund sent and then failed: the day "
                "billing staff gave for an offline refund (round 55), the office day of "
                "Stripe's event for a card refund (round 56; before it, the office day "
                "its return was recorded). The Finance page takes it off its net refunds "
                "that day.",
            ),
            Refund.returned_on,
            made_on,
            (refund_returned_at(),),
        ),
        # Round 55 (polish55): what the payments export says of a reversal
        # (`reversal_reason`, `reversed_by`), for an offline refund the bank returned
        # (billing_0023). Last, so schema_version stays 1.
        Column(
            "return_reason",
            TEXT,
            "Why the bank returned it, as billing staff recorded it (an offline refund "
            "returned, round 55; empty for a card refund, whose return is Stripe's).",
        ),
        Column(
            "returned_by",
            TEXT,
            "Who recorded its return (an offline refund returned, round 55).",
        ),
        # Round 59 (closewalk59): the card payment a card refund went back to, so a
        # finance system ties it to the payments export's row (and Stripe's charge)
        # by a key rather than by the invoice, which may have had several card payments.
        Column(
            "payment_id",
            INTEGER,
            "The card payment it went back to (its payment_id in the Payments export); empty "
            "for an offline refund, which pays the credit note, not a payment.",
        ),
        # Round 60 (names60): the names beside `recorded_by` and `returned_by`, last.
        Field(
            Column(
                "recorded_by_name",
                TEXT,
                "The name of who recorded or started it (recorded_by is the address as "
                "recorded), as the console names them now; empty for the system.",
            ),
            person_name(Refund.recorded_by_id, Refund.recorded_by),
        ),
        Field(
            Column(
                "returned_by_name",
                TEXT,
                "The name of who recorded its return (an offline refund returned).",
            ),
            person_name(Refund.returned_by_id, Refund.returned_by),
        ),
    ),
    source=_source,
    order=(Refund.id,),
)

DATASET = DECLARED.dataset(
    name="refunds",
    title="Refunds",
    description="Money sent back against credit notes, to the card or offline, in the order made.",
    schema_version=1,
    date_bases=(PAID, RECORDED, REVERSED),
    filters=frozenset({"organization", "state", "currency"}),
    states=REFUND_STATES,
    order=45,
)
