"""Billing use cases: each public function owns its transaction.

`create_invoice()` is the one way an invoice comes into being: the receiver
for activated agreements calls it, late fees call it, and royalty reports will
call it. Functions taking a `session` run inside their caller's transaction
(the agreement's acceptance, an overdue run); the others open their own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import db
from licensing.access import Principal
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.accounts.states import ACTIVE
from licensing.audit import services as audit
from licensing.billing import links, numbering, pdfs, stripe_gateway
from licensing.billing.models import (
    DESCRIPTION_MAX,
    REFERENCE_MAX,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
    StripeCustomer,
    StripeEvent,
)
from licensing.billing.states import (
    CARD,
    COLLECTIBLE,
    DRAFT,
    FAILED,
    FLAGGED,
    INVOICE,
    LATE_FEE,
    MANUAL,
    OFFLINE_METHODS,
    OPEN,
    OPEN_ATTEMPT,
    PAID,
    PAYMENT,
    PENDING,
    REFUND,
    SUCCEEDED,
    UNCOLLECTIBLE,
)
from licensing.calendar import office_date
from licensing.config import Config
from licensing.db import utcnow
from licensing.errors import Conflict, DomainError, InvalidInput, NotFound
from licensing.mail import services as mail
from licensing.money import (
    MoneyError,
    check_bounds,
    check_total,
    format_amount,
    from_minor_units,
    is_currency,
    quantize,
    to_minor_units,
)

log = logging.getLogger(__name__)

# A reminder for an overdue invoice at most this often.
REMINDER_INTERVAL = timedelta(days=7)
# A card payment with no webhook after this long is asked about (reconcile).
RECONCILE_AFTER = timedelta(minutes=30)


def _config() -> Config:
    from flask import current_app

    config: Config = current_app.config["LICENSING"]
    return config


def _actor() -> str:
    from flask import has_request_context

    from licensing import access

    if has_request_context():
        principal = access.current_principal()
        if principal is not None:
            return principal.email
    return audit.SYSTEM


# --- creating and issuing invoices ---------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """One line to invoice: what it is, the amount, and how it was reached."""

    description: str
    amount: Decimal
    working: str | None = None


def _check_charges(
    currency: str, charges: Sequence[Charge], *, deductions: bool = False
) -> dict[str, list[str]]:
    """Problems with `charges`; a negative line (a deduction) only with `deductions`,
    and then the total must still be more than zero."""
    errors: dict[str, list[str]] = {}
    if not is_currency(currency):
        errors["currency"] = [f"{currency!r} is not an ISO 4217 currency code."]
        return errors
    if not charges:
        errors["lines"] = ["An invoice needs at least one line."]
    for index, charge in enumerate(charges):
        if not charge.description.strip():
            errors[f"lines.{index}.description"] = ["Describe the charge."]
        elif len(charge.description) > DESCRIPTION_MAX:
            errors[f"lines.{index}.description"] = [f"At most {DESCRIPTION_MAX} characters."]
        if not isinstance(charge.amount, Decimal) or (charge.amount < 0 and not deductions):
            errors[f"lines.{index}.amount"] = ["Must be zero or more."]
        elif problem := _out_of_bounds(charge.amount):
            errors[f"lines.{index}.amount"] = [problem]
        elif quantize(charge.amount, currency) != charge.amount:
            errors[f"lines.{index}.amount"] = [
                f"Use at most the currency's minor unit ({format_amount(Decimal(0), currency)})."
            ]
    if not errors:
        total = sum((charge.amount for charge in charges), Decimal(0))
        if problem := _out_of_bounds(total, check=check_total):
            errors["lines"] = [f"The total {total:f} is too large: {problem}."]
        elif deductions and total <= 0:
            errors["lines"] = ["An invoice with deductions must still total more than zero."]
    return errors


def _out_of_bounds(amount: Decimal, check: Callable[[Decimal], None] = check_bounds) -> str:
    """Why `amount` is beyond what the service records (checked before any
    arithmetic on it), or an empty string."""
    try:
        check(amount)
    except MoneyError as error:
        return str(error)
    return ""


def create_invoice(
    session: Session,
    *,
    organization_id: int,
    currency: str,
    charges: Sequence[Charge],
    source_type: str,
    source_id: int | None = None,
    source_reference: str | None = None,
    payment_terms_days: int | None = None,
    late_fee_monthly_percent: Decimal | None = None,
    parent_invoice_id: int | None = None,
    memo: str | None = None,
    finalize: bool = True,
    deductions: bool = False,
    now: datetime | None = None,
) -> Invoice:
    """Create an invoice for `charges`, finalized (numbered, open) unless
    `finalize=False` leaves a draft. The one function every invoice comes from.
    `deductions` admits negative lines (a royalty lowered on one line of a report
    that raises it on another)."""
    now = now or utcnow()
    config = _config()
    errors = _check_charges(currency, charges, deductions=deductions)
    terms = config.payment_terms_days if payment_terms_days is None else payment_terms_days
    if terms < 0:
        errors["payment_terms_days"] = ["Must be zero or more."]
    if errors:
        raise InvalidInput("The invoice has problems.", errors)
    if session.get(Organization, organization_id) is None:
        raise NotFound(f"There is no organization {organization_id}.")
    invoice = Invoice(
        organization_id=organization_id,
        state=DRAFT,
        currency=currency,
        source_type=source_type,
        source_id=source_id,
        source_reference=source_reference,
        parent_invoice_id=parent_invoice_id,
        payment_terms_days=terms,
        late_fee_monthly_percent=(
            config.late_fee_monthly_percent
            if late_fee_monthly_percent is None
            else late_fee_monthly_percent
        ),
        memo=memo,
        total=sum((c.amount for c in charges), Decimal(0)),
        amount_paid=Decimal(0),
        amount_credited=Decimal(0),
        created_at=now,
    )
    invoice.lines = [
        InvoiceLine(
            position=i, description=c.description.strip(), working=c.working, amount=c.amount
        )
        for i, c in enumerate(charges, start=1)
    ]
    session.add(invoice)
    session.flush()
    audit.record(
        session,
        action="invoice.created",
        entity_type="invoice",
        entity_id=invoice.id,
        before=None,
        after={**invoice.snapshot(), "source": f"{source_type} {source_reference or ''}".strip()},
    )
    if finalize:
        finalize_in(session, invoice, now=now)
    return invoice


def _bill_to(organization: Organization) -> str:
    lines = [organization.legal_name, organization.address_line1]
    if organization.address_line2:
        lines.append(organization.address_line2)
    locality = " ".join(
        part
        for part in (organization.city + ",", organization.region, organization.postal_code)
        if part
    ).rstrip(",")
    lines += [locality, organization.country]
    lines.append(f"Attn: {organization.billing_contact_name} <{organization.billing_email}>")
    if organization.tax_id:
        lines.append(f"Tax id: {organization.tax_id}")
    return json.dumps({"lines": lines, "email": organization.billing_email})


def finalize_in(session: Session, invoice: Invoice, *, now: datetime) -> Invoice:
    """Issue a draft: take the next number (in this transaction), fix the dates
    and the bill-to, and email the billing contact."""
    next_state = INVOICE.step(invoice.state, "finalize")
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    issued = office_date(now)
    number = numbering.next_number(session, numbering.INVOICE_SERIES, issued.year)
    invoice.state = next_state
    invoice.number = number
    invoice.issue_date = issued
    invoice.due_date = issued + timedelta(days=invoice.payment_terms_days)
    invoice.bill_to = _bill_to(organization)
    invoice.finalized_at = now
    session.flush()
    audit.record(
        session,
        action="invoice.finalized",
        entity_type="invoice",
        entity_id=invoice.id,
        before={"state": DRAFT},
        after={"state": OPEN, "number": invoice.number, "due_date": invoice.due_date},
    )
    if invoice.total == 0:  # nothing to pay: settled at once
        _settle(session, invoice, now=now, note="nothing to pay")
    mail.enqueue(
        session,
        to=organization.billing_email,
        subject=(
            f"Invoice {invoice.number}: {_amount(invoice.total, invoice.currency)} "
            f"due {invoice.due_date}"
        ),
        template="invoice_issued",
        context=_mail_context(invoice, organization),
        attachments=[
            mail.Attachment(
                f"{invoice.number}.pdf", "application/pdf", pdfs.invoice_pdf(session, invoice)
            )
        ],
    )
    return invoice


def _amount(amount: Decimal, currency: str) -> str:
    return f"{format_amount(amount, currency)} {currency}"


def _mail_context(invoice: Invoice, organization: Organization) -> dict[str, Any]:
    return {
        "invoice": invoice,
        "organization": organization,
        "total": _amount(invoice.total, invoice.currency),
        "balance_due": _amount(invoice.balance_due, invoice.currency),
        # Signed links: the billing contact may have no account (billing/links.py).
        "invoice_url": links.invoice_url(invoice),
        "pdf_url": links.pdf_url(invoice),
        "remit_to": _config().billing_remit_to,
    }


def _locked_invoice(
    session: Session, invoice_id: int, principal: Principal | None = None
) -> Invoice:
    """The invoice, row-locked until the transaction ends (vendor-scoped)."""
    statement = select(Invoice).where(Invoice.id == invoice_id).with_for_update()
    if principal is not None:  # a vendor acting; staff and the system are unrestricted
        statement = account_queries.scoped(statement, Invoice, principal)
    found = session.scalars(statement).one_or_none()
    if found is None:
        raise NotFound(f"There is no invoice {invoice_id}.")
    session.refresh(found)
    return found


def create_draft(
    *,
    organization_id: int,
    currency: str,
    charges: Sequence[Charge],
    payment_terms_days: int | None = None,
    memo: str | None = None,
) -> Invoice:
    """Billing staff: a manual draft invoice, to be checked and finalized."""
    with db.transaction() as session:
        return create_invoice(
            session,
            organization_id=organization_id,
            currency=currency,
            charges=charges,
            source_type=MANUAL,
            payment_terms_days=payment_terms_days,
            memo=memo,
            finalize=False,
        )


def finalize_invoice(invoice_id: int, *, now: datetime | None = None) -> Invoice:
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        return finalize_in(session, invoice, now=now or utcnow())


def update_draft(
    invoice_id: int,
    *,
    charges: Sequence[Charge] | None = None,
    memo: str | None = None,
    payment_terms_days: int | None = None,
) -> Invoice:
    """Change a draft. An issued invoice is immutable: a 409 that says to issue
    a credit note instead."""
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        if invoice.state != DRAFT:
            raise Conflict(
                f"Invoice {invoice.label} is {invoice.state} and cannot be edited; "
                "issue a credit note to correct it."
            )
        if charges is not None:
            errors = _check_charges(invoice.currency, charges)
            if errors:
                raise InvalidInput("The invoice has problems.", errors)
            invoice.lines.clear()
            session.flush()
            invoice.lines.extend(
                InvoiceLine(
                    position=i,
                    description=c.description.strip(),
                    working=c.working,
                    amount=c.amount,
                )
                for i, c in enumerate(charges, start=1)
            )
            invoice.total = sum((c.amount for c in charges), Decimal(0))
        if memo is not None:
            invoice.memo = memo
        if payment_terms_days is not None:
            if payment_terms_days < 0:
                raise InvalidInput.for_field("payment_terms_days", "Must be zero or more.")
            invoice.payment_terms_days = payment_terms_days
        session.flush()
        audit.record(
            session,
            action="invoice.draft_updated",
            entity_type="invoice",
            entity_id=invoice.id,
            before=None,
            after=invoice.snapshot(),
        )
        return invoice


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput.for_field("reason", "Say why.")
    return text


def void_invoice(invoice_id: int, *, reason: str | None, now: datetime | None = None) -> Invoice:
    """Void an invoice issued in error. One with money received cannot be voided:
    issue a credit note (and refund) instead."""
    now = now or utcnow()
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        note = _reason(reason)
        before = invoice.state
        next_state = INVOICE.step(invoice.state, "void")
        if invoice.amount_paid > 0:
            raise Conflict(
                f"Invoice {invoice.label} has payments of "
                f"{_amount(invoice.amount_paid, invoice.currency)}; issue a credit note instead."
            )
        invoice.state = next_state
        invoice.voided_at = now
        invoice.state_reason = note
        audit.record(
            session,
            action="invoice.voided",
            entity_type="invoice",
            entity_id=invoice.id,
            before={"state": before},
            after={"state": invoice.state},
            note=note,
        )
        _restore_standing(session, invoice.organization_id, now)
        return invoice


def mark_uncollectible(
    invoice_id: int, *, reason: str | None, now: datetime | None = None
) -> Invoice:
    now = now or utcnow()
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        note = _reason(reason)
        before = invoice.state
        invoice.state = INVOICE.step(invoice.state, "mark_uncollectible")
        invoice.state_reason = note
        audit.record(
            session,
            action="invoice.marked_uncollectible",
            entity_type="invoice",
            entity_id=invoice.id,
            before={"state": before},
            after={"state": invoice.state},
            note=note,
        )
        return invoice


# --- settling: payments and credit notes ----------------------------------------------


def _settle(session: Session, invoice: Invoice, *, now: datetime, note: str) -> None:
    before = invoice.state
    invoice.state = INVOICE.step(invoice.state, "settle")
    invoice.paid_at = now
    audit.record(
        session,
        action="invoice.paid",
        entity_type="invoice",
        entity_id=invoice.id,
        before={"state": before},
        after={
            "state": PAID,
            "amount_paid": invoice.amount_paid,
            "amount_credited": invoice.amount_credited,
        },
        note=note,
    )


def _settle_if_cleared(session: Session, invoice: Invoice, *, now: datetime, note: str) -> None:
    if (
        invoice.state in COLLECTIBLE
        and invoice.total - invoice.amount_paid - invoice.amount_credited <= 0
    ):
        _settle(session, invoice, now=now, note=note)
        _restore_standing(session, invoice.organization_id, now)


def _apply(session: Session, invoice: Invoice, payment: Payment, *, now: datetime) -> None:
    """Count a succeeded payment against the invoice (once: callers step the
    payment's state machine first, which refuses a second `succeed`)."""
    invoice.amount_paid += payment.amount
    payment.settled_at = now
    audit.record(
        session,
        action="invoice.payment_applied",
        entity_type="invoice",
        entity_id=invoice.id,
        before=None,
        after={
            "payment_id": payment.id,
            "amount": payment.amount,
            "method": payment.method,
            "amount_paid": invoice.amount_paid,
        },
        note=payment.reference,
    )
    _settle_if_cleared(session, invoice, now=now, note=f"{payment.method} payment {payment.id}")
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    mail.enqueue(
        session,
        to=organization.billing_email,
        subject=f"Payment received for invoice {invoice.number}",
        template="payment_received",
        context={
            **_mail_context(invoice, organization),
            "payment": payment,
            "amount": _amount(payment.amount, payment.currency),
        },
    )


def _overdue_beyond(
    session: Session, organization_id: int, today: date, days: int
) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == organization_id,
                Invoice.state.in_(sorted(COLLECTIBLE)),
                Invoice.due_date < today - timedelta(days=days),
            )
            .order_by(Invoice.due_date)
        )
    )


def _restore_standing(session: Session, organization_id: int, now: datetime) -> None:
    """Back to `active` once nothing is overdue beyond the threshold."""
    accounts.restore_standing_if_clear(session, organization_id, office_date(now))


def overdue_invoices(session: Session, organization_id: int, today: date) -> list[str]:
    """The organization's invoices overdue beyond the standing threshold, in words
    (registered with accounts as an overdue check)."""
    return [
        f"invoice {invoice.number} is {invoice.days_overdue(today)} days overdue"
        for invoice in _overdue_beyond(
            session, organization_id, today, _config().overdue_standing_days
        )
    ]


def record_offline_payment(
    invoice_id: int,
    *,
    method: str,
    amount: Decimal,
    reference: str | None,
    received_on: date | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Payment:
    """Billing staff: a wire, ACH or check payment, in the same ledger as cards."""
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    if method not in OFFLINE_METHODS:
        errors["method"] = [f"Must be one of: {', '.join(OFFLINE_METHODS)}."]
    clean_reference = (reference or "").strip()
    if not clean_reference:
        errors["reference"] = ["Give the bank or check reference."]
    elif len(clean_reference) > REFERENCE_MAX:
        errors["reference"] = [f"At most {REFERENCE_MAX} characters."]
    if amount <= 0:
        errors["amount"] = ["Must be more than zero."]
    if received_on is not None and received_on > office_date(now):
        errors["received_on"] = ["Cannot be in the future."]
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        if not errors and quantize(amount, invoice.currency) != amount:
            errors["amount"] = ["Use at most the currency's minor unit (cents)."]
        if invoice.state not in COLLECTIBLE:
            raise Conflict(f"Invoice {invoice.label} is {invoice.state}: nothing is owed on it.")
        if not errors and amount > invoice.balance_due:
            errors["amount"] = [
                f"More than the balance due ({_amount(invoice.balance_due, invoice.currency)})."
            ]
        if errors:
            raise InvalidInput("The payment has problems.", errors)
        payment = Payment(
            invoice_id=invoice.id,
            organization_id=invoice.organization_id,
            method=method,
            state=SUCCEEDED,
            currency=invoice.currency,
            amount=amount,
            reference=clean_reference,
            received_on=received_on or office_date(now),
            note=(note or "").strip() or None,
            recorded_by=_actor(),
            created_at=now,
        )
        session.add(payment)
        session.flush()
        audit.record(
            session,
            action="payment.recorded",
            entity_type="payment",
            entity_id=payment.id,
            before=None,
            after={
                "invoice": invoice.number,
                "method": method,
                "amount": amount,
                "reference": clean_reference,
                "state": SUCCEEDED,
            },
        )
        _apply(session, invoice, payment, now=now)
        return payment


def issue_credit_note(
    invoice_id: int, *, amount: Decimal, reason: str | None, now: datetime | None = None
) -> CreditNote:
    """Billing staff: a credit note against an open or paid invoice (see `credit_invoice`)."""
    now = now or utcnow()
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        return credit_invoice(
            session, invoice, amount=amount, reason=reason, actor=_actor(), now=now
        )


def credit_invoice(
    session: Session,
    invoice: Invoice,
    *,
    amount: Decimal,
    reason: str | None,
    actor: str,
    now: datetime,
) -> CreditNote:
    """A credit note against `invoice` (locked by the caller), in the caller's
    transaction. It reduces the balance due; what exceeds the balance (a paid
    invoice) is a refund owed. The credits on an invoice never exceed its total."""
    note = _reason(reason)
    if invoice.state not in (OPEN, PAID, UNCOLLECTIBLE):
        raise Conflict(
            f"Invoice {invoice.label} is {invoice.state}; credit notes are issued "
            "against open or paid invoices."
        )
    creditable = invoice.total - invoice.amount_credited
    if amount <= 0 or quantize(amount, invoice.currency) != amount:
        raise InvalidInput.for_field("amount", "Must be more than zero, in whole cents.")
    if amount > creditable:
        raise InvalidInput.for_field(
            "amount",
            f"More than can be credited on {invoice.number} "
            f"({_amount(creditable, invoice.currency)}).",
        )
    applied = min(amount, invoice.balance_due)
    issued = office_date(now)
    credit = CreditNote(
        number=numbering.next_number(session, numbering.CREDIT_NOTE_SERIES, issued.year),
        invoice_id=invoice.id,
        organization_id=invoice.organization_id,
        currency=invoice.currency,
        amount=amount,
        applied_to_balance=applied,
        refund_due=amount - applied,
        reason=note,
        issue_date=issued,
        issued_at=now,
        issued_by=actor,
    )
    session.add(credit)
    invoice.amount_credited += amount
    session.flush()
    audit.record(
        session,
        action="credit_note.issued",
        entity_type="credit_note",
        entity_id=credit.id,
        before=None,
        after={
            "number": credit.number,
            "invoice": invoice.number,
            "amount": amount,
            "applied_to_balance": applied,
            "refund_due": credit.refund_due,
        },
        note=note,
    )
    _settle_if_cleared(session, invoice, now=now, note=f"credit note {credit.number}")
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    mail.enqueue(
        session,
        to=organization.billing_email,
        subject=f"Credit note {credit.number} for invoice {invoice.number}",
        template="invoice_credit_note",
        context={
            **_mail_context(invoice, organization),
            "credit": credit,
            "amount": _amount(amount, invoice.currency),
            "refund_due": _amount(credit.refund_due, invoice.currency),
            "credit_pdf_url": links.credit_note_pdf_url(invoice, credit.id),
        },
    )
    return credit


# --- card payments through Stripe ---------------------------------------------------


def _gateway() -> stripe_gateway.PaymentGateway:
    found = stripe_gateway.gateway()
    if found is None:
        raise Conflict("Card payments are not available; pay by wire, ACH or check.")
    return found


def _customer_id(
    session: Session, gateway: stripe_gateway.PaymentGateway, organization: Organization
) -> str:
    """The organization's Stripe Customer, created once (the idempotency key and
    the unique row make a second creation a no-op)."""
    existing = session.scalars(
        select(StripeCustomer).where(StripeCustomer.organization_id == organization.id)
    ).one_or_none()
    if existing is not None:
        return existing.stripe_customer_id
    customer_id = gateway.create_customer(
        name=organization.legal_name,
        email=organization.billing_email,
        organization_id=organization.id,
        idempotency_key=f"organization-{organization.id}-customer",
    )
    session.add(StripeCustomer(organization_id=organization.id, stripe_customer_id=customer_id))
    session.flush()
    audit.record(
        session,
        action="organization.stripe_customer_created",
        entity_type="organization",
        entity_id=organization.id,
        before=None,
        after={"stripe_customer_id": customer_id},
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


# Rounds of "close the old attempt, claim again" one request may take before it
# gives up with a 409 (each round either reaches Stripe or closes an attempt).
ATTEMPT_ROUNDS = 3


def start_card_payment(
    invoice_id: int, *, card_token: str, principal: Principal, now: datetime | None = None
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
    """
    now = now or utcnow()
    gateway = _gateway()
    if not card_token or not card_token.startswith("tok_") or len(card_token) > 255:
        raise InvalidInput.for_field("card", "The card details could not be read; try again.")
    for _round in range(ATTEMPT_ROUNDS):
        attempt = _claim_attempt(gateway, invoice_id, principal, now)
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


def _require_payable(invoice: Invoice) -> None:
    """A 409 that says why an invoice takes no card payment."""
    if invoice.state == PAID:
        on = f" on {invoice.paid_at:%Y-%m-%d}" if invoice.paid_at else ""
        raise Conflict(f"Invoice {invoice.label} is already paid{on}: nothing is owed on it.")
    if invoice.state not in COLLECTIBLE:
        raise Conflict(f"Invoice {invoice.label} is {invoice.state}: nothing is owed on it.")
    if invoice.balance_due <= 0:
        raise Conflict(f"Invoice {invoice.label} has nothing left to pay.")


def _claim_attempt(
    gateway: stripe_gateway.PaymentGateway, invoice_id: int, principal: Principal, now: datetime
) -> _OpenAttempt:
    """The invoice's open attempt, or a new pending one, with the invoice locked."""
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id, principal)
        _require_payable(invoice)
        # Locked: two attempts at once by one organization create one Customer.
        organization = session.get(Organization, invoice.organization_id, with_for_update=True)
        assert organization is not None
        customer_id = _customer_id(session, gateway, organization)
        payment = session.scalars(
            select(Payment).where(
                Payment.invoice_id == invoice.id,
                Payment.method == CARD,
                Payment.state.in_(OPEN_ATTEMPT),
            )
        ).one_or_none()  # read only: its changes lock the payment before the invoice
        if payment is None:
            payment = _new_attempt(session, invoice, principal, now)
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
        )


def _new_attempt(
    session: Session, invoice: Invoice, principal: Principal, now: datetime
) -> Payment:
    payment = Payment(
        invoice_id=invoice.id,
        organization_id=invoice.organization_id,
        method=CARD,
        state=PENDING,
        currency=invoice.currency,
        amount=invoice.balance_due,
        idempotency_key=f"payment-{uuid.uuid4().hex}",
        recorded_by=principal.email,
        created_at=now,
    )
    session.add(payment)
    session.flush()  # the partial unique index: a second open attempt fails here
    audit.record(
        session,
        action="payment.started",
        entity_type="payment",
        entity_id=payment.id,
        before=None,
        after={
            "invoice": invoice.number,
            "method": CARD,
            "amount": payment.amount,
            "state": PENDING,
        },
    )
    return payment


def _close_attempt(
    gateway: stripe_gateway.PaymentGateway, attempt: _OpenAttempt, now: datetime
) -> CardAttempt | None:
    """Cancel a declined or outdated attempt, at Stripe first, so that its intent
    can never take money later. If Stripe says the intent did take (or is
    taking) money after all, that outcome is applied and returned instead."""
    if attempt.intent_id is not None:
        try:
            intent = gateway.cancel_payment_intent(
                attempt.intent_id, idempotency_key=f"{attempt.idempotency_key}-cancel"
            )
        except stripe_gateway.StripeRefused:  # no longer cancelable: ask what it is
            intent = gateway.retrieve_payment_intent(attempt.intent_id)
        if intent.status != "canceled":
            with db.transaction() as session:
                apply_intent_outcome(session, intent, now=now)
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
            before = payment.state
            payment.state = PAYMENT.step(before, "cancel")
            payment.note = why
            audit.record(
                session,
                action="payment.canceled",
                entity_type="payment",
                entity_id=payment.id,
                before={"state": before},
                after={"state": payment.state},
                note=why,
            )
    return None


def _charge(
    gateway: stripe_gateway.PaymentGateway, attempt: _OpenAttempt, card_token: str, now: datetime
) -> CardAttempt | None:
    """Create (once) and confirm (once) the attempt's PaymentIntent. None when the
    attempt was closed or declined by another request meanwhile: claim again."""
    key = attempt.idempotency_key
    intent: stripe_gateway.IntentStatus | None = None
    intent_id = attempt.intent_id
    if intent_id is None:
        token_digest = hashlib.sha256(card_token.encode()).hexdigest()[:16]
        card = gateway.attach_card(
            attempt.customer_id, card_token, idempotency_key=f"{key}-card-{token_digest}"
        )
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
        intent = _confirm(gateway, intent.id, key, now)
    if intent.status in ("requires_payment_method", "canceled"):
        with db.transaction() as session:
            apply_intent_outcome(session, intent, now=now)
        return None
    return CardAttempt(
        attempt.payment_id,
        intent.status,
        intent.client_secret,
        _status_message(intent.status, intent.failure_message),
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


def _cancel_unconfirmed(gateway: stripe_gateway.PaymentGateway, intent_id: str, key: str) -> None:
    try:
        gateway.cancel_payment_intent(intent_id, idempotency_key=f"{key}-cancel-{intent_id}")
    except DomainError:  # never confirmed, so it cannot take money: tidiness only
        log.warning("could not cancel unconfirmed PaymentIntent %s", intent_id)


def _confirm(
    gateway: stripe_gateway.PaymentGateway, intent_id: str, key: str, now: datetime
) -> stripe_gateway.IntentStatus:
    """Confirm the attempt's intent. A decline marks the attempt failed (it is
    closed by the next attempt) and is a 422 with the bank's message; an intent
    another request confirmed first is reported as it stands."""
    try:
        return gateway.confirm_payment_intent(intent_id, idempotency_key=f"{key}-confirm")
    except InvalidInput:
        declined = gateway.retrieve_payment_intent(intent_id)
        with db.transaction() as session:
            apply_intent_outcome(session, declined, now=now)
        raise
    except stripe_gateway.StripeRefused:
        return gateway.retrieve_payment_intent(intent_id)


def _status_message(status: str, failure: str | None) -> str:
    if status == "succeeded":
        return "Payment received: the invoice is marked paid as soon as Stripe confirms it."
    if status == "requires_action":
        return "Your bank asks you to confirm this payment."
    if status == "processing":
        return "The payment is processing; the invoice is marked paid when it completes."
    return failure or "The card was not charged; try another card."


def _fail(session: Session, payment: Payment, message: str | None) -> None:
    if not PAYMENT.can(payment.state, "fail"):
        return
    before = payment.state
    payment.state = PAYMENT.step(payment.state, "fail")
    payment.note = message
    audit.record(
        session,
        action="payment.failed",
        entity_type="payment",
        entity_id=payment.id,
        before={"state": before},
        after={"state": payment.state},
        note=message,
    )


def _flag(session: Session, invoice: Invoice, payment: Payment, received: Decimal, why: str) -> str:
    before = payment.state
    payment.state = PAYMENT.step(payment.state, "flag")
    payment.amount_received = received
    payment.note = why
    audit.record(
        session,
        action="payment.flagged",
        entity_type="payment",
        entity_id=payment.id,
        before={"state": before},
        after={"state": FLAGGED, "amount_received": received},
        note=why,
    )
    recipients = mail.staff_recipients("billing")
    if recipients:
        mail.enqueue(
            session,
            to=recipients,
            subject=f"Card payment for {invoice.number} needs review",
            template="payment_flagged",
            context={
                "invoice": invoice,
                "payment": payment,
                "why": why,
                "console_url": mail.absolute_url(
                    "billing_console.invoice_detail", invoice_id=invoice.id
                ),
            },
        )
    return f"flagged: {why}"


def apply_intent_outcome(
    session: Session, intent: stripe_gateway.IntentStatus, *, now: datetime
) -> str:
    """Apply what Stripe says about a PaymentIntent to its payment, idempotently.

    Safe to call any number of times and in any order: a succeeded payment is
    never applied twice, a late failure after success changes nothing, and an
    amount that does not match what was asked is flagged for billing staff.
    Returns what was done (kept with the webhook event).
    """
    payment = _payment_for(session, intent)
    if payment is None:
        return "ignored: not a payment of this service"
    if payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = intent.id
    payment.last_checked_at = now
    invoice = _locked_invoice(session, payment.invoice_id)
    if intent.status == "succeeded":
        if payment.state in (SUCCEEDED, FLAGGED) or not PAYMENT.can(payment.state, "succeed"):
            return f"no change: payment {payment.id} is already {payment.state}"
        received = (
            from_minor_units(intent.amount_received or intent.amount, intent.currency)
            if intent.currency == payment.currency
            else None
        )
        if received is None:
            return _flag(
                session,
                invoice,
                payment,
                Decimal(0),
                f"currency {intent.currency} received, {payment.currency} asked",
            )
        if received != payment.amount:
            return _flag(
                session,
                invoice,
                payment,
                received,
                f"received {_amount(received, payment.currency)}, "
                f"asked {_amount(payment.amount, payment.currency)}",
            )
        if invoice.state not in COLLECTIBLE or received > invoice.balance_due:
            return _flag(
                session,
                invoice,
                payment,
                received,
                f"invoice {invoice.number} owed "
                f"{_amount(invoice.balance_due, invoice.currency)} when the card payment arrived",
            )
        before = payment.state
        payment.state = PAYMENT.step(payment.state, "succeed")
        audit.record(
            session,
            action="payment.succeeded",
            entity_type="payment",
            entity_id=payment.id,
            before={"state": before},
            after={"state": SUCCEEDED, "stripe_payment_intent_id": intent.id},
        )
        _apply(session, invoice, payment, now=now)
        return f"applied: payment {payment.id} to {invoice.number}"
    if intent.status in ("requires_payment_method", "canceled"):
        if payment.state != PENDING:
            return f"no change: payment {payment.id} is already {payment.state}"
        if intent.status == "canceled":
            payment.state = PAYMENT.step(payment.state, "cancel")
            audit.record(
                session,
                action="payment.canceled",
                entity_type="payment",
                entity_id=payment.id,
                before={"state": PENDING},
                after={"state": payment.state},
                note="canceled at Stripe",
            )
            return f"canceled: payment {payment.id}"
        _fail(session, payment, intent.failure_message or "The card was declined.")
        return f"failed: payment {payment.id}"
    return f"no change: intent is {intent.status}"


def _payment_for(session: Session, intent: stripe_gateway.IntentStatus) -> Payment | None:
    payment = session.scalars(
        select(Payment).where(Payment.stripe_payment_intent_id == intent.id).with_for_update()
    ).one_or_none()
    if payment is not None:
        return payment
    # The webhook may arrive before the page's request has stored the intent id.
    raw = intent.metadata.get("payment_id", "")
    if not raw.isdigit():
        return None
    found = session.scalars(
        select(Payment).where(Payment.id == int(raw), Payment.method == CARD).with_for_update()
    ).one_or_none()
    if found is None or found.stripe_payment_intent_id not in (None, intent.id):
        return None
    if intent.metadata.get("invoice_id") != str(found.invoice_id):
        return None
    return found


HANDLED_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})


@dataclass
class WebhookResult:
    event_id: str
    outcome: str
    duplicate: bool = False


def handle_stripe_webhook(
    payload: bytes, signature: str | None, *, now: datetime | None = None
) -> WebhookResult:
    """Verify, store once, apply. `SignatureError` for a forged or stale signature."""
    now = now or utcnow()
    gateway = stripe_gateway.webhook_gateway()
    if gateway is None:
        raise stripe_gateway.SignatureError("Stripe webhooks are not configured")
    event = gateway.verify_webhook(payload, signature)
    intent_id = (
        str(event.data_object.get("id", "")) if event.type.startswith("payment_intent.") else None
    )
    refunds: list[stripe_gateway.RefundStatus] = []
    if event.type in REFUND_EVENTS:  # before the transaction: it may ask Stripe
        refunds = _refund_statuses(gateway, event)
        carried = event.data_object.get("payment_intent")
        intent_id = carried if isinstance(carried, str) else None
    try:
        with db.transaction() as session:
            if session.scalars(
                select(StripeEvent.id).where(StripeEvent.event_id == event.id)
            ).first():
                return WebhookResult(event.id, "duplicate", duplicate=True)
            stored = StripeEvent(
                event_id=event.id,
                event_type=event.type[:100],
                payment_intent_id=intent_id,
                outcome="received",
                received_at=now,
            )
            session.add(stored)
            session.flush()  # the unique event id: a concurrent replay fails here
            if event.type in HANDLED_EVENTS:
                outcome = apply_intent_outcome(
                    session, stripe_gateway.intent_status_from_event(event.data_object), now=now
                )
            elif event.type in REFUND_EVENTS:
                outcome = "; ".join(
                    apply_refund_outcome(session, status, now=now) for status in refunds
                ) or ("ignored: no refund in the event")
            else:
                outcome = "ignored: event type not handled"
            stored.outcome = outcome[:200]
            return WebhookResult(event.id, outcome)
    except IntegrityError:
        return WebhookResult(event.id, "duplicate", duplicate=True)


@dataclass
class ReconcileReport:
    checked: int = 0
    applied: int = 0
    failed: int = 0
    unchanged: int = 0
    outcomes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.checked} card payment(s) checked: {self.applied} applied, "
            f"{self.failed} failed or canceled, {self.unchanged} unchanged"
        )


def reconcile_payments(
    *, now: datetime | None = None, older_than: timedelta = RECONCILE_AFTER, limit: int = 200
) -> ReconcileReport:
    """Ask Stripe about card payments still pending after `older_than` (their
    webhook never came) and apply what it says; cancel attempts as old that
    never stored a PaymentIntent. Each payment is claimed with SKIP LOCKED on
    PostgreSQL, so several hosts may run this at once."""
    now = now or utcnow()
    gateway = _gateway()
    report = ReconcileReport()
    session = db.session()
    candidates = list(
        session.scalars(
            select(Payment.id)
            .where(
                Payment.method == CARD,
                Payment.state.in_((PENDING, FAILED)),
                Payment.stripe_payment_intent_id.is_not(None),
                Payment.created_at <= now - older_than,
            )
            .order_by(Payment.id)
            .limit(limit)
        )
    )
    session.rollback()
    for payment_id in candidates:
        with db.transaction() as session:
            statement = select(Payment).where(
                Payment.id == payment_id, Payment.state.in_((PENDING, FAILED))
            )
            if db.is_postgresql():
                statement = statement.with_for_update(skip_locked=True)
            payment = session.scalars(statement).one_or_none()
            if payment is None or payment.stripe_payment_intent_id is None:
                continue
            intent = gateway.retrieve_payment_intent(payment.stripe_payment_intent_id)
            outcome = apply_intent_outcome(session, intent, now=now)
        report.checked += 1
        report.outcomes.append(f"payment {payment_id}: {outcome}")
        if outcome.startswith("applied"):
            report.applied += 1
        elif outcome.startswith(("failed", "canceled")):
            report.failed += 1
        else:
            report.unchanged += 1
    for payment_id in _abandoned_attempts(now - older_than, limit):
        if _cancel_abandoned(payment_id):
            report.checked += 1
            report.failed += 1
            report.outcomes.append(f"payment {payment_id}: canceled, it never reached Stripe")
    return report


def _abandoned_attempts(before: datetime, limit: int) -> list[int]:
    session = db.session()
    found = list(
        session.scalars(
            select(Payment.id)
            .where(
                Payment.method == CARD,
                Payment.state == PENDING,
                Payment.stripe_payment_intent_id.is_(None),
                Payment.created_at <= before,
            )
            .order_by(Payment.id)
            .limit(limit)
        )
    )
    session.rollback()
    return found


def _cancel_abandoned(payment_id: int) -> bool:
    """A pending card attempt that never stored a PaymentIntent: its request
    died before Stripe answered. Any intent it made was never confirmed (the
    page gets a client secret only once the id is stored), so it cannot take
    money; canceling frees the invoice's page of a payment that is not coming."""
    with db.transaction() as session:
        statement = select(Payment).where(
            Payment.id == payment_id,
            Payment.state == PENDING,
            Payment.stripe_payment_intent_id.is_(None),
        )
        if db.is_postgresql():
            statement = statement.with_for_update(skip_locked=True)
        payment = session.scalars(statement).one_or_none()
        if payment is None:
            return False
        why = "Canceled by reconcile: the attempt never reached Stripe."
        payment.state = PAYMENT.step(payment.state, "cancel")
        payment.note = why
        audit.record(
            session,
            action="payment.canceled",
            entity_type="payment",
            entity_id=payment.id,
            before={"state": PENDING},
            after={"state": payment.state},
            note=why,
        )
        return True


def accept_flagged_payment(
    payment_id: int, *, note: str | None, now: datetime | None = None
) -> Payment:
    """Billing staff accept a flagged card payment for what was actually received."""
    now = now or utcnow()
    with db.transaction() as session:
        payment = session.get(Payment, payment_id, with_for_update=True)
        if payment is None:
            raise NotFound(f"There is no payment {payment_id}.")
        invoice = _locked_invoice(session, payment.invoice_id)
        reason = _reason(note)
        received = payment.amount_received or Decimal(0)
        if PAYMENT.can(payment.state, "accept") and (
            invoice.state not in COLLECTIBLE or received <= 0 or received > invoice.balance_due
        ):
            raise Conflict(
                f"{_amount(received, payment.currency)} cannot be applied to {invoice.label} "
                f"(balance due {_amount(invoice.balance_due, invoice.currency)}); "
                "refund it at Stripe."
            )
        payment.state = PAYMENT.step(payment.state, "accept")
        payment.amount = received
        audit.record(
            session,
            action="payment.accepted",
            entity_type="payment",
            entity_id=payment.id,
            before={"state": FLAGGED},
            after={"state": SUCCEEDED, "amount": received},
            note=reason,
        )
        _apply(session, invoice, payment, now=now)
        return payment


# --- refunds of what credit notes owe back ------------------------------------------


def _locked_credit_note(session: Session, credit_note_id: int) -> CreditNote:
    credit = session.scalars(
        select(CreditNote).where(CreditNote.id == credit_note_id).with_for_update()
    ).one_or_none()
    if credit is None:
        raise NotFound(f"There is no credit note {credit_note_id}.")
    session.refresh(credit)
    return credit


def _check_refund_amount(credit: CreditNote, amount: Decimal) -> None:
    outstanding = credit.refund_outstanding
    if outstanding <= 0:
        raise Conflict(
            f"Credit note {credit.number} owes no refund"
            + (" (it is refunded in full)." if credit.refund_due > 0 else ".")
        )
    if amount <= 0 or quantize(amount, credit.currency) != amount:
        raise InvalidInput.for_field("amount", "Must be more than zero, in whole cents.")
    if amount > outstanding:
        raise InvalidInput.for_field(
            "amount",
            f"More than the refund outstanding on {credit.number} "
            f"({_amount(outstanding, credit.currency)}).",
        )


def _refund_snapshot(refund: Refund, credit: CreditNote) -> dict[str, Any]:
    return {
        "credit_note": credit.number,
        "method": refund.method,
        "amount": refund.amount,
        "state": refund.state,
        "reference": refund.reference,
        "payment_id": refund.payment_id,
    }


def _tell_refund_sent(session: Session, refund: Refund, credit: CreditNote) -> None:
    organization = session.get(Organization, refund.organization_id)
    assert organization is not None
    session.flush()
    session.expire(credit, ["refunds"])  # count the refund just recorded
    invoice = credit.invoice
    mail.enqueue(
        session,
        to=organization.billing_email,
        subject=f"Refund of {_amount(refund.amount, refund.currency)} for credit note "
        f"{credit.number}",
        template="refund_sent",
        context={
            **_mail_context(invoice, organization),
            "refund": refund,
            "credit": credit,
            "amount": _amount(refund.amount, refund.currency),
            "outstanding": _amount(credit.refund_outstanding, credit.currency),
        },
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
) -> Refund:
    """Billing staff: a refund sent by wire, ACH or check against a credit note's
    refund due; never more than what is outstanding on it."""
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    if method not in OFFLINE_METHODS:
        errors["method"] = [f"Must be one of: {', '.join(OFFLINE_METHODS)}."]
    clean_reference = (reference or "").strip()
    if not clean_reference:
        errors["reference"] = ["Give the bank or check reference."]
    elif len(clean_reference) > REFERENCE_MAX:
        errors["reference"] = [f"At most {REFERENCE_MAX} characters."]
    if sent_on is not None and sent_on > office_date(now):
        errors["sent_on"] = ["Cannot be in the future."]
    if errors:
        raise InvalidInput("The refund has problems.", errors)
    with db.transaction() as session:
        credit = _locked_credit_note(session, credit_note_id)
        _check_refund_amount(credit, amount)
        refund = Refund(
            credit_note_id=credit.id,
            invoice_id=credit.invoice_id,
            organization_id=credit.organization_id,
            method=method,
            state=SUCCEEDED,
            currency=credit.currency,
            amount=amount,
            reference=clean_reference,
            sent_on=sent_on or office_date(now),
            note=(note or "").strip() or None,
            recorded_by=_actor(),
            created_at=now,
            settled_at=now,
        )
        session.add(refund)
        session.flush()
        audit.record(
            session,
            action="refund.recorded",
            entity_type="refund",
            entity_id=refund.id,
            before=None,
            after=_refund_snapshot(refund, credit),
            note=refund.note,
        )
        _tell_refund_sent(session, refund, credit)
        return refund


def _refundable_card_payment(
    session: Session, credit: CreditNote, amount: Decimal, payment_id: int | None
) -> Payment:
    """The card payment to refund: the one named, else the newest on the invoice
    with enough left to refund. Locked, so two refunds never exceed it."""
    statement = (
        select(Payment)
        .where(
            Payment.invoice_id == credit.invoice_id,
            Payment.method == CARD,
            Payment.state == SUCCEEDED,
            Payment.stripe_payment_intent_id.is_not(None),
        )
        .order_by(Payment.id.desc())
        .with_for_update()
    )
    if payment_id is not None:
        statement = statement.where(Payment.id == payment_id)
    candidates = list(session.scalars(statement))
    for payment in candidates:
        session.refresh(payment)
        if payment.amount - payment.amount_refunded >= amount:
            return payment
    if payment_id is not None and candidates:
        left = candidates[0].amount - candidates[0].amount_refunded
        raise InvalidInput.for_field(
            "amount",
            f"More than is left to refund on card payment {payment_id} "
            f"({_amount(left, credit.currency)}).",
        )
    raise Conflict(
        f"Invoice {credit.invoice.number} has no card payment of this service with "
        f"{_amount(amount, credit.currency)} left to refund; record an offline refund instead."
    )


def refund_card(
    credit_note_id: int,
    *,
    amount: Decimal | None = None,
    payment_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Refund:
    """Billing staff: refund a credit note's refund due to the card that paid the
    invoice (a Stripe Refund on its PaymentIntent; the whole outstanding amount
    unless `amount` says less).

    The refund is recorded `pending` first, which holds its amount against the
    refund due, so a second request cannot refund it again; then Stripe is
    asked, with the refund's own idempotency key and its id in the metadata (so
    `charge.refunded` finds it even before its Stripe id is stored). Stripe's
    answer, now or by webhook, moves it to `succeeded` or `failed` (the amount
    is then outstanding again).
    """
    now = now or utcnow()
    gateway = _gateway()
    with db.transaction() as session:
        credit = _locked_credit_note(session, credit_note_id)
        wanted = credit.refund_outstanding if amount is None else amount
        _check_refund_amount(credit, wanted)
        payment = _refundable_card_payment(session, credit, wanted, payment_id)
        refund = Refund(
            credit_note_id=credit.id,
            invoice_id=credit.invoice_id,
            organization_id=credit.organization_id,
            payment_id=payment.id,
            method=CARD,
            state=PENDING,
            currency=credit.currency,
            amount=wanted,
            idempotency_key=f"refund-{uuid.uuid4().hex}",
            note=(note or "").strip() or None,
            recorded_by=_actor(),
            created_at=now,
        )
        session.add(refund)
        session.flush()
        audit.record(
            session,
            action="refund.started",
            entity_type="refund",
            entity_id=refund.id,
            before=None,
            after=_refund_snapshot(refund, credit),
            note=refund.note,
        )
        request = (
            refund.id,
            refund.idempotency_key,
            payment.stripe_payment_intent_id,
            credit.number,
            credit.invoice_id,
            credit.currency,
        )
    refund_id, key, intent_id, credit_number, invoice_id, currency = request
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
    except stripe_gateway.StripeRefused as error:  # nothing was refunded
        _refund_failed_at_once(refund_id, error.detail, now)
        raise
    # Any other failure leaves it pending (its outcome is unknown): the
    # `charge.refunded` webhook settles it, and its amount stays held meanwhile.
    with db.transaction() as session:
        apply_refund_outcome(session, status, now=now)
        found = session.get(Refund, refund_id)
        assert found is not None
        return found


def _refund_failed_at_once(refund_id: int, why: str, now: datetime) -> None:
    with db.transaction() as session:
        refund = session.get(Refund, refund_id, with_for_update=True)
        assert refund is not None
        _refund_step(session, refund, "fail", why[:2000], now)


def _refund_step(
    session: Session, refund: Refund, action: str, note: str | None, now: datetime
) -> None:
    before = refund.state
    refund.state = REFUND.step(before, action)
    if refund.state == SUCCEEDED:
        refund.settled_at = now
        refund.sent_on = office_date(now)
    if note:
        refund.note = note
    audit.record(
        session,
        action=f"refund.{refund.state}",
        entity_type="refund",
        entity_id=refund.id,
        before={"state": before},
        after={"state": refund.state, "stripe_refund_id": refund.stripe_refund_id},
        note=note,
    )


def _refund_for(session: Session, status: stripe_gateway.RefundStatus) -> Refund | None:
    found = session.scalars(
        select(Refund).where(Refund.stripe_refund_id == status.id).with_for_update()
    ).one_or_none()
    if found is not None:
        return found
    # Stripe's answer may arrive (webhook) before the request stored its id.
    raw = status.metadata.get("refund_id", "")
    if not raw.isdigit() or len(raw) > 18:
        return None
    found = session.scalars(
        select(Refund).where(Refund.id == int(raw), Refund.method == CARD).with_for_update()
    ).one_or_none()
    if found is None or found.stripe_refund_id not in (None, status.id):
        return None
    return found


def apply_refund_outcome(
    session: Session, status: stripe_gateway.RefundStatus, *, now: datetime
) -> str:
    """Apply what Stripe says about a Refund, idempotently and in any order."""
    refund = _refund_for(session, status)
    if refund is None:
        return f"ignored: refund {status.id} was not made by this service"
    if refund.stripe_refund_id is None:
        refund.stripe_refund_id = status.id
    expected = to_minor_units(refund.amount, refund.currency)
    if status.currency != refund.currency or status.amount != expected:
        note = f"Stripe reports {status.amount} {status.currency} minor units, asked {expected}"
        log.warning("refund %s: %s", refund.id, note)
    if status.status == "succeeded" and REFUND.can(refund.state, "succeed"):
        _refund_step(session, refund, "succeed", None, now)
        credit = session.get(CreditNote, refund.credit_note_id)
        assert credit is not None
        _tell_refund_sent(session, refund, credit)
        return f"refunded: refund {refund.id}"
    if status.status in ("failed", "canceled") and REFUND.can(refund.state, "fail"):
        _refund_step(session, refund, "fail", status.failure_reason or status.status, now)
        return f"refund failed: refund {refund.id}"
    return f"no change: refund {refund.id} is {refund.state}, Stripe says {status.status}"


REFUND_EVENTS = frozenset({"charge.refunded", "refund.updated", "refund.failed"})


def _refund_statuses(
    gateway: stripe_gateway.PaymentGateway, event: stripe_gateway.WebhookEvent
) -> list[stripe_gateway.RefundStatus]:
    """The refunds an event is about: carried in it, or (a charge without its
    refunds, as newer Stripe API versions send) asked of Stripe."""
    carried = stripe_gateway.refunds_from_event(event.type, event.data_object)
    if carried is not None:
        return carried
    intent_id = event.data_object.get("payment_intent")
    if not isinstance(intent_id, str) or not intent_id:
        return []
    return gateway.list_refunds(intent_id)


# --- overdue invoices: reminders, late fees, standing -------------------------------


@dataclass
class OverdueReport:
    overdue: int = 0
    reminders: int = 0
    late_fee_invoices: list[str] = field(default_factory=list)
    pending_payment: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.overdue} overdue invoice(s); {self.reminders} reminder(s) sent; "
            f"{len(self.late_fee_invoices)} late-fee invoice(s) issued; "
            f"{len(self.pending_payment)} organization(s) moved to pending payment"
        )


def months_between(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end` (0 when `end` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)


def process_overdue(*, now: datetime | None = None) -> OverdueReport:
    """Remind, charge late fees and move standing for overdue invoices.

    Idempotent (reminders at most weekly, each month's late fee once, standing
    through its state machine) and safe on several hosts: each invoice and
    organization is claimed with SKIP LOCKED on PostgreSQL.
    """
    now = now or utcnow()
    today = office_date(now)
    report = OverdueReport()
    session = db.session()
    overdue_ids = list(
        session.scalars(
            select(Invoice.id)
            .where(Invoice.state == OPEN, Invoice.due_date < today)
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    session.rollback()
    for invoice_id in overdue_ids:
        with db.transaction() as session:
            statement = select(Invoice).where(Invoice.id == invoice_id, Invoice.state == OPEN)
            if db.is_postgresql():
                statement = statement.with_for_update(skip_locked=True)
            invoice = session.scalars(statement).one_or_none()
            if invoice is None:
                continue
            report.overdue += 1
            if _remind(session, invoice, now=now, today=today):
                report.reminders += 1
            fee = _charge_late_fees(session, invoice, now=now, today=today)
            if fee is not None:
                report.late_fee_invoices.append(fee)
    threshold = _config().overdue_standing_days
    organization_ids = list(
        session.scalars(
            select(Invoice.organization_id)
            .where(
                Invoice.state.in_(sorted(COLLECTIBLE)),
                Invoice.due_date < today - timedelta(days=threshold),
            )
            .distinct()
        )
    )
    session.rollback()
    for organization_id in organization_ids:
        with db.transaction() as session:
            claim = select(Organization).where(
                Organization.id == organization_id, Organization.standing == ACTIVE
            )
            claim = claim.with_for_update(skip_locked=True) if db.is_postgresql() else claim
            organization = session.scalars(claim).one_or_none()
            if organization is None:
                continue
            late = _overdue_beyond(session, organization_id, today, threshold)
            if not late:
                continue
            first = late[0]
            accounts.change_standing(
                session,
                organization,
                "mark_pending_payment",
                reason=f"Invoice {first.number} is {first.days_overdue(today)} days overdue "
                f"({_amount(first.balance_due, first.currency)} due {first.due_date}).",
            )
            report.pending_payment.append(organization.legal_name)
    return report


def _remind(session: Session, invoice: Invoice, *, now: datetime, today: date) -> bool:
    if invoice.last_reminder_at is not None and now - invoice.last_reminder_at < REMINDER_INTERVAL:
        return False
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    invoice.reminder_count += 1
    invoice.last_reminder_at = now
    mail.enqueue(
        session,
        to=organization.billing_email,
        subject=f"Reminder: invoice {invoice.number} is {invoice.days_overdue(today)} days overdue",
        template="invoice_overdue",
        context={
            **_mail_context(invoice, organization),
            "days_overdue": invoice.days_overdue(today),
            "late_fee_percent": invoice.late_fee_monthly_percent,
        },
    )
    audit.record(
        session,
        action="invoice.reminder_sent",
        entity_type="invoice",
        entity_id=invoice.id,
        before=None,
        after={"reminder_count": invoice.reminder_count},
    )
    return True


def _charge_late_fees(
    session: Session, invoice: Invoice, *, now: datetime, today: date
) -> str | None:
    """One late-fee invoice for each run that finds new whole months overdue:
    `late_fee_monthly_percent` of the balance then due, per month."""
    assert invoice.due_date is not None
    months = months_between(invoice.due_date, today)
    if invoice.source_type == LATE_FEE or invoice.late_fee_monthly_percent <= 0:
        return None
    if months <= invoice.late_fee_months_charged:
        return None
    balance = invoice.balance_due
    rate = invoice.late_fee_monthly_percent
    fee = quantize(balance * rate / 100, invoice.currency)
    first_month = invoice.late_fee_months_charged + 1
    invoice.late_fee_months_charged = months
    if fee <= 0:
        return None
    charges = [
        Charge(
            description=f"Late fee on invoice {invoice.number}, month {month} overdue",
            amount=fee,
            working=(
                f"{rate.normalize():f}% x {_amount(balance, invoice.currency)} balance overdue = "
                f"{_amount(fee, invoice.currency)} (due {invoice.due_date}, per the agreement's "
                "terms)"
            ),
        )
        for month in range(first_month, months + 1)
    ]
    late = create_invoice(
        session,
        organization_id=invoice.organization_id,
        currency=invoice.currency,
        charges=charges,
        source_type=LATE_FEE,
        source_id=invoice.id,
        source_reference=invoice.number,
        parent_invoice_id=invoice.id,
        payment_terms_days=0,
        late_fee_monthly_percent=Decimal(0),
        now=now,
    )
    return late.number


# --- signals: invoicing an agreement that becomes active ---------------------------


def invoice_activated_agreement(session: Session, agreement: Any) -> Invoice | None:
    """The up-front invoice for an agreement that became active (in its transaction).

    `agreement` is a `licensing.signals.ActivatedAgreement`. Nothing to invoice
    (no charges, or all zero) makes no invoice. A second signal for the same
    agreement finds the first invoice and makes no other.
    """
    charges = [
        Charge(description=c.description, amount=c.amount, working=c.working)
        for c in agreement.charges
        if c.amount > 0
    ]
    if not charges:
        return None
    existing = session.scalars(
        select(Invoice).where(
            Invoice.source_type == "agreement", Invoice.source_id == agreement.agreement_id
        )
    ).first()
    if existing is not None:
        return existing
    return create_invoice(
        session,
        organization_id=agreement.organization_id,
        currency=agreement.currency,
        charges=charges,
        source_type="agreement",
        source_id=agreement.agreement_id,
        source_reference=agreement.number,
        payment_terms_days=agreement.payment_terms_days,
        late_fee_monthly_percent=agreement.late_fee_monthly_percent,
        memo=f"License agreement {agreement.number}, term {agreement.term_start} to "
        f"{agreement.term_end} (rate card {agreement.rate_card_version}).",
        now=agreement.activated_at,
    )


def payment_summary(payments: Sequence[Payment]) -> Mapping[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for payment in payments:
        if payment.state == SUCCEEDED:
            totals[payment.method] = totals.get(payment.method, Decimal(0)) + payment.amount
    return totals
