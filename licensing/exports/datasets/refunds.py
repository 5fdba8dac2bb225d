"""refunds: money sent back against credit notes, to the card or offline, one row each.

The Finance page's *Refunded* is these rows' amounts, succeeded, by the day sent:
without them that figure was the only one no export could reconcile."""

from __future__ import annotations

from datetime import date, datetime

from licensing.billing.models import CreditNote, Invoice, Refund
from licensing.billing.states import PAYMENT_METHODS, REFUND_STATES
from licensing.db import Statement
from licensing.exports.base import DATE, DATETIME, INTEGER, MONEY, TEXT, Column
from licensing.exports.columns import CREDIT_NOTE_NUMBER, CURRENCY, LICENSEE, one_of
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import PAID, ExportFilter
from licensing.exports.queries import day_of, licensee, made_between, of_licensee


def _source(statement: Statement, given: ExportFilter) -> Statement:
    statement = (
        statement.select_from(Refund)
        .join(CreditNote, CreditNote.id == Refund.credit_note_id)
        .join(Invoice, Invoice.id == Refund.invoice_id)
    )
    statement = of_licensee(statement, Refund, given, by_state=True)
    if given.date_from or given.date_to:
        statement = statement.where(
            made_between(Refund.sent_on, Refund.settled_at, given.date_from, given.date_to)
        )
    return statement


def _sent_date(sent_on: date | None, settled_at: datetime | None) -> date | None:
    """The day sent (offline), else the office day Stripe confirmed it (card)."""
    return sent_on or day_of(settled_at)


DECLARED = Declared(
    record=Refund,
    table=(
        Field(Column("refund_id", INTEGER, "The refund's id in the service."), Refund.id),
        Field(CREDIT_NOTE_NUMBER, CreditNote.number),
        Field(Column("invoice_number", TEXT, "The invoice the credit note is on."), Invoice.number),
        *map(Field, LICENSEE, licensee(Refund)),
        Column("method", TEXT, one_of(PAYMENT_METHODS)),
        Column("state", TEXT, one_of(REFUND_STATES, "the Finance page counts succeeded ones")),
        CURRENCY,
        Column("amount", MONEY, "The amount sent back."),
        Field(
            Column(
                "sent_date", DATE, "Day sent (offline) or office day Stripe confirmed it (card)."
            ),
            Refund.sent_on,
            _sent_date,
            (Refund.settled_at,),
        ),
        Column("reference", TEXT, "Bank or check reference (offline)."),
        Column("stripe_refund_id", TEXT, "Stripe Refund id (card)."),
        Column("recorded_by", TEXT, "Who recorded or started it."),
        Column("created_at", DATETIME, "When it was recorded or started (UTC)."),
        Column("settled_at", DATETIME, "When it was confirmed (UTC)."),
    ),
    source=_source,
    order=(Refund.id,),
)

DATASET = DECLARED.dataset(
    name="refunds",
    title="Refunds",
    description="Money sent back against credit notes, to the card or offline, in the order made.",
    schema_version=1,
    date_bases=(PAID,),
    filters=frozenset({"organization", "state", "currency"}),
    states=REFUND_STATES,
    order=45,
)
