"""Credit notes: corrections to an issued invoice, and the refund a paid one then owes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import links, numbering
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.services._common import (
    _check_amount,
    _email_billing_contact,
    _locked_invoice,
    _reason,
    _settle_if_cleared,
)
from licensing.billing.states import OPEN, PAID, UNCOLLECTIBLE
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict, NotFound
from licensing.links import links as pages
from licensing.mail import services as mail
from licensing.money import format_amount, in_words, quantize


@dataclass(frozen=True)
class CreditPreview:
    """What a credit note would do, for billing staff to confirm before it is issued
    (round 53: it was issued at one press, and is never undone): the amount, the
    invoice, its balance due before and after, the refund that becomes owed, and the
    invoice as read (`seen`), which the confirmation carries back."""

    invoice: str
    currency: str
    amount: Decimal
    balance_before: Decimal
    balance_after: Decimal
    refund_due: Decimal
    reason: str
    seen: str


def invoice_seen(invoice: Invoice) -> str:
    """What a credit note's figures depend on, as read: the invoice's state, amount
    paid and amount credited ("paid:1000.00:0.00"). A payment, a reversal, another
    credit note or a void changes it."""
    paid = format_amount(invoice.amount_paid, invoice.currency)
    credited = format_amount(invoice.amount_credited, invoice.currency)
    return f"{invoice.state}:{paid}:{credited}"


class InvoiceChanged(Conflict):
    """A credit note confirmed on figures the invoice no longer has (another payment,
    reversal or credit note recorded, or a void, since the confirmation was shown):
    nothing is issued, and the words say what changed."""

    def __init__(self, invoice: Invoice, seen: str) -> None:
        was = dict(zip(("state", "paid", "credited"), seen.split(":"), strict=False))
        changes = []
        if was.get("state") != invoice.state:
            changes.append(f"it was {was.get('state') or 'unknown'} and is {invoice.state} now")
        for name, amount in (("paid", invoice.amount_paid), ("credited", invoice.amount_credited)):
            if was.get(name) != format_amount(amount, invoice.currency):
                then = _words(was.get(name), invoice.currency)
                now = in_words(amount, invoice.currency)
                changes.append(f"amount {name} {then} then, {now} now")
        super().__init__(
            f"Not issued: {invoice.title} changed after the credit note was shown to confirm "
            f"({'; '.join(changes) or 'read again'}), so the balance and refund shown no "
            "longer hold. Nothing was issued: check the invoice, then issue the credit note "
            "again to confirm it on its figures as they are now."
        )


def _words(amount: str | None, currency: str) -> str:
    try:
        return in_words(Decimal(amount or ""), currency)
    except ArithmeticError:
        return "not known"


def check_credit_note(
    invoice_id: int, *, amount: Decimal, reason: str | None, actor: Actor
) -> CreditPreview:
    """Billing staff: what `issue_credit_note` would issue, checked as it checks
    (the reason, the invoice's state, the amount: the same refusals), writing nothing."""
    actor.require_role("billing")
    session = db.session()
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"There is no invoice {invoice_id}.")
    session.refresh(invoice)  # as it is now, not as this request first read it
    note = _reason(reason)
    _creditable(invoice, amount)
    applied = min(amount, invoice.balance_due)
    return CreditPreview(
        invoice=invoice.title,
        currency=invoice.currency,
        amount=amount,
        balance_before=invoice.balance_due,
        balance_after=invoice.balance_due - applied,
        refund_due=amount - applied,
        reason=note,
        seen=invoice_seen(invoice),
    )


def issue_credit_note(
    invoice_id: int,
    *,
    amount: Decimal,
    reason: str | None,
    now: datetime | None = None,
    actor: Actor,
    seen: str | None = None,
) -> CreditNote:
    """Billing staff: a credit note against an open or paid invoice (see `credit_invoice`).
    With `seen` (a confirmation's `CreditPreview.seen`), refused (`InvoiceChanged`,
    nothing issued) when the invoice no longer reads so: the figures confirmed are stale."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        if seen is not None and invoice_seen(invoice) != seen:
            raise InvoiceChanged(invoice, seen)
        return credit_invoice(session, invoice, amount=amount, reason=reason, actor=actor, now=now)


def _creditable(invoice: Invoice, amount: Decimal) -> None:
    """A credit note of `amount` may be issued on the invoice: it is open, paid or
    uncollectible, and the credits stay within its total."""
    if invoice.state not in (OPEN, PAID, UNCOLLECTIBLE):
        raise Conflict(
            f"{invoice.title} is {invoice.state}; credit notes are issued "
            "against open or paid invoices."
        )
    creditable = invoice.total - invoice.amount_credited
    _check_amount(amount, invoice.currency, creditable, f"can be credited on {invoice.number}")


def credit_invoice(
    session: Session,
    invoice: Invoice,
    *,
    amount: Decimal,
    reason: str | None,
    actor: Actor,
    now: datetime,
    issuer: Actor | None = None,
) -> CreditNote:
    """A credit note against `invoice` (locked by the caller), in the caller's
    transaction. It reduces the balance due; what exceeds the balance (a paid
    invoice) is a refund owed. The credits on an invoice never exceed its total.
    `issuer` is who the note says issued it when that is not the actor (the
    service, on a royalty report whose filer is the actor)."""
    note = _reason(reason)
    _creditable(invoice, amount)
    applied = min(amount, invoice.balance_due)
    issued = office_date(now)
    credit = CreditNote(
        number=numbering.next_number(session, numbering.CREDIT_NOTE_SERIES, issued.year),
        invoice_id=invoice.id,
        organization_id=invoice.organization_id,
        currency=invoice.currency,
        amount=amount,
        applied_to_balance=applied,
        refund_due=amount - applied,
        reason=note,
        issue_date=issued,
        issued_at=now,
        issued_by=(issuer or actor).name,
    )
    invoice.amount_credited += amount
    audit.record_new(
        session,
        credit,
        "credit_note.issued",
        after={
            "number": credit.number,
            "invoice": invoice.number,
            "amount": quantize(amount, credit.currency),
            "applied_to_balance": quantize(applied, credit.currency),
            "refund_due": quantize(credit.refund_due, credit.currency),
        },
        actor=actor,
        note=note,
    )
    _settle_if_cleared(session, invoice, actor=actor, now=now, note=f"credit note {credit.number}")
    generation = links.current_generation(invoice)  # once, for all three links
    subject = f"Credit note {credit.number} for invoice {invoice.number}"
    told: dict[str, Any] = {
        "credit": credit,
        "amount": in_words(amount, invoice.currency),
        "refund_due": in_words(credit.refund_due, invoice.currency),
    }
    filer = _filer(session, invoice, actor) if issuer is not None else None
    _email_billing_contact(
        session,
        invoice,
        link_generation=generation,
        subject=subject,
        template="invoice_credit_note",
        credit_pdf_url=links.credit_note_pdf_url(invoice, credit.id, generation),
        filed_by=filer.full_name if filer else None,
        **told,
    )
    if filer is not None:
        _email_filer(session, invoice, filer, subject=subject, **told)
    return credit


def _filer(session: Session, invoice: Invoice, actor: Actor) -> User | None:
    """The vendor member whose filing made the service issue a credit note (a royalty
    report's amendment that lowered the royalty), to be told besides the billing
    contact: as the card payer is of a payment (`_card_payer`), since the royalty
    invoice itself goes to the billing contact alone. Not when the filer is the
    billing contact (one email, not two), nor an address never confirmed, nor one
    who no longer acts for the organization (the filing was theirs a moment ago)."""
    if not actor.is_vendor or actor.user_id is None:
        return None
    user = session.get(User, actor.user_id)
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    if (
        user is None
        or not user.email_verified
        or not user.is_active
        or user.organization_id != invoice.organization_id
        or user.email.lower() == organization.billing_email.lower()
    ):
        return None
    return user


def _email_filer(
    session: Session, invoice: Invoice, filer: User, *, subject: str, **context: Any
) -> None:
    """The credit note's email to the member who filed the amendment: the invoice's
    page, signed in (the signed links are the billing contact's)."""
    organization = session.get(Organization, invoice.organization_id)
    mail.enqueue(
        session,
        to=filer.email,
        subject=subject,
        template="invoice_credit_note",
        context={
            "invoice": invoice,
            "organization": organization,
            "filer": filer,
            "balance_due": in_words(invoice.balance_due, invoice.currency),
            "invoice_url": pages().vendor_invoice(invoice.id),
            **context,
        },
    )
