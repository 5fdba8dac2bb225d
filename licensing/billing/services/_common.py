"""Helpers shared by the billing use-case modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from licensing import db, limits, printable
from licensing.access import Principal
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.billing import links, payment_gateway
from licensing.billing.letterhead import letterhead
from licensing.billing.models import (
    REASON_REQUIRED,
    REFERENCE_MAX,
    CreditNote,
    Invoice,
    Payment,
    Refund,
    StripeEvent,
)
from licensing.billing.states import CARD, COLLECTIBLE, INVOICE, OFFLINE_METHODS, SUCCEEDED
from licensing.calendar import office_date
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.links import links as pages
from licensing.mail import services as mail
from licensing.money import format_amount, in_words, quantize
from licensing.statemachine import StateMachine
from licensing.words import at_most_characters


def not_after_now(
    told: datetime | None, now: datetime, *, not_before: datetime | None = None
) -> datetime:
    """When Stripe says a step happened (a dispute's close, the money withdrawn or
    reinstated; a card refund's return by the card's bank, round 56), never after
    now: a moment Stripe dates ahead of this clock (the two apart) is booked as now,
    so no day booked is one that has not come (round 55, statements55: the
    withdrawal and the reinstatement took Stripe's day as it was). Nor before
    `not_before` when given; none said: now."""
    if told is None:
        return now
    if not_before is not None:
        told = max(told, not_before)
    return min(told, now)


def said_payment(session: Session, payment: Payment) -> str:
    """A card payment as an outcome of Stripe's news names it (round 57: "payment 12"
    before): as the pages do, in a sentence, "card payment of INV-2027-000012 (Visa
    ending 4242), started 2027-03-10 09:15:07 (US Central time)". The webhook's stored
    outcome and its answer to Stripe say it; `licensing payments reconcile` drops it
    from a line that names the payment already (`card_payments.ReconcileReport`)."""
    invoice = session.get(Invoice, payment.invoice_id)
    return payment.named(invoice.number if invoice is not None else None, in_sentence=True)


def said_refund(session: Session, refund: Refund) -> str:
    """A credit note's refund as an outcome names it (round 57: "refund 5" before), as
    the refunds list does: "card refund of 60.00 USD of credit note CN-2027-000003
    (Stripe re_...)", its Stripe id once it has one (two refunds of one amount on one
    credit note read alike without it)."""
    credit = session.get(CreditNote, refund.credit_note_id)
    words = "ACH" if refund.method == "ach" else refund.method
    said = f"{words} refund of {in_words(refund.amount, refund.currency)}" + (
        f" of credit note {credit.number}" if credit is not None else ""
    )
    return said + (f" (Stripe {refund.stripe_refund_id})" if refund.stripe_refund_id else "")


def _amount(amount: Decimal, currency: str) -> str:
    """An amount as a late fee's stored working writes it, ungrouped: the working
    is kept as the API gives it (`working`, like a quote's explanation), and the
    invoice's page and PDF group its figures (`words.working_in_words`). Every
    message says `money.in_words`."""
    return f"{format_amount(amount, currency)} {currency}"


def _email_billing_contact(
    session: Session,
    invoice: Invoice,
    *,
    subject: str,
    template: str,
    attachments: Sequence[mail.Attachment] = (),
    link_generation: int | None = None,
    **context: Any,
) -> None:
    """Queue `template` about `invoice` to its organization's billing contact, with
    the invoice's amounts and signed links (the contact may have no account,
    billing/links.py) besides `context`. The links' generation is read once, unless
    the caller read it with the invoice (`link_generation`: a batch, so the count
    of statements does not grow by one an email)."""
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    if link_generation is None:
        link_generation = links.current_generation(invoice)
    mail.enqueue(
        session,
        to=organization.billing_email,
        subject=subject,
        template=template,
        # The links' secret opens the invoice and pays it without an account: staff
        # read it masked in the outbox, and it is erased there once sent (round 30).
        secrets=[links.token(invoice, link_generation)],
        context={
            "invoice": invoice,
            "organization": organization,
            "total": in_words(invoice.total, invoice.currency),
            "balance_due": in_words(invoice.balance_due, invoice.currency),
            "invoice_url": links.invoice_url(invoice, link_generation),
            "pdf_url": links.pdf_url(invoice, link_generation),
            "remit_to": letterhead().remit_lines,
            **context,
        },
        attachments=attachments,
    )


def _card_payer(session: Session, payment: Payment, organization: Organization) -> User | None:
    """The vendor user who started the card payment, unless they are the billing
    contact (who is written to as the contact: once, and not told "from you" twice)."""
    payer = session.get(User, payment.paid_by_user_id) if payment.paid_by_user_id else None
    if payer is None or payer.email.lower() == organization.billing_email.lower():
        return None
    return payer


def _email_payer(
    session: Session,
    invoice: Invoice,
    payment: Payment,
    *,
    subject: str,
    template: str,
    **context: Any,
) -> None:
    """Queue `template` about a card payment to the vendor user who paid it, besides
    the billing contact's copy: whoever pays expects a confirmation, and hears of a
    refund to their card. Not when the payer is the billing contact (one email, not
    two), nor to an address never confirmed (it may not be theirs).

    A payer who still acts for the organization gets the invoice's page, signed in
    (the signed link is the billing contact's). One who no longer does (their access
    removed, or their account now another organization's) is still told, at the
    address their account has: it is their card, and a charge or refund on it with no
    word would read as fraud. They get no link (they can no longer open its pages)
    and are told to ask the billing contact, named, for the invoice."""
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    payer = _card_payer(session, payment, organization)
    if payer is None or not payer.email_verified:
        return
    acts = payer.is_active and payer.organization_id == invoice.organization_id
    mail.enqueue(
        session,
        to=payer.email,
        subject=subject,
        template=template,
        context={
            "invoice": invoice,
            "organization": organization,
            "payment": payment,
            "balance_due": in_words(invoice.balance_due, invoice.currency),
            "payer": payer,
            "payer_left": not acts,
            "invoice_url": pages().vendor_invoice(invoice.id) if acts else None,
            **context,
        },
    )


def _check_amount(amount: Decimal, currency: str, most: Decimal, beyond: str) -> None:
    """An amount to credit or refund: more than zero, in whole minor units, and at
    most `most` (`beyond` says what that limit is)."""
    if amount <= 0 or quantize(amount, currency) != amount:
        raise InvalidInput.for_field("amount", "Must be more than zero, in whole cents.")
    if amount > most:
        raise InvalidInput.for_field("amount", f"More than {beyond} ({in_words(most, currency)}).")


Issued = TypeVar("Issued", Invoice, CreditNote)


def _read_afresh(session: Session, model: type[Issued], record_id: int, noun: str) -> Issued:
    """The invoice or credit note as it is now (not as this request first read it),
    unlocked: what a confirmation shows, writing nothing."""
    found = session.get(model, record_id)
    if found is None:
        raise NotFound(f"There is no {noun} {record_id}.")
    session.refresh(found)
    return found


def _locked(
    session: Session,
    model: type[Issued],
    record_id: int,
    noun: str,
    principal: Principal | None = None,
) -> Issued:
    """The invoice or credit note, row-locked until the transaction ends and read
    afresh, as every locked read is (`licensing.db`; round 56: no refresh after it),
    vendor-scoped when `principal` is given."""
    statement = select(model).where(model.id == record_id).with_for_update()
    if principal is not None:  # a vendor acting; staff and the system are unrestricted
        statement = account_queries.scoped(statement, model, principal)
    found = session.scalars(statement).one_or_none()
    if found is None:
        raise NotFound(f"There is no {noun} {record_id}.")
    return found


def _locked_invoice(
    session: Session, invoice_id: int, principal: Principal | None = None
) -> Invoice:
    """The invoice, row-locked until the transaction ends (vendor-scoped)."""
    return _locked(session, Invoice, invoice_id, "invoice", principal)


def _locked_payment(session: Session, payment_id: int) -> tuple[Payment, Invoice]:
    """A payment and its invoice, both row-locked until the transaction ends and read
    afresh by their locks (`licensing.db`): the payment first, then its invoice (the
    lock order, `billing.services`)."""
    payment = session.get(Payment, payment_id, with_for_update=True)
    if payment is None:
        raise NotFound(f"There is no payment {payment_id}.")
    invoice = _locked_invoice(session, payment.invoice_id)
    return payment, invoice


def _card_payment_ids(invoice_id: int) -> Select[int]:
    return (
        select(Payment.id)
        .where(Payment.invoice_id == invoice_id, Payment.method == CARD)
        .order_by(Payment.id)
    )


def _lock_card_payments(session: Session, invoice_id: int) -> list[int]:
    """Row-lock the invoice's card payments (by id), before its invoice is locked
    (the lock order, `billing.services`): a card refund chooses among them once
    the invoice is locked. Returns the ids locked."""
    return list(session.scalars(_card_payment_ids(invoice_id).with_for_update()))


def _card_payments_since(session: Session, invoice_id: int, locked: list[int]) -> bool:
    """Whether the invoice has a card payment `_lock_card_payments` did not lock (one
    recorded since: a reinstatement, committed while the lock waited for the disputed
    payment), read once the invoice is locked. Every card payment is recorded with
    its invoice locked, so none is recorded after this, until the caller commits."""
    return list(session.scalars(_card_payment_ids(invoice_id))) != locked


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput.for_field("reason", REASON_REQUIRED)
    if (problem := printable.unprintable_problem(text)) is not None:
        raise InvalidInput.for_field("reason", problem)  # a credit note prints it
    return text


def _offline_errors(
    method: str, reference: str | None, on: date | None, on_field: str, now: datetime
) -> tuple[dict[str, list[str]], str]:
    """Problems with an offline payment's or refund's method, bank reference and
    date (`on_field` names the date), and the reference cleaned of spaces."""
    errors: dict[str, list[str]] = {}
    if method not in OFFLINE_METHODS:
        errors["method"] = [f"Must be one of: {', '.join(OFFLINE_METHODS)}."]
    clean_reference = (reference or "").strip()
    if not clean_reference:
        errors["reference"] = ["Give the bank or check reference."]
    elif len(clean_reference) > REFERENCE_MAX:
        errors["reference"] = [at_most_characters(REFERENCE_MAX)]
    elif not accounts.is_one_line(clean_reference):
        # Round 50: the reference is written into the licensee's emails (the excess
        # sent back, round 49), the reversal's reason and the exports' cells; a line
        # break in it wrote a paragraph of the typist's own into the email.
        errors["reference"] = [accounts.ONE_LINE]
    if on is not None and on > office_date(now):
        errors[on_field] = ["Cannot be in the future."]
    return errors, clean_reference


def _offline_fields(
    method: str,
    amount: Decimal,
    clean_reference: str,
    on: date | None,
    on_field: str,
    now: datetime,
) -> dict[str, Any]:
    """What an offline payment or refund stores of what it moved: succeeded at once,
    on the date given or else today at the office (`on_field` names the date)."""
    return {
        "method": method,
        "state": SUCCEEDED,
        "amount": amount,
        "reference": clean_reference,
        on_field: on or office_date(now),
    }


def _due_ids(statement: Select[Any]) -> list[Any]:
    """What a batch job will claim one row at a time (`db.claim`), read outside any
    transaction so that no lock is held while the rows are worked through."""
    session = db.session()
    found = list(session.scalars(statement))
    session.rollback()
    return found


def _settle(session: Session, invoice: Invoice, *, actor: Actor, now: datetime, note: str) -> None:
    INVOICE.apply(
        session,
        invoice,
        "settle",
        actor=actor,
        note=note,
        at=now,
        changes={
            "amount_paid": quantize(invoice.amount_paid, invoice.currency),
            "amount_credited": quantize(invoice.amount_credited, invoice.currency),
            "amount_refunded": quantize(invoice.amount_refunded, invoice.currency),
        },
    )


def _settle_if_cleared(
    session: Session, invoice: Invoice, *, actor: Actor, now: datetime, note: str
) -> Organization | None:
    """Settle the invoice once nothing is owed; the organization, when that read it
    (locked, `_restore_standing`), for a caller that goes on to use it."""
    if invoice.state in COLLECTIBLE and invoice.owed <= 0:
        _settle(session, invoice, actor=actor, now=now, note=note)
        return _restore_standing(session, invoice.organization_id, now, actor)
    return None


def _restore_standing(
    session: Session, organization_id: int, now: datetime, actor: Actor
) -> Organization | None:
    """Back to `active` once nothing is overdue beyond the threshold; the organization
    as read under its lock."""
    return accounts.restore_standing_if_clear(
        session, organization_id, office_date(now), actor=actor
    )


def _card_gateway(
    gateway: payment_gateway.PaymentGateway | None,
) -> payment_gateway.PaymentGateway:
    """The gateway an edge passed (`gateways.gateway(config)`), or a 409 when the
    app takes no card (Stripe is not configured)."""
    if gateway is None:
        raise Conflict("Card payments are not available; pay by wire, ACH or check.")
    return gateway


CardRecord = TypeVar("CardRecord", Payment, Refund)


def _card_record_for(
    session: Session,
    model: type[CardRecord],
    stripe_column: str,
    stripe_id: str,
    metadata: Mapping[str, str],
    id_key: str,
) -> CardRecord | None:
    """The card payment or refund Stripe answers about, locked: by its Stripe id, or,
    when Stripe answers (a webhook) before the request that asked stored that id, by
    our id in the metadata, if the record's Stripe id is still unset or is this one."""
    stripe_attribute = getattr(model, stripe_column)
    found = session.scalars(
        select(model).where(stripe_attribute == stripe_id).with_for_update()
    ).one_or_none()
    if found is not None:
        return found
    # Not one of our ids unless ASCII digits in the id columns' range: "²" is a digit
    # to str.isdigit() (and a ValueError to int()), "١٢" one that int() reads as 12.
    ours = limits.record_id(metadata.get(id_key))
    if ours is None:
        return None
    found = session.scalars(
        select(model).where(model.id == ours, model.method == CARD).with_for_update()
    ).one_or_none()
    if found is None or getattr(found, stripe_column) not in (None, stripe_id):
        return None
    return found


def _looked_at_note(note: str | None, required: str | None = None) -> str | InvalidInput:
    """The note of a mark looked at, trimmed, or why it is refused (checked after the
    step's state, so a second mark is the 409 whatever its note); `required`, the
    message of a note missing (a failed event's by default)."""
    clean = (note or "").strip()
    if not clean:
        return InvalidInput("The note is missing.", {"note": [required or LOOKED_AT_NOTE_REQUIRED]})
    if len(clean) > StripeEvent.LOOKED_AT_NOTE_MAX:
        return InvalidInput(
            "The note is too long.",
            {"note": [f"Keep the note to {StripeEvent.LOOKED_AT_NOTE_MAX:,} characters."]},
        )
    return clean


DELIVERY_NOTE_REQUIRED = (
    "Say what was done about the delivery (resent from Stripe's dashboard and read, a test "
    "sent with the webhook's secret, a proxy mended): the note is kept with it."
)
LOOKED_AT_NOTE_REQUIRED = (
    "Say what was done about the event instead (resent from Stripe's dashboard, recorded "
    "by hand, not this service's): the note is kept with it."
)


# A record kept in the audit log alone that billing staff mark looked at (a delivery's
# body not read, round 60; a PaymentIntent Stripe does not know, round 61): its id, and
# its state read from the log.
class _Marked(Protocol):
    state: str


Kept = TypeVar("Kept", bound=_Marked)


def check_looked_at(machine: StateMachine, find: Callable[[Session], Kept], actor: Actor) -> Kept:
    """Billing staff: the record `find` reads that a mark looked at would mark, refused
    as the mark refuses (404, or 409 for one looked at already), writing nothing."""
    actor.require_role("billing")
    found = find(db.session())
    machine.step(found.state, "mark_looked_at")
    return found


def mark_kept_looked_at(
    machine: StateMachine,
    find: Callable[[Session], Kept],
    *,
    note: str | None,
    required: str,
    actor: Actor,
    now: datetime | None,
) -> Kept:
    """Billing staff: the record `find` reads (and locks) marked looked at through
    `machine` (`mark_looked_at`, audited on the record with the note, the clerk as
    actor), with a note saying what was done about it (`required`: the message of a note
    missing); 404 for no such record, 409 for one looked at already, 422 without a note."""
    actor.require_role("billing")
    clean = _looked_at_note(note, required)
    with db.transaction() as session:
        found = find(session)
        machine.step(found.state, "mark_looked_at")
        if isinstance(clean, InvalidInput):
            raise clean
        machine.apply(session, found, "mark_looked_at", actor=actor, note=clean, at=now)
        return found
