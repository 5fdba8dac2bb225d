"""Credit notes: corrections to an issued invoice, and the refund a paid one then owes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from licensing import confirmations, db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import links, numbering
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.services._common import (
    _check_amount,
    _email_billing_contact,
    _locked_invoice,
    _read_afresh,
    _reason,
    _settle_if_cleared,
)
from licensing.billing.states import OPEN, PAID, UNCOLLECTIBLE
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict
from licensing.links import links as pages
from licensing.mail import services as mail
from licensing.money import format_amount, in_words, quantize

# What a credit note's confirmation binds, and how its refusals are worded: the one
# mechanism of confirmations that bind what they showed (`licensing.confirmations`).
CONFIRMATION = confirmations.Kind(
    salt="licensing.billing.credit-note-confirmation",
    record_word="invoice",
    not_done="Not issued",
    nothing_done="Nothing was issued",
    again="issue the credit note again to see its confirmation, then confirm it",
)
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


def _confirmation(
    invoice: Invoice, amount: Decimal, reason: str, actor: Actor, now: datetime
) -> str:
    """The signed value a credit note's confirmation carries (`CreditPreview`)."""
    return CONFIRMATION.sign(
        invoice.id,
        actor,
        now,
        {
            "amount": format_amount(amount, invoice.currency),
            "reason": confirmations.digest(reason),
            **invoice_figures(invoice),
        },
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
    said = CONFIRMATION.read(confirmation, invoice_id, actor, now)
    if any(name not in said for name in ("amount", "reason", *FIGURES)):
        raise CONFIRMATION.refused("the confirmation is not one this service made")
    if decimal_or_none(said["amount"]) != amount or said["reason"] != confirmations.digest(reason):
        raise CONFIRMATION.refused(
            "the amount or reason posted is not the one shown to confirm (the "
            f"confirmation was of {said['amount']})"
        )
    return {name: said[name] for name in FIGURES}


def decimal_or_none(text: object) -> Decimal | None:
    """An amount a confirmation said, read back (None: not an amount)."""
    try:
        return Decimal(str(text))
    except ArithmeticError:
        return None


class InvoiceChanged(Conflict):
    """A credit note confirmed on figures the invoice no longer has (another payment,
    reversal, credit note or refund recorded, or a void, since the confirmation was
    shown): nothing is issued, and the words say what changed."""

    def __init__(self, invoice: Invoice, was: dict[str, str]) -> None:
        changes = confirmations.differences(was, invoice_figures(invoice), invoice.currency)
        super().__init__(
            f"Not issued: {invoice.title} changed after the credit note was shown to confirm "
            f"({'; '.join(changes) or 'read again'}), so the balance and refund shown no "
            "longer hold. Nothing was issued: check the invoice, then issue the credit note "
            "again to confirm it on its figures as they are now."
        )


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
    invoice = _read_afresh(db.session(), Invoice, invoice_id, "invoice")
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
    # The organization, then the number (round 58): a credit that clears the invoice
    # restores the organization's standing (`_settle_if_cleared`), and the credit
    # notes' sequence row is locked until commit. Drawn first, it waited for an
    # organization a royalty amendment or an acceptance held while they waited for
    # a number; the audit log's head, locked at every step's first event until round
    # 58, had kept them in turns. After the invoice
    # (`tests/integration/royalties/test_credit_lock_order.py`).
    accounts.locked_organization(session, invoice.organization_id)
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
        issued_by_id=(issuer or actor).user_id,
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
