"""credit_notes: every credit note, one row each."""

from __future__ import annotations

from collections.abc import Generator

from sqlalchemy import select

from licensing.accounts.models import Organization
from licensing.billing.models import CreditNote, Invoice
from licensing.db import Statement
from licensing.exports.base import (
    DATE,
    INTEGER,
    MONEY,
    TEXT,
    Column,
    Dataset,
    ExportContext,
    Row,
    register,
)
from licensing.exports.filters import ISSUED, ExportFilter
from licensing.exports.queries import amount, count_rows, each, matching, on_days

COLUMNS = (
    Column("credit_note_id", INTEGER, "The credit note's id in the service."),
    Column("credit_note_number", TEXT, "CN-YYYY-NNNNNN."),
    Column("invoice_number", TEXT, "The invoice it credits."),
    Column("organization_id", INTEGER, "The licensee's id."),
    Column("organization", TEXT, "The licensee's legal name (today's)."),
    Column("currency", TEXT, "ISO 4217 code."),
    Column("issue_date", DATE, "The day it was issued."),
    Column("amount", MONEY, "The amount credited."),
    Column("applied_to_balance", MONEY, "Of the amount, what reduced the balance due."),
    Column("refund_due", MONEY, "Of the amount, what is owed back (the invoice was paid)."),
    Column("reason", TEXT, "Why it was issued."),
    Column("issued_by", TEXT, "Who issued it."),
)


def credit_notes_matching(statement: Statement, given: ExportFilter) -> Statement:
    statement = matching(
        statement, given, organization=CreditNote.organization_id, currency=CreditNote.currency
    )
    return on_days(statement, CreditNote.issue_date, given)


def _statement(given: ExportFilter) -> Statement:
    return credit_notes_matching(
        select(
            CreditNote.id,
            CreditNote.number,
            Invoice.number.label("invoice_number"),
            CreditNote.organization_id,
            Organization.legal_name,
            CreditNote.currency,
            CreditNote.issue_date,
            CreditNote.amount,
            CreditNote.applied_to_balance,
            CreditNote.refund_due,
            CreditNote.reason,
            CreditNote.issued_by,
        )
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .join(Organization, Organization.id == CreditNote.organization_id),
        given,
    )


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    statement = _statement(given).order_by(CreditNote.issue_date, CreditNote.id)
    for r in each(context.session, statement):
        yield (
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


def count(context: ExportContext, given: ExportFilter) -> int:
    return count_rows(context.session, _statement(given))


DATASET = register(
    Dataset(
        name="credit_notes",
        title="Credit notes",
        description="Every credit note, oldest issue first.",
        schema_version=1,
        columns=COLUMNS,
        rows=rows,
        count=count,
        date_bases=(ISSUED,),
        filters=frozenset({"organization", "currency"}),
        order=40,
    )
)
