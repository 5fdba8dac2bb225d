"""Reversing an offline payment that did not stand: a cheque that bounced, a wire
recorded against the wrong invoice.

A correction is a new record that references the old: the payment moves to
`reversed` and a `PaymentReversal` says who, when and why; the invoice's amount
paid goes back down and a paid invoice is owed again. To record the money
against the right invoice, billing staff then record a new payment as usual.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import queries
from licensing.billing.models import (
    REASON_MAX,
    REVERSAL_REASON_REQUIRED,
    Invoice,
    Payment,
    PaymentReversal,
)
from licensing.billing.services._common import (
    _email_billing_contact,
    _locked_invoice,
    _locked_payment,
)
from licensing.billing.services.overdue import hold_if_overdue
from licensing.billing.states import CARD, INVOICE, PAID, PAYMENT
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.money import in_words, quantize
from licensing.words import at_most_characters


def returned_errors(
    reason: str | None,
    returned_on: date | None,
    now: datetime,
    *,
    missing: str,
    moved: date | None,
    moved_words: str,
) -> tuple[dict[str, list[str]], str]:
    """Problems with the reason (`missing`: the words for none) and the day the bank
    returned money that moved on `moved` ("the payment was received"), and the reason
    trimmed: a payment's reversal and (round 55) an offline refund's return alike."""
    errors: dict[str, list[str]] = {}
    clean_reason = (reason or "").strip()
    if not clean_reason:
        errors["reason"] = [missing]
    elif len(clean_reason) > REASON_MAX:
        errors["reason"] = [at_most_characters(REASON_MAX)]
    if returned_on is None:
        errors["returned_on"] = ["Give the day the bank returned it."]
    elif returned_on > office_date(now):
        errors["returned_on"] = ["Cannot be in the future."]
    elif moved is not None and returned_on < moved:
        errors["returned_on"] = [f"Cannot be before {moved_words} ({moved.isoformat()})."]
    return errors, clean_reason


def _reversal_errors(
    payment: Payment, reason: str | None, returned_on: date | None, now: datetime
) -> tuple[dict[str, list[str]], str]:
    """Problems with the reason and the day the bank returned the money, and the
    reason trimmed."""
    return returned_errors(
        reason,
        returned_on,
        now,
        missing=REVERSAL_REASON_REQUIRED,
        moved=payment.paid_date,
        moved_words="the payment was received",
    )


def _refuse_unless_reversible(payment: Payment) -> None:
    if payment.method == CARD:
        raise Conflict(
            f"{payment.named(payment.invoice.number)}, was made by card: a card payment is "
            "given back "
            "through a Stripe refund (issue a credit note and refund the card) or "
            "settled by a dispute, not reversed here."
        )
    if not PAYMENT.can(payment.state, "reverse"):
        # The state machine's sentence says what the state allows.
        PAYMENT.step(payment.state, "reverse")


def _reopen_if_owed(session: Session, invoice: Invoice, *, actor: Actor, note: str) -> None:
    """A paid invoice whose payments no longer cover it is owed again (`open`; overdue
    when its due date has passed, as any open invoice): `Invoice.owed`, which counts
    the refunds sent (a payment returned after its refund went back, round 53)."""
    if invoice.state == PAID and invoice.owed > 0:
        invoice.paid_at = None
        INVOICE.apply(
            session,
            invoice,
            "reopen",
            actor=actor,
            note=note,
            changes={"amount_paid": quantize(invoice.amount_paid, invoice.currency)},
        )


def _refuse(
    payment: Payment, invoice: Invoice, reason: str | None, returned_on: date | None, now: datetime
) -> str:
    """Everything that refuses the reversal (409 for the payment, 422 for the
    fields), checked before anything is written: the reason trimmed."""
    _refuse_unless_reversible(payment)
    errors, clean_reason = _reversal_errors(payment, reason, returned_on, now)
    if errors:
        raise InvalidInput("The reversal has problems.", errors)
    return clean_reason


def book_reversal(
    session: Session,
    payment: Payment,
    invoice: Invoice,
    *,
    action: str,
    amount: Decimal,
    reason: str,
    returned_on: date,
    actor: Actor,
    now: datetime,
    moved_to: Payment | None = None,
) -> PaymentReversal:
    """Book money taken back on the day it went (`returned_on`): the payment's
    `PaymentReversal`, the payment's step (`action`: `reverse` by billing staff,
    `charge_back` for a dispute), the invoice's amount paid down by `amount`, and a
    paid invoice owed again. The one booking of money taken back, whoever took it;
    the caller decides who is told. `moved_to`: the payment the money became on the
    right invoice, when it was recorded against this one by mistake."""
    reversal = PaymentReversal(
        moved_to_id=moved_to.id if moved_to is not None else None,
        payment_id=payment.id,
        invoice_id=invoice.id,
        organization_id=invoice.organization_id,
        currency=payment.currency,
        amount=amount,
        reason=reason,
        returned_on=returned_on,
        reversed_by=actor.name,
        reversed_by_id=actor.user_id,
        created_at=now,
    )
    audit.record_new(
        session,
        reversal,
        "payment_reversal.recorded",
        after={
            "payment_id": payment.id,
            "invoice": invoice.number,
            "amount": quantize(amount, payment.currency),
            "returned_on": returned_on.isoformat(),
            "reason": reason,
            **({"moved_to_payment_id": moved_to.id} if moved_to is not None else {}),
        },
        actor=actor,
    )
    PAYMENT.apply(
        session,
        payment,
        action,
        actor=actor,
        note=reason,
        changes={"reversal_id": reversal.id, "returned_on": returned_on.isoformat()},
    )
    invoice.amount_paid -= amount
    audit.record_event(
        session,
        "invoice.payment_reversed",
        invoice.id,
        after={
            "payment_id": payment.id,
            "amount": quantize(amount, payment.currency),
            "amount_paid": quantize(invoice.amount_paid, invoice.currency),
        },
        actor=actor,
        note=reason,
    )
    _reopen_if_owed(
        session, invoice, actor=actor, note=f"{payment.named(in_sentence=True)} reversed"
    )
    return reversal


def check_reversal(
    payment_id: int,
    *,
    reason: str | None,
    returned_on: date | None,
    now: datetime | None = None,
    actor: Actor,
) -> None:
    """Raise what `reverse_offline_payment` would refuse, writing nothing: the
    console asks staff to confirm only a reversal that would then be taken."""
    payment, invoice = read_for_check(payment_id, actor)
    _refuse(payment, invoice, reason, returned_on, now or utcnow())


def read_for_check(payment_id: int, actor: Actor) -> tuple[Payment, Invoice]:
    """A billing step's check, writing nothing (a reversal's, a move's): the payment
    and its invoice read without locks, for billing staff only."""
    actor.require_role("billing")
    session = db.session()
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"There is no payment {payment_id}.")
    invoice = session.get(Invoice, payment.invoice_id)
    assert invoice is not None
    return payment, invoice


def reverse_offline_payment(
    payment_id: int,
    *,
    reason: str | None,
    returned_on: date | None,
    standing_days: int,
    now: datetime | None = None,
    actor: Actor,
) -> PaymentReversal:
    """Billing staff: reverse a wire, ACH or check payment that did not clear.

    An invoice reopened more than `standing_days` (OVERDUE_STANDING_DAYS) past its
    due date holds the organization at `pending_payment` in the same transaction,
    as the overdue run would.

    Refused (409) for a card payment and one not `succeeded` (already reversed...).
    An invoice with a refund due is reversed too (round 53; refused before): its
    balance counts the refunds sent, so what a credit note still owes back shrinks
    by the money returned (`Invoice.refunds_outstanding`) and a refund already sent
    is owed again. Bad input (422) stores nothing."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        payment, invoice = _locked_payment(session, payment_id)
        clean_reason = _refuse(payment, invoice, reason, returned_on, now)
        assert returned_on is not None
        reversal = book_reversal(
            session,
            payment,
            invoice,
            action="reverse",
            amount=payment.amount,
            reason=clean_reason,
            returned_on=returned_on,
            actor=actor,
            now=now,
        )
        owed_again(
            session,
            invoice,
            payment,
            standing_days=standing_days,
            actor=actor,
            now=now,
            subject=f"Payment for invoice {invoice.number} did not clear",
            template="payment_reversed",
            reversal=reversal,
        )
        return reversal


def owed_again(
    session: Session,
    invoice: Invoice,
    payment: Payment,
    *,
    standing_days: int,
    actor: Actor,
    now: datetime,
    subject: str,
    template: str,
    **context: Any,
) -> None:
    """After an offline payment is taken off `invoice` (reversed, or moved to the
    invoice it pays, round 68): the organization held as the overdue run would hold it,
    and the billing contact told in `template` what the invoice owes now."""
    hold_if_overdue(
        session,
        invoice.organization_id,
        today=office_date(now),
        standing_days=standing_days,
        actor=actor,
    )
    _email_billing_contact(
        session,
        invoice,
        subject=subject,
        template=template,
        payment=payment,
        amount=in_words(payment.amount, payment.currency),
        **context,
    )


def paid_yet_owed(*, apply: bool, operator: str) -> list[str]:
    """Invoices left `paid` though they are owed (round 53): before `billing_0021`
    counted the refunds sent, a card payment disputed (or a wire returned) for no
    more than a refund already sent back left its invoice paid; the migration filled
    `amount_refunded` but cannot step the invoice's machine. A line for each, oldest
    first; with `apply` each is reopened (`reopen`, audited as the system with the
    operator's login in the note), one transaction each, the invoice locked and
    read again. Idempotent: a reopened invoice is no longer `paid`."""
    with db.read_session() as session:
        found = list(
            session.scalars(
                select(Invoice.id)
                .where(Invoice.state == PAID, queries.owed_of(Invoice) > Decimal(0))
                .order_by(Invoice.id)
            )
        )
    said: list[str] = []
    for invoice_id in found:
        with db.transaction() as session:
            invoice = _locked_invoice(session, invoice_id)
            owed = invoice.owed
            if invoice.state != PAID or owed <= 0:
                continue  # settled or reopened meanwhile
            what = f"{invoice.number}: paid, yet owes {in_words(owed, invoice.currency)}"
            if not apply:
                said.append(f"{what}: would be reopened")
                continue
            note = (
                f"Paid before billing_0021, owed {in_words(owed, invoice.currency)} "
                f"counting the refunds sent: reopened by {operator} "
                "(licensing invoices reopen-owed)."
            )
            _reopen_if_owed(session, invoice, actor=Actor.SYSTEM, note=note)
            said.append(f"{what}: reopened")
    return said
