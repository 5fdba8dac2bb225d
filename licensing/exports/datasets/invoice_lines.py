"""invoice_lines: every line of every issued invoice, with its kind, use and
general-ledger account (see `licensing.exports.ledger`)."""

from __future__ import annotations

from collections.abc import Generator

from sqlalchemy import select

from licensing.accounts.models import Organization
from licensing.billing.models import Invoice, InvoiceLine
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
from licensing.exports.datasets.invoices import STATES
from licensing.exports.filters import ISSUED, PAID, ExportFilter
from licensing.exports.queries import amount, count_rows, each, issued_invoices

COLUMNS = (
    Column("invoice_id", INTEGER, "The invoice's id in the service."),
    Column("invoice_number", TEXT, "INV-YYYY-NNNNNN."),
    Column("line_position", INTEGER, "The line's number on the invoice, from 1."),
    Column("organization_id", INTEGER, "The licensee's id."),
    Column("organization", TEXT, "The licensee's legal name (today's)."),
    Column("invoice_state", TEXT, "The invoice's state."),
    Column("currency", TEXT, "ISO 4217 code."),
    Column("issue_date", DATE, "The invoice's issue date."),
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
            Invoice.organization_id,
            Organization.legal_name,
            Invoice.state,
            Invoice.currency,
            Invoice.issue_date,
            Invoice.source_type,
            Invoice.source_id,
            InvoiceLine.description,
            InvoiceLine.amount,
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .join(Organization, Organization.id == Invoice.organization_id),
        given,
    )


def ordered(statement: Statement) -> Statement:
    """The export's order: invoice by invoice, each in line order."""
    return statement.order_by(Invoice.issue_date, Invoice.id, InvoiceLine.position)


def rows(context: ExportContext, given: ExportFilter) -> Generator[Row, None, None]:
    ledger = context.ledger
    statement = ordered(_statement(given))
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
    ) in each(context.session, statement):
        kind = ledger.kind(source_type)
        use = ledger.line_use(source_type, source_id, position)
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
            ledger.account(kind, use),
            description,
            amount(line_amount, currency),
        )


def count(context: ExportContext, given: ExportFilter) -> int | None:
    if given.use:  # the use is found line by line, not in SQL
        return None
    return count_rows(context.session, _statement(given))


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
