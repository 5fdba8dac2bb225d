"""Refunds of what credit notes owe back: offline, or to the card through Stripe."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from licensing import confirmations, db
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import idempotency, payment_gateway
from licensing.billing.models import CreditNote, Payment, PaymentDispute, Refund
from licensing.billing.queries import open_disputes
from licensing.billing.services import references
from licensing.billing.services._common import (
    _card_gateway,
    _card_payments_since,
    _card_record_for,
    _check_amount,
    _email_billing_contact,
    _email_payer,
    _lock_card_payments,
    _locked,
    _locked_invoice,
    _locked_payment,
    _offline_errors,
    _offline_fields,
    _read_afresh,
    _settle_if_cleared,
    not_after_now,
    said_refund,
)
from licensing.billing.services.card_payments import RECONCILE_AFTER, ReconcileReport, _reconcile
from licensing.billing.services.credit_notes import decimal_or_none, invoice_figures
from licensing.billing.services.giving_back import apply_refund_at_stripe
from licensing.billing.services.references import RepeatedReferencePolicy
from licensing.billing.services.reversals import _reopen_if_owed
from licensing.billing.states import (
    CARD,
    OPEN,
    PENDING,
    REFUND,
    REVERSED,
    SUCCEEDED,
    UNCOLLECTIBLE,
    WON,
)
from licensing.calendar import office_date, office_day_start
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput
from licensing.limits import record_id
from licensing.money import format_amount, in_words, quantize, to_minor_units
from licensing.words import humanize

log = logging.getLogger(__name__)


class _CardPaymentsChanged(Exception):
    """A card payment of the invoice was recorded after a card refund locked the
    invoice's card payments and before it locked the invoice: the refund's
    transaction starts again (`refund_card`)."""


# Times a card refund's first transaction starts again, each time because a card
# payment of its invoice was recorded meanwhile, before it gives up with a 409.
LOCK_ROUNDS = 3


def _locked_credit_note(session: Session, credit_note_id: int, *, card: bool = False) -> CreditNote:
    """The credit note and its invoice, both row-locked: what the note may still send
    back depends on what the invoice owes (`Invoice.refunds_outstanding`), which a
    payment reversed meanwhile would change. For a refund to the `card`, the
    invoice's card payments are locked between the two, in the lock order
    (`billing.services`): the invoice taken first and a payment after deadlocked on
    PostgreSQL with a webhook or a dispute taking the payment, then the invoice.

    A card payment recorded between the two (round 54) would be locked only after
    the invoice, when the refund chooses among them: `_CardPaymentsChanged`, and the
    refund starts again, locking it in order."""
    credit = _locked(session, CreditNote, credit_note_id, "credit note")
    locked = _lock_card_payments(session, credit.invoice_id) if card else []
    _locked_invoice(session, credit.invoice_id)
    if card and _card_payments_since(session, credit.invoice_id, locked):
        raise _CardPaymentsChanged
    return credit


def _count_on_invoice(
    session: Session, refund: Refund, sent: bool, *, actor: Actor, now: datetime
) -> None:
    """A refund sent (`sent`), or one sent and then failed, counted in its invoice's
    `amount_refunded` (round 53): money back out to the licensee, which the balance
    counts, so a payment returned after it leaves the whole of it owed. Audited
    `invoice.refund_sent` / `invoice.refund_returned`; a paid invoice owed again
    reopens, an open one owing nothing more is settled."""
    session.flush()  # the lock reads the invoice afresh: nothing of it left unwritten
    if refund.payment_id is not None:  # to a card: its payment first (the lock order)
        _payment, invoice = _locked_payment(session, refund.payment_id)
    else:
        invoice = _locked_invoice(session, refund.invoice_id)
    invoice.amount_refunded += refund.amount if sent else -refund.amount
    audit.record_event(
        session,
        "invoice.refund_sent" if sent else "invoice.refund_returned",
        invoice.id,
        after={
            "refund_id": refund.id,
            "amount": quantize(refund.amount, refund.currency),
            "amount_refunded": quantize(invoice.amount_refunded, invoice.currency),
        },
        actor=actor,
    )
    # Round 57 (names57): named as the pages name it ("card refund 5" before).
    named = refund.named(in_sentence=True)
    returned = refund.returned_date
    note = (
        named if sent else f"{named}, returned" + (f" {returned.isoformat()}" if returned else "")
    )
    if sent:
        _reopen_if_owed(session, invoice, actor=actor, note=note)
    else:
        _settle_if_cleared(session, invoice, actor=actor, now=now, note=note)


def _check_refund_amount(credit: CreditNote, amount: Decimal) -> None:
    outstanding = credit.refund_outstanding
    if outstanding <= 0:
        raise Conflict(
            f"Credit note {credit.number} owes no refund"
            + (" (it is refunded in full)." if credit.refund_due > 0 else ".")
        )
    _check_amount(
        amount, credit.currency, outstanding, f"the refund outstanding on {credit.number}"
    )


@REFUND.on("succeed")
def _tell_refund_sent(session: Session, refund: Refund, actor: Actor, note: str | None) -> None:
    """The money is on its way back: tell the billing contact, and the payer of the
    card it goes back to."""
    credit = session.get(CreditNote, refund.credit_note_id)
    assert credit is not None
    session.flush()
    session.expire(credit, ["refunds"])  # count the refund just recorded
    subject = (
        f"Refund of {in_words(refund.amount, refund.currency)} for credit note {credit.number}"
    )
    told: dict[str, Any] = {
        "refund": refund,
        "credit": credit,
        "amount": in_words(refund.amount, refund.currency),
        "outstanding": in_words(credit.refund_outstanding, credit.currency),
    }
    _email_billing_contact(session, credit.invoice, subject=subject, template="refund_sent", **told)
    if refund.payment is not None:  # to a card: its payer hears of it too
        _email_payer(
            session,
            credit.invoice,
            refund.payment,
            subject=subject,
            template="refund_sent",
            **told,
        )


@REFUND.on("fail", "mark_returned")
def _uncount_if_sent(session: Session, refund: Refund, actor: Actor, note: str | None) -> None:
    """A refund sent and then failed (the bank returned it: Stripe's `refund.failed`,
    or billing staff's record of an offline refund's return, round 55) is not money
    out after all: its invoice owes it back again. One never sent (a card refund
    pending, which only `succeed` stamps `settled_at`) was never counted."""
    if refund.settled_at is not None:
        _count_on_invoice(session, refund, False, actor=actor, now=refund.failed_at or utcnow())


def _new_refund(
    session: Session,
    credit: CreditNote,
    *,
    action: str,
    actor: Actor,
    note: str | None,
    now: datetime,
    audit_note: str | None = None,
    **fields: Any,
) -> Refund:
    """Record a refund of `credit`'s refund due (its audit event is `action`, noted
    with `audit_note` before the staff's own note)."""
    refund = Refund(
        credit_note_id=credit.id,
        invoice_id=credit.invoice_id,
        organization_id=credit.organization_id,
        currency=credit.currency,
        note=(note or "").strip() or None,
        recorded_by=actor.name,
        recorded_by_id=actor.user_id,
        created_at=now,
        **fields,
    )
    after = {"credit_note": credit.number, **refund.snapshot()}
    noted = "\n".join(n for n in (audit_note, refund.note) if n) or None
    audit.record_new(session, refund, action, after=after, actor=actor, note=noted)
    return refund


def _check_offline_refund(
    credit: CreditNote,
    amount: Decimal,
    sent_on: date | None,
    earlier: list[Refund],
    repeated_reference: RepeatedReferencePolicy,
) -> str | None:
    """The refund's date and amount, then its reference (`references.checked`): a
    repeat to ask about is named beside a problem with the others. Returns the
    audit note naming the earlier refunds with the reference, if any."""
    try:
        if sent_on is not None and sent_on < credit.issue_date:
            raise InvalidInput.for_field(
                "sent_on",
                f"Cannot be before the credit note was issued ({credit.issue_date.isoformat()}).",
            )
        _check_refund_amount(credit, amount)
    except InvalidInput as error:
        references.checked(
            earlier, repeated_reference, references.REFUNDS, error.errors, error.detail
        )
        raise
    return references.checked(
        earlier, repeated_reference, references.REFUNDS, {}, "The refund has problems."
    )


def record_offline_refund(
    credit_note_id: int,
    *,
    method: str,
    amount: Decimal,
    reference: str | None,
    sent_on: date | None = None,
    note: str | None = None,
    now: datetime | None = None,
    actor: Actor,
    claim: idempotency.Claim | None = None,
    repeated_reference: RepeatedReferencePolicy = "allow",
) -> Refund:
    """Billing staff: a refund sent by wire, ACH or check against a credit note's
    refund due; never more than what is outstanding on it. With `claim`, the
    request's `Idempotency-Key` is stored with the refund (`billing.idempotency`).

    A reference the credit note's refunds already have is refused with
    `RepeatedReference` when `repeated_reference` is `ask`, and recorded otherwise,
    as an offline payment's is (`services.references`)."""
    actor.require_role("billing")
    now = now or utcnow()
    errors, clean_reference = _offline_errors(method, reference, sent_on, "sent_on", now)
    if errors:
        raise InvalidInput("The refund has problems.", errors)
    with db.transaction() as session:
        key = idempotency.claim_in(session, claim) if claim is not None else None
        credit = _locked_credit_note(session, credit_note_id)
        # Checked with the credit note locked, so a double submission finds the first.
        earlier = references.recorded_with(session, references.REFUNDS, credit.id, clean_reference)
        repeat_note = _check_offline_refund(credit, amount, sent_on, earlier, repeated_reference)
        refund = _new_refund(
            session,
            credit,
            action="refund.recorded",
            actor=actor,
            note=note,
            now=now,
            **_offline_fields(method, amount, clean_reference, sent_on, "sent_on", now),
            settled_at=now,
            audit_note=repeat_note,
        )
        if key is not None:
            key.started(refund_id=refund.id)
        _count_on_invoice(session, refund, True, actor=actor, now=now)
        _tell_refund_sent(session, refund, actor, None)
        return refund


def _refundable_card_payment(
    session: Session,
    credit: CreditNote,
    amount: Decimal,
    payment_id: int | None,
    *,
    lock: bool = True,
) -> Payment:
    """The card payment to refund: the one named, else the newest on the invoice
    with enough left to refund whose charge is not disputed (another card payment
    of the invoice may be). Locked (by `_locked_credit_note`, all the invoice's card
    payments, before the invoice: this lock is taken again), so two refunds never
    exceed it; not `lock`: a confirmation's reading, which writes nothing."""
    disputed = {
        dispute.payment_id: dispute for dispute in open_disputes(session, credit.invoice_id)
    }
    if payment_id in disputed:
        _refuse_while_disputed(disputed[payment_id])
    charged_back = charged_back_in_part(session, credit.invoice_id)
    if payment_id in charged_back:
        _refuse_charged_back(charged_back[payment_id])
    statement = (
        select(Payment)
        .where(
            Payment.invoice_id == credit.invoice_id,
            Payment.method == CARD,
            Payment.state == SUCCEEDED,
            or_(Payment.stripe_payment_intent_id.is_not(None), Payment.id.in_(_reinstatements())),
        )
        .order_by(Payment.id.desc())
    )
    if lock:
        statement = statement.with_for_update()
    if payment_id is not None:
        statement = statement.where(Payment.id == payment_id)
    candidates = list(session.scalars(statement.where(Payment.id.not_in(disputed))))
    for payment in candidates:
        session.refresh(payment)
        if payment.amount - payment.amount_refunded >= amount:
            return payment
    if payment_id is not None and candidates:
        left = candidates[0].amount - candidates[0].amount_refunded
        raise InvalidInput.for_field(
            "amount",
            f"More than is left to refund on the {candidates[0].named(in_sentence=True)} "
            f"({in_words(left, credit.currency)}).",
        )
    if disputed:  # what is left to refund by card is disputed
        _refuse_while_disputed(next(iter(disputed.values())))
    if charged_back:  # what is left of the card money is on a charge charged back
        _refuse_charged_back(next(iter(charged_back.values())))
    raise Conflict(
        f"Invoice {credit.invoice.number} has no card payment of this service with "
        f"{in_words(amount, credit.currency)} left to refund; record an offline refund instead."
    )


def _reinstatements() -> Select[int | None]:
    """Payments that are money Stripe gave back after a dispute won: card money
    refundable on the original charge (`_intent_to_refund`)."""
    return select(PaymentDispute.reinstatement_id).where(
        PaymentDispute.reinstatement_id.is_not(None)
    )


def _intent_to_refund(session: Session, payment: Payment) -> str | None:
    """The PaymentIntent Stripe refunds `payment` on: its own, or for money
    reinstated after a dispute won (a payment with none), the disputed payment's,
    whose charge holds that money again."""
    if payment.stripe_payment_intent_id is not None:
        return payment.stripe_payment_intent_id
    return session.scalar(
        select(Payment.stripe_payment_intent_id)
        .join(PaymentDispute, PaymentDispute.payment_id == Payment.id)
        .where(PaymentDispute.reinstatement_id == payment.id)
    )


def _refuse_while_disputed(dispute: PaymentDispute) -> NoReturn:
    """Stripe refuses to refund a disputed charge (`charge_disputed`) while the
    dispute is open: say so before asking it."""
    raise Conflict(_while_disputed_words(dispute))


def _while_disputed_words(dispute: PaymentDispute) -> str:
    payment = dispute.payment
    if dispute.amount < payment.amount:
        return _charged_back_words(dispute)
    return (
        f"The {payment.named(payment.invoice.number, in_sentence=True)} is disputed "
        f"by the cardholder's bank (Stripe dispute {dispute.stripe_dispute_id}, open since "
        f"{office_date(dispute.disputed_at).isoformat()}): Stripe refuses to refund a card "
        "while its dispute is open. Answer the dispute in the Stripe dashboard and refund "
        "once it is closed, or record a refund sent offline."
    )


def charged_back_in_part(session: Session, invoice_id: int) -> dict[int, PaymentDispute]:
    """The invoice's card payments charged back in part (the bank disputed part of
    the charge and Stripe withdrew it), by payment id, with their dispute: the part
    not disputed stays paid, but on a charge Stripe will not refund
    (`_refuse_charged_back`)."""
    disputes = session.scalars(
        select(PaymentDispute)
        .join(Payment, Payment.id == PaymentDispute.payment_id)
        .where(
            PaymentDispute.invoice_id == invoice_id,
            PaymentDispute.reversal_id.is_not(None),
            PaymentDispute.amount < Payment.amount,
        )
        .order_by(PaymentDispute.id)
    )
    return {dispute.payment_id: dispute for dispute in disputes}


def _refuse_charged_back(dispute: PaymentDispute) -> NoReturn:
    """Stripe refuses any refund of a charge with a dispute (`charge_disputed`: "the
    charge you're attempting to refund has been charged back"), whatever part the
    bank disputed; so the part not disputed goes back offline. Said before asking."""
    raise Conflict(_charged_back_words(dispute))


def _charged_back_words(dispute: PaymentDispute) -> str:
    payment, currency = dispute.payment, dispute.currency
    kept = in_words(payment.amount - dispute.amount, currency)
    said = (
        f"The {payment.named(payment.invoice.number, in_sentence=True)} was disputed by the "
        f"cardholder's bank for {in_words(dispute.amount, currency)} of its "
        f"{in_words(payment.amount, currency)} (Stripe dispute {dispute.stripe_dispute_id}, "
        f"{dispute.state}): "
    )
    if dispute.state == WON:
        said += (
            "only the money Stripe gave back after the dispute won is refunded to the card; "
            f"the {kept} never disputed is not. "
        )
    else:
        said += (
            "Stripe refuses to refund a card charge with a dispute (charge_disputed), so "
            f"the {kept} not disputed cannot go back to the card. "
        )
    return said + "Record a refund sent offline (wire, ACH or check) for it instead."


def card_refund_refusal(session: Session, payment: Payment) -> str | None:
    """Why a card refund counted against `payment` would be refused, in the words the
    refusal uses (None: it may be refunded to the card). The payment's page says this
    instead of offering a refund the service would refuse; `refund_card` still decides."""
    if payment.method != CARD:
        return f"{payment.named(payment.invoice.number)}, was not paid by card: refund it offline."
    if payment.state not in (SUCCEEDED, REVERSED):
        # Round 44: before its disputes, which a payment that never counted (a flagged
        # one) may have: its dispute read as one "in part" (the amount asked is not
        # what Stripe took), "so the 0.01 USD not disputed cannot go back to the card".
        return _not_succeeded_words(payment)
    disputes = {dispute.id: dispute for dispute in payment.disputes}
    for dispute in disputes.values():
        if dispute.state == OPEN or (
            dispute.reversal_id is not None and dispute.amount < payment.amount
        ):
            return _while_disputed_words(dispute)
    if payment.state == REVERSED and disputes:
        return _charged_back_in_full_words(payment, max(disputes.values(), key=lambda d: d.id))
    if payment.state != SUCCEEDED:
        return _not_succeeded_words(payment)
    if _intent_to_refund(session, payment) is None:
        return (
            f"The {payment.named(in_sentence=True)} has no Stripe PaymentIntent to refund on: "
            "record a refund sent offline instead."
        )
    if payment.amount - payment.amount_refunded <= 0:
        return f"The {payment.named(in_sentence=True)} is refunded in full."
    return None


def _not_succeeded_words(payment: Payment) -> str:
    return (
        f"The {payment.named(in_sentence=True)} is {humanize(payment.outcome)}: only a card "
        "payment that succeeded is refunded to its card."
    )


def _charged_back_in_full_words(payment: Payment, dispute: PaymentDispute) -> str:
    said = (
        f"The {payment.named(payment.invoice.number, in_sentence=True)} was charged back "
        f"in full (Stripe dispute {dispute.stripe_dispute_id}, {dispute.state}): "
    )
    if dispute.reinstatement_id is not None:
        return said + (
            "the money Stripe gave back is a card payment of its own, which is refunded "
            "to the card instead."
        )
    return said + "none of its money is with the office to refund."


# What a card refund's confirmation binds, and how its refusals are worded (round 54:
# a card refund went at one press, though money leaving to a card is as final as a
# credit note): the mechanism the credit note's confirmation uses.
CARD_REFUND_CONFIRMATION = confirmations.Kind(
    salt="licensing.billing.card-refund-confirmation",
    record_word="credit note",
    not_done="Not refunded",
    nothing_done="Nothing was sent to Stripe",
    again="press Refund again to see its confirmation, then confirm it",
)


@dataclass(frozen=True)
class CardRefundPreview:
    """What a card refund would do, for billing staff to confirm before Stripe is
    asked: the amount, the card and its payment, what the invoice owes and owes back
    before and after, and the `confirmation` the confirming post carries back (signed:
    the credit note, the amount, the payment, the note, the figures as read, who was
    shown it and when; `refund_card` checks each)."""

    credit_note: str
    invoice: str
    currency: str
    amount: Decimal
    card: str
    payment: Payment
    owed_before: Decimal
    owed_after: Decimal
    owed_back_before: Decimal
    owed_back_after: Decimal
    note: str
    confirmation: str


def card_refund_figures(credit: CreditNote, payment: Payment) -> dict[str, str]:
    """What a card refund's confirmation says and depends on, as read: the invoice's
    figures (as a credit note's confirmation binds them), what it and the credit note
    owe back, and the card payment's state and what is left to refund on it. A
    payment, a reversal, a credit note, a refund, a dispute or a void changes one."""
    invoice = credit.invoice
    currency = invoice.currency
    return {
        **invoice_figures(invoice),
        "owed back": format_amount(invoice.refund_outstanding, currency),
        "credit note's refund outstanding": format_amount(credit.refund_outstanding, currency),
        "card payment state": payment.state,
        "left to refund on the card payment": format_amount(
            payment.amount - payment.amount_refunded, currency
        ),
    }


def check_card_refund(
    credit_note_id: int,
    *,
    amount: Decimal,
    payment_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
    actor: Actor,
    gateway: payment_gateway.PaymentGateway | None,
) -> CardRefundPreview:
    """Billing staff: what `refund_card` would do, checked as it checks (the amount,
    what the credit note still owes back, a card payment that can take it: the same
    refusals), writing nothing and asking Stripe nothing; with the signed confirmation
    that refunds exactly that."""
    actor.require_role("billing")
    _card_gateway(gateway)
    now = now or utcnow()
    session = db.session()
    credit = _read_afresh(session, CreditNote, credit_note_id, "credit note")
    session.refresh(credit.invoice)
    _check_refund_amount(credit, amount)
    payment = _refundable_card_payment(session, credit, amount, payment_id, lock=False)
    invoice = credit.invoice
    owed_after = invoice.owed + amount  # once Stripe says it is sent
    kept = invoice.state in (OPEN, UNCOLLECTIBLE)
    cleaned = (note or "").strip()
    return CardRefundPreview(
        credit_note=credit.number,
        invoice=invoice.title,
        currency=invoice.currency,
        amount=amount,
        card=payment.card_label or "the card",
        payment=payment,
        owed_before=invoice.balance_due,
        owed_after=max(owed_after, Decimal(0)) if kept else Decimal(0),
        owed_back_before=invoice.refund_outstanding,
        owed_back_after=invoice.refund_outstanding - amount,
        note=cleaned,
        confirmation=CARD_REFUND_CONFIRMATION.sign(
            credit.id,
            actor,
            now,
            {
                "amount": format_amount(amount, invoice.currency),
                "payment": str(payment.id),
                "note": confirmations.digest(cleaned),
                **card_refund_figures(credit, payment),
            },
        ),
    )


class RefundChanged(Conflict):
    """A card refund confirmed on figures the invoice, its credit note or the card
    payment no longer have: nothing is sent to Stripe, and the words say what changed."""

    def __init__(self, credit: CreditNote, changes: list[str]) -> None:
        super().__init__(
            f"Not refunded: {credit.invoice.title} changed after the card refund of credit "
            f"note {credit.number} was shown to confirm ({'; '.join(changes) or 'read again'}"
            "), so what it owes and owes back after it no longer holds. Nothing was sent to "
            "Stripe: check the invoice, then press Refund again to confirm it on the "
            "figures as they are now."
        )


def _card_payment_named(payment_id: int) -> str:
    """A card payment as the pages name it, by its card and when it was started, for
    a refusal (round 56: its row id told staff and scripts nothing)."""
    with db.transaction() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            return "card payment"
        return payment.named(payment.invoice.number, in_sentence=True)


def _confirmed_card_refund(
    confirmation: str,
    credit_note_id: int,
    *,
    amount: Decimal | None,
    payment_id: int | None,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> tuple[int, dict[str, str]]:
    """The card payment and the figures a card refund's confirmation was shown with,
    once it is found to be the service's, for this credit note, amount, payment, note
    and person, and recent; `ConfirmationRefused` (400) otherwise."""
    said = CARD_REFUND_CONFIRMATION.read(confirmation, credit_note_id, actor, now)
    shown_payment = record_id(said.get("payment"))
    if shown_payment is None or "amount" not in said or "note" not in said:
        raise CARD_REFUND_CONFIRMATION.refused("the confirmation is not one this service made")
    if (
        decimal_or_none(said["amount"]) != amount
        or said["note"] != confirmations.digest((note or "").strip())
        or payment_id not in (None, shown_payment)
    ):
        raise CARD_REFUND_CONFIRMATION.refused(
            "the amount, card payment or note posted is not the one shown to confirm (the "
            f"confirmation was of {said['amount']} to the {_card_payment_named(shown_payment)})"
        )
    figures = {
        name: text for name, text in said.items() if name not in ("amount", "payment", "note")
    }
    return shown_payment, figures


def refund_card(
    credit_note_id: int,
    *,
    amount: Decimal | None = None,
    payment_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
    actor: Actor,
    gateway: payment_gateway.PaymentGateway | None,
    claim: idempotency.Claim | None = None,
    confirmation: str | None = None,
) -> Refund:
    """Billing staff: refund a credit note's refund due to the card that paid the
    invoice (a Stripe Refund on its PaymentIntent; the whole outstanding amount
    unless `amount` says less).

    With `confirmation` (the console's confirming press always gives one, "" when its
    post had none; round 54): refused (`ConfirmationRefused`, 400) unless it is a
    `check_card_refund` confirmation of this service, for this credit note, amount,
    card payment, note and actor, shown within `CONFIRM_WITHIN`; refused
    (`RefundChanged`, 409) when, under the rows' locks, the invoice's, the credit
    note's or the card payment's figures are no longer those shown. Stripe is asked
    nothing either way. The API gives none: a program confirms by calling.

    The refund is recorded `pending` first, which holds its amount against the
    refund due, so a second request cannot refund it again; then Stripe is
    asked, with the refund's own idempotency key and its id in the metadata (so
    `charge.refunded` finds it even before its Stripe id is stored). Stripe's
    answer, now or by webhook, moves it to `succeeded` or `failed` (the amount
    is then outstanding again).

    With `claim` (the API request's `Idempotency-Key`), the key is stored in the
    first transaction, before anything is checked, and then with the pending
    refund's id: a retry of the request, whatever became of this one after that
    commit (Stripe's answer lost, the process gone), finds the key and is answered
    with this refund instead of starting another. Only Stripe's refusal, which
    refunded nothing, gives the key back.

    The first transaction starts again (`_CardPaymentsChanged`, round 54) when a
    card payment of the invoice was recorded while it took its locks, so that it
    never locks a payment after the invoice; after `LOCK_ROUNDS` a 409 asks staff
    to try again.
    """
    actor.require_role("billing")
    now = now or utcnow()
    gateway = _card_gateway(gateway)
    shown: dict[str, str] | None = None
    if confirmation is not None:
        payment_id, shown = _confirmed_card_refund(
            confirmation,
            credit_note_id,
            amount=amount,
            payment_id=payment_id,
            note=note,
            actor=actor,
            now=now,
        )
    asked = _CardRefundAsked(credit_note_id, amount, payment_id, note, now, actor, claim, shown)
    for _round in range(LOCK_ROUNDS):
        try:
            request = _pending_card_refund(asked)
            break
        except _CardPaymentsChanged:  # rolled back: lock them all again, in order
            continue
    else:
        raise Conflict(
            "The invoice's card payments changed while the refund was being started; try again."
        )
    refund_id, key, intent_id, credit_number, invoice_id, currency, wanted = request
    assert key is not None
    assert intent_id is not None
    try:
        status = gateway.create_refund(
            payment_intent_id=intent_id,
            amount_minor=to_minor_units(wanted, currency),
            metadata={
                "refund_id": str(refund_id),
                "credit_note_number": credit_number,
                "invoice_id": str(invoice_id),
            },
            idempotency_key=key,
        )
    except payment_gateway.StripeRefused as error:  # nothing was refunded
        _refund_failed_at_once(refund_id, error.detail, now, actor, claim)
        raise
    # Any other failure leaves it pending (its outcome is unknown): the
    # `charge.refunded` webhook settles it, and its amount stays held meanwhile.
    with db.transaction() as session:
        apply_refund_outcome(session, status, now=now, actor=actor)
        found = session.get(Refund, refund_id)
        assert found is not None
        return found


@dataclass(frozen=True)
class _CardRefundAsked:
    """What billing staff asked `refund_card` for."""

    credit_note_id: int
    amount: Decimal | None
    payment_id: int | None
    note: str | None
    now: datetime
    actor: Actor
    claim: idempotency.Claim | None
    # What the console's confirmation showed (`card_refund_figures`), else None.
    shown: dict[str, str] | None = None


def _pending_card_refund(
    asked: _CardRefundAsked,
) -> tuple[int, str | None, str | None, str, int, str, Decimal]:
    """`refund_card`'s first transaction: the refund recorded `pending`, its amount
    held. `_CardPaymentsChanged` rolls it back (the request's key with it)."""
    with db.transaction() as session:
        key_stored = idempotency.claim_in(session, asked.claim) if asked.claim is not None else None
        credit = _locked_credit_note(session, asked.credit_note_id, card=True)
        if asked.shown is not None:
            _refuse_if_moved(session, credit, asked.payment_id, asked.shown)
        wanted = credit.refund_outstanding if asked.amount is None else asked.amount
        _check_refund_amount(credit, wanted)
        payment = _refundable_card_payment(session, credit, wanted, asked.payment_id)
        refund = _new_refund(
            session,
            credit,
            action="refund.started",
            actor=asked.actor,
            note=asked.note,
            now=asked.now,
            payment_id=payment.id,
            method=CARD,
            state=PENDING,
            amount=wanted,
            idempotency_key=f"refund-{uuid.uuid4().hex}",
        )
        if key_stored is not None:
            key_stored.started(refund_id=refund.id)
        return (
            refund.id,
            refund.idempotency_key,
            _intent_to_refund(session, payment),
            credit.number,
            credit.invoice_id,
            credit.currency,
            wanted,
        )


def _refuse_if_moved(
    session: Session, credit: CreditNote, payment_id: int | None, shown: dict[str, str]
) -> None:
    """`RefundChanged` when the figures a card refund was confirmed on moved (read
    under the locks `_locked_credit_note` took, the card payments among them)."""
    payment = session.get(Payment, payment_id) if payment_id is not None else None
    if payment is None or payment.invoice_id != credit.invoice_id:
        raise CARD_REFUND_CONFIRMATION.refused("the confirmation was shown for another payment")
    session.refresh(payment)
    changes = confirmations.differences(
        shown, card_refund_figures(credit, payment), credit.currency
    )
    if changes:
        raise RefundChanged(credit, changes)


def _refund_failed_at_once(
    refund_id: int, why: str, now: datetime, actor: Actor, claim: idempotency.Claim | None
) -> None:
    with db.transaction() as session:
        refund = session.get(Refund, refund_id, with_for_update=True)
        assert refund is not None
        _refund_step(session, refund, "fail", why[:2000], now, actor)
        if claim is not None:  # nothing was refunded: the request may be retried with its key
            idempotency.release(session, claim)


def _refund_step(
    session: Session,
    refund: Refund,
    action: str,
    note: str | None,
    now: datetime,
    actor: Actor,
    told_at: datetime | None = None,
) -> None:
    """`succeed` or `fail` a card refund as Stripe says, at `now`, each dated on
    Stripe's day: `told_at`, when the event saying so was made, clamped as a dispute's
    steps are (`not_after_now`); none said (Stripe's answer to the request itself, a
    refund listed from Stripe rather than carried by its event, the hourly
    reconciliation): now. A refund sent (round 56, refundlist56) is dated `sent_on` so, never
    before it was asked of Stripe (`created_at`): a `refund.updated` that reached the
    webhook days late dated it sent that late. One sent that fails (the card's bank
    returned it, round 56) is dated `returned_on` so, never before the day it was
    sent. `settled_at` and `failed_at` stay when each was recorded, which the nightly
    pulls (`by=recorded`) find it by."""
    if note:
        refund.note = note
    if action == "succeed":
        refund.sent_on = office_date(not_after_now(told_at, now, not_before=refund.created_at))
        _count_on_invoice(session, refund, True, actor=actor, now=now)
    elif action == "fail" and refund.settled_at is not None:
        sent = office_day_start(refund.sent_on) if refund.sent_on else refund.settled_at
        returned_at = not_after_now(told_at, now, not_before=sent)
        refund.returned_on = office_date(returned_at)
    REFUND.apply(
        session,
        refund,
        action,
        actor=actor,
        note=note,
        at=now,
        changes={"stripe_refund_id": refund.stripe_refund_id},
    )


def _refund_for(session: Session, status: payment_gateway.RefundStatus) -> Refund | None:
    return _card_record_for(
        session, Refund, "stripe_refund_id", status.id, status.metadata, "refund_id"
    )


def apply_refund_outcome(
    session: Session,
    status: payment_gateway.RefundStatus,
    *,
    now: datetime,
    actor: Actor,
    told_at: datetime | None = None,
) -> str:
    """Apply what Stripe says about a Refund, idempotently and in any order
    (`actor`: billing staff when their own request learns it, else the system;
    `told_at`: when Stripe made the event that says it, which dates the refund's
    sending or its return)."""
    refund = _refund_for(session, status)
    if refund is None:
        # Not a credit note's: maybe a flagged payment's money given back (round 36).
        given_back = apply_refund_at_stripe(session, status, now=now, actor=actor)
        return given_back or f"ignored: refund {status.id} was not made by this service"
    if refund.stripe_refund_id is None:
        refund.stripe_refund_id = status.id
    expected = to_minor_units(refund.amount, refund.currency)
    if status.currency != refund.currency or status.amount != expected:
        note = f"Stripe reports {status.amount} {status.currency} minor units, asked {expected}"
        log.warning("refund %s: %s", refund.id, note)
    if status.status == "succeeded" and REFUND.can(refund.state, "succeed"):
        _refund_step(session, refund, "succeed", None, now, actor, told_at)
        return f"refunded: {said_refund(session, refund)}"
    if status.status in ("failed", "canceled") and REFUND.can(refund.state, "fail"):
        why = status.failure_reason or status.status
        _refund_step(session, refund, "fail", why, now, actor, told_at)
        return f"refund failed: {said_refund(session, refund)}"
    # Round 57: named as the refunds list names it ("refund 5" before).
    said = said_refund(session, refund)
    return f"no change: {said} is {refund.state}, Stripe says {status.status}"


def apply_refund_outcomes(
    session: Session,
    statuses: list[payment_gateway.RefundStatus],
    *,
    now: datetime,
    actor: Actor,
    told_at: datetime | None = None,
) -> str:
    """`apply_refund_outcome` for each Refund a webhook names (a `charge.refunded`
    names every refund of the charge), the ones this service recorded locked first,
    by id, before any is applied (round 56): each is applied with its payment, its
    invoice and the audit log locked, and a refund locked after them waited for the
    reconciliation, which claims a refund and then locks its payment: "deadlock
    detected" (`tests/integration/billing/test_refund_webhook_lock_order.py`)."""
    _lock_refunds_named(session, statuses)
    return "; ".join(
        apply_refund_outcome(session, status, now=now, actor=actor, told_at=told_at)
        for status in statuses
    )


def _lock_refunds_named(session: Session, statuses: list[payment_gateway.RefundStatus]) -> None:
    """Row-lock, by id, the card refunds `statuses` name: by their Stripe ids, or by
    the refund ids their metadata carries (as `_refund_for` finds them)."""
    if not statuses:
        return
    stripe_ids = [status.id for status in statuses]
    ours = [found for status in statuses if (found := record_id(status.metadata.get("refund_id")))]
    session.scalars(
        select(Refund.id)
        .where(
            Refund.method == CARD,
            or_(Refund.stripe_refund_id.in_(stripe_ids), Refund.id.in_(ours)),
        )
        .order_by(Refund.id)
        .with_for_update()
    ).all()


REFUND_EVENTS = frozenset({"charge.refunded", "refund.updated", "refund.failed"})


def _refund_statuses(
    gateway: payment_gateway.PaymentGateway, event: payment_gateway.WebhookEvent
) -> tuple[list[payment_gateway.RefundStatus], datetime | None]:
    """The refunds an event is about, and when Stripe said what they carry: carried
    in it, as they stood when the event was made (its `created`); or (a charge
    without its refunds, as newer Stripe API versions send) asked of Stripe, as they
    stand now (None: a return among them is dated as applied)."""
    carried = payment_gateway.refunds_from_event(event.type, event.data_object)
    if carried is not None:
        return carried, event.created
    intent_id = event.data_object.get("payment_intent")
    if not isinstance(intent_id, str) or not intent_id:
        return [], None
    return gateway.list_refunds(intent_id), None


def reconcile_refunds(
    *,
    gateway: payment_gateway.PaymentGateway | None,
    now: datetime | None = None,
    older_than: timedelta = RECONCILE_AFTER,
    limit: int = 200,
) -> ReconcileReport:
    """Settle card refunds still pending after `older_than`: Stripe's answer to the
    request was lost and no webhook came. Stripe is asked for the refunds of the
    payment's PaymentIntent, and the one carrying this refund's id (its own Stripe
    id, or the `refund_id` metadata the request sent) is applied as a webhook
    would. A refund Stripe has no trace of never reached it: it fails, so its
    amount is outstanding again and staff can refund it anew. Each refund is
    claimed (`db.claim`), so several hosts may run this at once."""
    at = now or utcnow()
    gateway = _card_gateway(gateway)

    def intent_of(session: Session, refund: Refund) -> str | None:
        payment = session.get(Payment, refund.payment_id)
        return _intent_to_refund(session, payment) if payment is not None else None

    def record(
        session: Session, refund: Refund, refunds: list[payment_gateway.RefundStatus]
    ) -> str:
        return _reconcile_refund(session, refunds, refund, at)

    report = ReconcileReport(
        subject="card refund(s)",
        record="refund",
        applied_when=("refunded",),
        failed_when=("refund failed", "failed"),
    )
    pending = Refund.state == PENDING
    _reconcile(
        report,
        Refund,
        pending,
        intent_of,
        gateway.list_refunds,
        record,
        before=at - older_than,
        limit=limit,
    )
    return report


def _reconcile_refund(
    session: Session,
    refunds: list[payment_gateway.RefundStatus],
    refund: Refund,
    now: datetime,
) -> str:
    for status in refunds:
        if status.id == refund.stripe_refund_id or status.metadata.get("refund_id") == str(
            refund.id
        ):
            return apply_refund_outcome(session, status, now=now, actor=Actor.SYSTEM)
    if refund.stripe_refund_id is not None:
        return f"no change: Stripe does not list refund {refund.stripe_refund_id} yet"
    _refund_step(session, refund, "fail", "The refund never reached Stripe.", now, Actor.SYSTEM)
    return "failed: it never reached Stripe"
