"""Money received against an invoice: offline payments, accepted flagged card
payments, and counting a succeeded payment against what is owed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing.models import Invoice, Payment
from licensing.billing.services import references
from licensing.billing.services._common import (
    _card_payer,
    _email_billing_contact,
    _email_payer,
    _locked_invoice,
    _locked_payment,
    _offline_errors,
    _offline_fields,
    _reason,
    _settle_if_cleared,
)
from licensing.billing.services.references import RepeatedReferencePolicy
from licensing.billing.services.reversals import book_reversal
from licensing.billing.states import COLLECTIBLE, PAID, PAYMENT, VOID
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict, IllegalTransition, InvalidInput
from licensing.money import in_words, quantize
from licensing.records import attributes


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
        recorded_by_id=actor.user_id,
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


def count_payment(
    session: Session, invoice: Invoice, payment: Payment, *, actor: Actor, now: datetime
) -> Organization | None:
    """Count a succeeded payment against the invoice, settling it when nothing is
    left: the booking alone, telling nobody (a dispute's reinstated money). The
    organization where settling read it (locked), for a caller that tells it."""
    invoice.amount_paid += payment.amount
    payment.settled_at = now
    audit.record_event(
        session,
        "invoice.payment_applied",
        invoice.id,
        after={
            "payment_id": payment.id,
            "amount": quantize(payment.amount, payment.currency),
            "method": payment.method,
            "amount_paid": quantize(invoice.amount_paid, invoice.currency),
        },
        actor=actor,
        note=payment.reference,
    )
    return _settle_if_cleared(
        session, invoice, actor=actor, now=now, note=payment.named(in_sentence=True)
    )


def _apply(
    session: Session, invoice: Invoice, payment: Payment, *, actor: Actor, now: datetime
) -> None:
    """Count a succeeded payment against the invoice (once: callers step the
    payment's state machine first, which refuses a second `succeed`), and tell the
    billing contact and the payer it arrived."""
    # The organization settling read under its lock, passed on (round 68, reads68: the
    # session holds a row nothing refers to only weakly, so the email read it again).
    settled_by = count_payment(session, invoice, payment, actor=actor, now=now)
    _tell_received(session, invoice, payment, payment.amount, organization=settled_by)


def _tell_received(
    session: Session,
    invoice: Invoice,
    payment: Payment,
    counted: Decimal,
    *,
    organization: Organization | None = None,
) -> None:
    """Tell the billing contact and the payer that `counted` of `payment` arrived
    (`organization`: the invoice's, where the caller has it)."""
    subject = f"Payment received for invoice {invoice.number}"
    amount = in_words(counted, payment.currency)
    organization = organization or session.get(Organization, invoice.organization_id)
    assert organization is not None
    payer = _card_payer(session, payment, organization)
    _email_billing_contact(
        session,
        invoice,
        subject=subject,
        template="payment_received",
        payment=payment,
        amount=amount,
        # Whose card it was: a contact who did not pay would otherwise wonder.
        paid_by=payer.full_name if payer else None,
    )
    _email_payer(
        session, invoice, payment, subject=subject, template="payment_received", amount=amount
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
                f"More than the balance due ({in_words(invoice.balance_due, invoice.currency)})."
            ]
        # Checked with the invoice locked, so a double submission finds the first.
        earlier = (
            references.recorded_with(session, references.PAYMENTS, invoice.id, clean_reference)
            if clean_reference
            else []
        )
        repeat_note = references.checked(
            earlier, repeated_reference, references.PAYMENTS, errors, "The payment has problems."
        )
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
            audit_note=repeat_note,
            # Money received offline is audited with its bank reference. A card
            # payment has none (its PaymentIntent names it), so, unlike a refund's,
            # the reference is no part of `Payment.SNAPSHOT`.
            also_audited=("reference",),
        )
        _apply(session, invoice, payment, actor=actor, now=now)
        return payment


class AlreadyAccepted(Conflict):
    """A flagged card payment that was accepted before: a retry of a request that
    went through, or two of billing staff at once. Its words are the state
    machine's (what the state allows, as the console has said since round 27); it
    carries who accepted it and when, so that an edge without a page to open again
    (the API) can say that the first request went through and nothing was applied
    again."""

    def __init__(
        self, refused: IllegalTransition, *, accepted_at: datetime, by: str, named: str
    ) -> None:
        super().__init__(refused.detail)
        self.state = refused.state
        self.accepted_at = accepted_at
        self.accepted_by = by
        # The payment as the pages name it (`Payment.named`, round 56), for the API's words.
        self.named = named


# A give-back's ask (round 39), which since round 42 moves the payment to
# `giving_back` (`PAYMENT`'s `give_back`): an accept meanwhile is the state
# machine's 409, for as long as Stripe has not answered.
GIVE_BACK_ASKED = "payment.give_back_asked"


def _refuse_accepted_before(session: Session, payment: Payment) -> None:
    """Refuse, as `AlreadyAccepted`, a payment no longer flagged because it was
    accepted (its `payment.accepted` event, read with the payment locked); any
    other state is refused by the state machine as before."""
    try:
        PAYMENT.step(payment.state, "accept")
    except IllegalTransition as refused:
        accepted = session.execute(
            select(AuditEvent.occurred_at, AuditEvent.actor)
            .where(
                AuditEvent.entity_type == "payment",
                AuditEvent.entity_id == str(payment.id),
                AuditEvent.action == "payment.accepted",
            )
            .order_by(AuditEvent.id)
            .limit(1)
        ).first()
        if accepted is None:
            raise
        when, by = accepted
        named = payment.named(payment.invoice.number)
        raise AlreadyAccepted(refused, accepted_at=when, by=by, named=named) from None


def accept_flagged_payment(
    payment_id: int, *, note: str | None, now: datetime | None = None, actor: Actor
) -> Payment:
    """Billing staff accept a flagged card payment for what was actually received;
    refused while the bank disputes its charge, and once it lost the dispute
    (round 44: the money is contested, then gone)."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        payment, invoice = _locked_payment(session, payment_id)
        reason = _reason(note)
        _refuse_accepted_before(session, payment)
        # Round 44: not while the bank disputes its charge, nor once it won the dispute.
        PAYMENT.step(payment.state, "accept", hold=payment.dispute_hold)
        received = payment.amount_received or Decimal(0)
        unapplicable = payment.unapplicable()
        if PAYMENT.can(payment.state, "accept") and unapplicable is not None:
            raise Conflict(unapplicable)
        payment.amount = received
        PAYMENT.apply(
            session,
            payment,
            "accept",
            actor=actor,
            note=reason,
            changes={"amount": quantize(received, payment.currency)},
        )
        _apply(session, invoice, payment, actor=actor, now=now)
        return payment


def accept_remainder(
    payment_id: int,
    *,
    note: str | None,
    excess_method: str | None = None,
    excess_reference: str | None = None,
    now: datetime | None = None,
    actor: Actor,
) -> Payment:
    """Round 47: billing staff accept what a lost dispute of part of a flagged card
    payment's charge left (`Payment.remainder`: received, less what the bank returned
    to the cardholder), with why: the payment becomes `succeeded` for that amount and
    counts against its invoice (`PAYMENT`'s `accept_remainder`, audited
    `payment.remainder_accepted` with the amounts and the dispute). Accepting it whole
    and giving it back stay refused (the bank has the disputed part; Stripe refuses a
    refund of a charge with a dispute). Refused (409): not flagged, no dispute of part
    of it lost (`NO_REMAINDER_WHY`), the dispute open or lost in full, or an invoice
    never issued (a draft).

    Round 48: a remainder more than the invoice owes (paid or credited meanwhile) is
    accepted only with the excess given back offline today (`excess_method`, wire, ACH
    or check, and the transfer's `excess_reference`; without them, 409 saying so): the
    remainder counts, then the excess is booked as its reversal on the day it was sent
    (`PAYMENT`'s `reverse`, audited `payment.reversed` and `payment_reversal.recorded`
    with why), so the invoice is paid
    exactly what it owed. Sending some back when nothing exceeds is a 422.

    Round 49: a void invoice owes nothing, so all the remainder is the excess, sent
    back offline as above (round 48 refused it for good, the office keeping money
    nothing counted); the billing contact is emailed how the excess went back
    (`payment_excess_returned`)."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        payment, invoice = _locked_payment(session, payment_id)
        reason = _reason(note)
        PAYMENT.step(payment.state, "accept_remainder", hold=payment.dispute_hold)
        refused = payment.refusal("accept_remainder")
        remainder = payment.remainder
        if refused is not None or remainder is None:
            raise Conflict(
                refused or f"{payment.named(invoice.number)}, has no remainder to accept."
            )
        # Round 49: a void invoice too (it owes nothing: all the remainder is the excess).
        if invoice.state not in (*COLLECTIBLE, PAID, VOID):
            raise Conflict(
                f"The {in_words(remainder, payment.currency)} its lost dispute left cannot be "
                f"applied to {invoice.label} (it is {invoice.state}): nothing is owed on it, "
                "and Stripe refuses to refund a charge with a dispute, so the payment stays "
                "flagged."
            )
        over = payment.remainder_excess(invoice.balance_due)
        clean_reference = _excess_checked(
            payment, invoice, over, excess_method, excess_reference, now
        )
        dispute = payment.holding_dispute
        assert dispute is not None
        payment.amount = remainder
        changes = {
            "amount": quantize(remainder, payment.currency),
            "amount_received": quantize(payment.amount_received or 0, payment.currency),
            "amount_disputed": quantize(dispute.amount, dispute.currency),
            "stripe_dispute_id": dispute.stripe_dispute_id,
        }
        if over is not None:
            changes["excess"] = quantize(over, payment.currency)
        PAYMENT.apply(
            session, payment, "accept_remainder", actor=actor, note=reason, changes=changes
        )
        if over is None:
            _apply(session, invoice, payment, actor=actor, now=now)
            return payment
        owed = remainder - over
        count_payment(session, invoice, payment, actor=actor, now=now)
        assert excess_method is not None
        reversal = book_reversal(
            session,
            payment,
            invoice,
            action="reverse",
            amount=over,
            reason=(
                f"The {in_words(over, payment.currency)} of the remainder that "
                f"{invoice.number} did not owe, given back offline by "
                f"{OFFLINE_METHOD_WORDS[excess_method]} (reference {clean_reference}): "
                "Stripe refuses to refund a charge with a dispute."
            ),
            returned_on=office_date(now),
            actor=actor,
            now=now,
        )
        if owed > 0:
            _tell_received(session, invoice, payment, owed)
        # Round 49: the licensee is told the excess went back, how and with which
        # reference, so the transfer that reaches them is recognised.
        _email_billing_contact(
            session,
            invoice,
            subject=(
                f"{in_words(over, payment.currency)} sent back to you for invoice {invoice.number}"
            ),
            template="payment_excess_returned",
            payment=payment,
            reversal=reversal,
            dispute=dispute,
            amount=in_words(over, payment.currency),
            remainder=in_words(remainder, payment.currency),
            received=in_words(payment.amount_received or Decimal(0), payment.currency),
            disputed=in_words(dispute.amount, payment.currency),
            counted=in_words(owed, payment.currency) if owed > 0 else None,
            method=OFFLINE_METHOD_WORDS[excess_method],
            reference=clean_reference,
        )
        return payment


# Round 48: how the excess of a remainder went back, as its reversal's reason says it.
OFFLINE_METHOD_WORDS = {"wire": "wire transfer", "ach": "ACH transfer", "check": "check"}


def _excess_checked(
    payment: Payment,
    invoice: Invoice,
    over: Decimal | None,
    method: str | None,
    reference: str | None,
    now: datetime,
) -> str:
    """Round 48: refuse a remainder more than `invoice` owes without the excess given
    back offline (409), the excess's method or reference wrong, or an excess sent back
    when nothing exceeds (422); the reference cleaned."""
    sent = bool(method or (reference or "").strip())
    if over is None:
        if sent:
            raise InvalidInput(
                "Nothing of the remainder exceeds what the invoice owes.",
                {
                    "excess_method": [
                        f"Nothing to give back: {invoice.number} owes "
                        f"{in_words(invoice.balance_due, invoice.currency)}, all the "
                        "remainder; accept it without sending any back."
                    ]
                },
            )
        return ""
    remainder = payment.remainder
    assert remainder is not None
    if not sent:
        owes = (
            "it is void: nothing is owed on it"
            if invoice.state == VOID
            else f"it is {invoice.state}, balance due "
            f"{in_words(invoice.balance_due, invoice.currency)}"
        )
        raise Conflict(
            f"The {in_words(remainder, payment.currency)} its lost dispute left is more than "
            f"{invoice.label} owes ({owes}): Stripe refuses to refund a "
            "charge with a dispute, so accept it with the "
            f"{in_words(over, payment.currency)} beyond that given back offline (wire, ACH "
            "or check, with the transfer's reference): the invoice is then paid what it "
            "owed, and the excess is booked as returned today."
        )
    errors, clean_reference = _offline_errors(method or "", reference, None, "sent_on", now)
    if errors:
        raise InvalidInput(
            "The excess given back has problems.",
            {f"excess_{name}": messages for name, messages in errors.items()},
        )
    return clean_reference
