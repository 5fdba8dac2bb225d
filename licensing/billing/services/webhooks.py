"""Stripe webhooks: verified, stored once, applied."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import db, limits
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing import payment_gateway
from licensing.billing.models import (
    UNREADABLE_ACTION,
    UNREADABLE_LOOKED_AT_ACTION,
    StripeEvent,
    stripe_event_kind,
)
from licensing.billing.services._common import (
    DELIVERY_NOTE_REQUIRED,
    _looked_at_note,
    check_looked_at,
    mark_kept_looked_at,
)
from licensing.billing.services.card_payments import apply_intent_outcome
from licensing.billing.services.disputes import (
    DISPUTE_EVENTS,
    apply_dispute,
    with_intent_of_charge,
)
from licensing.billing.services.refunds import (
    REFUND_EVENTS,
    _refund_statuses,
    apply_refund_outcomes,
)
from licensing.billing.states import (
    APPLY_AGAIN_ACTIONS,
    DELIVERY_LOOKED_AT,
    DELIVERY_NOT_LOOKED_AT,
    STRIPE_DELIVERY,
    STRIPE_EVENT,
    STRIPE_FAILED,
    STRIPE_LOOKED_AT,
)
from licensing.db import utcnow
from licensing.errors import (
    DomainError,
    ExternalServiceError,
    IllegalTransition,
    InvalidInput,
    NotFound,
)

log = logging.getLogger(__name__)

HANDLED_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})
# Every type of event the webhook applies (the others are stored and ignored): the
# console's list of every event filters by them (round 58).
EVENT_TYPES_APPLIED = HANDLED_EVENTS | REFUND_EVENTS | DISPUTE_EVENTS


@dataclass
class WebhookResult:
    event_id: str
    outcome: str
    duplicate: bool = False


def handle_stripe_webhook(
    payload: bytes,
    signature: str | None,
    *,
    gateway: payment_gateway.PaymentGateway | None,
    now: datetime | None = None,
) -> WebhookResult:
    """Verify, store once, apply. `SignatureError` for a forged or stale signature,
    or when `gateway` (`gateways.webhook_gateway(config)`) is None: no webhook
    secret is configured. An event verified that cannot be applied (its object not
    what its type says, Stripe unreachable, a refusal) is stored as failed, saying
    why, and the error raised as before (round 58): billing staff see it listed, and
    Stripe's next delivery of it is applied afresh."""
    now = now or utcnow()
    if gateway is None:
        raise payment_gateway.SignatureError("Stripe webhooks are not configured")
    try:
        event = gateway.verify_webhook(payload, signature)
    except payment_gateway.MalformedEvent as unread:
        _unreadable(payload, unread)
        raise
    try:
        return _handle(event, gateway, now)
    except Exception as error:
        _failed(event, error, now)
        raise


# A signed delivery the service could not read (not JSON, or no event id, type or
# object: nothing to key a stored event by) is answered 400 as before, and recorded in
# the audit log (round 59, stripeevents59): one event a delivery, its record the SHA-256
# of the body, so that Stripe's redeliveries of one body are counted together, with its
# size, why it was not read and its first characters (never more than
# `UNREADABLE_SHOWN`: a body is never stored whole). Only a body whose signature
# verified is recorded: a forged one is refused unrecorded, as before.
UNREADABLE_SHOWN = 300


def unreadable_start(payload: bytes) -> str:
    """The first `UNREADABLE_SHOWN` characters of a body, as staff read them: decoded as
    UTF-8 (a byte that is none as U+FFFD), spaces and line breaks squeezed to one space,
    a NUL (which no database stores) as U+FFFD, and "…" where it was cut."""
    text = payload[: UNREADABLE_SHOWN * 4].decode("utf-8", "replace")
    text = limits.storable(" ".join(text.split()))
    return text if len(text) <= UNREADABLE_SHOWN else text[: UNREADABLE_SHOWN - 1] + "…"


def _unreadable(payload: bytes, error: payment_gateway.MalformedEvent) -> None:
    """Record a signed delivery the service could not read (`UNREADABLE_ACTION`), in a
    transaction of its own. Failing to (the database unreachable) is logged, never
    raised over the 400 the delivery is answered."""
    try:
        with db.transaction() as session:
            audit.record_event(
                session,
                UNREADABLE_ACTION,
                hashlib.sha256(payload).hexdigest(),
                after={
                    "bytes": len(payload),
                    "start": unreadable_start(payload),
                    "why": limits.storable(str(error))[:UNREADABLE_SHOWN],
                },
                actor=Actor.SYSTEM,
                note="signed by Stripe and answered 400: stored as no event",
            )
    except Exception:  # the 400 is what Stripe is answered
        log.exception("could not record an unreadable Stripe delivery")


def _handle(
    event: payment_gateway.WebhookEvent,
    gateway: payment_gateway.PaymentGateway,
    now: datetime,
    actor: Actor | None = None,
) -> WebhookResult:
    intent_id = (
        str(event.data_object.get("id", "")) if event.type.startswith("payment_intent.") else None
    )
    intent: payment_gateway.IntentStatus | None = None
    if event.type in HANDLED_EVENTS:  # before the transaction: it may ask Stripe
        intent = _with_card(gateway, payment_gateway.intent_status_from_event(event.data_object))
    refunds: list[payment_gateway.RefundStatus] = []
    refunds_told_at: datetime | None = None
    if event.type in REFUND_EVENTS:  # before the transaction: it may ask Stripe
        refunds, refunds_told_at = _refund_statuses(gateway, event)
        carried = event.data_object.get("payment_intent")
        intent_id = carried if isinstance(carried, str) else None
    dispute: payment_gateway.DisputeStatus | None = None
    not_asked: str | None = None
    if event.type in DISPUTE_EVENTS:  # before the transaction: it may ask Stripe
        seen = payment_gateway.dispute_status_from_event(event.data_object)
        dispute, not_asked = with_intent_of_charge(gateway, seen)
        intent_id = dispute.payment_intent
    apply = _Applying(
        event, intent_id, intent, refunds, refunds_told_at, dispute, not_asked, now, actor
    )
    for _ in range(2):
        try:
            return apply()
        except IntegrityError:
            # A concurrent replay stored the event first; or two events about one
            # new dispute recorded it at once, and this one must be applied again.
            if dispute is None or _stored(event.id):
                return _replayed(event.id, now)
    return _replayed(event.id, now)


def _stored(event_id: str) -> bool:
    with db.transaction() as session:
        found = session.scalars(select(StripeEvent.id).where(StripeEvent.event_id == event_id))
        return found.one_or_none() is not None


def _replayed(event_id: str, now: datetime) -> WebhookResult:
    """A delivery of an event stored by a concurrent one: acknowledged, and counted."""
    with db.transaction() as session:
        stored = session.scalars(
            select(StripeEvent).where(StripeEvent.event_id == event_id).with_for_update()
        ).one_or_none()
        if stored is not None:
            _delivered_again(stored, now)
    return WebhookResult(event_id, "duplicate", duplicate=True)


def _delivered_again(stored: StripeEvent, now: datetime) -> None:
    stored.deliveries = (stored.deliveries or 1) + 1
    stored.last_received_at = now


def _object_id(event: payment_gateway.WebhookEvent) -> str | None:
    """The Stripe id of the event's object (a refund event's refund: `re_...`)."""
    found = event.data_object.get("id")
    return found[:255] if isinstance(found, str) and found else None


def _failure_words(error: BaseException) -> str:
    """Why an event was not applied, as its stored outcome says it (round 58)."""
    if isinstance(error, payment_gateway.MalformedEvent):
        return f"the event is not what its type says: {error}"
    if isinstance(error, DomainError):
        return error.detail
    return f"an error in the service ({type(error).__name__}); the service's log has it"


def _failed(
    event: payment_gateway.WebhookEvent,
    error: BaseException,
    now: datetime,
    actor: Actor | None = None,
) -> None:
    """Store the event as failed, with why, in a transaction of its own (the one that
    applied it rolled back): a new one, or one that failed before delivered again. An
    event stored meanwhile by another delivery that applied it is left as it is.
    Storing it failing too (the database unreachable) is logged, never raised over
    the error that failed it."""
    why = _failure_words(error).rstrip(". ")
    outcome = (
        f"failed: {why}. Nothing was applied; Stripe sends it again, and its next delivery "
        "is applied afresh"
    )
    try:
        with db.transaction() as session:
            stored = session.scalars(
                select(StripeEvent).where(StripeEvent.event_id == event.id).with_for_update()
            ).one_or_none()
            if stored is None:
                stored = StripeEvent(
                    event_id=event.id,
                    event_type=event.type[:100],
                    payment_intent_id=_intent_of(event),
                    object_id=_object_id(event),
                    received_at=now,
                )
                session.add(stored)
            elif actor is not None and stored.kind in (STRIPE_FAILED, STRIPE_LOOKED_AT):
                # Applied again from the console, and failed again (round 58, replay58):
                # the new reason replaces the old, audited as the machine's step.
                _delivered_again(stored, now)
                _stepped_from_console(session, stored, outcome, actor, now)
                return
            elif stored.kind != STRIPE_FAILED:
                return
            else:
                _delivered_again(stored, now)
            stored.said(outcome)
    except Exception:  # the error that failed the event is the one raised
        log.exception("could not store Stripe event %s as failed", event.id)


def _intent_of(event: payment_gateway.WebhookEvent) -> str | None:
    """The PaymentIntent an event names, as far as its object says (a failed event's)."""
    data = event.data_object
    found = data.get("id") if event.type.startswith("payment_intent.") else None
    found = found or data.get("payment_intent")
    return found[:255] if isinstance(found, str) and found else None


@dataclass
class _Applying:
    """One event applied in its own transaction: stored once by id, then applied. An
    event stored as failed is applied again (round 58), in its own row."""

    event: payment_gateway.WebhookEvent
    intent_id: str | None
    intent: payment_gateway.IntentStatus | None
    refunds: list[payment_gateway.RefundStatus]
    refunds_told_at: datetime | None  # when Stripe said what `refunds` carry (round 56)
    dispute: payment_gateway.DisputeStatus | None
    not_asked: str | None  # why Stripe did not name the disputed charge's PaymentIntent
    now: datetime
    # Billing staff applying a failed (or looked-at) event again from the console
    # (round 58, replay58): its step is the state machine's, audited; None for Stripe's
    # delivery, which applies a failed event again as before.
    actor: Actor | None = None

    def __call__(self) -> WebhookResult:
        event, now, actor = self.event, self.now, self.actor
        with db.transaction() as session:
            stored = session.scalars(
                select(StripeEvent)
                .where(StripeEvent.event_id == event.id)  # unique
                .with_for_update()
            ).one_or_none()
            if actor is not None:
                if stored is None:
                    raise NotFound(f"No Stripe event {event.id} is stored.")
                # Applied (or looked at) meanwhile by another: the machine's 409 says so.
                STRIPE_EVENT.step(stored.kind, "apply_again")
            if stored is not None and stored.kind != STRIPE_FAILED and actor is None:
                _delivered_again(stored, now)
                return WebhookResult(event.id, "duplicate", duplicate=True)
            if stored is None:
                stored = StripeEvent(event_id=event.id, received_at=now)
                session.add(stored)
                stored.said("received")
            else:
                _delivered_again(stored, now)
            stored.event_type = event.type[:100]
            stored.payment_intent_id = self.intent_id
            stored.object_id = _object_id(event)
            session.flush()  # the unique event id: a concurrent replay fails here
            if self.intent is not None:
                outcome = apply_intent_outcome(session, self.intent, now=now, actor=Actor.SYSTEM)
            elif event.type in REFUND_EVENTS:
                outcome = apply_refund_outcomes(
                    session, self.refunds, now=now, actor=Actor.SYSTEM, told_at=self.refunds_told_at
                ) or ("ignored: no refund in the event")
            elif self.dispute is not None:
                outcome = (
                    apply_dispute(
                        session,
                        event.type,
                        self.dispute,
                        now=now,
                        actor=Actor.SYSTEM,
                        dispute_object=event.data_object,
                        not_asked=self.not_asked,
                        told_at=event.created,
                    )
                    or f"no change: dispute {self.dispute.id} is as recorded already"
                )
            else:
                outcome = "ignored: event type not handled"
            if actor is None:
                stored.said(outcome)  # whole (round 58: it was cut at 200 characters)
            else:
                _stepped_from_console(session, stored, outcome, actor, now)
            return WebhookResult(event.id, outcome)


def _stepped_from_console(
    session: Session, stored: StripeEvent, outcome: str, actor: Actor, now: datetime
) -> None:
    """An event applied again by billing staff: `outcome` stored, and the state machine's
    step to its kind taken (`APPLY_AGAIN_ACTIONS`: `fail_again` for a failure), audited
    with the outcome and the deliveries counted."""
    stored.tell(outcome)
    STRIPE_EVENT.apply(
        session,
        stored,
        APPLY_AGAIN_ACTIONS[stripe_event_kind(outcome)],
        actor=actor,
        note=_APPLIED_FROM_CONSOLE,
        changes={"outcome": stored.outcome, "deliveries": stored.deliveries},
        at=now,
    )


# The audit note of an event applied again by billing staff.
_APPLIED_FROM_CONSOLE = "fetched from Stripe and applied again from the console"


def _stored_event(session: Session, event_row_id: int) -> StripeEvent:
    stored = session.get(StripeEvent, event_row_id)
    if stored is None:
        raise NotFound(f"There is no Stripe event {event_row_id}.")
    return stored


def check_apply_again(event_row_id: int, *, actor: Actor) -> StripeEvent:
    """Billing staff: the stored event `apply_stripe_event_again` would apply, refused
    as it refuses before asking Stripe (its state, 409), writing nothing."""
    actor.require_role("billing")
    session = db.session()
    stored = _stored_event(session, event_row_id)
    session.refresh(stored)
    STRIPE_EVENT.step(stored.kind, "apply_again")
    return stored


def apply_stripe_event_again(
    event_row_id: int,
    *,
    gateway: payment_gateway.PaymentGateway | None,
    actor: Actor,
    now: datetime | None = None,
) -> WebhookResult:
    """Billing staff: an event stored `failed` (or marked looked at) fetched from Stripe
    (`GET /v1/events/{id}`) and applied as Stripe's delivery of it would be, by the same
    rules, idempotently (round 58, replay58: one Stripe stopped sending stayed failed for
    good). The outcome replaces the failure and the delivery is counted; the step is the
    state machine's (`STRIPE_EVENT`: `apply_again`, by the kind of its outcome), audited.

    Refused (409) for an event in any other state, before Stripe is asked and again
    under the row's lock; Stripe not configured, unreachable or without the event
    (it keeps events 30 days) is an `ExternalServiceError` (502), nothing changed.
    Applying it failing again stores the new reason (`fail_again`, audited) and raises
    the error, as a delivery does."""
    now = now or utcnow()
    stored = check_apply_again(event_row_id, actor=actor)
    event_id = stored.event_id
    if gateway is None:
        raise ExternalServiceError(
            "Stripe is not configured on this host (STRIPE_SECRET_KEY), so the event cannot "
            "be fetched from it to apply again. Nothing was changed."
        )
    try:
        event = gateway.retrieve_event(event_id)
    except payment_gateway.StripeRefused as refused:
        raise ExternalServiceError(
            f"Stripe did not give event {event_id}: {refused.detail} (Stripe keeps events for "
            "30 days). Nothing was changed: mark it looked at, saying what was done instead."
        ) from None
    except payment_gateway.MalformedEvent as malformed:
        raise ExternalServiceError(
            f"Stripe's answer for event {event_id} is not an event: {malformed}. Nothing was "
            "changed."
        ) from None
    if event.id != event_id:
        raise ExternalServiceError(
            f"Stripe answered event {event.id} when asked for {event_id}. Nothing was changed."
        )
    try:
        return _handle(event, gateway, now, actor=actor)
    except (NotFound, IllegalTransition):
        raise  # the step refused (applied or looked at meanwhile): nothing of the event's
    except Exception as error:
        _failed(event, error, now, actor=actor)
        raise


def mark_stripe_event_looked_at(
    event_row_id: int, *, note: str | None, actor: Actor, now: datetime | None = None
) -> StripeEvent:
    """Billing staff: a failed event marked looked at, with a `note` saying what was done
    instead (required): it leaves the console home's count of failed events, and the
    list shows the note (round 58, replay58). The state machine's `mark_looked_at`,
    audited with the note; 409 for an event not failed, 422 without a note."""
    actor.require_role("billing")
    now = now or utcnow()
    clean = _looked_at_note(note)
    with db.transaction() as session:
        stored = session.scalars(
            select(StripeEvent).where(StripeEvent.id == event_row_id).with_for_update()
        ).one_or_none()
        if stored is None:
            raise NotFound(f"There is no Stripe event {event_row_id}.")
        STRIPE_EVENT.step(stored.kind, "mark_looked_at")
        if isinstance(clean, InvalidInput):
            raise clean
        stored.looked_at_note = clean
        stored.looked_at_by = actor.name[:255]
        stored.looked_at_by_id = actor.user_id
        STRIPE_EVENT.apply(session, stored, "mark_looked_at", actor=actor, note=clean, at=now)
        return stored


@dataclass
class UnreadBody:
    """A body Stripe delivered signed that the service could not read, as the state
    machine steps it (`STRIPE_DELIVERY`): its record is the body's SHA-256, its state
    read from the audit log (round 60, stripe60)."""

    id: str
    state: str


def unread_body(session: Session, digest: str, *, lock: bool = False) -> UnreadBody:
    """The body `digest` of a delivery not read, looked at or not; `NotFound` when no
    delivery had it. `lock`: its newest delivery's audit event is locked, so two clerks
    marking one body take turns and the second is refused (`ix_audit_events_entity`)."""
    newest = (
        select(AuditEvent.id)
        .where(
            AuditEvent.entity_type == "stripe_delivery",
            AuditEvent.entity_id == digest,
            AuditEvent.action == UNREADABLE_ACTION,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    if session.scalar(newest.with_for_update() if lock else newest) is None:
        raise NotFound(f"No delivery from Stripe that could not be read has the digest {digest}.")
    marked = session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.entity_type == "stripe_delivery",
            AuditEvent.entity_id == digest,
            AuditEvent.action == UNREADABLE_LOOKED_AT_ACTION,
        )
        .limit(1)
    )
    return UnreadBody(digest, DELIVERY_NOT_LOOKED_AT if marked is None else DELIVERY_LOOKED_AT)


def check_mark_delivery(digest: str, *, actor: Actor) -> UnreadBody:
    """Billing staff: the body `mark_delivery_looked_at` would mark, refused as it refuses
    (404, or 409 for one looked at already), writing nothing."""
    return check_looked_at(STRIPE_DELIVERY, lambda session: unread_body(session, digest), actor)


def mark_delivery_looked_at(
    digest: str, *, note: str | None, actor: Actor, now: datetime | None = None
) -> UnreadBody:
    """Billing staff: a signed delivery the service could not read marked looked at, by
    its body (`digest`, its SHA-256), with a note saying what was done about it
    (required, as a failed event's, round 58): every delivery of the body, those Stripe
    sends after too, is then looked at, and no longer counted on *Stripe's events*
    (round 60, stripe60). The machine's `mark_looked_at`, audited
    `stripe_delivery.marked_looked_at` on the body's record with the note, the clerk as
    actor; 404 for a body no delivery had, 409 for one looked at already, 422 without a
    note."""
    return mark_kept_looked_at(
        STRIPE_DELIVERY,
        lambda session: unread_body(session, digest, lock=True),
        note=note,
        required=DELIVERY_NOTE_REQUIRED,
        actor=actor,
        now=now,
    )


def _with_card(
    gateway: payment_gateway.PaymentGateway, intent: payment_gateway.IntentStatus
) -> payment_gateway.IntentStatus:
    """The event's intent with the card it was charged on. An event carries its
    latest charge as an id, so one of this service's intents that was charged
    is asked for; the event's own status stays what is applied. Not learning
    the card (Stripe unreachable, keys absent on this host) fails nothing."""
    charged = intent.status in ("succeeded", "requires_payment_method", "processing")
    if intent.card is not None or not charged or "payment_id" not in intent.metadata:
        return intent
    try:
        card = gateway.retrieve_payment_intent(intent.id).card
    except DomainError:
        return intent
    return replace(intent, card=card)
