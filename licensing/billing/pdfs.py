"""An invoice's or credit note's PDF: drawn from its records (`invoice_pdf`,
`credit_note_pdf`), and kept as first drawn (`kept_pdfs`, round 44), so that every
download and attachment after serves the same bytes (`services.documents`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from licensing.audit.seals import seal_kept
from licensing.billing import documents, queries
from licensing.billing.letterhead import letterhead
from licensing.billing.models import CreditNote, Invoice, KeptPdf
from licensing.billing.seals import KEPT_PDFS, kept_identity
from licensing.billing.states import DRAFT
from licensing.errors import Conflict, NotFound
from licensing.mail import services as mail
from licensing.money import in_words
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

    def identity(self) -> dict[str, Any]:
        """What its kept row is of, as the row's seal covers it."""
        invoice = self.record_id if self.column == "invoice_id" else None
        credit_note = self.record_id if self.column == "credit_note_id" else None
        return kept_identity(invoice, credit_note, self.standing)


@dataclass(frozen=True)
class Kept:
    """A PDF's bytes as kept, and their SHA-256 (sent as `X-Content-SHA256`)."""

    pdf: bytes
    sha256: str
    # The kept row's: what an email attaching it names (round 48).
    id: int
    # A credit note's kept PDF: its number, which names the file (round 49: the
    # invoice's pages named it after the invoice). Read by `kept_document` only.
    credit_note_number: str | None = None

    def attached(self, filename: str) -> mail.Attachment:
        """This PDF attached to an email by reference: the outbox keeps no copy of it."""
        return mail.Attachment(filename, "application/pdf", self.pdf, kept=(KEPT_SOURCE, self.id))


# How the outbox names a kept PDF it attaches, and reads it when it sends (round 48).
KEPT_SOURCE = "kept_pdf"


def kept_bytes(session: Session, kept_id: int) -> bytes | None:
    """Kept row `kept_id`'s bytes, for the outbox (`mail.models.register_kept_source`)."""
    return session.scalar(select(KeptPdf.pdf).where(KeptPdf.id == kept_id))


def kept(session: Session, document: Document) -> Kept | None:
    """The bytes kept for `document`, if it was ever drawn."""
    row = session.execute(
        select(KeptPdf.pdf, KeptPdf.sha256, KeptPdf.id).where(document.where())
    ).first()
    return None if row is None else Kept(row.pdf, row.sha256, row.id)


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
        # Sealed as it is written (round 47): the row that wins a concurrent first
        # draw carries its own seal; the other's values are never stored.
        **seal_kept(KEPT_PDFS, document.identity(), digest),
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
        return Kept(content, digest, stored.id)
    found = kept(session, document)
    assert found is not None, document  # the conflicting row, committed
    return found


# --- an invoice's and its credit notes' kept documents, listed (rounds 46, 47) -------


def of_invoice(invoice_id: int, *, credit_notes: bool = True) -> Any:
    """Which kept PDFs an invoice's pages list and serve under it: its own and its
    credit notes' (round 47: a credit note's kept PDF was checked but listed nowhere),
    two index lookups (`kept_pdfs`' unique keys lead with each column); or, without
    `credit_notes`, its own (the API's invoice lists those; a credit note its own)."""
    own = KeptPdf.invoice_id == invoice_id
    if not credit_notes:
        return own
    notes = select(CreditNote.id).where(CreditNote.invoice_id == invoice_id)
    return own | KeptPdf.credit_note_id.in_(notes)


def of_credit_note(credit_note_id: int) -> Any:
    """A credit note's kept PDFs (one: it prints only what was issued)."""
    return KeptPdf.credit_note_id == credit_note_id


@dataclass(frozen=True)
class KeptDocument:
    """One kept PDF as the pages and the API list it (not its bytes): one of an
    invoice's, or one of its credit notes' (`credit_note_number` then)."""

    id: int
    standing: str  # `documents.Standing.key`, or a credit note's `CREDIT_NOTE_STANDING`
    drawn_at: datetime
    sha256: str
    # The invoice's first document, emailed when it was issued; later ones name it.
    # A credit note's one document is its issued one.
    issued: bool
    credit_note_id: int | None = None
    credit_note_number: str | None = None

    def standing_words(self, currency: str) -> str:
        """The standing key in words: "Paid on 2027-01-22: paid 100.00 USD, credited
        0.00 USD, balance due 0.00 USD" ("open; paid 0.00; ..." reads "Open: ...");
        a credit note's "Issued". Each amount is grouped as the page's others are
        ("balance due 1,757.50 USD", round 51: it read "1757.50" under "Balance due
        1,757.50 USD"); the key keeps its plain figures."""
        return standing_in_words(self.standing, currency)


def standing_in_words(standing: str, currency: str) -> str:
    """A standing key in words (`KeptDocument.standing_words`)."""
    head, *figures = standing.split("; ")
    state, _, day = head.partition(" ")
    name = state.replace("_", " ").capitalize()
    said = f"{name} on {day}" if day else name
    if not figures:
        return said
    return f"{said}: " + ", ".join(_figure_in_words(figure, currency) for figure in figures)


@dataclass(frozen=True)
class NotKept:
    """Round 67: what an invoice's *Documents* list does not hold yet, though its
    sentence named it: the PDF of the standing it has now (`standing`, in words; None
    when one is kept), and its credit notes with no PDF kept (`credit_notes`, id and
    number). A PDF is kept when it is first drawn: the invoice's at issue, every later
    one at its first download or email in its standing."""

    standing: str | None
    credit_notes: tuple[tuple[int, str], ...]

    def __bool__(self) -> bool:
        return self.standing is not None or bool(self.credit_notes)


def not_kept(invoice: Invoice, kept: list[KeptDocument]) -> NotKept:
    """What `kept` (the invoice's `kept_documents`) leaves out; no statement beyond
    the invoice's credit notes, which its pages load anyway."""
    if invoice.state == DRAFT:
        return NotKept(None, ())
    now = documents.standing_of(invoice).key
    own = {document.standing for document in kept if document.credit_note_id is None}
    noted = {document.credit_note_id for document in kept if document.credit_note_id}
    return NotKept(
        None if now in own else standing_in_words(now, invoice.currency),
        tuple(
            (credit.id, credit.number)
            for credit in invoice.credit_notes
            if credit.number and credit.id not in noted
        ),
    )


def _figure_in_words(figure: str, currency: str) -> str:
    """A standing's figure in words: balance due 1757.50 -> balance due 1,757.50 USD."""
    label, _, amount = figure.rpartition(" ")
    return f"{label} {in_words(Decimal(amount), currency)}"


def kept_documents(session: Session, whose: Any) -> list[KeptDocument]:
    """The kept PDFs `whose` (`of_invoice`, `of_credit_note`) selects, in one
    statement, without their bytes: an invoice's first, first drawn first (its issued
    one first), then its credit notes', in the order they were kept."""
    rows = session.execute(
        select(
            KeptPdf.id,
            KeptPdf.standing,
            KeptPdf.drawn_at,
            KeptPdf.sha256,
            KeptPdf.issued_id,
            KeptPdf.credit_note_id,
            CreditNote.number,
        )
        .outerjoin(CreditNote, CreditNote.id == KeptPdf.credit_note_id)
        .where(whose)
        .order_by(KeptPdf.credit_note_id.is_not(None), KeptPdf.id)
    )
    return [
        KeptDocument(
            row.id,
            row.standing,
            row.drawn_at,
            row.sha256,
            row.issued_id is None,
            row.credit_note_id,
            row.number,
        )
        for row in rows
    ]


def kept_document(session: Session, whose: Any, document_id: int) -> Kept:
    """The bytes of kept document `document_id` if `whose` selects it (`NotFound`
    otherwise: another invoice's, or none)."""
    row = session.execute(
        select(KeptPdf.pdf, KeptPdf.sha256, KeptPdf.id, CreditNote.number)
        .outerjoin(CreditNote, CreditNote.id == KeptPdf.credit_note_id)
        .where((KeptPdf.id == document_id) & whose)
    ).first()
    if row is None:
        raise NotFound(f"There is no kept document {document_id} here.")
    return Kept(row.pdf, row.sha256, row.id, row.number)
