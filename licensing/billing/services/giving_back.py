"""A flagged card payment given back (round 36): the money Stripe took and billing
staff did not accept goes back to the card, as a Stripe Refund of its charge.

Not a credit note's refund (`refunds.py`): a flagged payment never counted
against its invoice, so nothing is credited and the invoice is unchanged. The
payment moves `flagged` -> `giving_back` (`PAYMENT`'s `give_back`, round 42) when
billing staff ask here, before Stripe is called, and `giving_back` -> `given_back`
(`refund_at_stripe`) when Stripe answers (the request's answer, the `refund.*`
webhook, or `licensing payments reconcile`), or -> `flagged` again when it refuses
or the refund fails. A refund made in Stripe's dashboard gives a flagged payment
back directly (`charge.refunded`, `refund.updated`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import idempotency, payment_gateway
from licensing.billing.models import Invoice, Payment
from licensing.billing.services._common import (
    _card_gateway,
    _card_payer,
    _email_billing_contact,
    _email_payer,
    _locked_payment,
    _reason,
    said_payment,
)
from licensing.billing.services.card_payments import (
    RECONCILE_AFTER,
    ReconcileReport,
    _own_intent,
    _reconcile,
    notify_billing_staff,
)
from licensing.billing.services.settlement import GIVE_BACK_ASKED
from licensing.billing.states import CARD, FLAGGED, GIVEN_BACK, GIVING_BACK, PAYMENT
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict
from licensing.money import from_minor_units, in_words, quantize

# What Stripe's answer says of a Refund that is on its way or done.
_GOING_BACK = ("succeeded", "pending", "requires_action")


def idempotency_key(payment_id: int, failed_before: int = 0) -> str:
    """One key a payment's give-back attempt: two requests (a retry after a timeout,
    two clerks) ask Stripe for one Refund. A give-back Stripe reported failed is
    asked anew with a key of its own (round 37): the first key would have Stripe
    answer with the Refund that failed; and (round 47) one Stripe refused, or Stripe
    would answer the retry with its saved refusal for 24 hours. `failed_before` is
    the attempts that ended so (`attempts_ended`): the key's attempt number is one
    more (`give-back-<id>`, then `give-back-<id>-2`, ...)."""
    again = f"-{failed_before + 1}" if failed_before else ""
    return f"give-back-{payment_id}{again}"


# Round 47: a give-back refused by Stripe's own answer (`_record_refused`), as the
# refusal's audit event says (`after.refused_by`), so that the next give-back asks
# with a new key. Reconcile's refusal (by `system`: the request never reached
# Stripe, so its answer was lost, not a refusal) keeps the key, and Stripe, should
# it have received the request after all, replays its Refund rather than make a
# second one.
REFUSED_BY_STRIPE = "stripe"


def _refused_by_stripe(event: AuditEvent) -> bool:
    """Whether a `payment.give_back_refused` event is Stripe's answer (round 47 on:
    `refused_by`; before, the request's own actor, never `system`, whose refusal
    is reconcile's "never reached Stripe")."""
    after = event.after_data if isinstance(event.after_data, dict) else {}
    if "refused_by" in after:
        return bool(after["refused_by"] == REFUSED_BY_STRIPE)
    return event.actor != Actor.SYSTEM.name


def attempts_ended(session: Session, payment: Payment) -> int:
    """The give-backs of `payment` whose Stripe idempotency key may not be used
    again: Stripe reported its refund failed (in flight or after, round 39), or
    refused the request (round 47). A retry after a lost answer (reconcile found
    no refund: the request never reached Stripe) is none of them, and keeps its key."""
    refused = _all_of(session, payment, "payment.give_back_refused")
    return (
        _count_of(session, payment, "payment.give_back_failed")
        + _count_of(session, payment, FAILED_IN_FLIGHT)
        + sum(1 for event in refused if _refused_by_stripe(event))
    )


def give_back_flagged_payment(
    payment_id: int,
    *,
    note: str | None,
    now: datetime | None = None,
    actor: Actor,
    gateway: payment_gateway.PaymentGateway | None,
    claim: idempotency.Claim | None = None,
) -> Payment:
    """Billing staff give a flagged card payment's money back to the card, with why.

    Stripe is asked for a Refund of all that is left of the payment's charge (what
    it took, whatever the amount or currency), with an idempotency key of the
    payment's own, so a retry after a lost answer refunds once. Stripe's refusal
    moves it back to flagged (`StripeRefused`, 502 at the edges); its answer
    moves it to `given_back`, audited `payment.given_back` with the Stripe refund
    id and the amount, and the billing contact and the payer are emailed. The
    invoice is not touched: the payment never counted. Round 42: the ask moves it
    to `giving_back` first (audited `payment.give_back_asked`, committed before
    Stripe is called); an answer lost on the way leaves it there, every staff
    step refused, until the refund's webhook or `licensing payments reconcile`
    brings Stripe's answer in.

    With `claim` (the API request's `Idempotency-Key`, round 45), the key is stored
    first in the ask's transaction, and with it the payment as asked (`giving_back`),
    committed before Stripe is asked, as a card refund's (`refunds.refund_card`): a
    retry finds the key and is answered with that, never asking Stripe again. Until
    round 45 the keyed request ran in `run_once`'s one transaction, so Stripe was
    asked holding the payment's lock and the user's turn, and a failed call rolled
    the ask back. Stripe's refusal (nothing went back) gives the key back."""
    actor.require_role("billing")
    now = now or utcnow()
    gateway = _card_gateway(gateway)
    with db.transaction() as session:
        key_stored = idempotency.claim_in(session, claim) if claim is not None else None
        payment, invoice = _locked_payment(session, payment_id)
        reason = _reason(note)
        # Anything but flagged: 409, what it allows; a disputed charge: 409, why
        # (round 44: Stripe refuses to refund it while the dispute is open, and after
        # a dispute lost the bank already returned the money to the card).
        PAYMENT.step(payment.state, "give_back", hold=payment.dispute_hold)
        intent_id = payment.stripe_payment_intent_id
        if payment.method != CARD or intent_id is None:  # a flagged payment always has one
            raise Conflict(f"{payment.named(invoice.number)}, has no Stripe payment to give back.")
        # Every failure counts, the ones kept in flight too (round 39): the key that
        # asked for a failed refund would have Stripe answer with it again; and since
        # round 47 every refusal of Stripe's, which it would replay to the same key.
        key = idempotency_key(payment.id, attempts_ended(session, payment))
        metadata = {
            "payment_id": str(payment.id),
            "invoice_number": invoice.number or "",
            "given_back_by": actor.name[:500],
            "reason": reason[:500],
        }
        # Before Stripe is asked, outside this lock (round 39; with a key too since
        # round 45, its claim stored above rather than `run_once`'s): from now until
        # Stripe answers, the payment is `giving_back` (round 42), and an accept or
        # a second give-back is the state machine's 409, however long that takes.
        PAYMENT.apply(
            session,
            payment,
            "give_back",
            actor=actor,
            note=reason,
            at=now,
            changes={"stripe_idempotency_key": key},
        )
        if key_stored is not None:
            key_stored.started(payment_id=payment.id)
    try:
        status = gateway.create_refund(
            payment_intent_id=intent_id,
            amount_minor=None,
            metadata=metadata,
            idempotency_key=key,
        )
    except payment_gateway.StripeRefused as refused:
        _record_refused(payment_id, refused.detail, actor=actor, claim=claim)
        raise
    if status.status not in _GOING_BACK:
        # Stripe made the Refund, and it failed at once: a failure of its own (round
        # 42), so the next give-back asks with a new key (this one would have Stripe
        # answer with the failed Refund again).
        why = f"Stripe did not refund it: {status.failure_reason or status.status}."
        with db.transaction() as session:
            payment, _invoice = _locked_payment(session, payment_id)
            if payment.state == GIVING_BACK:
                _failed_while_asked(session, payment, status, now=now, actor=actor)
            if claim is not None:  # nothing went back: a retry with the key asks anew
                idempotency.release(session, claim)
        raise payment_gateway.StripeRefused(why)
    with db.transaction() as session:
        payment, invoice = _locked_payment(session, payment_id)
        if payment.state == GIVING_BACK:
            _give_back(session, payment, invoice, status, note=reason, actor=actor, now=now)
        # Else the webhook answered first (round 39's race, a state since round 42):
        # given back (the licensee told then), or flagged again, its refund having
        # failed meanwhile (`failed_meanwhile` says so; the licensee never told).
        return payment


def _record_refused(
    payment_id: int, why: str, *, actor: Actor, claim: idempotency.Claim | None
) -> None:
    """Stripe refused the give-back: the payment is flagged again (`refuse_give_back`,
    audited `payment.give_back_refused`), and may be accepted or given back; the
    request's key, if it came with one, is given back with it (round 45)."""
    with db.transaction() as session:
        payment, _invoice = _locked_payment(session, payment_id)
        if payment.state == GIVING_BACK:
            PAYMENT.apply(
                session,
                payment,
                "refuse_give_back",
                actor=actor,
                note=why,
                # Round 47: Stripe's refusal, so the next give-back asks with a new key.
                changes={"refused_by": REFUSED_BY_STRIPE},
            )
        if claim is not None:  # nothing went back: a retry with the key asks anew
            idempotency.release(session, claim)


def failed_meanwhile(payment: Payment) -> str | None:
    """What a give-back did when Stripe reported its refund failed before the
    request stored its answer (round 39; round 42: while it was `giving_back`): the
    payment is flagged again. None: it went."""
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
    they hear next depends on what staff decide). A failure while the give-back
    was in flight (`giving_back`, round 42: its last ask came after its last
    give-back) told nobody, and says so."""
    given = session.scalars(
        _events_of(payment, "payment.given_back").order_by(AuditEvent.seq.desc()).limit(1)
    ).one_or_none()
    asked = session.scalars(
        _events_of(payment, GIVE_BACK_ASKED).order_by(AuditEvent.seq.desc()).limit(1)
    ).one_or_none()
    organization = session.get(Organization, payment.organization_id)
    assert organization is not None
    if given is None or (asked is not None and asked.seq > given.seq):
        told = "The licensee was not told it was given back: nobody needs writing to."
    else:
        names, two = told_names(session, payment, organization)
        told = (
            f"Told on {office_date(given.occurred_at).isoformat()} that it went back to the "
            f"card: {names}. Write to {'them' if two else 'the billing contact'}: "
            "the money will not reach the card."
        )
    notify_billing_staff(session, payment, why, told=told)


@PAYMENT.on("refuse_give_back")
def _tell_staff_stripe_never_refunded(
    session: Session, payment: Payment, actor: Actor, why: str | None
) -> None:
    """Round 42: reconcile found that a give-back whose answer was lost never made a
    refund at Stripe, and flagged the payment again: billing staff are told it waits
    for them again (a clerk refused by Stripe at once read it on the page)."""
    if actor.is_system:
        notify_billing_staff(
            session,
            payment,
            why,
            told="The licensee was not told it was given back: nobody needs writing to.",
        )


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
) -> None:
    """Step the payment to `given_back` for Stripe's refund `status` (from flagged,
    or from `giving_back`: Stripe's answer to our ask), and tell the billing contact
    and the payer."""
    given = from_minor_units(status.amount, status.currency)
    PAYMENT.apply(
        session,
        payment,
        "refund_at_stripe",
        actor=actor,
        note=note,
        at=now,
        changes={
            "stripe_refund_id": status.id,
            "amount_given_back": quantize(given, status.currency),
            "currency_given_back": status.currency,
        },
    )
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
    may accept the rest, or give it back). A payment being given back (round 42)
    is given back by its ask's refund going through, and flagged again by its
    failing. None: not about a flagged payment."""
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
    if payment.state not in (FLAGGED, GIVING_BACK):
        return None
    # Round 57: as the pages name it ("payment 12" before).
    said = said_payment(session, payment)
    which = f"flagged {said}" if payment.state == FLAGGED else f"{said} being given back"
    if (
        status.status in _CAME_BACK
        and payment.state == GIVING_BACK
        and _asked(session, payment, status)
    ):
        return _failed_while_asked(session, payment, status, now=now, actor=actor)
    if status.status not in _GOING_BACK:
        return f"no change: refund {status.id} of {which} is {status.status}"
    received = payment.amount_received or 0
    partial = (
        status.currency == payment.currency
        and received > 0
        and from_minor_units(status.amount, status.currency) < received
    )
    if partial:
        return (
            f"no change: refund {status.id} gives back part of {which}; "
            f"it stays {PAYMENT.state_text(payment.state)}"
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
    return f"given back: {said}"


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
        return f"no change: {said_payment(session, payment)} is given back already"
    if status.id != _given_back_by(session, payment):
        return (
            f"no change: refund {status.id} is {status.status}; "
            f"{said_payment(session, payment)} was given back by another"
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
    return f"flagged again: {said_payment(session, payment)}, its give-back {status.status}"


# Round 39: a failure Stripe reported for a give-back not stored yet, kept as an
# audit event of its own until round 42 made the give-back in flight a state. Still
# counted for the idempotency key: the key that asked for it would get it again.
FAILED_IN_FLIGHT = "payment.give_back_failed_in_flight"


def _answered_refunds(session: Session, payment: Payment) -> set[str]:
    """The Stripe refunds of earlier give-backs of `payment`: stored given back, or
    reported failed (in flight or after)."""
    answered = (
        _all_of(session, payment, "payment.given_back")
        + _all_of(session, payment, "payment.give_back_failed")
        + _all_of(session, payment, FAILED_IN_FLIGHT)
    )
    return {refund for event in answered if (refund := _refund_of(event))}


def _asked(session: Session, payment: Payment, status: payment_gateway.RefundStatus) -> bool:
    """Whether `status` is the refund of the give-back `payment` is waiting for
    (`giving_back`): this service's own (its metadata names the payment), and not
    one that an earlier give-back already answered."""
    if status.metadata.get("payment_id") != str(payment.id):
        return False
    return status.id not in _answered_refunds(session, payment)


def _failed_while_asked(
    session: Session,
    payment: Payment,
    status: payment_gateway.RefundStatus,
    *,
    now: datetime,
    actor: Actor,
) -> str:
    """Stripe reports the refund of the give-back in flight failed or canceled (its
    webhook came before the request's answer, or reconcile asked): the money is with
    us, so the payment is flagged again (`fail_give_back` from `giving_back`,
    audited `payment.give_back_failed` with the refund and Stripe's reason; billing
    staff told, the licensee not, for nobody told them it went back)."""
    why = status.failure_reason or status.status
    PAYMENT.apply(
        session,
        payment,
        "fail_give_back",
        actor=actor,
        note=(
            f"Stripe could not give it back: refund {status.id} {status.status} ({why}) "
            "before the give-back was stored. The money is with us: accept it, or give it back."
        ),
        at=now,
        changes={"stripe_refund_id": status.id, "failure_reason": why},
    )
    return (
        f"flagged again: {said_payment(session, payment)}, its give-back {status.status} in flight"
    )


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
    at = now or utcnow()
    gateway = _card_gateway(gateway)

    def record(
        session: Session, _payment: Payment, refunds: list[payment_gateway.RefundStatus]
    ) -> str:
        said = [
            apply_refund_at_stripe(session, status, now=at, actor=Actor.SYSTEM)
            for status in refunds
        ]
        given = next((s for s in said if s and s.startswith("given back")), None)
        return given or next((s for s in said if s), "no change: Stripe lists no refund of it")

    report = ReconcileReport(subject="flagged card payment(s)", applied_when=("given back",))
    flagged = (Payment.state == FLAGGED) & Payment.stripe_payment_intent_id.is_not(None)
    _reconcile(
        report,
        Payment,
        flagged,
        _own_intent,
        gateway.list_refunds,
        record,
        before=at - older_than,
        limit=limit,
    )
    return report


# Round 42: how long a give-back waits in `giving_back` before reconcile asks Stripe
# for its answer: past the request's own seconds (its answer is normally stored
# within them), short enough that staff do not wait long for a lost one.
GIVING_BACK_ASK_AFTER = timedelta(minutes=5)


def reconcile_giving_back(
    *,
    gateway: payment_gateway.PaymentGateway | None,
    now: datetime | None = None,
    older_than: timedelta = GIVING_BACK_ASK_AFTER,
    limit: int = 200,
) -> ReconcileReport:
    """Card payments being given back (round 42) whose give-back was asked more than
    `older_than` ago and whose answer never came (lost on its way, the webhook
    not sent): Stripe is asked for the refunds of each one's PaymentIntent, and
    the state is settled either way: the ask's refund going back gives it back
    (the licensee told, as the answer would have), failed or canceled flags it
    again (staff told); no refund of the ask at all means the request never
    reached Stripe, so it is flagged again (`refuse_give_back`), to be accepted
    or given back anew (the same idempotency key: Stripe makes the refund once).
    No time limit: a payment stays `giving_back` until this or a webhook settles it.
    Claimed as the other reconciles are, so several hosts may run it at once."""
    at = now or utcnow()
    gateway = _card_gateway(gateway)

    def record(
        session: Session, payment: Payment, refunds: list[payment_gateway.RefundStatus]
    ) -> str:
        asked = [status for status in refunds if _asked(session, payment, status)]
        for status in asked or refunds:
            said = apply_refund_at_stripe(session, status, now=at, actor=Actor.SYSTEM)
            if said and not said.startswith("no change"):
                return said
        if asked:
            return (
                f"no change: {said_payment(session, payment)} is being given back, "
                "Stripe not done yet"
            )
        PAYMENT.apply(
            session,
            payment,
            "refuse_give_back",
            actor=Actor.SYSTEM,
            at=at,
            note=(
                "Stripe has no refund from this give-back: its request never reached "
                "Stripe. The money is with us: accept it, or give it back."
            ),
            # Round 47: an answer lost, not Stripe's refusal: the next give-back asks
            # with the same key, so Stripe replays a Refund it made after all.
            changes={"refused_by": "never_reached_stripe"},
        )
        return (
            f"flagged again: {said_payment(session, payment)}, Stripe never made its "
            "give-back's refund"
        )

    report = ReconcileReport(
        subject="card payment(s) being given back",
        applied_when=("given back", "flagged again"),
        failed_when=(),
    )
    giving_back = (
        (Payment.state == GIVING_BACK)
        & Payment.stripe_payment_intent_id.is_not(None)
        & (Payment.status_changed_at <= at - older_than)
    )
    _reconcile(
        report,
        Payment,
        giving_back,
        _own_intent,
        gateway.list_refunds,
        record,
        before=at - older_than,
        limit=limit,
    )
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
    at = now or utcnow()
    gateway = _card_gateway(gateway)

    def record(
        session: Session, payment: Payment, refunds: list[payment_gateway.RefundStatus]
    ) -> str:
        given_by = _given_back_by(session, payment)
        for status in refunds:
            if status.id == given_by:
                said = apply_refund_at_stripe(session, status, now=at, actor=Actor.SYSTEM)
                return said or (
                    f"no change: {said_payment(session, payment)} is given back already"
                )
        return f"no change: Stripe lists no refund {given_by} of it"

    report = ReconcileReport(
        subject="given-back card payment(s)",
        applied_when=("flagged again",),
        failed_when=(),
    )
    given_back = (
        (Payment.state == GIVEN_BACK)
        & Payment.stripe_payment_intent_id.is_not(None)
        & (Payment.status_changed_at >= at - within)
        & (Payment.status_changed_at <= at - older_than)
    )
    _reconcile(
        report,
        Payment,
        given_back,
        _own_intent,
        gateway.list_refunds,
        record,
        before=at - older_than,
        limit=limit,
    )
    return report
