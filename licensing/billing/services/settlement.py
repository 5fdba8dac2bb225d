"""Money received against an invoice: offline payments, accepted flagged card
payments, and counting a succeeded payment against what is owed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing.models import Invoice, Payment
from licensing.billing.services._common import (
    _amount,
    _email_billing_contact,
    _locked_invoice,
    _offline_errors,
    _offline_fields,
    _reason,
    _settle_if_cleared,
)
from licensing.billing.states import COLLECTIBLE, PAYMENT, SUCCEEDED
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.money import format_grouped, in_words, quantize
from licensing.records import attributes

# What to do with an offline payment whose reference the invoice already has (two
# instalments may share one, so it is never refused outright): `ask` refuses it
# with `RepeatedReference` until staff confirm (the console's form), `confirmed`
# records it, `allow` records it without asking (the API, whose Idempotency-Key
# is what guards retries). Either way its audit event names the earlier payments.
RepeatedReferencePolicy = Literal["ask", "confirmed", "allow"]


class RepeatedReference(InvalidInput):
    """The invoice already has a payment with this reference: refused until billing
    staff confirm it is a separate payment (`repeated_reference="confirmed"`)."""


def _same_reference(session: Session, invoice: Invoice, reference: str) -> list[Payment]:
    """The invoice's payments with `reference`, compared trimmed and case-insensitively.

    Every succeeded payment counts, refunded or not: an offline refund is made
    against a credit note, not a payment, and a refund does not make a second
    entry of the same transfer right. The few payments of one invoice are
    compared here rather than in SQL, whose lower() folds only ASCII on SQLite."""
    wanted = reference.strip().casefold()
    payments = session.scalars(
        select(Payment)
        .where(
            Payment.invoice_id == invoice.id,
            Payment.state == SUCCEEDED,
            Payment.reference.is_not(None),
        )
        .order_by(Payment.id)
    )
    return [p for p in payments if (p.reference or "").strip().casefold() == wanted]


def _described(payment: Payment) -> str:
    """An earlier payment as staff read it on the page: amount, day received, who
    recorded it."""
    received = payment.received_on or office_date(payment.created_at)
    amount = format_grouped(payment.amount, payment.currency)
    return (
        f"{amount} {payment.currency} received {received.isoformat()}, "
        f"recorded by {payment.recorded_by}"
    )


def _repeat_note(earlier: list[Payment], policy: RepeatedReferencePolicy) -> str:
    """The recorded payment's audit note: which payments already had its reference."""
    heading = "Repeated reference confirmed" if policy == "confirmed" else "Repeated reference"
    named = "; ".join(f"payment {p.id} ({_described(p)})" for p in earlier)
    return f"{heading}: same as {named}."


def _repeat_message(earlier: list[Payment]) -> str:
    if len(earlier) == 1:
        return (
            "A payment with this reference is already recorded on this invoice: "
            f"{_described(earlier[0])}."
        )
    listed = "; ".join(_described(p) for p in earlier)
    return (
        f"{len(earlier)} payments with this reference are already recorded on this "
        f"invoice: {listed}."
    )


def _new_payment(
    session: Session,
    invoice: Invoice,
    *,
    action: str,
    actor: Actor,
    now: datetime,
    audit_note: str | None = None,
    also_audited: tuple[str, ...] = (),
    **fields: Any,
) -> Payment:
    """Record a payment against `invoice` (its audit event is `action`): a card
    attempt, or money received by wire, ACH or check. The event has the invoice's
    number, `Payment.SNAPSHOT` and the fields named in `also_audited`."""
    payment = Payment(
        invoice_id=invoice.id,
        organization_id=invoice.organization_id,
        currency=invoice.currency,
        recorded_by=actor.name,
        created_at=now,
        **fields,
    )
    after = {
        "invoice": invoice.number,
        **payment.snapshot(),
        **attributes(payment, also_audited),
    }
    audit.record_new(session, payment, action, after=after, actor=actor, note=audit_note)
    return payment


def _apply(
    session: Session, invoice: Invoice, payment: Payment, *, actor: Actor, now: datetime
) -> None:
    """Count a succeeded payment against the invoice (once: callers step the
    payment's state machine first, which refuses a second `succeed`)."""
    invoice.amount_paid += payment.amount
    payment.settled_at = now
    audit.record_event(
        session,
        "invoice.payment_applied",
        invoice.id,
        after={
            "payment_id": payment.id,
            "amount": payment.amount,
            "method": payment.method,
            "amount_paid": invoice.amount_paid,
        },
        actor=actor,
        note=payment.reference,
    )
    _settle_if_cleared(
        session, invoice, actor=actor, now=now, note=f"{payment.method} payment {payment.id}"
    )
    _email_billing_contact(
        session,
        invoice,
        subject=f"Payment received for invoice {invoice.number}",
        template="payment_received",
        payment=payment,
        amount=in_words(payment.amount, payment.currency),
    )


def record_offline_payment(
    invoice_id: int,
    *,
    method: str,
    amount: Decimal,
    reference: str | None,
    received_on: date | None = None,
    note: str | None = None,
    now: datetime | None = None,
    repeated_reference: RepeatedReferencePolicy = "allow",
    actor: Actor,
) -> Payment:
    """Billing staff: a wire, ACH or check payment, in the same ledger as cards.

    A reference the invoice already has is refused with `RepeatedReference` when
    `repeated_reference` is `ask`, and recorded otherwise (see the policy)."""
    actor.require_role("billing")
    now = now or utcnow()
    errors, clean_reference = _offline_errors(method, reference, received_on, "received_on", now)
    if amount <= 0:
        errors["amount"] = ["Must be more than zero."]
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        if not errors and quantize(amount, invoice.currency) != amount:
            errors["amount"] = ["Use at most the currency's minor unit (cents)."]
        if invoice.state not in COLLECTIBLE:
            raise Conflict(f"{invoice.title} is {invoice.state}: nothing is owed on it.")
        issued = invoice.issue_date
        if received_on is not None and issued is not None and received_on < issued:
            # Money for this invoice cannot arrive before it exists: a mistyped date,
            # which would also count the payment in a period the invoice is not in.
            errors["received_on"] = [
                f"Cannot be before the invoice was issued ({issued.isoformat()})."
            ]
        if not errors and amount > invoice.balance_due:
            errors["amount"] = [
                f"More than the balance due ({_amount(invoice.balance_due, invoice.currency)})."
            ]
        # Checked with the invoice locked, so a double submission finds the first.
        earlier = _same_reference(session, invoice, clean_reference) if clean_reference else []
        if earlier and repeated_reference == "ask" and "reference" not in errors:
            errors["reference"] = [_repeat_message(earlier)]
            raise RepeatedReference("The payment has problems.", errors)
        if errors:
            raise InvalidInput("The payment has problems.", errors)
        payment = _new_payment(
            session,
            invoice,
            action="payment.recorded",
            actor=actor,
            now=now,
            **_offline_fields(method, amount, clean_reference, received_on, "received_on", now),
            note=(note or "").strip() or None,
            audit_note=_repeat_note(earlier, repeated_reference) if earlier else None,
            # Money received offline is audited with its bank reference. A card
            # payment has none (its PaymentIntent names it), so, unlike a refund's,
            # the reference is no part of `Payment.SNAPSHOT`.
            also_audited=("reference",),
        )
        _apply(session, invoice, payment, actor=actor, now=now)
        return payment


def accept_flagged_payment(
    payment_id: int, *, note: str | None, now: datetime | None = None, actor: Actor
) -> Payment:
    """Billing staff accept a flagged card payment for what was actually received."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        payment = session.get(Payment, payment_id, with_for_update=True)
        if payment is None:
            raise NotFound(f"There is no payment {payment_id}.")
        invoice = _locked_invoice(session, payment.invoice_id)
        reason = _reason(note)
        received = payment.amount_received or Decimal(0)
        if PAYMENT.can(payment.state, "accept") and (
            invoice.state not in COLLECTIBLE or received <= 0 or received > invoice.balance_due
        ):
            raise Conflict(
                f"{_amount(received, payment.currency)} cannot be applied to {invoice.label} "
                f"(balance due {_amount(invoice.balance_due, invoice.currency)}); "
                "refund it at Stripe."
            )
        payment.amount = received
        PAYMENT.apply(
            session, payment, "accept", actor=actor, note=reason, changes={"amount": received}
        )
        _apply(session, invoice, payment, actor=actor, now=now)
        return payment
