"""A card payment disputed by the licensee's bank (a chargeback), as Stripe's
`charge.dispute.*` webhooks tell it.

Each event carries the whole Dispute, so applying one brings the record to what
Stripe says, whatever came before: a replayed or late event changes nothing
wrongly. The money is booked when it moves, from the dispute's balance
transactions: Stripe's withdrawal is the payment's reversal on the day it was
withdrawn (`reversals.book_reversal`, the one booking of money taken back), and
funds reinstated after a dispute won are a new payment received that day, which
pays the invoice again. Stripe's dispute fee is the office's cost, never invoiced.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing.models import Invoice, Payment, PaymentDispute, PaymentReversal
from licensing.billing.payment_gateway import DisputeStatus
from licensing.billing.services._common import _email_billing_contact, _locked_invoice
from licensing.billing.services.overdue import months_between
from licensing.billing.services.reversals import book_reversal
from licensing.billing.services.settlement import _new_payment, count_payment
from licensing.billing.states import CARD, DISPUTE, OPEN, PAYMENT, SUCCEEDED
from licensing.calendar import office_date
from licensing.links import links
from licensing.mail import services as mail
from licensing.money import from_minor_units, in_words, quantize

DISPUTE_EVENTS = frozenset(
    {
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
    }
)
# Stripe's statuses of a closed dispute, and what each is for the office.
_CLOSED = {"won": "win", "warning_closed": "win", "prevented": "win", "lost": "lose"}


def apply_dispute(
    session: Session, event_type: str, seen: DisputeStatus, *, now: datetime, actor: Actor
) -> str:
    """Bring the dispute to what Stripe says in one `charge.dispute.*` event, in the
    caller's transaction: recorded when first seen, money booked once each way,
    closed once. A dispute of a charge this service did not make is ignored."""
    dispute = session.scalars(
        select(PaymentDispute).where(PaymentDispute.stripe_dispute_id == seen.id).with_for_update()
    ).one_or_none()
    if dispute is None:
        payment = _disputed_payment(session, seen)
        if payment is None:
            return f"ignored: dispute {seen.id} is of a charge this service does not know"
        invoice = _locked_invoice(session, payment.invoice_id)
        dispute = _record(session, payment, seen, now=now, actor=actor)
        done = [f"dispute {seen.id} recorded"]
    else:
        invoice = _locked_invoice(session, dispute.invoice_id)
        done = [_update(session, dispute, seen, actor=actor)]
    payment = session.get(Payment, dispute.payment_id, with_for_update=True)
    assert payment is not None
    session.refresh(payment)
    if _withdrawn(event_type, seen) and dispute.reversal_id is None:
        done.append(_book_withdrawal(session, dispute, payment, invoice, seen, now, actor))
    if _reinstated(event_type, seen) and dispute.reversal_id and not dispute.reinstatement_id:
        done.append(_book_reinstatement(session, dispute, invoice, seen, now, actor))
    if dispute.state == OPEN and seen.status in _CLOSED:
        done.append(_close(session, dispute, invoice, _CLOSED[seen.status], now, actor))
    elif dispute.state == OPEN and done[0].endswith("recorded"):
        # Told once the money it moved is booked: the email gives the balance now.
        _tell_billing_staff(session, dispute, "opened")
    return "; ".join(part for part in done if part)


def _disputed_payment(session: Session, seen: DisputeStatus) -> Payment | None:
    """The card payment disputed: by its PaymentIntent, else (older API versions
    name only the charge) by the charge, as the payment stored it when Stripe
    confirmed it or as a dispute of it recorded before named it."""
    if seen.payment_intent is not None:
        return session.scalars(
            select(Payment).where(
                Payment.method == CARD, Payment.stripe_payment_intent_id == seen.payment_intent
            )
        ).one_or_none()
    if seen.charge is None:
        return None
    by_charge = session.scalars(
        select(Payment)
        .where(Payment.method == CARD, Payment.stripe_charge_id == seen.charge)
        .order_by(Payment.id)
        .limit(1)
    ).one_or_none()
    if by_charge is not None:
        return by_charge
    return session.scalars(
        select(Payment)
        .join(PaymentDispute, PaymentDispute.payment_id == Payment.id)
        .where(PaymentDispute.stripe_charge_id == seen.charge)
        .limit(1)
    ).one_or_none()


def _record(
    session: Session, payment: Payment, seen: DisputeStatus, *, now: datetime, actor: Actor
) -> PaymentDispute:
    dispute = PaymentDispute(
        stripe_dispute_id=seen.id,
        stripe_charge_id=seen.charge,
        payment_id=payment.id,
        invoice_id=payment.invoice_id,
        organization_id=payment.organization_id,
        state=OPEN,
        status=seen.status,
        reason=seen.reason,
        currency=seen.currency,
        amount=from_minor_units(seen.amount, seen.currency),
        evidence_due_by=seen.evidence_due_by,
        opened_at=now,
    )
    audit.record_new(session, dispute, "dispute.opened", after=_snapshot(dispute), actor=actor)
    return dispute


def _snapshot(dispute: PaymentDispute) -> dict[str, object]:
    return {
        "stripe_dispute_id": dispute.stripe_dispute_id,
        "payment_id": dispute.payment_id,
        "status": dispute.status,
        "reason": dispute.reason,
        "amount": quantize(dispute.amount, dispute.currency),
        "evidence_due_by": dispute.evidence_due_by.isoformat() if dispute.evidence_due_by else None,
    }


def _update(session: Session, dispute: PaymentDispute, seen: DisputeStatus, *, actor: Actor) -> str:
    """Stripe's status and evidence due date while the dispute is open; an event
    older than the close changes nothing."""
    if dispute.state != OPEN:
        return ""
    before = _snapshot(dispute)
    dispute.status = seen.status
    dispute.evidence_due_by = seen.evidence_due_by or dispute.evidence_due_by
    dispute.reason = seen.reason or dispute.reason
    after = _snapshot(dispute)
    if after == before:
        return ""
    audit.record_event(
        session, "dispute.updated", dispute.id, before=before, after=after, actor=actor
    )
    return f"dispute {dispute.stripe_dispute_id} updated"


def _withdrawn(event_type: str, seen: DisputeStatus) -> bool:
    """Stripe took the money: its balance transaction says so, or the event or the
    status does (a dispute lost keeps it withdrawn)."""
    return (
        seen.withdrawn_at is not None
        or event_type == "charge.dispute.funds_withdrawn"
        or seen.status == "lost"
    )


def _reinstated(event_type: str, seen: DisputeStatus) -> bool:
    return seen.reinstated_at is not None or event_type == "charge.dispute.funds_reinstated"


def _book_withdrawal(
    session: Session,
    dispute: PaymentDispute,
    payment: Payment,
    invoice: Invoice,
    seen: DisputeStatus,
    now: datetime,
    actor: Actor,
) -> str:
    """The payment's reversal on the day Stripe withdrew the money. A payment that
    never counted against the invoice (a flagged one) has nothing to take back."""
    if not PAYMENT.can(payment.state, "charge_back"):
        return f"nothing booked: payment {payment.id} is {payment.state}"
    withdrawn_on = office_date(seen.withdrawn_at or now)
    reversal = book_reversal(
        session,
        payment,
        invoice,
        action="charge_back",
        amount=min(dispute.amount, payment.amount),
        reason=f"Disputed by the cardholder's bank ({_reason_words(dispute)}): "
        f"Stripe withdrew the money (dispute {dispute.stripe_dispute_id}).",
        returned_on=withdrawn_on,
        actor=actor,
        now=now,
    )
    dispute.reversal_id = reversal.id
    dispute.withdrawn_on = withdrawn_on
    return f"withdrawal of {quantize(reversal.amount, reversal.currency)} booked"


def _book_reinstatement(
    session: Session,
    dispute: PaymentDispute,
    invoice: Invoice,
    seen: DisputeStatus,
    now: datetime,
    actor: Actor,
) -> str:
    """The money Stripe gave back: a payment of its own received that day (the
    disputed payment stays reversed, as the bank statement shows it), counted
    against the invoice, which is paid again."""
    reinstated_on = office_date(seen.reinstated_at or now)
    taken = session.get(PaymentReversal, dispute.reversal_id)
    disputed = session.get(Payment, dispute.payment_id)
    assert taken is not None
    assert disputed is not None
    payment = _new_payment(
        session,
        invoice,
        action="payment.reinstated",
        actor=actor,
        now=now,
        method=CARD,
        state=SUCCEEDED,
        amount=taken.amount,
        received_on=reinstated_on,
        reference=dispute.stripe_dispute_id[:100],
        note=f"Stripe reinstated the money of disputed payment {dispute.payment_id}.",
        card_brand=disputed.card_brand,
        card_last4=disputed.card_last4,
    )
    count_payment(session, invoice, payment, actor=actor, now=now)
    dispute.reinstatement_id = payment.id
    dispute.reinstated_on = reinstated_on
    audit.record_event(
        session,
        "dispute.funds_reinstated",
        dispute.id,
        after={"payment_id": payment.id, "reinstated_on": reinstated_on.isoformat()},
        actor=actor,
    )
    return f"reinstatement of {quantize(payment.amount, payment.currency)} booked"


def _close(
    session: Session,
    dispute: PaymentDispute,
    invoice: Invoice,
    action: str,
    now: datetime,
    actor: Actor,
) -> str:
    """Won or lost. A dispute lost leaves the balance owed again, chased (reminders,
    late fees, standing) only from the invoice's payment terms after the close, as
    a newly issued invoice would be; its billing contact is told what is owed."""
    changes: dict[str, object] = {}
    if action == "lose" and invoice.balance_due > 0:
        dispute.owed_again_on = office_date(now) + timedelta(days=invoice.payment_terms_days)
        changes["owed_again_on"] = dispute.owed_again_on.isoformat()
        _no_late_fee_before(invoice, dispute.owed_again_on)
    DISPUTE.apply(session, dispute, action, actor=actor, at=now, changes=changes)
    _tell_billing_staff(session, dispute, "closed")
    if dispute.owed_again_on is not None:
        _email_billing_contact(
            session,
            invoice,
            subject=f"Invoice {invoice.number} is owed again",
            template="dispute_lost",
            dispute=dispute,
            amount=in_words(dispute.amount, dispute.currency),
            owed_again_on=dispute.owed_again_on,
        )
    return f"dispute {dispute.stripe_dispute_id} {dispute.state}"


def _no_late_fee_before(invoice: Invoice, owed_again_on: date) -> None:
    """Late fees accrue from when the balance is owed again, not for the months the
    money was with the bank: those months count as charged."""
    if invoice.due_date is not None:
        months = months_between(invoice.due_date, owed_again_on)
        invoice.late_fee_months_charged = max(invoice.late_fee_months_charged, months)


def _reason_words(dispute: PaymentDispute) -> str:
    return (dispute.reason or "no reason given").replace("_", " ")


def _tell_billing_staff(session: Session, dispute: PaymentDispute, what: str) -> None:
    """Billing staff answer a dispute in Stripe's dashboard, by its evidence due date."""
    invoice = session.get(Invoice, dispute.invoice_id)
    organization = session.get(Organization, dispute.organization_id)
    assert invoice is not None
    assert organization is not None
    amount = in_words(dispute.amount, dispute.currency)
    subject = (
        f"Card payment for {invoice.number} disputed: {amount}"
        if what == "opened"
        else f"Dispute of the card payment for {invoice.number} {dispute.state}"
    )
    mail.notify_staff(
        session,
        "billing",
        subject=subject,
        template=f"dispute_{what}",
        context={
            "dispute": dispute,
            "invoice": invoice,
            "organization": organization,
            "amount": amount,
            "reason": _reason_words(dispute),
            "balance_due": in_words(invoice.balance_due, invoice.currency),
            "console_url": links().invoice_review(invoice.id),
        },
    )
