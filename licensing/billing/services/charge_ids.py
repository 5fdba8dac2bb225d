"""Each card payment's charge id, learnt from Stripe for the payments confirmed before
payments kept it (round 60, stripe60).

Since round 24 a card payment keeps the id of the charge Stripe made
(`payments.stripe_charge_id`, from the PaymentIntent's `latest_charge` when Stripe
reports the outcome). The payments confirmed before that keep only their PaymentIntent,
so *Stripe's events* did not find them by the charge id a licensee's bank statement or
a dispute letter gives (round 59), and a dispute naming only its charge had Stripe asked
for the charge's PaymentIntent. `fill_charge_ids` asks Stripe, through the gateway, for
each such payment's PaymentIntent and keeps its latest charge: a batch of payments at a
time (read by id, each batch's answers written in one short transaction, none held while
Stripe is asked), idempotent (a payment with a charge id is never asked about again, nor
changed) and so resumable (a run stopped part way is finished by the next), each payment
filled audited `payment.charge_id_filled`.

A PaymentIntent Stripe does not know (refused: one made with another Stripe account's
keys, or test keys where the service now has live ones) leaves its payment as it is,
named in the run's lines, and is reported once (round 61, `unknown_intents`: listed on
*Stripe's events* until billing staff look at it): no later run asks about it again
while its payment names it (until round 61 every run asked again). A PaymentIntent
without a charge (never confirmed) is named and asked about again by a later run.
Stripe unreachable stops the run where it is, what it filled kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, select

from licensing import db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import payment_gateway
from licensing.billing.models import Payment
from licensing.billing.services import unknown_intents
from licensing.billing.states import CARD
from licensing.db import utcnow
from licensing.errors import DomainError

# How many payments a batch reads and writes at once.
CHARGE_FILL_BATCH = 100
# The audit event of a payment whose charge id was filled.
CHARGE_ID_FILLED = "payment.charge_id_filled"


@dataclass
class ChargeFillRun:
    """What a run did, in words a line each: the payments filled, those whose
    PaymentIntent Stripe does not know, those whose PaymentIntent has no charge; and,
    when Stripe could not be asked, why the run stopped."""

    filled: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    no_charge: list[str] = field(default_factory=list)
    stopped: str | None = None
    batches: int = 0

    def summary(self) -> str:
        said = (
            f"{len(self.filled)} card payment(s) given their charge id; "
            f"{len(self.unknown)} whose PaymentIntent Stripe does not know; "
            f"{len(self.no_charge)} whose PaymentIntent has no charge"
        )
        if self.stopped is not None:
            return f"{said}; stopped: {self.stopped} (run it again to go on)"
        return said


def without_charge_id() -> int:
    """How many card payments have a PaymentIntent and no charge id (a run's length)."""
    with db.transaction() as session:
        return int(
            session.scalar(select(func.count()).select_from(_waiting(0, None).subquery())) or 0
        )


def _waiting(after_id: int, limit: int | None) -> Select[int, str | None]:
    """The card payments a run asks about, after `after_id`, by id (their primary key)."""
    statement = (
        select(Payment.id, Payment.stripe_payment_intent_id)
        .where(
            Payment.method == CARD,
            Payment.stripe_charge_id.is_(None),
            Payment.stripe_payment_intent_id.is_not(None),
            # Round 61: one Stripe does not know is reported once, then not asked again.
            ~unknown_intents.reported(Payment.stripe_payment_intent_id),
            Payment.id > after_id,
        )
        .order_by(Payment.id)
    )
    return statement if limit is None else statement.limit(limit)


def fill_charge_ids(
    gateway: payment_gateway.PaymentGateway,
    *,
    batch_size: int = CHARGE_FILL_BATCH,
    limit: int | None = None,
    actor: Actor = Actor.SYSTEM,
    now: datetime | None = None,
    on_payment: Callable[[], None] | None = None,
) -> ChargeFillRun:
    """Fill the charge id of each card payment that has a PaymentIntent and none, from
    Stripe's `latest_charge` of it, `batch_size` payments at a time, at most `limit`
    payments in all (None: every one). Each batch: its payments read by id (after the
    last batch's), Stripe asked about each outside any transaction, then the charges
    written in one transaction, each payment locked and left as it is if a charge id
    reached it meanwhile (the webhook, a concurrent run), each fill audited
    `payment.charge_id_filled` (the PaymentIntent and the charge). `on_payment`: told
    after each payment asked about (a progress bar)."""
    now = now or utcnow()
    run = ChargeFillRun()
    after_id = 0
    left = limit
    while left is None or left > 0:
        size = batch_size if left is None else min(batch_size, left)
        with db.transaction() as session:
            batch = [
                (payment_id, str(intent))
                for payment_id, intent in session.execute(_waiting(after_id, size)).all()
            ]
        if not batch:
            break
        run.batches += 1
        charges: dict[int, tuple[str, str]] = {}
        for payment_id, intent_id in batch:
            try:
                found = gateway.retrieve_payment_intent(intent_id)
            except payment_gateway.StripeRefused as refused:
                unknown_intents.report_unknown(
                    intent_id,
                    payment_id=payment_id,
                    why=refused.detail,
                    job="payments fill-charge-ids",
                    now=now,
                )
                run.unknown.append(
                    f"payment {payment_id}: Stripe does not know PaymentIntent {intent_id} "
                    f"({refused.detail}); left without a charge id, listed on Stripe's "
                    "events and not asked about again"
                )
            except DomainError as error:  # Stripe unreachable, or refusing the key
                run.stopped = error.detail
                break
            else:
                if found.charge is None:
                    run.no_charge.append(
                        f"payment {payment_id}: PaymentIntent {intent_id} has no charge "
                        f"({found.status}); left without a charge id"
                    )
                else:
                    charges[payment_id] = (intent_id, found.charge)
            if on_payment is not None:
                on_payment()
        run.filled += _keep(charges, actor, now)
        if run.stopped is not None:
            break
        after_id = batch[-1][0]
        if left is not None:
            left -= len(batch)
    return run


def _keep(charges: dict[int, tuple[str, str]], actor: Actor, now: datetime) -> list[str]:
    """Each payment's charge id kept, in one transaction (payments locked by id)."""
    if not charges:
        return []
    filled: list[str] = []
    with db.transaction() as session:
        payments = session.scalars(
            select(Payment).where(Payment.id.in_(charges)).order_by(Payment.id).with_for_update()
        ).all()
        for payment in payments:
            intent_id, charge_id = charges[payment.id]
            if payment.stripe_charge_id is not None:
                continue  # the webhook, or a concurrent run, kept it meanwhile
            if payment.stripe_payment_intent_id != intent_id:
                continue  # not the PaymentIntent Stripe was asked about
            payment.stripe_charge_id = charge_id[:255]
            audit.record_event(
                session,
                CHARGE_ID_FILLED,
                payment.id,
                before={"stripe_charge_id": None},
                after={
                    "stripe_charge_id": payment.stripe_charge_id,
                    "stripe_payment_intent_id": intent_id,
                    "at": now.isoformat(),
                },
                actor=actor,
                note="learnt from Stripe: the PaymentIntent's latest charge",
            )
            filled.append(
                f"payment {payment.id}: charge {payment.stripe_charge_id} of PaymentIntent "
                f"{intent_id}"
            )
    return filled
