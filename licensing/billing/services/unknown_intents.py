"""PaymentIntents Stripe does not know (round 61, payments61).

A card payment names a PaymentIntent that Stripe refuses when asked for it: one made
with another Stripe account's keys, or with test keys where the service now has live
ones. Until round 61 every run of `payments fill-charge-ids` asked Stripe about it
again and printed it again, and `payments reconcile` stopped at such a payment still
pending, every hour, the payments after it never asked about (Stripe's refusal raised
out of the run). Now the job that meets Stripe's refusal reports it once: an audit
event `stripe_payment_intent.unknown` whose record is the PaymentIntent (the payment,
the job and Stripe's words kept with it), listed on the console's *Stripe's events*
until billing staff mark it looked at with a note, as a delivery not read is
(`states.STRIPE_INTENT`). No job asks Stripe about that PaymentIntent again while its
payment names it: a payment given another PaymentIntent (something changed) is asked
about afresh. No table or migration: the audit log keeps the report and the mark, read
by its record index (`ix_audit_events_entity`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Exists, func, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing.models import UNKNOWN_INTENT_ACTION, UNKNOWN_INTENT_LOOKED_AT_ACTION
from licensing.billing.services._common import check_looked_at, mark_kept_looked_at
from licensing.billing.states import DELIVERY_LOOKED_AT, DELIVERY_NOT_LOOKED_AT, STRIPE_INTENT
from licensing.errors import NotFound

# The audit log's record type of a PaymentIntent Stripe does not know.
RECORD_TYPE = "stripe_payment_intent"
# The audit log's record ids are 64 characters; a PaymentIntent's id is about 27.
RECORD_ID_MAX = 64

INTENT_NOTE_REQUIRED = (
    "Say what was done about the PaymentIntent (another Stripe account's, checked in its "
    "dashboard; a test payment; recorded by hand): the note is kept with it."
)


def record_id(intent_id: str) -> str:
    """The audit log's record id of a PaymentIntent: its id, to the log's 64 characters."""
    return intent_id[:RECORD_ID_MAX]


def reported(intent_id: Any) -> Exists:
    """A report that Stripe does not know the PaymentIntent `intent_id` (a value, or a
    column of the statement it is used in, as `Payment.stripe_payment_intent_id`)."""
    named = (
        AuditEvent.entity_id == record_id(intent_id)
        if isinstance(intent_id, str)
        else AuditEvent.entity_id == func.substr(intent_id, 1, RECORD_ID_MAX)
    )
    return (
        select(AuditEvent.id)
        .where(
            AuditEvent.entity_type == RECORD_TYPE,
            named,
            AuditEvent.action == UNKNOWN_INTENT_ACTION,
        )
        .exists()
    )


def is_reported(session: Session, intent_id: str) -> bool:
    """Whether a job reported already that Stripe does not know `intent_id`."""
    return bool(session.scalar(select(reported(intent_id))))


def report_unknown(intent_id: str, *, payment_id: int, why: str, job: str, now: datetime) -> bool:
    """Report, once, that Stripe does not know `intent_id` (the PaymentIntent of the card
    payment `payment_id`; `why`, Stripe's words; `job`, the command that asked), in a
    unit of work of its own, run again alone after a deadlock: True when this call
    reported it, False when it was reported already."""

    def report() -> bool:
        with db.transaction() as session:
            if is_reported(session, intent_id):
                return False
            audit.record_event(
                session,
                UNKNOWN_INTENT_ACTION,
                record_id(intent_id),
                after={
                    "stripe_payment_intent_id": intent_id,
                    "payment_id": payment_id,
                    "job": job,
                    "why": why[:300],
                    "at": now.isoformat(),
                },
                actor=Actor.SYSTEM,
                note=(
                    "Stripe does not know this PaymentIntent: not asked about again while "
                    "its payment names it"
                ),
            )
            return True

    return db.retried_unit(report)


@dataclass
class UnknownIntent:
    """A PaymentIntent Stripe does not know, as the state machine steps it
    (`STRIPE_INTENT`): its record is the PaymentIntent, its state read from the audit log."""

    id: str
    state: str


def unknown_intent(session: Session, intent: str, *, lock: bool = False) -> UnknownIntent:
    """The PaymentIntent `intent` (its record id) reported unknown, looked at or not;
    `NotFound` when no job reported it. `lock`: its report is locked, so two clerks
    marking it take turns and the second is refused."""
    report = (
        select(AuditEvent.id)
        .where(
            AuditEvent.entity_type == RECORD_TYPE,
            AuditEvent.entity_id == intent,
            AuditEvent.action == UNKNOWN_INTENT_ACTION,
        )
        .order_by(AuditEvent.id)
        .limit(1)
    )
    if session.scalar(report.with_for_update() if lock else report) is None:
        raise NotFound(f"No job reported that Stripe does not know the PaymentIntent {intent}.")
    marked = session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.entity_type == RECORD_TYPE,
            AuditEvent.entity_id == intent,
            AuditEvent.action == UNKNOWN_INTENT_LOOKED_AT_ACTION,
        )
        .limit(1)
    )
    return UnknownIntent(intent, DELIVERY_NOT_LOOKED_AT if marked is None else DELIVERY_LOOKED_AT)


def check_mark_intent(intent: str, *, actor: Actor) -> UnknownIntent:
    """Billing staff: the PaymentIntent `mark_intent_looked_at` would mark, refused as it
    refuses (404, or 409 for one looked at already), writing nothing."""
    return check_looked_at(STRIPE_INTENT, lambda session: unknown_intent(session, intent), actor)


def mark_intent_looked_at(
    intent: str, *, note: str | None, actor: Actor, now: datetime | None = None
) -> UnknownIntent:
    """Billing staff: a PaymentIntent Stripe does not know marked looked at, with a note
    saying what was done about it (required); it then leaves the count on *Stripe's
    events*. The machine's `mark_looked_at`, audited
    `stripe_payment_intent.marked_looked_at` with the note, the clerk as actor; 404 for a
    PaymentIntent no job reported, 409 for one looked at already, 422 without a note.
    The jobs still do not ask about it: the mark says a person looked, not that Stripe
    knows it now."""
    return mark_kept_looked_at(
        STRIPE_INTENT,
        lambda session: unknown_intent(session, intent, lock=True),
        note=note,
        required=INTENT_NOTE_REQUIRED,
        actor=actor,
        now=now,
    )
