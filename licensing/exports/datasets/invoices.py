"""invoices: every issued invoice, one row each, with what is paid, credited and due."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from licensing.billing.models import Invoice
from licensing.billing.states import COLLECTIBLE, INVOICE_STATES
from licensing.db import Statement
from licensing.exports.base import DATE, INTEGER, MONEY, TEXT, Column, Dataset, Row, register
from licensing.exports.columns import CURRENCY, INVOICE_ID, INVOICE_NUMBER, ISSUE_DATE, LICENSEE
from licensing.exports.filters import ISSUED, PAID, ExportFilter
from licensing.exports.queries import Listing, amount, day_of, issued_invoices, licensee

STATES = tuple(state for state in INVOICE_STATES if state != "draft")

COLUMNS = (
    INVOICE_ID,
    INVOICE_NUMBER,
    *LICENSEE,
    Column("state", TEXT, "open, paid, void or uncollectible."),
    Column("source_type", TEXT, "agreement, royalty_report, late_fee or manual."),
    Column("source_reference", TEXT, "The agreement number (or the source's reference)."),
    CURRENCY,
    ISSUE_DATE,
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
            *licensee(Invoice),
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
        ),
        given,
    )


def _row(r: Any) -> Row:
    owed = r.total - r.amount_paid - r.amount_credited if r.state in COLLECTIBLE else 0
    return (
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


LISTING = Listing(_statement, (Invoice.issue_date, Invoice.id), _row)

DATASET = register(
    Dataset(
        name="invoices",
        title="Invoices",
        description="Every issued invoice (drafts are not documents yet), oldest issue first.",
        schema_version=1,
        columns=COLUMNS,
        rows=LISTING.rows,
        count=LISTING.count,
        date_bases=(ISSUED, PAID),
        filters=frozenset({"organization", "state", "currency"}),
        states=STATES,
        order=10,
    )
)
