"""An invoice's or credit note's PDF for a download (a page, the API, a signed
link): the bytes kept when it was first drawn, else drawn now and kept (round 44)."""

from __future__ import annotations

from collections.abc import Callable

from licensing import db
from licensing.billing import pdfs
from licensing.billing.models import CreditNote, Invoice
from licensing.db import utcnow


def kept_invoice_pdf(invoice: Invoice) -> pdfs.Kept:
    """`invoice`'s PDF as first drawn in its standing (state, paid, credited,
    balance due), else drawn now and kept."""
    document = pdfs.Document.of_invoice(invoice)
    return _kept_or_drawn(document, lambda: pdfs.invoice_pdf(db.session(), invoice))


def kept_credit_note_pdf(credit: CreditNote) -> pdfs.Kept:
    """`credit`'s PDF as first drawn, else drawn now and kept."""
    document = pdfs.Document.of_credit_note(credit)
    return _kept_or_drawn(document, lambda: pdfs.credit_note_pdf(db.session(), credit))


def _kept_or_drawn(document: pdfs.Document, draw: Callable[[], bytes]) -> pdfs.Kept:
    found = pdfs.kept(db.session(), document)
    if found is not None:
        return found
    # Drawn before the unit of work, so SQLite's write lock is not held for it.
    content = draw()
    with db.transaction() as session:
        return pdfs.keep(session, document, content, now=utcnow())
