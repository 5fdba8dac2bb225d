"""Stripe webhooks: verified, stored once, applied."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from licensing import db
from licensing.actors import Actor
from licensing.billing import payment_gateway
from licensing.billing.models import StripeEvent
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
from licensing.db import utcnow
from licensing.errors import DomainError

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
    event = gateway.verify_webhook(payload, signature)
    try:
        return _handle(event, gateway, now)
    except Exception as error:
        _failed(event, error, now)
        raise


def _handle(
    event: payment_gateway.WebhookEvent,
    gateway: payment_gateway.PaymentGateway,
    now: datetime,
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
    apply = _Applying(event, intent_id, intent, refunds, refunds_told_at, dispute, not_asked, now)
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


def _failed(event: payment_gateway.WebhookEvent, error: BaseException, now: datetime) -> None:
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
            elif stored.kind != "failed":
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

    def __call__(self) -> WebhookResult:
        event, now = self.event, self.now
        with db.transaction() as session:
            stored = session.scalars(
                select(StripeEvent)
                .where(StripeEvent.event_id == event.id)  # unique
                .with_for_update()
            ).one_or_none()
            if stored is not None and stored.kind != "failed":
                _delivered_again(stored, now)
                return WebhookResult(event.id, "duplicate", duplicate=True)
            if stored is None:
                stored = StripeEvent(event_id=event.id, received_at=now)
                session.add(stored)
            else:
                _delivered_again(stored, now)
            stored.event_type = event.type[:100]
            stored.payment_intent_id = self.intent_id
            stored.object_id = _object_id(event)
            stored.said("received")
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
            stored.said(outcome)  # whole (round 58: it was cut at 200 characters)
            return WebhookResult(event.id, outcome)


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
