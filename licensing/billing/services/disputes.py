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

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import payment_gateway
from licensing.billing.models import (
    Invoice,
    Payment,
    PaymentDispute,
    PaymentReversal,
    UnmatchedDispute,
)
from licensing.billing.payment_gateway import DisputeStatus
from licensing.billing.services._common import (
    _email_billing_contact,
    _locked_payment,
    not_after_now,
    said_payment,
)
from licensing.billing.services.overdue import months_between
from licensing.billing.services.reversals import book_reversal
from licensing.billing.services.settlement import _new_payment, count_payment
from licensing.billing.states import (
    CARD,
    DISPUTE,
    FLAGGED,
    GIVEN_BACK,
    GIVING_BACK,
    LOST,
    OPEN,
    PAYMENT,
    SUCCEEDED,
    WON,
)
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import ExternalServiceError
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


def with_intent_of_charge(
    gateway: payment_gateway.PaymentGateway | None, seen: DisputeStatus
) -> tuple[DisputeStatus, str | None]:
    """Before the transaction (it may ask Stripe): a dispute that names only a charge
    no payment or dispute here kept (a payment confirmed before payments kept their
    charge), with the PaymentIntent Stripe says the charge was made for. Also why
    Stripe could not be asked, for the dispute kept unmatched: Stripe unreachable
    fails nothing, the dispute waits for `match_disputes`. Stripe's own answer that
    the charge is unknown or had no PaymentIntent is final: this service makes
    every card payment through a PaymentIntent, so the dispute is not its."""
    if seen.payment_intent is not None or seen.charge is None or _charge_known(seen):
        return seen, None
    if gateway is None:
        return seen, "Stripe is not configured on this host, so it was not asked for the charge"
    try:
        intent = gateway.charge_payment_intent(seen.charge)
    except payment_gateway.StripeRefused:
        return seen, None
    except ExternalServiceError as error:
        return seen, f"Stripe could not be asked for charge {seen.charge} ({error})"
    return (seen, None) if intent is None else (replace(seen, payment_intent=intent), None)


def _charge_known(seen: DisputeStatus) -> bool:
    with db.read_session() as session:  # a read: no write lock on SQLite
        disputes = select(PaymentDispute.id).where(
            (PaymentDispute.stripe_dispute_id == seen.id)
            | (PaymentDispute.stripe_charge_id == seen.charge)
        )
        payments = select(Payment.id).where(Payment.stripe_charge_id == seen.charge)
        return any(session.scalar(found.limit(1)) is not None for found in (disputes, payments))


def apply_dispute(
    session: Session,
    event_type: str,
    seen: DisputeStatus,
    *,
    now: datetime,
    actor: Actor,
    dispute_object: Mapping[str, Any],
    not_asked: str | None = None,
    told_at: datetime | None = None,
) -> str:
    """Bring the dispute to what Stripe says in one `charge.dispute.*` event, in the
    caller's transaction: recorded when first seen, money booked once each way,
    closed once. A dispute whose card payment is not found is kept unmatched (with
    `dispute_object`, the event's Dispute made by Stripe `told_at`, and why:
    `not_asked`, Stripe's failure to name the charge's PaymentIntent) for billing
    staff and `match_disputes`.

    The lock order (`billing.services`): the dispute kept unmatched, if it was, then
    the dispute, its payment, the invoice. `match_disputes` starts from the kept
    dispute, so a webhook of the same dispute takes it first too (round 54: taken
    last, to mark it matched, it deadlocked with the match on PostgreSQL); and once
    its lock is granted, the dispute is read afresh, recorded by the match perhaps."""
    _locked_kept(session, seen.id)
    dispute = session.scalars(
        select(PaymentDispute).where(PaymentDispute.stripe_dispute_id == seen.id).with_for_update()
    ).one_or_none()
    if dispute is None:
        payment = _disputed_payment(session, seen)
        if payment is None and not_asked is None:
            why = _why_unmatched(seen)
            _drop_unmatched(session, seen.id, why, now, actor)
            return f"ignored: dispute {seen.id}: {why}"
        if payment is None:
            told = _Told(event_type, dispute_object, told_at)
            _keep_unmatched(session, told, seen, not_asked or "", now, actor)
            return f"not matched: dispute {seen.id}: {not_asked}; kept for billing staff"
        # The payment, then its invoice: the lock order (`billing.services`) a card
        # refund keeps too (round 53: the invoice first deadlocked with it).
        payment, invoice = _locked_payment(session, payment.id)
        dispute = _record(session, payment, seen, now=now, actor=actor)
        _matched(session, dispute, now, actor)
        done = [f"dispute {seen.id} recorded"]
    else:
        payment, invoice = _locked_payment(session, dispute.payment_id)
        done = [_update(session, dispute, seen, actor=actor)]
    if _withdrawn(event_type, seen) and dispute.reversal_id is None:
        done.append(_book_withdrawal(session, dispute, payment, invoice, seen, now, actor))
    if _reinstated(event_type, seen) and dispute.reversal_id and not dispute.reinstatement_id:
        done.append(_book_reinstatement(session, dispute, invoice, seen, now, actor))
    if dispute.state == OPEN and seen.status in _CLOSED:
        closed_at = _closed_at(told_at, dispute, now)
        done.append(_close(session, dispute, invoice, _CLOSED[seen.status], closed_at, actor))
    elif dispute.state == OPEN and done[0].endswith("recorded"):
        # Told once the money it moved is booked: the email gives the balance now.
        _tell_billing_staff(session, dispute, "opened")
    return "; ".join(part for part in done if part)


def _locked_kept(session: Session, stripe_dispute_id: str) -> UnmatchedDispute | None:
    """The dispute kept unmatched, row-locked (None: never kept), before anything
    else a dispute's step locks (`apply_dispute`)."""
    return session.scalars(
        select(UnmatchedDispute)
        .where(UnmatchedDispute.stripe_dispute_id == stripe_dispute_id)
        .with_for_update()
    ).one_or_none()


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


def _why_unmatched(seen: DisputeStatus) -> str:
    if seen.payment_intent is not None:
        return f"PaymentIntent {seen.payment_intent} is no card payment of this service"
    if seen.charge is None:
        return "the event names neither a charge nor a PaymentIntent"
    return f"no card payment of this service kept charge {seen.charge}"


@dataclass(frozen=True)
class _Told:
    """One event's Dispute as Stripe sent it, and when Stripe made the event."""

    event_type: str
    dispute_object: Mapping[str, Any]
    told_at: datetime | None


def _keep_unmatched(
    session: Session, told: _Told, seen: DisputeStatus, why: str, now: datetime, actor: Actor
) -> None:
    """Kept as Stripe last told it, so that matching it later applies what Stripe
    says now (an event older than the one kept changes only why and when it was
    seen); audited when first kept, and each time a later event changes its status
    (round 51: Stripe's status changed silently; an event that changes none, a
    replayed one among them, adds no event) or its amount or currency
    (`unmatched_dispute.amount_changed`, round 51, alike)."""
    kept = _locked_kept(session, seen.id)  # locked already, by `apply_dispute`
    kept_at = kept.told_at if kept is not None else None
    if kept is not None and kept_at and told.told_at and told.told_at < kept_at:
        kept.why, kept.last_seen_at = why[:300], now
        return
    status_before = kept.status if kept is not None else None
    money_before = _kept_money(kept) if kept is not None else None
    if kept is None:
        kept = UnmatchedDispute(stripe_dispute_id=seen.id, first_seen_at=now)
        session.add(kept)
    kept.dispute_object = json.dumps(dict(told.dispute_object), default=str)
    kept.event_type = told.event_type[:100]
    kept.told_at = told.told_at
    kept.stripe_charge_id = seen.charge
    kept.stripe_payment_intent_id = seen.payment_intent
    kept.status = seen.status
    kept.currency = seen.currency
    kept.amount = from_minor_units(seen.amount, seen.currency)
    kept.why = why[:300]
    kept.last_seen_at = now
    if kept.id is None:
        audit.record_new(
            session,
            kept,
            "unmatched_dispute.kept",
            after={
                "stripe_dispute_id": seen.id,
                "charge": seen.charge,
                "status": kept.status,
                **_kept_money(kept),
                "why": kept.why,
            },
            actor=actor,
        )
        return
    note = f"Stripe's {told.event_type} event of dispute {seen.id}."
    if status_before != kept.status:
        audit.record_event(
            session,
            "unmatched_dispute.status_changed",
            kept.id,
            before={"status": status_before},
            after={"status": kept.status},
            note=note,
            actor=actor,
        )
    money_after = _kept_money(kept)
    if money_before != money_after:
        audit.record_event(
            session,
            "unmatched_dispute.amount_changed",
            kept.id,
            before=money_before,
            after=money_after,
            note=note,
            actor=actor,
        )


def _kept_money(kept: UnmatchedDispute) -> dict[str, object]:
    """A kept dispute's amount and currency, as its audit events give them (round 51:
    a later event that changed them changed them silently)."""
    return {"amount": quantize(kept.amount, kept.currency), "currency": kept.currency}


def _drop_unmatched(
    session: Session, stripe_dispute_id: str, why: str, now: datetime, actor: Actor
) -> None:
    """A dispute kept while Stripe could not be asked, which Stripe now places
    outside this service: it stops waiting (and leaves billing staff's list)."""
    kept = _locked_kept(session, stripe_dispute_id)  # locked already, by `apply_dispute`
    if kept is None or kept.matched_at is not None:
        return
    before = {"why": kept.why}
    kept.matched_at, kept.last_seen_at = now, now
    kept.why = f"Not this service's: {why}"[:300]
    audit.record_event(
        session,
        "unmatched_dispute.dropped",
        kept.id,
        before=before,
        after={"why": kept.why},
        actor=actor,
    )


def _matched(session: Session, dispute: PaymentDispute, now: datetime, actor: Actor) -> None:
    """The dispute kept unmatched before, if it was, is matched now (its lock taken
    first, by `apply_dispute`)."""
    kept = _locked_kept(session, dispute.stripe_dispute_id)
    if kept is None or kept.matched_at is not None:
        return
    kept.matched_at = now
    kept.dispute_id = dispute.id
    audit.record_event(
        session,
        "unmatched_dispute.matched",
        kept.id,
        after={"dispute_id": dispute.id, "payment_id": dispute.payment_id},
        actor=actor,
    )


@dataclass(frozen=True)
class MatchRun:
    """What `match_disputes` did, a line for each dispute kept unmatched."""

    matched: list[str]
    dropped: list[str]  # Stripe placed them outside this service
    still: list[str]  # Stripe still could not be asked

    def summary(self) -> str:
        return (
            f"{len(self.matched)} disputes matched, {len(self.dropped)} dropped as not "
            f"this service's, {len(self.still)} still not matched"
        )


def match_disputes(
    gateway: payment_gateway.PaymentGateway | None, *, actor: Actor, now: datetime | None = None
) -> MatchRun:
    """Apply each dispute kept unmatched whose card payment is found now: by the
    charge a payment kept, or by the PaymentIntent Stripe names for the charge
    (asked again: it was unreachable). Each in its own transaction, as its latest
    event would have been. One Stripe places outside this service is dropped."""
    now = now or utcnow()
    with db.transaction() as session:
        waiting = list(
            session.scalars(
                select(UnmatchedDispute.id)
                .where(UnmatchedDispute.matched_at.is_(None))
                .order_by(UnmatchedDispute.id)
            )
        )
    run = MatchRun([], [], [])
    for kept_id in waiting:
        outcome = _match_one(gateway, kept_id, actor, now)
        if outcome.startswith("not matched"):
            run.still.append(outcome)
        elif outcome.startswith("ignored"):
            run.dropped.append(outcome)
        else:
            run.matched.append(outcome)
    return run


def _match_one(
    gateway: payment_gateway.PaymentGateway | None, kept_id: int, actor: Actor, now: datetime
) -> str:
    with db.transaction() as session:
        kept = session.get(UnmatchedDispute, kept_id)
        assert kept is not None
        event_type, stored, told_at = kept.event_type, kept.dispute_data, kept.told_at
    seen, not_asked = with_intent_of_charge(
        gateway, payment_gateway.dispute_status_from_event(stored)
    )

    def recorded() -> str:
        """Stripe's answer applied, in a unit of its own (round 61, payments61): run
        again alone after a deadlock or a serialization failure (`db.retried_unit`),
        Stripe not asked again (it was asked above, outside it). Until round 61 a lost
        row stopped the run, the disputes after it left to the next hourly run."""
        with db.transaction() as session:
            kept = session.get(UnmatchedDispute, kept_id, with_for_update=True)
            assert kept is not None
            if kept.matched_at is not None:  # a newer event matched it meanwhile
                return f"dispute {kept.stripe_dispute_id} recorded"
            return apply_dispute(
                session,
                event_type,
                seen,
                now=now,
                actor=actor,
                dispute_object=stored,
                not_asked=not_asked,
                told_at=told_at,
            )

    return db.retried_unit(recorded)


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
        # Stripe always sends `created`; an object without it is dated as received.
        disputed_at=seen.created_at or now,
    )
    # The payment's state says whether the dispute takes money off the invoice
    # (round 43: a flagged payment, or one being given back or given back, never counted).
    opened = {**_snapshot(dispute), "payment_state": payment.state}
    audit.record_new(session, dispute, "dispute.opened", after=opened, actor=actor)
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
        return f"nothing booked: {said_payment(session, payment)} is {payment.state}"
    withdrawn_on = office_date(not_after_now(seen.withdrawn_at, now))
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


def _reinstated_note(disputed: Payment) -> str:
    """The reinstatement's note names the disputed payment as its invoice's page
    shows it (its PaymentIntent and day paid), which the licensee can find there;
    "disputed payment 7" named a row id nobody outside the database sees."""
    paid = disputed.paid_date
    named = disputed.stripe_payment_intent_id or "the card payment"
    return f"Stripe reinstated the money the bank's dispute took from {named}" + (
        f" (paid {paid.isoformat()})." if paid else "."
    )


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
    reinstated_on = office_date(not_after_now(seen.reinstated_at, now))
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
        note=_reinstated_note(disputed),
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


def _closed_at(told_at: datetime | None, dispute: PaymentDispute, now: datetime) -> datetime:
    """When Stripe closed the dispute, as far as it says: the `created` of the first
    event applied that says it is closed (an event is made when its change happens),
    not when the event was applied here, which a late delivery or a match made the
    next morning by `match_disputes` puts later (round 26, as `disputed_at` in
    round 25). Never before the dispute itself, nor after now; an event without
    `created` is dated as applied."""
    return not_after_now(told_at, now, not_before=dispute.disputed_at)


def _close(
    session: Session,
    dispute: PaymentDispute,
    invoice: Invoice,
    action: str,
    closed_at: datetime,
    actor: Actor,
) -> str:
    """Won or lost, at `closed_at` (`_closed_at`). A dispute lost leaves the balance
    owed again, chased (reminders, late fees, standing) only from the invoice's
    payment terms after the office day of the close, as a newly issued invoice would
    be; its billing contact is told what is owed."""
    changes: dict[str, object] = {}
    # Owed again only if the dispute took money the invoice had counted (round 43): a
    # flagged payment, or one being given back or given back, never paid any of it.
    if action == "lose" and dispute.reversal_id is not None and invoice.balance_due > 0:
        dispute.owed_again_on = office_date(closed_at) + timedelta(days=invoice.payment_terms_days)
        changes["owed_again_on"] = dispute.owed_again_on.isoformat()
        _no_late_fee_before(invoice, dispute.owed_again_on)
    DISPUTE.apply(session, dispute, action, actor=actor, at=closed_at, changes=changes)
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


# Round 43: what a dispute of a payment that never counted against its invoice means,
# by the payment's state, for billing staff's email.
_UNCOUNTED = {
    FLAGGED: (
        "This payment is flagged (Stripe took an amount other than asked) and never "
        "counted against the invoice, so the dispute takes nothing off it. {follows}"
    ),
    GIVING_BACK: (
        "This payment is being given back: billing staff asked Stripe to refund it to "
        "the card on {asked}, and Stripe has not answered yet. It never counted against "
        "the invoice, so the dispute takes nothing off it. If Stripe refunds it too, the "
        "card is paid back twice: check the refund in Stripe's dashboard and send it as "
        "evidence that the cardholder was refunded."
    ),
    GIVEN_BACK: (
        "This payment was given back to the card (Stripe refunded it on {asked}) and "
        "never counted against the invoice, so the dispute takes nothing off it. Send "
        "the refund as evidence that the cardholder was refunded."
    ),
}


# Round 44: what follows for a flagged payment, by its dispute's state: accepting and
# giving back are refused while it is open and once it is lost (`Payment.dispute_hold`).
_FLAGGED_FOLLOWS = {
    OPEN: (
        "Accepting it and giving it back are refused while the dispute is open (its "
        "payment page says why): accepting would count money the bank may keep, and "
        "Stripe refuses to refund a disputed charge. Once the dispute is won, it is "
        "accepted or given back as before; lost, there is nothing left to accept or give "
        "back."
    ),
    WON: (
        "The dispute is won, so Stripe holds the money again: accept it or give it back "
        "from its payment page, as before it was disputed."
    ),
    LOST: (
        "The bank returned the money to the cardholder, so the payment can no longer be "
        "accepted (that would count money not held) nor given back: nothing more is done "
        "with it."
    ),
}


def _uncounted(payment: Payment, dispute: PaymentDispute) -> str | None:
    """Why a dispute of `payment` moves nothing on its invoice, if it never counted,
    and for a flagged one what billing staff may do with it now."""
    words = _UNCOUNTED.get(payment.state)
    if words is None:
        return None
    asked = payment.status_changed_at
    return words.format(
        asked=office_date(asked).isoformat() if asked else "a day not kept",
        follows=_FLAGGED_FOLLOWS.get(dispute.state, ""),
    )


def _tell_billing_staff(session: Session, dispute: PaymentDispute, what: str) -> None:
    """Billing staff answer a dispute in Stripe's dashboard, by its evidence due date."""
    invoice = session.get(Invoice, dispute.invoice_id)
    organization = session.get(Organization, dispute.organization_id)
    payment = session.get(Payment, dispute.payment_id)
    assert invoice is not None
    assert organization is not None
    assert payment is not None
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
            "uncounted": _uncounted(payment, dispute),
            "console_url": links().invoice_review(invoice.id),
            # The payment's page shows the dispute, its evidence due date and what
            # may be done about it; the invoice's after it (as the flagged payment's).
            "payment_url": links().payment_review(dispute.payment_id),
        },
    )
