"""How the audit log (and any page naming records by `web.records`) names the
billing records no single column names: a payment, its reversal and a card
payment's dispute, each by the invoice it belongs to and linked to that invoice's
console page, where they are listed (a payment to its own page since round 25).
Without it a reader saw "Card payment dispute 1" and "Payment 1", unlinked, and
had to find the invoice from another row. Each
type's records are read in one query a page (`billing.views` registers them)."""

from __future__ import annotations

from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization
from licensing.billing.models import (
    CreditNote,
    Invoice,
    Payment,
    PaymentDispute,
    PaymentReversal,
    Refund,
    SentStatement,
)
from licensing.web.records import RecordRef, record_url


def _method_word(method: str) -> str:
    """A method starting a record's name: "Card", "Wire", "Check", and "ACH" (not "Ach")."""
    return "ACH" if method == "ach" else method.capitalize()


def _on_page(entity_type: str, entity_id: int, anchor: str) -> str | None:
    url = record_url(entity_type, entity_id)
    return f"{url}#{anchor}" if url else None


def _on_invoice(invoice_id: int, anchor: str) -> str | None:
    return _on_page("invoice", invoice_id, anchor)


def payments(ids: list[int]) -> dict[int, RecordRef]:
    """`Card payment 7 of INV-2027-000001`, linked to the payment's console page
    (round 25), else, for a reader who may not open it, to the invoice's payments."""
    rows = db.session().execute(
        select(Payment.id, Payment.method, Invoice.id, Invoice.number)
        .join(Invoice, Payment.invoice_id == Invoice.id)
        .where(Payment.id.in_(ids))
    )
    return {
        payment_id: RecordRef(
            f"{_method_word(method)} payment {payment_id} of {number}",
            record_url("payment", payment_id) or _on_invoice(invoice_id, "payments-heading"),
        )
        for payment_id, method, invoice_id, number in rows
    }


def payment_reversals(ids: list[int]) -> dict[int, RecordRef]:
    """`Reversal of payment 7 of INV-2027-000001`, linked to the invoice's payments."""
    rows = db.session().execute(
        select(PaymentReversal.id, PaymentReversal.payment_id, Invoice.id, Invoice.number)
        .join(Invoice, PaymentReversal.invoice_id == Invoice.id)
        .where(PaymentReversal.id.in_(ids))
    )
    return {
        reversal_id: RecordRef(
            f"Reversal of payment {payment_id} of {number}",
            _on_invoice(invoice_id, "payments-heading"),
        )
        for reversal_id, payment_id, invoice_id, number in rows
    }


def disputes(ids: list[int]) -> dict[int, RecordRef]:
    """`Dispute du_... of card payment 7 of INV-2027-000001`, linked to the
    invoice's disputes."""
    rows = db.session().execute(
        select(
            PaymentDispute.id,
            PaymentDispute.stripe_dispute_id,
            PaymentDispute.payment_id,
            Invoice.id,
            Invoice.number,
        )
        .join(Invoice, PaymentDispute.invoice_id == Invoice.id)
        .where(PaymentDispute.id.in_(ids))
    )
    return {
        dispute_id: RecordRef(
            f"Dispute {stripe_id} of card payment {payment_id} of {number}",
            _on_invoice(invoice_id, "disputes-heading"),
        )
        for dispute_id, stripe_id, payment_id, invoice_id, number in rows
    }


def statements_sent(ids: list[int]) -> dict[int, RecordRef]:
    """`Statement of account 2027-03 (USD) of Quillfeather Analytics`, linked to the
    statements sent on the organization's page."""
    rows = db.session().execute(
        select(
            SentStatement.id,
            SentStatement.month,
            SentStatement.currency,
            Organization.id,
            Organization.legal_name,
        )
        .join(Organization, SentStatement.organization_id == Organization.id)
        .where(SentStatement.id.in_(ids))
    )
    return {
        sent_id: RecordRef(
            f"Statement of account {month:%Y-%m} ({currency}) of {name}",
            _on_page("organization", organization_id, "statements-sent"),
        )
        for sent_id, month, currency, organization_id, name in rows
    }


def refunds(ids: list[int]) -> dict[int, RecordRef]:
    """`Card refund 3 of CN-2027-000001`, linked to the page of the card payment it
    went back to, else (an offline refund, or a reader who may not open that page)
    to the invoice's refunds. Round 26's walk read "Refund 3", unlinked."""
    rows = db.session().execute(
        select(Refund.id, Refund.method, Refund.payment_id, CreditNote.number, Invoice.id)
        .join(CreditNote, Refund.credit_note_id == CreditNote.id)
        .join(Invoice, CreditNote.invoice_id == Invoice.id)
        .where(Refund.id.in_(ids))
    )
    return {
        refund_id: RecordRef(
            f"{_method_word(method)} refund {refund_id} of {number}",
            (record_url("payment", payment_id) if payment_id else None)
            or _on_invoice(invoice_id, "refunds"),
        )
        for refund_id, method, payment_id, number, invoice_id in rows
    }
