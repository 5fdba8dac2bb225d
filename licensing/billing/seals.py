"""The seals of issued invoices and credit notes (`licensing.audit.seals`): what
each is made of, registered by `licensing.billing.init_app`. Their PDFs are
rendered on demand, so the issued content they are rendered from is sealed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import selectinload

from licensing.audit.seals import Kind, digest, number_text, register_kind
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.states import DRAFT


def _invoice_content(invoice: Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "organization_id": invoice.organization_id,
        "currency": invoice.currency,
        "source_type": invoice.source_type,
        "source_id": invoice.source_id,
        "source_reference": invoice.source_reference,
        "parent_invoice_id": invoice.parent_invoice_id,
        "payment_terms_days": invoice.payment_terms_days,
        "late_fee_monthly_percent": number_text(invoice.late_fee_monthly_percent),
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "bill_to": invoice.bill_to,
        "memo": invoice.memo,
        "total": number_text(invoice.total),
        "lines": [
            {
                "position": line.position,
                "description": line.description,
                "working": line.working,
                "amount": number_text(line.amount),
            }
            for line in sorted(invoice.lines, key=lambda line: line.position)
        ],
    }


def _invoice_amounts(invoice: Invoice) -> dict[str, Any]:
    return {
        "currency": invoice.currency,
        "total": number_text(invoice.total),
        "late_fee_monthly_percent": number_text(invoice.late_fee_monthly_percent),
        "lines": [
            number_text(line.amount)
            for line in sorted(invoice.lines, key=lambda line: line.position)
        ],
    }


def _credit_note_amounts(credit: CreditNote) -> dict[str, Any]:
    return {
        "currency": credit.currency,
        "amount": number_text(credit.amount),
        "applied_to_balance": number_text(credit.applied_to_balance),
        "refund_due": number_text(credit.refund_due),
    }


def _credit_note_content(credit: CreditNote) -> dict[str, Any]:
    return {
        **_credit_note_amounts(credit),
        "number": credit.number,
        "invoice_id": credit.invoice_id,
        "organization_id": credit.organization_id,
        "reason": credit.reason,
        "issue_date": credit.issue_date,
        "issued_by": credit.issued_by,
    }


def _issued_invoices(statement: Select[Any]) -> Select[Any]:
    return statement.where(Invoice.state != DRAFT).options(selectinload(Invoice.lines))


INVOICE = Kind(
    label="invoice",
    model=Invoice,
    issued_digest=lambda invoice: digest(_invoice_content(invoice)),
    issued_column="issued_sha256",
    amounts_digest=lambda invoice: digest(_invoice_amounts(invoice)),
    is_issued=lambda invoice: invoice.state != DRAFT and invoice.number is not None,
    issued_from=DRAFT,
    narrow=_issued_invoices,
)
CREDIT_NOTE = Kind(
    label="credit note",
    model=CreditNote,
    issued_digest=lambda credit: digest(_credit_note_content(credit)),
    issued_column="issued_sha256",
    amounts_digest=lambda credit: digest(_credit_note_amounts(credit)),
    is_issued=lambda _credit: True,
)


def register() -> None:
    register_kind(INVOICE)
    register_kind(CREDIT_NOTE)
