"""Credit notes: corrections to an issued invoice, and the refund a paid one then owes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from itsdangerous import BadSignature
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
from licensing.errors import BadRequest, Conflict, NotFound
from licensing.links import links as pages
from licensing.mail import services as mail
from licensing.money import format_amount, in_words, quantize
from licensing.signing import signer

# How long a credit note's confirmation may be pressed after it was shown (round 54):
# long enough to read it and check with a colleague, short enough that a page left
# open overnight is shown again before it issues anything.
CONFIRM_WITHIN = timedelta(minutes=15)
# What the confirmation's signed value is for: no other signed value passes for one.
CONFIRMATION_SALT = "licensing.billing.credit-note-confirmation"
# The invoice's figures a credit note's confirmation shows, in the order it names them.
FIGURES = ("state", "paid", "credited", "refunded", "balance due")


@dataclass(frozen=True)
class CreditPreview:
    """What a credit note would do, for billing staff to confirm before it is issued
    (round 53: it was issued at one press, and is never undone): the amount, the
    invoice, its balance due before and after, the refund that becomes owed, and the
    `confirmation` the confirming post carries back: a value signed under SECRET_KEY
    (round 54) binding the invoice, the amount, the reason, the invoice's figures as
    read, who was shown it and when (`issue_credit_note` checks each)."""

    invoice: str
    currency: str
    amount: Decimal
    balance_before: Decimal
    balance_after: Decimal
    refund_due: Decimal
    reason: str
    confirmation: str


def invoice_figures(invoice: Invoice) -> dict[str, str]:
    """What a credit note's figures depend on, as read: the invoice's state, amounts
    paid, credited and refunded, and its balance due. A payment, a reversal, another
    credit note, a refund sent or a void changes one."""
    currency = invoice.currency
    return {
        "state": invoice.state,
        "paid": format_amount(invoice.amount_paid, currency),
        "credited": format_amount(invoice.amount_credited, currency),
        "refunded": format_amount(invoice.amount_refunded, currency),
        "balance due": format_amount(invoice.balance_due, currency),
    }


def _reason_digest(reason: str) -> str:
    """The reason as the confirmation binds it: its digest (the confirming post
    carries the reason itself, up to 2,000 characters, beside it)."""
    return hashlib.sha256(reason.encode("utf-8")).hexdigest()


def _confirmation(
    invoice: Invoice, amount: Decimal, reason: str, actor: Actor, now: datetime
) -> str:
    """The signed value a credit note's confirmation carries (`CreditPreview`)."""
    return (
        signer()
        .serializer(CONFIRMATION_SALT)
        .dumps(
            {
                "invoice": invoice.id,
                "amount": format_amount(amount, invoice.currency),
                "reason": _reason_digest(reason),
                "by": _who(actor),
                "shown_at": now.isoformat(),
                "figures": invoice_figures(invoice),
            }
        )
    )


def _who(actor: Actor) -> str:
    """Who a confirmation was shown to: the user's id (their address may change)."""
    return f"user {actor.user_id}" if actor.user_id is not None else actor.name


class ConfirmationRefused(BadRequest):
    """A credit note's confirming post that does not carry what was shown: no
    confirmation, or one forged or altered, made for another invoice, amount, reason
    or person, or shown more than `CONFIRM_WITHIN` ago. Nothing is issued (400)."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"Not issued: {why}. Nothing was issued: issue the credit note again to see "
            "its confirmation, then confirm it."
        )


def _confirmed_figures(
    confirmation: str,
    invoice_id: int,
    *,
    amount: Decimal,
    reason: str,
    actor: Actor,
    now: datetime,
) -> dict[str, str]:
    """The invoice's figures a credit note's confirmation was shown with, once the
    confirmation is found to be the service's, for this invoice, amount, reason and
    person, and recent; `ConfirmationRefused` otherwise."""
    if not confirmation:
        raise ConfirmationRefused("the confirmation of what was shown is missing")
    try:
        shown = signer().serializer(CONFIRMATION_SALT).loads(confirmation)
        figures = {name: str(shown["figures"][name]) for name in FIGURES}
        shown_at = datetime.fromisoformat(shown["shown_at"])
        said = (shown["invoice"], shown["amount"], shown["reason"], shown["by"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise ConfirmationRefused("the confirmation is not one this service made") from None
    if said[0] != invoice_id:
        raise ConfirmationRefused("the confirmation was shown for another invoice")
    if said[3] != _who(actor):
        raise ConfirmationRefused("the confirmation was shown to someone else")
    if not now - CONFIRM_WITHIN <= shown_at <= now + timedelta(minutes=1):
        minutes = int(CONFIRM_WITHIN.total_seconds() // 60)
        raise ConfirmationRefused(
            f"the confirmation was shown more than {minutes} minutes ago, and the "
            "invoice may have changed since"
        )
    if _decimal(said[1]) != amount or said[2] != _reason_digest(reason):
        raise ConfirmationRefused(
            "the amount or reason posted is not the one shown to confirm (the "
            f"confirmation was of {said[1]})"
        )
    return figures


def _decimal(text: object) -> Decimal | None:
    try:
        return Decimal(str(text))
    except ArithmeticError:
        return None


class InvoiceChanged(Conflict):
    """A credit note confirmed on figures the invoice no longer has (another payment,
    reversal, credit note or refund recorded, or a void, since the confirmation was
    shown): nothing is issued, and the words say what changed."""

    def __init__(self, invoice: Invoice, was: dict[str, str]) -> None:
        now = invoice_figures(invoice)
        changes = []
        if was["state"] != now["state"]:
            changes.append(f"it was {was['state']} and is {now['state']} now")
        for name in FIGURES[1:]:
            if was[name] != now[name]:
                then, is_now = (
                    _words(was[name], invoice.currency),
                    in_words(Decimal(now[name]), invoice.currency),
                )
                label = name if name == "balance due" else f"amount {name}"
                changes.append(f"{label} {then} then, {is_now} now")
        super().__init__(
            f"Not issued: {invoice.title} changed after the credit note was shown to confirm "
            f"({'; '.join(changes) or 'read again'}), so the balance and refund shown no "
            "longer hold. Nothing was issued: check the invoice, then issue the credit note "
            "again to confirm it on its figures as they are now."
        )


def _words(amount: str, currency: str) -> str:
    try:
        return in_words(Decimal(amount), currency)
    except ArithmeticError:
        return "not known"


def check_credit_note(
    invoice_id: int,
    *,
    amount: Decimal,
    reason: str | None,
    actor: Actor,
    now: datetime | None = None,
) -> CreditPreview:
    """Billing staff: what `issue_credit_note` would issue, checked as it checks
    (the reason, the invoice's state, the amount: the same refusals), writing nothing;
    with the signed confirmation that issues exactly that."""
    actor.require_role("billing")
    now = now or utcnow()
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
        confirmation=_confirmation(invoice, amount, note, actor, now),
    )


def issue_credit_note(
    invoice_id: int,
    *,
    amount: Decimal,
    reason: str | None,
    now: datetime | None = None,
    actor: Actor,
    confirmation: str | None = None,
) -> CreditNote:
    """Billing staff: a credit note against an open or paid invoice (see `credit_invoice`).
    With `confirmation` (a confirmation's `CreditPreview.confirmation`; the console's
    step always gives one, "" when its post had none): refused (`ConfirmationRefused`,
    400) unless it is the service's, for this invoice, amount, reason and actor, shown
    within `CONFIRM_WITHIN`; refused (`InvoiceChanged`, 409) when the invoice's figures
    are no longer those shown. Nothing is issued either way."""
    actor.require_role("billing")
    now = now or utcnow()
    figures = None
    if confirmation is not None:
        figures = _confirmed_figures(
            confirmation,
            invoice_id,
            amount=amount,
            reason=_reason(reason),
            actor=actor,
            now=now,
        )
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        if figures is not None and invoice_figures(invoice) != figures:
            raise InvoiceChanged(invoice, figures)
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
