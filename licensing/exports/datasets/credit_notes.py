"""credit_notes: every credit note, one row each."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, literal

from licensing.actors import Actor
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
    report_number,
)
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import ISSUED, ExportFilter
from licensing.exports.queries import licensee, of_licensee, on_days, person_name
from licensing.royalties.models import RoyaltyReport


def credit_notes_matching(statement: Statement, given: ExportFilter) -> Statement:
    """Credit notes of the filter's licensees issued on its days (the licensee joined)."""
    return on_days(of_licensee(statement, CreditNote, given), CreditNote.issue_date, given)


def _source(statement: Statement, given: ExportFilter) -> Statement:
    return credit_notes_matching(
        statement.select_from(CreditNote)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .outerjoin(RoyaltyReport, _issued_on_report()),
        given,
    )


def _issued_on_report() -> ColumnElement[bool]:
    """The royalty report whose filing issued the credit note (it lowered the
    royalty): the report lists the note's number among its `credit_notes`. Only
    the licensee's own reports are searched, by their indexed organization."""
    quoted = literal('"') + CreditNote.number + literal('"')
    return and_(
        RoyaltyReport.organization_id == CreditNote.organization_id,
        RoyaltyReport.credit_notes_json.contains(quoted),
    )


# Who issued it: billing staff's name, or the service for a note a royalty
# report's filing issued (notes issued before the service stored "system" for
# them hold the filer's name, which `report_filed_by` now carries).
_ISSUER = case(
    (RoyaltyReport.id.is_not(None), literal(Actor.SYSTEM.name)), else_=CreditNote.issued_by
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
        Field(
            Column(
                "issued_by",
                TEXT,
                "Who issued it: the billing staff member, or system for a note a royalty "
                "report's filing issued.",
            ),
            _ISSUER,
        ),
        Field(
            Column(
                "royalty_report",
                TEXT,
                "The royalty report (RR-NNNNNN) whose filing lowered the royalty and so "
                "issued it; empty when billing staff issued it.",
            ),
            RoyaltyReport.id,
            report_number,
        ),
        Field(
            Column("report_filed_by", TEXT, "Who filed that royalty report (the vendor's user)."),
            RoyaltyReport.submitted_by,
        ),
        # Round 60 (names60): the names beside `issued_by` and `report_filed_by`, last.
        Field(
            Column(
                "issued_by_name",
                TEXT,
                "The name of the billing staff member who issued it, as the console names "
                "them now; empty for system.",
            ),
            case(
                (RoyaltyReport.id.is_not(None), None),
                else_=person_name(CreditNote.issued_by_id, CreditNote.issued_by),
            ),
        ),
        Field(
            Column("report_filed_by_name", TEXT, "The name of who filed that royalty report."),
            person_name(RoyaltyReport.submitted_by_id, RoyaltyReport.submitted_by),
        ),
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
