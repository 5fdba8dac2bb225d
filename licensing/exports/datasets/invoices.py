"""invoices: every issued invoice, one row each, with what is paid, credited and due."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import case, literal, type_coerce

from licensing.billing.models import Invoice
from licensing.billing.states import COLLECTIBLE, INVOICE_SOURCES, INVOICE_STATES
from licensing.db import Money, Statement
from licensing.exports.base import DATE, INTEGER, MONEY, TEXT, Column
from licensing.exports.columns import (
    CURRENCY,
    INVOICE_ID,
    INVOICE_NUMBER,
    ISSUE_DATE,
    LICENSEE,
    one_of,
)
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import ISSUED, PAID, RECORDED, ExportFilter
from licensing.exports.queries import day_of, issued_invoices, licensee

STATES = tuple(state for state in INVOICE_STATES if state != "draft")

_OWED = type_coerce(Invoice.total - Invoice.amount_paid - Invoice.amount_credited, Money())
# What is still owed: only an open or uncollectible invoice owes, and never less than 0.
_BALANCE_DUE = type_coerce(
    case(
        (Invoice.state.in_(COLLECTIBLE) & (literal(Decimal(0), Money()) < _OWED), _OWED),
        else_=literal(Decimal(0), Money()),
    ),
    Money(),
)


def _source(statement: Statement, given: ExportFilter) -> Statement:
    return issued_invoices(statement.select_from(Invoice), given)


DECLARED = Declared(
    record=Invoice,
    table=(
        Field(INVOICE_ID, Invoice.id),
        Field(INVOICE_NUMBER, Invoice.number),
        *map(Field, LICENSEE, licensee(Invoice)),
        Column("state", TEXT, one_of(STATES)),
        Column("source_type", TEXT, one_of(INVOICE_SOURCES)),
        Column("source_reference", TEXT, "The agreement number (or the source's reference)."),
        CURRENCY,
        ISSUE_DATE,
        Column("due_date", DATE, "The day payment is due."),
        Field(
            Column("paid_date", DATE, "The office day it became paid, if it is."),
            Invoice.paid_at,
            day_of,
        ),
        Field(
            Column("voided_date", DATE, "The office day it was voided, if it was."),
            Invoice.voided_at,
            day_of,
        ),
        Column("payment_terms_days", INTEGER, "Net days."),
        Column("total", MONEY, "The sum of its lines."),
        Column("amount_paid", MONEY, "Payments applied to it."),
        Column("amount_credited", MONEY, "Credit notes issued against it."),
        Field(
            Column("balance_due", MONEY, "What is still owed (0 unless open or uncollectible)."),
            _BALANCE_DUE,
        ),
    ),
    source=_source,
    order=(Invoice.issue_date, Invoice.id),
)

DATASET = DECLARED.dataset(
    name="invoices",
    title="Invoices",
    description="Every issued invoice (drafts are not documents yet), oldest issue first.",
    schema_version=1,
    date_bases=(ISSUED, PAID, RECORDED),
    filters=frozenset({"organization", "state", "currency"}),
    states=STATES,
    order=10,
)
