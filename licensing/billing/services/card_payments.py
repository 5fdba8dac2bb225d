"""Card payments through Stripe: one open attempt per invoice, Stripe's answers
applied idempotently, and reconciling attempts whose webhook never came.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.access import Principal
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import payment_gateway
from licensing.billing.cards import CardUsed
from licensing.billing.models import Invoice, Payment, StripeCustomer
from licensing.billing.services import unknown_intents
from licensing.billing.services._common import (
    CardRecord,
    _card_gateway,
    _card_record_for,
    _due_ids,
    _locked_invoice,
    said_payment,
    said_refund,
)
from licensing.billing.services.settlement import _apply, _new_payment
from licensing.billing.states import (
    CARD,
    COLLECTIBLE,
    FAILED,
    FLAGGED,
    LOST,
    OPEN_ATTEMPT,
    PAID,
    PAYMENT,
    PENDING,
    SUCCEEDED,
)
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict, DomainError, InvalidInput
from licensing.links import links
from licensing.mail import services as mail
from licensing.money import (
    beyond_card_limit,
    card_limit,
    from_minor_units,
    in_words,
    quantize,
    to_minor_units,
)

log = logging.getLogger(__name__)

# A card payment with no webhook after this long is asked about (reconcile).
RECONCILE_AFTER = timedelta(minutes=30)


def _known_customer(session: Session, organization_id: int) -> str | None:
    """The organization's Stripe Customer's id, if it has one (a Customer is never
    removed, so one found needs no lock)."""
    return session.scalars(
        select(StripeCustomer.stripe_customer_id).where(
            StripeCustomer.organization_id == organization_id
        )
    ).one_or_none()


def _customer_id(
    session: Session,
    gateway: payment_gateway.PaymentGateway,
    organization: Organization,
    actor: Actor,
) -> str:
    """The organization's Stripe Customer, created once (the idempotency key and
    the unique row make a second creation a no-op), with the organization locked:
    an attempt that waited for another's lock finds the Customer it created."""
    existing = _known_customer(session, organization.id)
    if existing is not None:
        return existing
    customer_id = gateway.create_customer(
        name=organization.legal_name,
        email=organization.billing_email,
        organization_id=organization.id,
        idempotency_key=f"organization-{organization.id}-customer",
    )
    session.add(StripeCustomer(organization_id=organization.id, stripe_customer_id=customer_id))
    session.flush()
    audit.record_event(
        session,
        "organization.stripe_customer_created",
        organization.id,
        after={"stripe_customer_id": customer_id},
        actor=actor,
    )
    return customer_id


@dataclass(frozen=True)
class CardAttempt:
    payment_id: int
    status: str
    client_secret: str | None
    message: str


@dataclass(frozen=True)
class _OpenAttempt:
    """The invoice's open card attempt as read under the invoice's lock."""

    payment_id: int
    state: str
    invoice_id: int
    invoice_number: str
    amount: Decimal
    currency: str
    idempotency_key: str
    intent_id: str | None
    customer_id: str
    # Its amount is no longer the balance due (a payment or credit came meanwhile).
    stale: bool
    # Who pays: a vendor user, or the billing contact following the invoice's link.
    actor: Actor


# Rounds of "close the old attempt, claim again" one request may take before it
# gives up with a 409 (each round either reaches Stripe or closes an attempt).
ATTEMPT_ROUNDS = 3


def start_card_payment(
    invoice_id: int,
    *,
    card_token: str,
    principal: Principal,
    gateway: payment_gateway.PaymentGateway | None,
    now: datetime | None = None,
) -> CardAttempt:
    """Charge the balance due to the card Stripe.js tokenized in the page.

    An invoice has at most one open card attempt (a card payment `pending` or
    `failed`: its PaymentIntent may still take money), claimed with the invoice
    row locked and guarded by a partial unique index. A request that finds one
    reuses it, with its idempotency key, instead of charging again; a `failed`
    one (declined) is canceled at Stripe first, so its intent can never be
    confirmed later, and a new attempt starts.

    Money moves in two steps so that correctness never rests on Stripe's
    idempotency keys (localstripe has none): the PaymentIntent is created
    unconfirmed and its id stored, committed, before it is confirmed. A
    PaymentIntent succeeds at most once, and each attempt confirms only the
    intent stored on it; an intent created by a request that lost a race is
    canceled unconfirmed. The payment is applied when Stripe reports success
    (the webhook, or `licensing payments reconcile`), never here.

    `gateway` is the app's (`gateways.gateway(config)`): None, a 409, where the
    app takes no card. `principal` is who pays: a vendor user or the billing contact's link
    (`links.payer`); the invoice must be their organization's.
    """
    now = now or utcnow()
    gateway = _card_gateway(gateway)
    if not card_token or not card_token.startswith("tok_") or len(card_token) > 255:
        raise InvalidInput.for_field("card", "The card details could not be read; try again.")
    for _round in range(ATTEMPT_ROUNDS):
        attempt = _claim_attempt(gateway, invoice_id, principal, Actor.of(principal), now)
        if attempt.state == FAILED or attempt.stale:
            settled = _close_attempt(gateway, attempt, now)
            if settled is not None:
                return settled
            continue
        result = _charge(gateway, attempt, card_token, now)
        if result is not None:
            return result
    raise Conflict(
        "Another card payment for this invoice is being set up; wait a moment and try again."
    )


def beyond_card(invoice: Invoice) -> str | None:
    """Why the invoice's balance cannot be paid by card (more than Stripe's largest
    charge, `money.CARD_MAX_MINOR_UNITS`, round 50), or None: the pay pages say it
    instead of the card form, and an attempt is refused before anything is stored
    or sent to Stripe."""
    if not beyond_card_limit(invoice.balance_due, invoice.currency):
        return None
    currency = invoice.currency
    return (
        f"{invoice.title}'s balance of {in_words(invoice.balance_due, currency)} is more "
        f"than one card payment can take ({in_words(card_limit(currency), currency)} at "
        "most): pay it by wire, ACH or check, as the invoice says."
    )


def _require_payable(invoice: Invoice) -> None:
    """A 409 that says why an invoice takes no card payment (a 422 for a balance
    beyond a card's limit)."""
    if invoice.state == PAID:
        on = f" on {office_date(invoice.paid_at).isoformat()}" if invoice.paid_at else ""
        raise Conflict(f"{invoice.title} is already paid{on}: nothing is owed on it.")
    if invoice.state not in COLLECTIBLE:
        raise Conflict(f"{invoice.title} is {invoice.state}: nothing is owed on it.")
    if invoice.balance_due <= 0:
        raise Conflict(f"{invoice.title} has nothing left to pay.")
    if too_large := beyond_card(invoice):
        raise InvalidInput.for_field("card", too_large)


def _claim_attempt(
    gateway: payment_gateway.PaymentGateway,
    invoice_id: int,
    principal: Principal,
    actor: Actor,
    now: datetime,
) -> _OpenAttempt:
    """The invoice's open attempt, or a new pending one, with the invoice locked."""
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id, principal)
        _require_payable(invoice)
        customer_id = _known_customer(session, invoice.organization_id)
        if customer_id is None:
            # The organization locked, so that two attempts at once create one
            # Customer. FOR NO KEY UPDATE: a step that stores a row naming the
            # organization (a statement sent, a payment) holds FOR KEY SHARE of it
            # until it commits, and FOR UPDATE would wait for it
            # (`tests/integration/billing/test_card_start_lock_order.py`).
            organization = session.get(
                Organization, invoice.organization_id, with_for_update={"key_share": True}
            )
            assert organization is not None
            customer_id = _customer_id(session, gateway, organization, actor)
        payment = session.scalars(
            select(Payment).where(
                Payment.invoice_id == invoice.id,
                Payment.method == CARD,
                Payment.state.in_(OPEN_ATTEMPT),
            )
        ).one_or_none()  # read only: its changes lock the payment before the invoice
        if payment is None:
            payment = _new_attempt(session, invoice, actor, now)
        assert payment.idempotency_key is not None
        assert invoice.number is not None
        return _OpenAttempt(
            payment_id=payment.id,
            state=payment.state,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
            intent_id=payment.stripe_payment_intent_id,
            customer_id=customer_id,
            stale=payment.amount != invoice.balance_due,
            actor=actor,
        )


def _new_attempt(session: Session, invoice: Invoice, actor: Actor, now: datetime) -> Payment:
    # The partial unique index: a second open attempt fails when this one is stored.
    return _new_payment(
        session,
        invoice,
        action="payment.started",
        actor=actor,
        now=now,
        method=CARD,
        state=PENDING,
        amount=invoice.balance_due,
        idempotency_key=f"payment-{uuid.uuid4().hex}",
        # The payer is who starts the attempt: its intent charges the card they
        # gave, even when a colleague's request later confirms it.
        paid_by_user_id=actor.user_id,
        also_audited=("paid_by_user_id",),
    )


def _close_attempt(
    gateway: payment_gateway.PaymentGateway, attempt: _OpenAttempt, now: datetime
) -> CardAttempt | None:
    """Cancel a declined or outdated attempt, at Stripe first, so that its intent
    can never take money later. If Stripe says the intent did take (or is
    taking) money after all, that outcome is applied and returned instead."""
    if attempt.intent_id is not None:
        try:
            intent = gateway.cancel_payment_intent(
                attempt.intent_id, idempotency_key=f"{attempt.idempotency_key}-cancel"
            )
        except payment_gateway.StripeRefused:  # no longer cancelable: ask what it is
            intent = gateway.retrieve_payment_intent(attempt.intent_id)
        if intent.status != "canceled":
            with db.transaction() as session:
                apply_intent_outcome(session, intent, now=now, actor=attempt.actor)
            return CardAttempt(
                attempt.payment_id,
                intent.status,
                intent.client_secret,
                _status_message(intent.status, intent.failure_message),
            )
    why = (
        "Closed before a new card attempt: the card was declined."
        if attempt.state == FAILED
        else "Closed: its amount is no longer the balance due."
    )
    with db.transaction() as session:
        payment = session.get(Payment, attempt.payment_id, with_for_update=True)
        assert payment is not None
        if payment.state in OPEN_ATTEMPT and payment.stripe_payment_intent_id == attempt.intent_id:
            # A declined attempt's note is the bank's words, which staff read where
            # it is listed: why it was closed goes to its audit event only.
            if payment.state != FAILED:
                payment.note = why
            PAYMENT.apply(session, payment, "cancel", actor=attempt.actor, note=why)
    return None


def _charge(
    gateway: payment_gateway.PaymentGateway, attempt: _OpenAttempt, card_token: str, now: datetime
) -> CardAttempt | None:
    """Create (once) and confirm (once) the attempt's PaymentIntent. None when the
    attempt was closed or declined by another request meanwhile: claim again."""
    key = attempt.idempotency_key
    intent: payment_gateway.IntentStatus | None = None
    intent_id = attempt.intent_id
    if intent_id is None:
        token_digest = hashlib.sha256(card_token.encode()).hexdigest()[:16]
        try:
            card = gateway.attach_card(
                attempt.customer_id, card_token, idempotency_key=f"{key}-card-{token_digest}"
            )
        except InvalidInput as refused:
            _decline_before_intent(attempt, refused, now)
            raise
        created = gateway.create_payment_intent(
            amount_minor=to_minor_units(attempt.amount, attempt.currency),
            currency=attempt.currency,
            customer_id=attempt.customer_id,
            payment_method=card,
            metadata={
                "invoice_number": attempt.invoice_number,
                "invoice_id": str(attempt.invoice_id),
                "payment_id": str(attempt.payment_id),
            },
            idempotency_key=key,
        )
        intent_id = _store_intent(attempt.payment_id, created.id)
        if intent_id != created.id:  # lost the race: this intent is never confirmed
            _cancel_unconfirmed(gateway, created.id, key)
        else:
            intent = created
        if intent_id is None:
            return None
    if intent is None:
        intent = gateway.retrieve_payment_intent(intent_id)
    if intent.status == "requires_confirmation":
        intent = _confirm(gateway, intent.id, key, now, attempt.actor)
    if intent.status in ("requires_payment_method", "canceled"):
        with db.transaction() as session:
            apply_intent_outcome(session, intent, now=now, actor=attempt.actor)
        return None
    return CardAttempt(
        attempt.payment_id,
        intent.status,
        intent.client_secret,
        _status_message(intent.status, intent.failure_message),
    )


def _decline_before_intent(attempt: _OpenAttempt, refused: InvalidInput, now: datetime) -> None:
    """The bank refused the card as Stripe saved it, before any PaymentIntent:
    the attempt is declined like one refused at confirmation (`failed`, audited
    `payment.declined`), so staff, the export and the API see it, and the next
    card closes it and starts afresh instead of reusing it unseen."""
    said = refused.errors.get("card", [])
    why = said[0] if said else "The card was declined."
    with db.transaction() as session:
        payment = session.get(Payment, attempt.payment_id, with_for_update=True)
        assert payment is not None
        if payment.state != PENDING or payment.stripe_payment_intent_id is not None:
            return
        payment.note = why
        payment.declined_at = now
        PAYMENT.apply(
            session, payment, "fail", actor=attempt.actor, note=why, changes={"declined": True}
        )


def _store_intent(payment_id: int, intent_id: str) -> str | None:
    """Keep the first intent created for an attempt; returns the one kept, or
    None when the attempt was closed before any was."""
    with db.transaction() as session:
        payment = session.get(Payment, payment_id, with_for_update=True)
        assert payment is not None
        if payment.stripe_payment_intent_id is None and payment.state == PENDING:
            payment.stripe_payment_intent_id = intent_id
        return payment.stripe_payment_intent_id


def _cancel_unconfirmed(gateway: payment_gateway.PaymentGateway, intent_id: str, key: str) -> None:
    try:
        gateway.cancel_payment_intent(intent_id, idempotency_key=f"{key}-cancel-{intent_id}")
    except DomainError:  # never confirmed, so it cannot take money: tidiness only
        log.warning("could not cancel unconfirmed PaymentIntent %s", intent_id)


def _confirm(
    gateway: payment_gateway.PaymentGateway, intent_id: str, key: str, now: datetime, actor: Actor
) -> payment_gateway.IntentStatus:
    """Confirm the attempt's intent. A decline marks the attempt failed (it is
    closed by the next attempt) and is a 422 with the bank's message; an intent
    another request confirmed first is reported as it stands."""
    try:
        return gateway.confirm_payment_intent(intent_id, idempotency_key=f"{key}-confirm")
    except InvalidInput:
        declined = gateway.retrieve_payment_intent(intent_id)
        with db.transaction() as session:
            apply_intent_outcome(session, declined, now=now, actor=actor)
        raise
    except payment_gateway.StripeRefused:
        return gateway.retrieve_payment_intent(intent_id)


def _status_message(status: str, failure: str | None) -> str:
    if status == "succeeded":
        return "Payment received: the invoice is marked paid as soon as Stripe confirms it."
    if status == "requires_action":
        return "Your bank asks you to confirm this payment."
    if status == "processing":
        return "The payment is processing; the invoice is marked paid when it completes."
    return failure or "The card was not charged; try another card."


@PAYMENT.on("flag")
def _tell_billing_staff(session: Session, payment: Payment, actor: Actor, why: str | None) -> None:
    """A flagged card payment waits for billing staff: tell them."""
    notify_billing_staff(session, payment, why)


def notify_billing_staff(
    session: Session, payment: Payment, why: str | None, told: str | None = None
) -> None:
    """Email billing staff that a card payment is flagged, with `why`. So is one whose
    give-back Stripe reported failed (round 37, `giving_back`): flagged again, `why`
    says so, and `told` (round 39) whom the licensee's side was told it went back,
    for staff to write to."""
    invoice = session.get(Invoice, payment.invoice_id)
    assert invoice is not None
    mail.notify_staff(
        session,
        "billing",
        subject=f"Card payment for {invoice.number} needs review",
        template="payment_flagged",
        context={
            "invoice": invoice,
            "payment": payment,
            "why": why,
            "told": told,
            # The payment's page has *Accept* and says why it was flagged (round 26).
            "console_url": links().payment_review(payment.id),
            "invoice_url": links().invoice_review(invoice.id),
        },
    )


def _what_arrived(
    intent: payment_gateway.IntentStatus, payment: Payment, invoice: Invoice
) -> tuple[Decimal, str | None]:
    """What a succeeded intent brought, and why billing staff must look at it
    before it counts (None: it is what was asked and still owed)."""
    if intent.currency != payment.currency:
        return Decimal(0), f"currency {intent.currency} received, {payment.currency} asked"
    received = from_minor_units(intent.amount_received or intent.amount, intent.currency)
    disputed = _disputed_before(payment, invoice)
    if disputed is not None:
        return received, disputed
    if received != payment.amount:
        return received, (
            f"received {in_words(received, payment.currency)}, "
            f"asked {in_words(payment.amount, payment.currency)}"
        )
    if invoice.state not in COLLECTIBLE or received > invoice.balance_due:
        return received, (
            f"invoice {invoice.number} owed "
            f"{in_words(invoice.balance_due, invoice.currency)} when the card payment arrived"
        )
    return received, None


def _disputed_before(payment: Payment, invoice: Invoice) -> str | None:
    """Why a success Stripe reports after the bank disputed the charge waits for
    billing staff (round 45): the dispute was recorded while the payment was pending
    and booked nothing (nothing had counted), so counting the success now would pay
    the invoice with money the bank contests (Stripe withdrew it at the dispute's
    opening) or returned (a dispute lost). Flagged, the round 44 hold (`dispute_hold`)
    refuses the accept until the outcome: won, staff accept it; lost, nothing counts.
    A dispute won before the success holds nothing: it counts as any success."""
    dispute = payment.holding_dispute
    if dispute is None:
        return None
    named = f"Stripe dispute {dispute.stripe_dispute_id}, opened "
    named += office_date(dispute.disputed_at).isoformat()
    if dispute.state == LOST:
        return (
            f"its charge was disputed and the dispute lost ({named}) before Stripe reported "
            "it succeeded: the bank returned the money to the cardholder, so it does not "
            f"count against invoice {invoice.number}"
        )
    return (
        f"its charge was disputed ({named}) before Stripe reported it succeeded: the "
        "cardholder's bank contests the money, so it does not count against invoice "
        f"{invoice.number} until billing staff decide after the dispute's outcome"
    )


def apply_intent_outcome(
    session: Session,
    intent: payment_gateway.IntentStatus,
    *,
    now: datetime,
    actor: Actor,
) -> str:
    """Apply what Stripe says about a PaymentIntent to its payment, idempotently.

    Safe to call any number of times and in any order: a succeeded payment is
    never applied twice, a late failure after success changes nothing, and an
    amount that does not match what was asked is flagged for billing staff.
    Returns what was done (kept with the webhook event). `actor`: the payer
    when their own request learns the outcome, else the system.
    """
    payment = _payment_for(session, intent)
    if payment is None:
        return "ignored: not a payment of this service"
    if payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = intent.id
    payment.last_checked_at = now
    _note_card(payment, intent.card)
    if intent.charge is not None and payment.stripe_charge_id is None:
        payment.stripe_charge_id = intent.charge
    invoice = _locked_invoice(session, payment.invoice_id)
    if intent.status == "succeeded":
        if payment.state in (SUCCEEDED, FLAGGED) or not PAYMENT.can(payment.state, "succeed"):
            return f"no change: {said_payment(session, payment)} is already {payment.state}"
        received, why = _what_arrived(intent, payment, invoice)
        if why is not None:
            payment.amount_received = received
            payment.note = why
            PAYMENT.apply(
                session,
                payment,
                "flag",
                actor=actor,
                note=why,
                # What arrived in another currency is 0 of the payment's: "0.00".
                changes={"amount_received": quantize(received, payment.currency)},
            )
            return f"flagged: {why}"
        PAYMENT.apply(
            session,
            payment,
            "succeed",
            actor=actor,
            changes={"stripe_payment_intent_id": intent.id},
        )
        _apply(session, invoice, payment, actor=actor, now=now)
        return f"applied: {said_payment(session, payment)} to {invoice.number}"
    if intent.status in ("requires_payment_method", "canceled"):
        if payment.state != PENDING:
            return f"no change: {said_payment(session, payment)} is already {payment.state}"
        if intent.status == "canceled":
            PAYMENT.apply(session, payment, "cancel", actor=actor, note="canceled at Stripe")
            return f"canceled: {said_payment(session, payment)}"
        payment.note = intent.failure_message or "The card was declined."
        payment.declined_at = now
        PAYMENT.apply(
            session, payment, "fail", actor=actor, note=payment.note, changes={"declined": True}
        )
        return f"declined: {said_payment(session, payment)}"
    return f"no change: intent is {intent.status}"


def _note_card(payment: Payment, card: CardUsed | None) -> None:
    """Keep the card Stripe charged, for receipts ("Visa ending 4242")."""
    if card is None:
        return
    payment.card_brand = card.brand
    payment.card_last4 = card.last4


def _payment_for(session: Session, intent: payment_gateway.IntentStatus) -> Payment | None:
    found = _card_record_for(
        session, Payment, "stripe_payment_intent_id", intent.id, intent.metadata, "payment_id"
    )
    if found is None or found.stripe_payment_intent_id == intent.id:
        return found
    # Found by its metadata alone: the intent must also name the payment's invoice.
    if intent.metadata.get("invoice_id") != str(found.invoice_id):
        return None
    return found


@dataclass
class ReconcileReport:
    """What a reconciliation did: each `record` (a payment, a refund) it checked, with
    its outcome, counted by how the outcome begins (`applied_when`, `failed_when`, else
    unchanged)."""

    checked: int = 0
    applied: int = 0
    failed: int = 0
    unchanged: int = 0
    outcomes: list[str] = field(default_factory=list)
    subject: str = "card payment(s)"
    record: str = "payment"
    applied_when: tuple[str, ...] = ("applied",)
    failed_when: tuple[str, ...] = ("declined", "canceled")

    def __str__(self) -> str:
        return (
            f"{self.checked} {self.subject} checked: {self.applied} applied, "
            f"{self.failed} declined or canceled, {self.unchanged} unchanged"
        )

    def count(
        self, record_id: int, outcome: str, name: str | None = None, said: str | None = None
    ) -> None:
        """Count one record checked, by how its outcome begins. Its line names it by
        `name` (`logged_name`, round 56: "payment 12" before), the outcome's own
        mention of it (`said`: `said_name`, round 57; it was "payment 12") dropped
        (`_said_once`); the outcome (the webhook's words too) is counted as it is."""
        self.checked += 1
        if name is None:
            self.outcomes.append(f"{self.record} {record_id}: {outcome}")
        else:
            self.outcomes.append(f"{name}: {_said_once(outcome, said)}")
        if outcome.startswith(self.applied_when):
            self.applied += 1
        elif outcome.startswith(self.failed_when):
            self.failed += 1
        else:
            self.unchanged += 1


def _said_once(outcome: str, said: str | None) -> str:
    """An outcome without its mention of the record its line already names (`said`):
    "given back: card payment of INV-... (Visa ending 4242), started ..." reads "given
    back", "applied: card payment ... to INV-..." "applied to INV-...", "no change:
    card refund of 60.00 USD of credit note CN-... is pending, ..." "no change: it is
    pending, ..."."""
    if not said:
        return outcome
    itself = ": " + re.escape(said)
    return re.sub(itself + "(?= is )", ": it", re.sub(itself + "(?! is )", "", outcome))


def said_name(session: Session, found: CardRecord) -> str:
    """How an outcome mentions a card payment or refund (`said_payment`, `said_refund`)."""
    if isinstance(found, Payment):
        return said_payment(session, found)
    return said_refund(session, found)


def logged_name(session: Session, found: CardRecord) -> str:
    """A card payment or refund as a job's line names it (round 56, refundlist56): as
    the pages do (`Payment.named`: "Card payment of INV-2027-000012 (Visa ending 4242),
    started ..."; a refund by its amount and credit note), then the Stripe ids a log
    reader looks up in Stripe's dashboard."""
    said = said_name(session, found)
    name = said[:1].upper() + said[1:]
    if not isinstance(found, Payment):  # its Stripe id is in its name
        return name if found.stripe_refund_id else f"{name} (nothing at Stripe yet)"
    ids = [found.stripe_payment_intent_id, found.stripe_charge_id]
    known = [each for each in ids if each]
    return f"{name} (Stripe {', '.join(known)})" if known else f"{name} (nothing at Stripe yet)"


# What a reconcile asks Stripe about a record: the PaymentIntent it names (its own, or a
# refund's payment's), or None when there is nothing to ask.
IntentOf = Callable[[Session, CardRecord], str | None]
# What a reconcile records of Stripe's answer, in the record's unit of work: its outcome.
Recorded = Callable[[Session, CardRecord, Any], str]


@dataclass(frozen=True)
class _Answer:
    """Stripe's answer about one record, asked in a unit of work of its own: what it
    said (`answer`), or that it does not know the PaymentIntent (`refused`)."""

    intent_id: str
    answer: Any = None
    refused: str | None = None


def _reconcile(
    report: ReconcileReport,
    model: type[CardRecord],
    still_open: ColumnElement[bool],
    intent_of: IntentOf[CardRecord],
    ask: Callable[[str], Any],
    record: Recorded[CardRecord],
    *,
    before: datetime,
    limit: int,
    job: str = "payments reconcile",
) -> None:
    """Claim the card payments or refunds (`model`) made before `before` and still open
    (`still_open`), at most `limit`, one at a time, and count in `report` what `record`
    makes of Stripe's answer (`ask`, about the PaymentIntent `intent_of` names). Each is
    claimed (`db.claim`), so several hosts may run this at once.

    Round 61 (payments61): the asking and the recording are two units. Stripe is asked
    while the record is claimed (two hosts never ask about it at once), in a unit that
    writes nothing; the answer is then recorded in a unit of its own, the record claimed
    again and read afresh, run again alone after a deadlock or a serialization failure
    (`db.retried_unit`): Stripe is not asked twice, and a row lost once is recorded, not
    left to the next hourly run. A PaymentIntent Stripe does not know is reported once
    (`unknown_intents`) and not asked about again while its record names it; until then
    Stripe's refusal raised out of the run, every run, at the same payment."""
    candidates = _due_ids(
        select(model.id)
        .where(model.method == CARD, still_open, model.created_at <= before)
        .order_by(model.created_at, model.id)  # the longest waiting first
        .limit(limit)
    )
    for record_id in candidates:
        asked = _asked(model, still_open, record_id, intent_of, ask)
        if asked is None:
            continue
        if asked.refused is not None:
            outcome = _reported_unknown(asked, model, record_id, job)
            if outcome is not None:
                report.count(record_id, outcome)
            continue
        done = db.retried_unit(
            partial(_recorded, model, still_open, record_id, record, asked.answer)
        )
        if done is not None:
            report.count(record_id, *done)


def _asked(
    model: type[CardRecord],
    still_open: ColumnElement[bool],
    record_id: int,
    intent_of: IntentOf[CardRecord],
    ask: Callable[[str], Any],
) -> _Answer | None:
    """Stripe's answer about the record `record_id`, asked while it is claimed, in a unit
    that writes nothing; None when it is claimed elsewhere, no longer open, names no
    PaymentIntent, or names one reported unknown already."""
    with db.transaction() as session:
        found = session.scalars(
            db.claim(select(model).where(model.id == record_id, still_open))
        ).one_or_none()
        intent_id = None if found is None else intent_of(session, found)
        if intent_id is None or unknown_intents.is_reported(session, intent_id):
            return None
        try:
            return _Answer(intent_id, ask(intent_id))
        except payment_gateway.StripeRefused as refused:
            return _Answer(intent_id, refused=refused.detail)


def _recorded(
    model: type[CardRecord],
    still_open: ColumnElement[bool],
    record_id: int,
    record: Recorded[CardRecord],
    answer: Any,
) -> tuple[str, str, str] | None:
    """Stripe's `answer` recorded for the record `record_id`, claimed again and read
    afresh (still open: a webhook or another host may have settled it meanwhile): its
    outcome, and its names for the job's line."""
    with db.transaction() as session:
        found = session.scalars(
            db.claim(select(model).where(model.id == record_id, still_open))
        ).one_or_none()
        if found is None:
            return None
        outcome = record(session, found, answer)
        # Named once recorded: a refund whose answer was lost learns its Stripe id.
        return outcome, logged_name(session, found), said_name(session, found)


def _reported_unknown(
    asked: _Answer, model: type[CardRecord], record_id: int, job: str
) -> str | None:
    """A PaymentIntent Stripe refused reported once (the payment it belongs to named):
    the job's line for it, or None when another host reported it meanwhile."""
    with db.transaction() as session:
        found = session.get(model, record_id)
        payment_id = (
            None if found is None else found.id if isinstance(found, Payment) else found.payment_id
        )
    if payment_id is None:
        return None
    if not unknown_intents.report_unknown(
        asked.intent_id, payment_id=payment_id, why=asked.refused or "", job=job, now=utcnow()
    ):
        return None
    return (
        f"not asked again: Stripe does not know PaymentIntent {asked.intent_id} "
        f"({asked.refused}); listed on Stripe's events until billing staff look at it"
    )


def reconcile_payments(
    *,
    gateway: payment_gateway.PaymentGateway | None,
    now: datetime | None = None,
    older_than: timedelta = RECONCILE_AFTER,
    limit: int = 200,
) -> ReconcileReport:
    """Ask Stripe about card payments still pending after `older_than` (their
    webhook never came) and apply what it says; cancel attempts as old that
    never stored a PaymentIntent. Each payment is claimed (`db.claim`), so
    several hosts may run this at once; a payment whose PaymentIntent Stripe does
    not know is reported once and left (round 61)."""
    at = now or utcnow()
    gateway = _card_gateway(gateway)

    def record(session: Session, _payment: Payment, intent: Any) -> str:
        return apply_intent_outcome(session, intent, now=at, actor=Actor.SYSTEM)

    report = ReconcileReport()
    with_intent = and_(
        Payment.state.in_(OPEN_ATTEMPT),
        Payment.stripe_payment_intent_id.is_not(None),
        ~unknown_intents.reported(Payment.stripe_payment_intent_id),
    )
    _reconcile(
        report,
        Payment,
        with_intent,
        _own_intent,
        gateway.retrieve_payment_intent,
        record,
        before=at - older_than,
        limit=limit,
    )
    for payment_id in _abandoned_attempts(at - older_than, limit):
        if (name := _cancel_abandoned(payment_id)) is not None:
            report.count(payment_id, "canceled, it never reached Stripe", name)
    return report


def _own_intent(_session: Session, found: Payment) -> str | None:
    """A card payment's own PaymentIntent, what the reconciles of payments ask about."""
    return found.stripe_payment_intent_id


def _abandoned_attempts(before: datetime, limit: int) -> list[int]:
    return _due_ids(
        select(Payment.id)
        .where(
            Payment.method == CARD,
            Payment.state == PENDING,
            Payment.stripe_payment_intent_id.is_(None),
            Payment.created_at <= before,
        )
        .order_by(Payment.created_at, Payment.id)
        .limit(limit)
    )


def _cancel_abandoned(payment_id: int) -> str | None:
    """A pending card attempt that never stored a PaymentIntent: its request
    died before Stripe answered. Any intent it made was never confirmed (the
    page gets a client secret only once the id is stored), so it cannot take
    money; canceling frees the invoice's page of a payment that is not coming.
    Its name for the job's line when canceled, else None."""
    with db.transaction() as session:
        payment = session.scalars(
            db.claim(
                select(Payment).where(
                    Payment.id == payment_id,
                    Payment.state == PENDING,
                    Payment.stripe_payment_intent_id.is_(None),
                )
            )
        ).one_or_none()
        if payment is None:
            return None
        why = "Canceled by reconcile: the attempt never reached Stripe."
        payment.note = why
        PAYMENT.apply(session, payment, "cancel", actor=Actor.SYSTEM, note=why)
        return logged_name(session, payment)
