"""credit_notes: every credit note, one row each."""

from __future__ import annotations

from licensing.billing.models import CreditNote, Invoice
from licensing.db import Statement
from licensing.exports.base import MONEY, TEXT, Column
from licensing.exports.columns import (
    CREDIT_NOTE_NUMBER,
    CREDITED_INVOICE,
    CURRENCY,
    ISSUE_DATE,
    LICENSEE,
    id_of,
)
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import ISSUED, ExportFilter
from licensing.exports.queries import licensee, of_licensee, on_days


def credit_notes_matching(statement: Statement, given: ExportFilter) -> Statement:
    """Credit notes of the filter's licensees issued on its days (the licensee joined)."""
    return on_days(of_licensee(statement, CreditNote, given), CreditNote.issue_date, given)


def _source(statement: Statement, given: ExportFilter) -> Statement:
    return credit_notes_matching(
        statement.select_from(CreditNote).join(Invoice, Invoice.id == CreditNote.invoice_id),
        given,
    )


DECLARED = Declared(
    record=CreditNote,
    table=(
        Field(id_of("credit_note"), CreditNote.id),
        Field(CREDIT_NOTE_NUMBER, CreditNote.number),
        Field(CREDITED_INVOICE, Invoice.number),
        *map(Field, LICENSEE, licensee(CreditNote)),
        CURRENCY,
        ISSUE_DATE,
        Column("amount", MONEY, "The amount credited."),
        Column("applied_to_balance", MONEY, "Of the amount, what reduced the balance due."),
        Column("refund_due", MONEY, "Of the amount, what is owed back (the invoice was paid)."),
        Column("reason", TEXT, "Why it was issued."),
        Column("issued_by", TEXT, "Who issued it."),
    ),
    source=_source,
    order=(CreditNote.issue_date, CreditNote.id),
)

DATASET = DECLARED.dataset(
    name="credit_notes",
    title="Credit notes",
    description="Every credit note, oldest issue first.",
    schema_version=1,
    date_bases=(ISSUED,),
    filters=frozenset({"organization", "currency"}),
    order=40,
)
