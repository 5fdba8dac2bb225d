"""How the audit log (and any page naming records by `web.records`) names the
billing records no single column names: a payment, its reversal and a card
payment's dispute, each by the invoice it belongs to and linked to that invoice's
console page, where they are listed (a payment to its own page since round 25).
Without it a reader saw "Card payment dispute 1" and "Payment 1", unlinked, and
had to find the invoice from another row. Each
type's records are read in one query a page (`billing.views` registers them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

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


def _on_page(entity_type: str, entity_id: int, anchor: str) -> str | None:
    url = record_url(entity_type, entity_id)
    return f"{url}#{anchor}" if url else None


def _on_invoice(invoice_id: int, anchor: str) -> str | None:
    return _on_page("invoice", invoice_id, anchor)


def _names_of_payments(ids: set[int], *, in_sentence: bool = False) -> dict[int, str]:
    """Each payment as `models.payment_name` says it, with its invoice's number:
    "Card payment of INV-2027-000001 (Visa ending 4242), started ..." (round 55: its
    row id, "Card payment 7 of INV-...", told the reader nothing)."""
    if not ids:
        return {}
    payments_read = db.session().scalars(
        select(Payment).where(Payment.id.in_(ids)).options(selectinload(Payment.invoice))
    )
    return {
        payment.id: payment.named(payment.invoice.number, in_sentence=in_sentence)
        for payment in payments_read
    }


def payments(ids: list[int]) -> dict[int, RecordRef]:
    """`Card payment of INV-2027-000001 (Visa ending 4242), started ...`, linked to
    the payment's console page (round 25), else, for a reader who may not open it,
    to the invoice's payments."""
    rows = (
        db.session()
        .execute(
            select(Payment.id, Invoice.id)
            .join(Invoice, Payment.invoice_id == Invoice.id)
            .where(Payment.id.in_(ids))
        )
        .all()
    )
    names = _names_of_payments({payment_id for payment_id, _ in rows})
    return {
        payment_id: RecordRef(
            names[payment_id],
            record_url("payment", payment_id) or _on_invoice(invoice_id, "payments-heading"),
        )
        for payment_id, invoice_id in rows
    }


def payment_reversals(ids: list[int]) -> dict[int, RecordRef]:
    """`Reversal of the wire payment of INV-2027-000001 (W-1), received ...`, linked
    to the invoice's payments."""
    rows = (
        db.session()
        .execute(
            select(
                PaymentReversal.id, PaymentReversal.payment_id, PaymentReversal.invoice_id
            ).where(PaymentReversal.id.in_(ids))
        )
        .all()
    )
    names = _names_of_payments({payment_id for _, payment_id, _ in rows}, in_sentence=True)
    return {
        reversal_id: RecordRef(
            f"Reversal of the {names[payment_id]}",
            _on_invoice(invoice_id, "payments-heading"),
        )
        for reversal_id, payment_id, invoice_id in rows
    }


def disputes(ids: list[int]) -> dict[int, RecordRef]:
    """`Dispute du_... of the card payment of INV-2027-000001 (Visa ending 4242),
    started ...`, linked to the invoice's disputes."""
    rows = (
        db.session()
        .execute(
            select(
                PaymentDispute.id,
                PaymentDispute.stripe_dispute_id,
                PaymentDispute.payment_id,
                PaymentDispute.invoice_id,
            ).where(PaymentDispute.id.in_(ids))
        )
        .all()
    )
    names = _names_of_payments({payment_id for _, _, payment_id, _ in rows}, in_sentence=True)
    return {
        dispute_id: RecordRef(
            f"Dispute {stripe_id} of the {names[payment_id]}",
            _on_invoice(invoice_id, "disputes-heading"),
        )
        for dispute_id, stripe_id, payment_id, invoice_id in rows
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
    """`Card refund of 60.00 USD of CN-2027-000001, sent 2027-03-01` (`Refund.named`,
    round 57: "Card refund 3 of CN-..." named it by row id), linked to the page of the
    card payment it went back to, else (an offline refund, or a reader who may not
    open that page) to the invoice's refunds. Round 26's walk read "Refund 3", unlinked."""
    rows = db.session().execute(
        select(Refund, CreditNote.number, Invoice.id)
        .join(CreditNote, Refund.credit_note_id == CreditNote.id)
        .join(Invoice, CreditNote.invoice_id == Invoice.id)
        .where(Refund.id.in_(ids))
    )
    return {
        refund.id: RecordRef(
            refund.named(number),
            (record_url("payment", refund.payment_id) if refund.payment_id else None)
            or _on_invoice(invoice_id, "refunds"),
        )
        for refund, number, invoice_id in rows
    }
