"""An invoice's or credit note's PDF: drawn from its records (`invoice_pdf`,
`credit_note_pdf`), and kept as first drawn (`kept_pdfs`, round 44), so that every
download and attachment after serves the same bytes (`services.documents`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from licensing.billing import documents, queries
from licensing.billing.letterhead import letterhead
from licensing.billing.models import CreditNote, Invoice, KeptPdf
from licensing.billing.states import DRAFT
from licensing.errors import Conflict, NotFound
from licensing.ratecards import queries as ratecard_queries


def invoice_pdf(session: Session, invoice: Invoice) -> bytes:
    """The invoice's PDF drawn now from its records (not kept: `services.documents`)."""
    office = letterhead()
    if invoice.state == DRAFT:
        raise Conflict("A draft has no PDF until it is finalized.")
    return documents.render_invoice_pdf(
        documents.invoice_document(
            invoice,
            issuer=office.issuer,
            remit_to=office.remit_to,
            period_start=queries.period_start(session, invoice),
            # A royalty's working names its rule by its description, as the pages do.
            rule_description=lambda version, rule: ratecard_queries.rule_description(
                session, version, rule
            ),
        )
    )


def credit_note_pdf(session: Session, credit: CreditNote) -> bytes:
    """The credit note's PDF drawn now from its records (not kept)."""
    return documents.render_credit_note_pdf(
        documents.credit_note_document(
            credit,
            issuer=letterhead().issuer,
            period_start=queries.period_start(session, credit.invoice),
        )
    )


# --- kept as first drawn ---------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """Which kept PDF: an invoice's in one standing, or a credit note's."""

    column: str  # "invoice_id" or "credit_note_id"
    record_id: int
    standing: str

    @classmethod
    def of_invoice(cls, invoice: Invoice) -> Document:
        if invoice.state == DRAFT:
            raise Conflict("A draft has no PDF until it is finalized.")
        return cls("invoice_id", invoice.id, documents.standing_of(invoice).key)

    @classmethod
    def of_credit_note(cls, credit: CreditNote) -> Document:
        return cls("credit_note_id", credit.id, documents.CREDIT_NOTE_STANDING)

    def where(self) -> Any:
        return (getattr(KeptPdf, self.column) == self.record_id) & (
            KeptPdf.standing == self.standing
        )


@dataclass(frozen=True)
class Kept:
    """A PDF's bytes as kept, and their SHA-256 (sent as `X-Content-SHA256`)."""

    pdf: bytes
    sha256: str


def kept(session: Session, document: Document) -> Kept | None:
    """The bytes kept for `document`, if it was ever drawn."""
    row = session.execute(select(KeptPdf.pdf, KeptPdf.sha256).where(document.where())).first()
    return None if row is None else Kept(row.pdf, row.sha256)


def keep(session: Session, document: Document, content: bytes, *, now: datetime) -> Kept:
    """Keep `content` as `document`'s PDF, in the caller's transaction, unless it was
    kept already (a concurrent first draw: INSERT ... ON CONFLICT DO NOTHING, which
    waits for the other's commit on PostgreSQL): what is kept, ours or theirs."""
    digest = hashlib.sha256(content).hexdigest()
    values: dict[str, Any] = {
        document.column: document.record_id,
        "standing": document.standing,
        "pdf": content,
        "sha256": digest,
        "drawn_at": now,
    }
    if document.column == "invoice_id":
        # A later standing names the invoice's first document, the one issued.
        values["issued_id"] = (
            select(func.min(KeptPdf.id))
            .where(KeptPdf.invoice_id == document.record_id)
            .scalar_subquery()
        )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stored = session.execute(
        insert(KeptPdf)
        .values(values)
        .on_conflict_do_nothing(index_elements=[document.column, "standing"])
        .returning(KeptPdf.id)
    ).first()
    if stored is not None:
        return Kept(content, digest)
    found = kept(session, document)
    assert found is not None, document  # the conflicting row, committed
    return found


# --- an invoice's kept documents, listed (round 46) ----------------------------------


@dataclass(frozen=True)
class KeptDocument:
    """One of an invoice's kept PDFs as its pages list it (not its bytes)."""

    id: int
    standing: str  # `documents.Standing.key`
    drawn_at: datetime
    sha256: str
    # The invoice's first document, emailed when it was issued; later ones name it.
    issued: bool

    def standing_words(self, currency: str) -> str:
        """The standing key in words: "Paid on 2027-01-22: paid 100.00 USD, credited
        0.00 USD, balance due 0.00 USD" ("open; paid 0.00; ..." reads "Open: ...")."""
        head, *figures = self.standing.split("; ")
        state, _, day = head.partition(" ")
        name = state.replace("_", " ").capitalize()
        said = f"{name} on {day}" if day else name
        return f"{said}: " + ", ".join(f"{figure} {currency}" for figure in figures)


def kept_documents(session: Session, invoice_id: int) -> list[KeptDocument]:
    """`invoice_id`'s kept PDFs, first drawn first (its issued one first), without
    their bytes."""
    rows = session.execute(
        select(KeptPdf.id, KeptPdf.standing, KeptPdf.drawn_at, KeptPdf.sha256, KeptPdf.issued_id)
        .where(KeptPdf.invoice_id == invoice_id)
        .order_by(KeptPdf.id)
    )
    return [
        KeptDocument(row.id, row.standing, row.drawn_at, row.sha256, row.issued_id is None)
        for row in rows
    ]


def kept_document(session: Session, invoice_id: int, document_id: int) -> Kept:
    """The bytes of `invoice_id`'s kept document `document_id` (`NotFound` if that
    invoice kept no such document)."""
    row = session.execute(
        select(KeptPdf.pdf, KeptPdf.sha256).where(
            (KeptPdf.id == document_id) & (KeptPdf.invoice_id == invoice_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"Invoice {invoice_id} has no kept document {document_id}.")
    return Kept(row.pdf, row.sha256)
