"""invoices: every issued invoice, one row each, with what is paid, credited and due."""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal

from sqlalchemy import select

from licensing.accounts.models import Organization
from licensing.billing.models import Invoice
from licensing.billing.states import COLLECTIBLE, INVOICE_STATES
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
from licensing.exports.filters import ISSUED, PAID, ExportFilter
from licensing.exports.queries import amount, count_rows, day_of, each, issued_invoices

STATES = tuple(state for state in INVOICE_STATES if state != "draft")

COLUMNS = (
    Column("invoice_id", INTEGER, "The invoice's id in the service."),
    Column("invoice_number", TEXT, "INV-YYYY-NNNNNN."),
    Column("organization_id", INTEGER, "The licensee's id."),
    Column("organization", TEXT, "The licensee's legal name (today's)."),
    Column("state", TEXT, "open, paid, void or uncollectible."),
    Column("source_type", TEXT, "agreement, royalty_report, late_fee or manual."),
    Column("source_reference", TEXT, "The agreement number (or the source's reference)."),
    Column("currency", TEXT, "ISO 4217 code."),
    Column("issue_date", DATE, "The day it was issued."),
    Column("due_date", DATE, "The day payment is due."),
    Column("paid_date", DATE, "The office day it became paid, if it is."),
    Column("voided_date", DATE, "The office day it was voided, if it was."),
    Column("payment_terms_days", INTEGER, "Net days."),
    Column("total", MONEY, "The sum of its lines."),
    Column("amount_paid", MONEY, "Payments applied to it."),
    Column("amount_credited", MONEY, "Credit notes issued against it."),
    Column("balance_due", MONEY, "What is still owed (0 unless open or uncollectible)."),
)


def _statement(given: ExportFilter) -> Statement:
    return issued_invoices(
        select(
            Invoice.id,
            Invoice.number,
            Invoice.organization_id,
            Organization.legal_name,
            Invoice.state,
            Invoice.source_type,
            Invoice.source_reference,
            Invoice.currency,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.paid_at,
            Invoice.voided_at,
            Invoice.payment_terms_days,
            Invoice.total,
            Invoice.amount_paid,
            Invoice.amount_credited,
        ).join(Organization, Organization.id == Invoice.organization_id),
        given,
    )


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    statement = _statement(given).order_by(Invoice.issue_date, Invoice.id)
    for r in each(context.session, statement):
        owed = r.total - r.amount_paid - r.amount_credited if r.state in COLLECTIBLE else 0
        yield (
            r.id,
            r.number,
            r.organization_id,
            r.legal_name,
            r.state,
            r.source_type,
            r.source_reference,
            r.currency,
            r.issue_date,
            r.due_date,
            day_of(r.paid_at),
            day_of(r.voided_at),
            r.payment_terms_days,
            amount(r.total, r.currency),
            amount(r.amount_paid, r.currency),
            amount(r.amount_credited, r.currency),
            amount(max(Decimal(owed), Decimal(0)), r.currency),
        )


def count(context: ExportContext, given: ExportFilter) -> int:
    return count_rows(context.session, _statement(given))


DATASET = register(
    Dataset(
        name="invoices",
        title="Invoices",
        description="Every issued invoice (drafts are not documents yet), oldest issue first.",
        schema_version=1,
        columns=COLUMNS,
        rows=rows,
        count=count,
        date_bases=(ISSUED, PAID),
        filters=frozenset({"organization", "state", "currency"}),
        states=STATES,
        order=10,
    )
)
