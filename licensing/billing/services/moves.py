"""An offline payment recorded against the wrong invoice, moved to the right one
(round 68, journeyF68).

Until round 68 billing staff corrected it as a bounced check: *Reverse payment* asked
the day "the bank returned it" (it never did), emailed the licensee of the wrong
invoice that its payment "did not clear: the bank returned it", and the money was then
typed again on the right invoice as a new payment, a second step nothing led to.

A move is one step, both records or neither: the payment is reversed on the wrong
invoice (a `PaymentReversal` of the day the money came, since it never left the bank:
the Finance page's *Collected* and *Reversed* both count it in that day's period, which
nets it out there), and the same money (method, amount, bank reference, day received)
is recorded against the right invoice as a new payment, whose contact is thanked as for
any payment. The wrong invoice's billing contact is told it was recorded there by
mistake and taken off (not that the bank returned it), with what the invoice owes now.
Corrections are new records: nothing is edited or deleted.

The lock order (`billing.services`): the payment, then its invoice, then the right
invoice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.billing.models import MISAPPLIED, REASON_MAX, Invoice, Payment
from licensing.billing.services._common import _locked_payment
from licensing.billing.services.reversals import (
    _refuse_unless_reversible,
    book_reversal,
    owed_again,
    read_for_check,
)
from licensing.billing.services.settlement import _apply, _new_payment
from licensing.billing.states import COLLECTIBLE, SUCCEEDED
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.money import in_words
from licensing.words import at_most_characters

MOVE_REASON_REQUIRED = "Say how it came to be recorded against this invoice."


def _target(session: Session, number: str | None) -> Invoice | None:
    clean = (number or "").strip().upper()
    if not clean:
        return None
    return session.scalar(select(Invoice).where(Invoice.number == clean))


def _move_errors(
    session: Session,
    payment: Payment,
    invoice: Invoice,
    to_invoice: str | None,
    reason: str | None,
) -> tuple[dict[str, list[str]], Invoice | None, str]:
    """Problems with the move (the right invoice's number, the reason), the right
    invoice found, and the reason trimmed. Read without the right invoice's lock; the
    mover checks again once it holds it."""
    errors: dict[str, list[str]] = {}
    clean_reason = (reason or "").strip()
    if not clean_reason:
        errors["reason"] = [MOVE_REASON_REQUIRED]
    elif len(clean_reason) > REASON_MAX - len(MISAPPLIED) - 2:
        errors["reason"] = [at_most_characters(REASON_MAX - len(MISAPPLIED) - 2)]
    target = _target(session, to_invoice)
    if not (to_invoice or "").strip():
        errors["to_invoice"] = ["Give the number of the invoice it pays (INV-YYYY-NNNNNN)."]
    elif target is None:
        errors["to_invoice"] = [f"There is no invoice {(to_invoice or '').strip()}."]
    else:
        errors.update(_target_errors(payment, invoice, target))
    return errors, target, clean_reason


def _target_errors(payment: Payment, invoice: Invoice, target: Invoice) -> dict[str, list[str]]:
    problem: str | None = None
    if target.id == invoice.id:
        problem = f"It is recorded against {invoice.number} now: give the invoice it pays."
    elif target.state not in COLLECTIBLE:
        problem = (
            f"{target.number} is {target.state}: nothing is owed on it. "
            "Give an invoice that is owed."
        )
    elif target.currency != payment.currency:
        problem = (
            f"{target.number} is in {target.currency}; the payment is "
            f"{in_words(payment.amount, payment.currency)}."
        )
    elif payment.amount > target.balance_due:
        problem = (
            f"{target.number} owes {in_words(target.balance_due, target.currency)}, less than "
            f"the payment's {in_words(payment.amount, payment.currency)}: reverse the payment "
            "instead and record on each invoice what it paid."
        )
    elif (
        payment.paid_date is not None
        and target.issue_date is not None
        and (payment.paid_date < target.issue_date)
    ):
        problem = (
            f"{target.number} was issued {target.issue_date.isoformat()}, after the payment "
            f"was received ({payment.paid_date.isoformat()})."
        )
    return {"to_invoice": [problem]} if problem else {}


def _refused(
    session: Session,
    payment: Payment,
    invoice: Invoice,
    to_invoice: str | None,
    reason: str | None,
) -> tuple[Invoice, str]:
    _refuse_unless_reversible(payment)
    errors, target, clean_reason = _move_errors(session, payment, invoice, to_invoice, reason)
    if errors:
        raise InvalidInput("The payment was not moved.", errors)
    assert target is not None
    return target, clean_reason


def check_move(
    payment_id: int,
    *,
    to_invoice: str | None,
    reason: str | None,
    actor: Actor,
) -> Invoice:
    """Raise what `move_offline_payment` would refuse, writing nothing: the right
    invoice (the console's confirmation names it)."""
    payment, invoice = read_for_check(payment_id, actor)
    return _refused(db.session(), payment, invoice, to_invoice, reason)[0]


def move_offline_payment(
    payment_id: int,
    *,
    to_invoice: str | None,
    reason: str | None,
    standing_days: int,
    now: datetime | None = None,
    actor: Actor,
) -> Payment:
    """Billing staff: a wire, ACH or check payment recorded against the wrong invoice,
    taken off it and recorded against `to_invoice` (its number): the new payment.

    Refused (409) for a card payment and one not `succeeded`; 422 (nothing stored)
    without a reason, or for a right invoice that does not exist, is this one, is not
    owed (draft, paid, void), is in another currency, owes less than the payment, or
    was issued after the money came. The wrong invoice is owed again (overdue if past
    due, the organization held as a reversal holds it)."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        payment, invoice = _locked_payment(session, payment_id)
        target, clean_reason = _refused(session, payment, invoice, to_invoice, reason)
        target = session.get(Invoice, target.id, with_for_update=True) or target
        errors = _target_errors(payment, invoice, target)
        if errors:  # paid or changed meanwhile
            raise InvalidInput("The payment was not moved.", errors)
        received_on = payment.paid_date or office_date(now)
        moved = _new_payment(
            session,
            target,
            action="payment.recorded",
            actor=actor,
            now=now,
            method=payment.method,
            state=SUCCEEDED,
            amount=payment.amount,
            reference=payment.reference,
            received_on=received_on,
            note=payment.note,
            audit_note=(
                f"Moved from {invoice.number} ({payment.named(in_sentence=True)}), "
                f"recorded against it by mistake: {clean_reason}"
            ),
            also_audited=("reference",),
        )
        _apply(session, target, moved, actor=actor, now=now)
        book_reversal(
            session,
            payment,
            invoice,
            action="reverse",
            amount=payment.amount,
            reason=f"{MISAPPLIED}: {clean_reason}",
            returned_on=received_on,
            actor=actor,
            now=now,
            moved_to=moved,
        )
        owed_again(
            session,
            invoice,
            payment,
            standing_days=standing_days,
            actor=actor,
            now=now,
            subject=f"A payment recorded for invoice {invoice.number} by mistake",
            template="payment_moved",
            same_organization=target.organization_id == invoice.organization_id,
            moved_to=target.number,
        )
        return moved
