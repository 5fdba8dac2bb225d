"""An invoice's or credit note's PDF from its records (for pages, the API and emails)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from licensing.billing import documents, queries
from licensing.billing.letterhead import letterhead
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.states import DRAFT
from licensing.errors import Conflict
from licensing.ratecards import queries as ratecard_queries


def invoice_pdf(session: Session, invoice: Invoice) -> bytes:
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
    return documents.render_credit_note_pdf(
        documents.credit_note_document(
            credit,
            issuer=letterhead().issuer,
            period_start=queries.period_start(session, credit.invoice),
        )
    )
