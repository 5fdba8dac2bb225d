"""invoice_lines: every line of every issued invoice, with its kind, use and
general-ledger account (see `licensing.exports.ledger`)."""

from __future__ import annotations

from collections.abc import Generator

from sqlalchemy import select

from licensing.billing.models import Invoice, InvoiceLine
from licensing.db import Statement
from licensing.exports.base import (
    INTEGER,
    MONEY,
    TEXT,
    Column,
    Dataset,
    ExportContext,
    Row,
    register,
)
from licensing.exports.columns import (
    CURRENCY,
    INVOICE_ID,
    INVOICE_ISSUE_DATE,
    INVOICE_NUMBER,
    LICENSEE,
)
from licensing.exports.datasets.invoices import STATES
from licensing.exports.filters import ISSUED, PAID, ExportFilter
from licensing.exports.queries import amount, counter, each, issued_invoices, licensee

COLUMNS = (
    INVOICE_ID,
    INVOICE_NUMBER,
    Column("line_position", INTEGER, "The line's number on the invoice, from 1."),
    *LICENSEE,
    Column("invoice_state", TEXT, "The invoice's state."),
    CURRENCY,
    INVOICE_ISSUE_DATE,
    Column("kind", TEXT, "fee (up front, from an agreement), royalty, late_fee or manual."),
    Column("use", TEXT, "The licensed use the line charges for; empty when it has none."),
    Column("gl_account", TEXT, "General-ledger revenue account (EXPORT_GL_ACCOUNTS)."),
    Column("description", TEXT, "The line as printed on the invoice."),
    Column("amount", MONEY, "The line's amount."),
)


def _statement(given: ExportFilter) -> Statement:
    return issued_invoices(
        select(
            Invoice.id,
            Invoice.number,
            InvoiceLine.position,
            *licensee(Invoice),
            Invoice.state,
            Invoice.currency,
            Invoice.issue_date,
            Invoice.source_type,
            Invoice.source_id,
            InvoiceLine.description,
            InvoiceLine.amount,
        ).join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id),
        given,
    )


def ordered(statement: Statement) -> Statement:
    """The export's order: invoice by invoice, each in line order."""
    return statement.order_by(Invoice.issue_date, Invoice.id, InvoiceLine.position)


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    # Its own loop, not a `Listing`: the largest export (bench/exports.py times
    # it), so results are unpacked, many times faster than by attribute, and a
    # line's use is found here, row by row.
    classify = context.ledger.classify
    for (
        invoice_id,
        number,
        position,
        organization_id,
        legal_name,
        state,
        currency,
        issue_date,
        source_type,
        source_id,
        description,
        line_amount,
    ) in each(context.session, ordered(_statement(given))):
        kind, use, account = classify(source_type, source_id, position)
        if given.use and use != given.use:
            continue
        yield (
            invoice_id,
            number,
            position,
            organization_id,
            legal_name,
            state,
            currency,
            issue_date,
            kind,
            use,
            account,
            description,
            amount(line_amount, currency),
        )


# The use is found line by line, not in SQL: no count when the filter names one.
count = counter(_statement, use_by_row=True)

DATASET = register(
    Dataset(
        name="invoice_lines",
        title="Invoice lines",
        description="Every line of every issued invoice, with its general-ledger account.",
        schema_version=1,
        columns=COLUMNS,
        rows=rows,
        count=count,
        date_bases=(ISSUED, PAID),
        filters=frozenset({"organization", "state", "currency", "use"}),
        states=STATES,
        order=20,
    )
)
