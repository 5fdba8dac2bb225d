"""credit_notes: every credit note, one row each."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from licensing.billing.models import CreditNote, Invoice
from licensing.db import Statement
from licensing.exports.base import INTEGER, MONEY, TEXT, Column, Dataset, Row, register
from licensing.exports.columns import (
    CREDIT_NOTE_NUMBER,
    CREDITED_INVOICE,
    CURRENCY,
    ISSUE_DATE,
    LICENSEE,
)
from licensing.exports.filters import ISSUED, ExportFilter
from licensing.exports.queries import Listing, amount, licensee, of_licensee, on_days

COLUMNS = (
    Column("credit_note_id", INTEGER, "The credit note's id in the service."),
    CREDIT_NOTE_NUMBER,
    CREDITED_INVOICE,
    *LICENSEE,
    CURRENCY,
    ISSUE_DATE,
    Column("amount", MONEY, "The amount credited."),
    Column("applied_to_balance", MONEY, "Of the amount, what reduced the balance due."),
    Column("refund_due", MONEY, "Of the amount, what is owed back (the invoice was paid)."),
    Column("reason", TEXT, "Why it was issued."),
    Column("issued_by", TEXT, "Who issued it."),
)


def credit_notes_matching(statement: Statement, given: ExportFilter) -> Statement:
    """Credit notes of the filter's licensees issued on its days (the licensee joined)."""
    return on_days(of_licensee(statement, CreditNote, given), CreditNote.issue_date, given)


def _statement(given: ExportFilter) -> Statement:
    return credit_notes_matching(
        select(
            CreditNote.id,
            CreditNote.number,
            Invoice.number.label("invoice_number"),
            *licensee(CreditNote),
            CreditNote.currency,
            CreditNote.issue_date,
            CreditNote.amount,
            CreditNote.applied_to_balance,
            CreditNote.refund_due,
            CreditNote.reason,
            CreditNote.issued_by,
        ).join(Invoice, Invoice.id == CreditNote.invoice_id),
        given,
    )


def _row(r: Any) -> Row:
    return (
        r.id,
        r.number,
        r.invoice_number,
        r.organization_id,
        r.legal_name,
        r.currency,
        r.issue_date,
        amount(r.amount, r.currency),
        amount(r.applied_to_balance, r.currency),
        amount(r.refund_due, r.currency),
        r.reason,
        r.issued_by,
    )


LISTING = Listing(_statement, (CreditNote.issue_date, CreditNote.id), _row)

DATASET = register(
    Dataset(
        name="credit_notes",
        title="Credit notes",
        description="Every credit note, oldest issue first.",
        schema_version=1,
        columns=COLUMNS,
        rows=LISTING.rows,
        count=LISTING.count,
        date_bases=(ISSUED,),
        filters=frozenset({"organization", "currency"}),
        order=40,
    )
)
