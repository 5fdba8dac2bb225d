"""invoices: every issued invoice, one row each, with what is paid, credited and due."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import case, literal, type_coerce
from sqlalchemy.orm import aliased

from licensing.billing.models import Invoice
from licensing.billing.queries import owed_of
from licensing.billing.states import (
    COLLECTIBLE,
    INVOICE_SOURCES,
    INVOICE_STATES,
    ROYALTY_REPORT,
)
from licensing.db import Money, Statement
from licensing.exports.base import DATE, INTEGER, MONEY, TEXT, Column
from licensing.exports.columns import (
    CURRENCY,
    INVOICE_ID,
    INVOICE_NUMBER,
    ISSUE_DATE,
    LICENSEE,
    one_of,
    report_number,
)
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import ISSUED, PAID, RECORDED, ExportFilter
from licensing.exports.queries import day_of, issued_invoices, licensee
from licensing.royalties.models import RoyaltyReport

STATES = tuple(state for state in INVOICE_STATES if state != "draft")

# `Invoice.owed`: the refunds sent count (round 53).
_OWED = owed_of(Invoice)
# What is still owed: only an open or uncollectible invoice owes, and never less than 0.
_BALANCE_DUE = type_coerce(
    case(
        (Invoice.state.in_(COLLECTIBLE) & (literal(Decimal(0), Money()) < _OWED), _OWED),
        else_=literal(Decimal(0), Money()),
    ),
    Money(),
)


# A royalty invoice's report, the report that one amends, and the amended report's
# invoice (round 33: an original report's invoice and its amendment's share their
# `source_reference`, the agreement and period, which stays as it was).
_REPORT = aliased(RoyaltyReport, name="billed_report")
_AMENDED = aliased(RoyaltyReport, name="amended_report")
_AMENDED_INVOICE = aliased(Invoice, name="amended_invoice")


def _source(statement: Statement, given: ExportFilter) -> Statement:
    statement = (
        statement.select_from(Invoice)
        .outerjoin(
            _REPORT, (Invoice.source_type == ROYALTY_REPORT) & (_REPORT.id == Invoice.source_id)
        )
        .outerjoin(_AMENDED, _AMENDED.id == _REPORT.amends_id)
        .outerjoin(_AMENDED_INVOICE, _AMENDED_INVOICE.id == _AMENDED.invoice_id)
    )
    return issued_invoices(statement, given)


DECLARED = Declared(
    record=Invoice,
    table=(
        Field(INVOICE_ID, Invoice.id),
        Field(INVOICE_NUMBER, Invoice.number),
        *map(Field, LICENSEE, licensee(Invoice)),
        Column("state", TEXT, one_of(STATES)),
        Column("source_type", TEXT, one_of(INVOICE_SOURCES)),
        Column(
            "source_reference",
            TEXT,
            "The agreement number; for a royalty invoice, the agreement number and the "
            "period's first day, shared by an amendment's invoice (royalty_report_id tells "
            "them apart); for a late fee, the overdue invoice's number.",
        ),
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
        Field(
            Column(
                "royalty_report_id",
                INTEGER,
                "The royalty report a royalty invoice bills (royalty_report_lines' report_id).",
            ),
            _REPORT.id,
        ),
        Field(
            Column(
                "amends_report_id",
                INTEGER,
                "For an amendment's royalty invoice: the report the amendment amends.",
            ),
            _REPORT.amends_id,
        ),
        Field(
            Column(
                "amends_invoice_number",
                TEXT,
                "For an amendment's royalty invoice: the amended report's invoice, if it "
                "issued one (both share source_reference, the agreement and period).",
            ),
            _AMENDED_INVOICE.number,
        ),
        # Round 51: the reports by their numbers, as the invoice's memo names them.
        Field(
            Column(
                "royalty_report_number",
                TEXT,
                "RR-NNNNNN: the royalty report a royalty invoice bills, as its memo names it.",
            ),
            _REPORT.id,
            report_number,
        ),
        Field(
            Column(
                "amends_report_number",
                TEXT,
                "RR-NNNNNN: for an amendment's royalty invoice, the report it amends.",
            ),
            _REPORT.amends_id,
            report_number,
        ),
        # Round 53: the balance counts the refunds sent, so the row says them.
        Column(
            "amount_refunded",
            MONEY,
            "Refunds sent on its credit notes: balance_due is total - amount_paid - "
            "amount_credited + amount_refunded, when above 0.",
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
