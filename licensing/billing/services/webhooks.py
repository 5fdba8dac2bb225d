"""Stripe webhooks: verified, stored once, applied."""

from __future__ import annotations

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

HANDLED_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})


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
    secret is configured."""
    now = now or utcnow()
    if gateway is None:
        raise payment_gateway.SignatureError("Stripe webhooks are not configured")
    event = gateway.verify_webhook(payload, signature)
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
                return WebhookResult(event.id, "duplicate", duplicate=True)
    return WebhookResult(event.id, "duplicate", duplicate=True)


def _stored(event_id: str) -> bool:
    with db.transaction() as session:
        found = session.scalars(select(StripeEvent.id).where(StripeEvent.event_id == event_id))
        return found.one_or_none() is not None


@dataclass
class _Applying:
    """One event applied in its own transaction: stored once by id, then applied."""

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
            if session.scalars(
                select(StripeEvent.id).where(StripeEvent.event_id == event.id)  # unique
            ).one_or_none():
                return WebhookResult(event.id, "duplicate", duplicate=True)
            stored = StripeEvent(
                event_id=event.id,
                event_type=event.type[:100],
                payment_intent_id=self.intent_id,
                outcome="received",
                received_at=now,
            )
            session.add(stored)
            session.flush()  # the unique event id: a concurrent replay fails here
            if self.intent is not None:
                outcome = apply_intent_outcome(session, self.intent, now=now, actor=Actor.SYSTEM)
            elif event.type in REFUND_EVENTS:
                outcome = apply_refund_outcomes(
                    session, self.refunds, now=now, actor=Actor.SYSTEM, told_at=self.refunds_told_at
                ) or ("ignored: no refund in the event")
            elif self.dispute is not None:
                outcome = apply_dispute(
                    session,
                    event.type,
                    self.dispute,
                    now=now,
                    actor=Actor.SYSTEM,
                    dispute_object=event.data_object,
                    not_asked=self.not_asked,
                    told_at=event.created,
                )
            else:
                outcome = "ignored: event type not handled"
            stored.outcome = outcome[:200]
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
