"""A flagged card payment given back (round 36): the money Stripe took and billing
staff did not accept goes back to the card, as a Stripe Refund of its charge.

Not a credit note's refund (`refunds.py`): a flagged payment never counted
against its invoice, so nothing is credited and the invoice is unchanged. The
payment moves `flagged` -> `given_back` (`PAYMENT`'s `give_back`), asked by billing
staff here, or reported by Stripe when the money was refunded in its dashboard
(`charge.refunded`, `refund.updated`), or found by `licensing payments reconcile`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing import payment_gateway
from licensing.billing.models import Invoice, Payment
from licensing.billing.services._common import (
    _card_gateway,
    _card_payer,
    _email_billing_contact,
    _email_payer,
    _locked_payment,
    _reason,
)
from licensing.billing.services.card_payments import (
    RECONCILE_AFTER,
    ReconcileReport,
    _reconcile,
    notify_billing_staff,
)
from licensing.billing.services.settlement import GIVE_BACK_ASKED
from licensing.billing.states import CARD, FLAGGED, GIVEN_BACK, PAYMENT
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict
from licensing.money import from_minor_units, in_words, quantize

# What Stripe's answer says of a Refund that is on its way or done.
_GOING_BACK = ("succeeded", "pending", "requires_action")


def idempotency_key(payment_id: int, failed_before: int = 0) -> str:
    """One key a payment's give-back: two requests (a retry after a timeout, two
    clerks) ask Stripe for one Refund. A give-back Stripe reported failed is asked
    anew with a key of its own (round 37): the first key would have Stripe answer
    with the Refund that failed."""
    again = f"-{failed_before + 1}" if failed_before else ""
    return f"give-back-{payment_id}{again}"


def give_back_flagged_payment(
    payment_id: int,
    *,
    note: str | None,
    now: datetime | None = None,
    actor: Actor,
    gateway: payment_gateway.PaymentGateway | None,
) -> Payment:
    """Billing staff give a flagged card payment's money back to the card, with why.

    Stripe is asked for a Refund of all that is left of the payment's charge (what
    it took, whatever the amount or currency), with an idempotency key of the
    payment's own, so a retry after a lost answer refunds once. Stripe's refusal
    leaves the payment flagged (`StripeRefused`, 502 at the edges); its answer
    moves it to `given_back`, audited `payment.given_back` with the Stripe refund
    id and the amount, and the billing contact and the payer are emailed. The
    invoice is not touched: the payment never counted."""
    actor.require_role("billing")
    now = now or utcnow()
    gateway = _card_gateway(gateway)
    with db.transaction() as session:
        payment, invoice = _locked_payment(session, payment_id)
        reason = _reason(note)
        PAYMENT.step(payment.state, "give_back")  # anything but flagged: 409, what it allows
        intent_id = payment.stripe_payment_intent_id
        if payment.method != CARD or intent_id is None:  # a flagged payment always has one
            raise Conflict(f"Payment {payment.id} has no Stripe payment to give back.")
        # Every failure counts, the ones kept in flight too (round 39): the key that
        # asked for a failed refund would have Stripe answer with it again.
        failures = _count_of(session, payment, "payment.give_back_failed")
        key = idempotency_key(payment.id, failures + _count_of(session, payment, FAILED_IN_FLIGHT))
        metadata = {
            "payment_id": str(payment.id),
            "invoice_number": invoice.number or "",
            "given_back_by": actor.name[:500],
            "reason": reason[:500],
        }
        # Before Stripe is asked, outside this lock: an accept meanwhile is refused
        # until Stripe's answer is in (round 39; `settlement._refuse_while_given_back`).
        audit.record_event(
            session,
            GIVE_BACK_ASKED,
            payment.id,
            after={"stripe_idempotency_key": key},
            actor=actor,
            note=reason,
        )
    try:
        status = gateway.create_refund(
            payment_intent_id=intent_id,
            amount_minor=None,
            metadata=metadata,
            idempotency_key=key,
        )
    except payment_gateway.StripeRefused as refused:
        _record_refused(payment_id, refused.detail, actor=actor)
        raise
    if status.status not in _GOING_BACK:
        why = f"Stripe did not refund it: {status.failure_reason or status.status}."
        _record_refused(payment_id, why, actor=actor)
        raise payment_gateway.StripeRefused(why)
    with db.transaction() as session:
        payment, invoice = _locked_payment(session, payment_id)
        if PAYMENT.can(payment.state, "give_back"):
            # Round 39: Stripe may have reported this refund failed while we waited
            # for its answer (the webhook found the payment still flagged and kept
            # the news, under the same lock): stored given back, it is flagged
            # again at once, and the licensee is not told of money that is not going back.
            failed = _failed_in_flight(session, payment, status.id)
            _give_back(
                session,
                payment,
                invoice,
                status,
                note=reason,
                actor=actor,
                now=now,
                tell=failed is None,
            )
            if failed is not None:
                _given_back_and_now(session, payment, failed, now=now, actor=Actor.SYSTEM)
        return payment


def _record_refused(payment_id: int, why: str, *, actor: Actor) -> None:
    """Stripe refused the give-back: the payment stays flagged, and may be accepted
    again (`payment.give_back_refused` answers the ask)."""
    with db.transaction() as session:
        audit.record_event(
            session, "payment.give_back_refused", payment_id, after=None, actor=actor, note=why
        )


def failed_meanwhile(payment: Payment) -> str | None:
    """What a give-back did when Stripe reported its refund failed before the
    request stored it (round 39): the payment is flagged again. None: it went."""
    if payment.state != FLAGGED:
        return None
    return (
        "Not given back: Stripe reported the refund failed (the card's bank returned it) "
        "before it was stored. The payment is flagged again, its money with us; billing "
        "staff are told, the licensee is not."
    )


def told_names(session: Session, payment: Payment, organization: Organization) -> tuple[str, bool]:
    """Whom a give-back's email reaches, named (round 37), and whether they are
    two: "the billing contact, Robin (billing@...), and the payer, Pat (pat@...)".
    The confirmation says they are emailed; a failure's staff email, that they
    were told (round 39)."""
    contact = (
        f"the billing contact, {organization.billing_contact_name} ({organization.billing_email})"
    )
    payer = payer_told(session, payment, organization)
    if payer is None:
        return contact, False
    return f"{contact}, and the payer, {payer.full_name} ({payer.email})", True


@PAYMENT.on("fail_give_back")
def _tell_staff_whom_to_write_to(
    session: Session, payment: Payment, actor: Actor, why: str | None
) -> None:
    """A give-back Stripe reported failed (round 37): billing staff are told as when
    it was flagged, and (round 39) whom the licensee's side was told the money went
    back, and when, for staff to write to them (they are not emailed again: what
    they hear next depends on what staff decide). A failure kept while the give-back
    was in flight told nobody, and says so."""
    given = session.scalars(
        _events_of(payment, "payment.given_back").order_by(AuditEvent.seq.desc()).limit(1)
    ).one_or_none()
    refund_id = _refund_of(given) if given is not None else None
    organization = session.get(Organization, payment.organization_id)
    assert organization is not None
    if given is None or (refund_id and _failed_in_flight(session, payment, refund_id)):
        told = "The licensee was not told it was given back: nobody needs writing to."
    else:
        names, two = told_names(session, payment, organization)
        told = (
            f"Told on {office_date(given.occurred_at).isoformat()} that it went back to the "
            f"card: {names}. Write to {'them' if two else 'the billing contact'}: "
            "the money will not reach the card."
        )
    notify_billing_staff(session, payment, why, told=told)


def payer_told(session: Session, payment: Payment, organization: Organization) -> User | None:
    """Who, besides the billing contact, is emailed the give-back: the payer as
    `_email_payer` writes to them (not the contact twice, nor an address never
    confirmed); None: the billing contact alone. The confirmation names them."""
    payer = _card_payer(session, payment, organization)
    return payer if payer is not None and payer.email_verified else None


def _give_back(
    session: Session,
    payment: Payment,
    invoice: Invoice,
    status: payment_gateway.RefundStatus,
    *,
    note: str,
    actor: Actor,
    now: datetime,
    tell: bool = True,
) -> None:
    """Step the payment to `given_back` for Stripe's refund `status`, and tell the
    billing contact and the payer (`tell`)."""
    given = from_minor_units(status.amount, status.currency)
    PAYMENT.apply(
        session,
        payment,
        "give_back",
        actor=actor,
        note=note,
        at=now,
        changes={
            "stripe_refund_id": status.id,
            "amount_given_back": quantize(given, status.currency),
            "currency_given_back": status.currency,
        },
    )
    if not tell:
        return
    amount = in_words(given, status.currency)
    subject = f"Card payment of {amount} given back for invoice {invoice.number}"
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    payer = _card_payer(session, payment, organization)
    told: dict[str, Any] = {"amount": amount, "reason": note}
    _email_billing_contact(
        session,
        invoice,
        subject=subject,
        template="payment_given_back",
        payment=payment,
        paid_by=payer.full_name if payer else None,
        **told,
    )
    _email_payer(session, invoice, payment, subject=subject, template="payment_given_back", **told)


def apply_refund_at_stripe(
    session: Session, status: payment_gateway.RefundStatus, *, now: datetime, actor: Actor
) -> str | None:
    """A Refund this service did not record as a credit note's: the one that gave a
    flagged payment back (ours, arriving by webhook), or one made in Stripe's
    dashboard. A flagged payment whose charge it refunds in full (at least what it
    received) is given back, once; a refund of part of it leaves it flagged (staff
    may accept the rest, or give it back). None: not about a flagged payment."""
    if status.payment_intent is None:
        return None
    payment = session.scalars(
        select(Payment)
        .where(Payment.stripe_payment_intent_id == status.payment_intent, Payment.method == CARD)
        .with_for_update()
    ).one_or_none()
    if payment is None:
        return None
    if payment.state == GIVEN_BACK:
        return _given_back_and_now(session, payment, status, now=now, actor=actor)
    if payment.state != FLAGGED:
        return None
    if status.status in _CAME_BACK and _in_flight(session, payment, status):
        return _keep_failure_in_flight(session, payment, status, actor=actor)
    if status.status not in _GOING_BACK:
        return f"no change: refund {status.id} of flagged payment {payment.id} is {status.status}"
    received = payment.amount_received or 0
    partial = (
        status.currency == payment.currency
        and received > 0
        and from_minor_units(status.amount, status.currency) < received
    )
    if partial:
        return (
            f"no change: refund {status.id} gives back part of flagged payment {payment.id}; "
            "it stays flagged"
        )
    invoice = session.get(Invoice, payment.invoice_id, with_for_update=True)
    assert invoice is not None
    ours = status.metadata.get("payment_id") == str(payment.id)
    note = (
        f"Given back by {status.metadata.get('given_back_by')}: {status.metadata.get('reason')}"
        if ours and status.metadata.get("reason")
        else f"Refunded at Stripe (refund {status.id})."
    )
    _give_back(session, payment, invoice, status, note=note, actor=actor, now=now)
    return f"given back: payment {payment.id}"


# What Stripe's answer says of a Refund that will not reach the card after all.
_CAME_BACK = ("failed", "canceled")


def _given_back_and_now(
    session: Session,
    payment: Payment,
    status: payment_gateway.RefundStatus,
    *,
    now: datetime,
    actor: Actor,
) -> str:
    """A payment given back, and Stripe reports a refund of its charge: the one
    that gave it back failing (`refund.failed`: the card was closed, say) brings
    the money back to us, so the payment is flagged again (`fail_give_back`,
    audited `payment.give_back_failed`, billing staff told as when it was
    flagged). Anything else, or the same news again, changes nothing."""
    if status.status not in _CAME_BACK:
        return f"no change: payment {payment.id} is given back already"
    if status.id != _given_back_by(session, payment):
        return (
            f"no change: refund {status.id} is {status.status}; payment {payment.id} "
            "was given back by another"
        )
    why = status.failure_reason or status.status
    PAYMENT.apply(
        session,
        payment,
        "fail_give_back",
        actor=actor,
        note=(
            f"Stripe could not give it back: refund {status.id} {status.status} ({why}). "
            "The money is with us again: accept it, or give it back."
        ),
        at=now,
        changes={"stripe_refund_id": status.id, "failure_reason": why},
    )
    return f"flagged again: payment {payment.id}, its give-back {status.status}"


# Round 39: a failure Stripe reported for a give-back not stored yet.
FAILED_IN_FLIGHT = "payment.give_back_failed_in_flight"


def _in_flight(session: Session, payment: Payment, status: payment_gateway.RefundStatus) -> bool:
    """Whether `status` is of this service's own give-back of the flagged `payment`
    (its metadata names the payment) that has not been stored: no
    `payment.given_back` event has its refund (one that has was failed already)."""
    if status.metadata.get("payment_id") != str(payment.id):
        return False
    return not any(
        _refund_of(event) == status.id for event in _all_of(session, payment, "payment.given_back")
    )


def _keep_failure_in_flight(
    session: Session, payment: Payment, status: payment_gateway.RefundStatus, *, actor: Actor
) -> str:
    """Round 39: Stripe's `refund.failed` for a give-back whose request has not yet
    stored `given_back` (it arrived within the request's seconds). The payment is
    flagged, as it should end; the failure is audited on it, so that the
    give-back's own transaction, which locks the payment after this one, flags it
    again at once rather than leave it given back. Kept once a refund."""
    if _failed_in_flight(session, payment, status.id) is not None:
        return f"no change: refund {status.id} of flagged payment {payment.id} failed already"
    why = status.failure_reason or status.status
    audit.record_event(
        session,
        FAILED_IN_FLIGHT,
        payment.id,
        after={"stripe_refund_id": status.id, "status": status.status, "failure_reason": why},
        actor=actor,
        note=(
            f"Stripe reported refund {status.id} {status.status} ({why}) "
            "before the give-back was stored."
        ),
    )
    return (
        f"no change yet: payment {payment.id} is flagged, its give-back {status.status} in flight"
    )


def _failed_in_flight(
    session: Session, payment: Payment, refund_id: str
) -> payment_gateway.RefundStatus | None:
    """The failure of refund `refund_id` kept while its give-back was in flight, as
    Stripe's status of it (None: none was reported)."""
    for event in _all_of(session, payment, FAILED_IN_FLIGHT):
        after = event.after_data if isinstance(event.after_data, dict) else {}
        if after.get("stripe_refund_id") == refund_id:
            return payment_gateway.RefundStatus(
                id=refund_id,
                status=str(after.get("status") or "failed"),
                amount=0,
                currency=payment.currency.lower(),
                metadata={},
                payment_intent=payment.stripe_payment_intent_id,
                failure_reason=after.get("failure_reason"),
            )
    return None


def _all_of(session: Session, payment: Payment, action: str) -> list[AuditEvent]:
    return list(session.scalars(_events_of(payment, action).order_by(AuditEvent.seq)))


def _refund_of(event: AuditEvent) -> str | None:
    after = event.after_data
    refund_id = after.get("stripe_refund_id") if isinstance(after, dict) else None
    return refund_id if isinstance(refund_id, str) else None


def _events_of(payment: Payment, action: str) -> Select[AuditEvent]:
    return select(AuditEvent).where(
        AuditEvent.action == action,
        AuditEvent.entity_type == "payment",
        AuditEvent.entity_id == str(payment.id),
    )


def _count_of(session: Session, payment: Payment, action: str) -> int:
    return db.count_rows(session, _events_of(payment, action))


def _given_back_by(session: Session, payment: Payment) -> str | None:
    """The Stripe refund that last gave the payment back (its audit event's)."""
    given = session.scalars(
        _events_of(payment, "payment.given_back").order_by(AuditEvent.seq.desc()).limit(1)
    ).one_or_none()
    return _refund_of(given) if given is not None else None


def reconcile_given_back(
    *,
    gateway: payment_gateway.PaymentGateway | None,
    now: datetime | None = None,
    older_than: timedelta = RECONCILE_AFTER,
    limit: int = 200,
) -> ReconcileReport:
    """Flagged card payments refunded at Stripe whose refund webhook never came (or
    was not sent: the endpoint was not subscribed to `charge.refunded`): Stripe is
    asked for the refunds of each one's PaymentIntent, and one that gives it back in
    full is applied as the webhook would. Each payment is claimed (`db.claim`), so
    several hosts may run this at once; one Stripe call a flagged payment, and there
    are few (each waits for billing staff)."""
    now = now or utcnow()
    gateway = _card_gateway(gateway)

    def ask(session: Session, payment: Payment) -> str:
        assert payment.stripe_payment_intent_id is not None
        said = [
            apply_refund_at_stripe(session, status, now=now, actor=Actor.SYSTEM)
            for status in gateway.list_refunds(payment.stripe_payment_intent_id)
        ]
        given = next((s for s in said if s and s.startswith("given back")), None)
        return given or next((s for s in said if s), "no change: Stripe lists no refund of it")

    report = ReconcileReport(subject="flagged card payment(s)", applied_when=("given back",))
    flagged = (Payment.state == FLAGGED) & Payment.stripe_payment_intent_id.is_not(None)
    _reconcile(report, Payment, flagged, ask, before=now - older_than, limit=limit)
    return report


# Round 40: how long after a give-back reconcile still asks Stripe whether its refund
# failed. A card refund fails when the card's bank returns it (the card was closed,
# expired, lost), which Stripe learns days after reporting it succeeded, not months;
# 30 days covers that with room, and bounds the cost: one Stripe call an hour for
# each payment given back in the window, and give-backs are few (each a billing
# staff member's decision). Past it, a failure still arrives by `refund.failed`.
GIVE_BACK_FAILURE_WINDOW = timedelta(days=30)


def reconcile_give_back_failures(
    *,
    gateway: payment_gateway.PaymentGateway | None,
    now: datetime | None = None,
    older_than: timedelta = RECONCILE_AFTER,
    within: timedelta = GIVE_BACK_FAILURE_WINDOW,
    limit: int = 200,
) -> ReconcileReport:
    """Card payments given back within `within` (and more than `older_than` ago)
    whose `refund.failed` webhook may never have come: Stripe is asked for the
    refunds of each one's PaymentIntent, and the refund that gave it back, if Stripe
    now says it failed or was canceled, flags it again through `fail_give_back`
    exactly as the webhook would (audited, billing staff told). Claimed as the
    other reconciles are, so several hosts may run it at once."""
    now = now or utcnow()
    gateway = _card_gateway(gateway)

    def ask(session: Session, payment: Payment) -> str:
        assert payment.stripe_payment_intent_id is not None
        given_by = _given_back_by(session, payment)
        for status in gateway.list_refunds(payment.stripe_payment_intent_id):
            if status.id == given_by:
                said = apply_refund_at_stripe(session, status, now=now, actor=Actor.SYSTEM)
                return said or f"no change: payment {payment.id} is given back already"
        return f"no change: Stripe lists no refund {given_by} of it"

    report = ReconcileReport(
        subject="given-back card payment(s)",
        applied_when=("flagged again",),
        failed_when=(),
    )
    given_back = (
        (Payment.state == GIVEN_BACK)
        & Payment.stripe_payment_intent_id.is_not(None)
        & (Payment.status_changed_at >= now - within)
        & (Payment.status_changed_at <= now - older_than)
    )
    _reconcile(report, Payment, given_back, ask, before=now - older_than, limit=limit)
    return report
