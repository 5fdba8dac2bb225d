"""The seals of issued invoices and credit notes (`licensing.audit.seals`): what
each is made of, registered by `licensing.billing.init_app`. Their PDFs are drawn
from their records (and kept as first drawn, `kept_pdfs`, since round 44: an
invoice's once a standing, after it is issued), so the issued content they are
drawn from is sealed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.orm import selectinload

from licensing.audit.seals import (
    KeptBytes,
    Kind,
    digest,
    number_text,
    register_kept,
    register_kind,
)
from licensing.billing.models import CreditNote, Invoice, InvoiceLine, KeptPdf
from licensing.billing.states import DRAFT
from licensing.records import attributes


def _sealed(record: Any, names: Iterable[str], amounts: tuple[str, ...] = ()) -> dict[str, Any]:
    """The record's fields `names` under their own names, those in `amounts` as
    numbers (`number_text`)."""
    return {
        name: number_text(value) if name in amounts else value
        for name, value in attributes(record, names).items()
    }


def _lines(invoice: Invoice) -> list[InvoiceLine]:
    return sorted(invoice.lines, key=lambda line: line.position)


# The amounts of each document, sealed as numbers in its content and on their own
# with its currency; the other fields of a credit note and of an invoice line.
_INVOICE_AMOUNTS = ("total", "late_fee_monthly_percent")
_CREDIT_NOTE_AMOUNTS = ("amount", "applied_to_balance", "refund_due")
_LINE = ("position", "description", "working", "amount")
_CREDIT_NOTE = ("number", "invoice_id", "organization_id", "reason", "issue_date", "issued_by")


def _invoice_content(invoice: Invoice) -> dict[str, Any]:
    """The columns the ORM freezes once the invoice is issued (`Invoice.CONTENT`),
    and its lines."""
    return {
        **_sealed(invoice, Invoice.CONTENT, _INVOICE_AMOUNTS),
        "lines": [_sealed(line, _LINE, ("amount",)) for line in _lines(invoice)],
    }


def _invoice_amounts(invoice: Invoice) -> dict[str, Any]:
    return {
        **_sealed(invoice, ("currency", *_INVOICE_AMOUNTS), _INVOICE_AMOUNTS),
        "lines": [number_text(line.amount) for line in _lines(invoice)],
    }


def _credit_note_amounts(credit: CreditNote) -> dict[str, Any]:
    return _sealed(credit, ("currency", *_CREDIT_NOTE_AMOUNTS), _CREDIT_NOTE_AMOUNTS)


def _credit_note_content(credit: CreditNote) -> dict[str, Any]:
    return {**_credit_note_amounts(credit), **attributes(credit, _CREDIT_NOTE)}


def _issued_invoices(statement: Select[Any]) -> Select[Any]:
    return statement.where(Invoice.state != DRAFT).options(selectinload(Invoice.lines))


def _rendered_on_demand(
    label: str,
    model: type[Any],
    content: Callable[[Any], dict[str, Any]],
    amounts: Callable[[Any], dict[str, Any]],
    **kind: Any,
) -> Kind:
    """The kind of a document whose PDF is rendered on demand: the digest of the
    content it is rendered from is stored in `issued_sha256`, beside its amounts'."""
    return Kind(
        label=label,
        model=model,
        issued_digest=lambda document: digest(content(document)),
        issued_column="issued_sha256",
        amounts_digest=lambda document: digest(amounts(document)),
        **kind,
    )


INVOICE = _rendered_on_demand(
    "invoice",
    Invoice,
    _invoice_content,
    _invoice_amounts,
    is_issued=lambda invoice: invoice.state != DRAFT and invoice.number is not None,
    issued_from=DRAFT,
    narrow=_issued_invoices,
)
CREDIT_NOTE = _rendered_on_demand(
    "credit note",
    CreditNote,
    _credit_note_content,
    _credit_note_amounts,
    is_issued=lambda _credit: True,
)


def _kept_pdf_rows() -> Select[*tuple[Any, ...]]:
    """Each kept PDF named by its document and standing ("invoice INV-2027-000001,
    kept PDF in standing open; paid 0.00; ..."), its bytes, stored SHA-256 and seal,
    and what it is of (`kept_identity`)."""
    document = func.coalesce(
        literal("invoice ") + Invoice.number, literal("credit note ") + CreditNote.number
    )
    name = document + literal(", kept PDF in standing ") + KeptPdf.standing
    return (
        select(
            KeptPdf.id,
            name.label("name"),
            KeptPdf.pdf.label("content"),
            KeptPdf.sha256,
            KeptPdf.seal_key_id,
            KeptPdf.seal,
            KeptPdf.invoice_id,
            KeptPdf.credit_note_id,
            KeptPdf.standing,
        )
        .outerjoin(Invoice, Invoice.id == KeptPdf.invoice_id)
        .outerjoin(CreditNote, CreditNote.id == KeptPdf.credit_note_id)
        .order_by(KeptPdf.id)
    )


def kept_identity(
    invoice_id: int | None, credit_note_id: int | None, standing: str
) -> dict[str, Any]:
    """What a kept PDF is of, as its seal covers it (round 47) beside its SHA-256: its
    invoice or credit note and the standing it was drawn in, so a row's bytes cannot
    be moved to another document or standing either. Not `drawn_at` (a time read back
    may differ in precision between the databases) nor `issued_id` (set by the INSERT)."""
    return {"invoice_id": invoice_id, "credit_note_id": credit_note_id, "standing": standing}


KEPT_PDFS = KeptBytes(
    "kept PDF",
    KeptPdf,
    _kept_pdf_rows,
    lambda row: kept_identity(row.invoice_id, row.credit_note_id, row.standing),
)


def register() -> None:
    register_kind(INVOICE)
    register_kind(CREDIT_NOTE)
    register_kept(KEPT_PDFS)
