"""Billing use cases: each public function owns its transaction.

`create_invoice()` is the one way an invoice comes into being: the receiver
for activated agreements calls it, late fees call it, and royalty reports will
call it. Functions taking a `session` run inside their caller's transaction
(the agreement's acceptance, an overdue run); the others open their own.
"""

from __future__ import annotations

import json
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
from licensing.accounts.states import ACTIVE, PENDING_PAYMENT
from licensing.audit import services as audit
from licensing.billing import numbering, stripe_gateway
from licensing.billing.models import (
    DESCRIPTION_MAX,
    REFERENCE_MAX,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
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
    PAID,
    PAYMENT,
    PENDING,
    SUCCEEDED,
    UNCOLLECTIBLE,
)
from licensing.calendar import office_date
from licensing.config import Config
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
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


def _check_charges(currency: str, charges: Sequence[Charge]) -> dict[str, list[str]]:
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
        if not isinstance(charge.amount, Decimal) or charge.amount < 0:
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
    now: datetime | None = None,
) -> Invoice:
    """Create an invoice for `charges`, finalized (numbered, open) unless
    `finalize=False` leaves a draft. The one function every invoice comes from."""
    now = now or utcnow()
    config = _config()
    errors = _check_charges(currency, charges)
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
        "invoice_url": mail.absolute_url("billing.invoice_detail", invoice_id=invoice.id),
        "pdf_url": mail.absolute_url("billing_documents.invoice_pdf", invoice_id=invoice.id),
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
    organization = session.get(Organization, organization_id, with_for_update=True)
    if organization is None or organization.standing != PENDING_PAYMENT:
        return
    if _overdue_beyond(session, organization_id, office_date(now), _config().overdue_standing_days):
        return
    accounts.change_standing(
        session, organization, "payment_received", reason="Overdue invoices are settled."
    )


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
    """A credit note against an open or paid invoice. It reduces the balance due;
    what exceeds the balance (a paid invoice) is a refund owed. The credits on
    an invoice never exceed its total."""
    now = now or utcnow()
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
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
            issued_by=_actor(),
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
                "credit_pdf_url": mail.absolute_url(
                    "billing_documents.credit_note_pdf", credit_note_id=credit.id
                ),
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


def start_card_payment(
    invoice_id: int, *, card_token: str, principal: Principal, now: datetime | None = None
) -> CardAttempt:
    """Charge the balance due to the card Stripe.js tokenized in the page.

    Records a pending payment first (so that a webhook arriving at once finds
    it), then asks Stripe for a confirmed PaymentIntent for the balance due in
    cents, with the invoice number in its metadata and this attempt's own
    idempotency key. The payment is applied when Stripe reports success (the
    webhook, or `licensing payments reconcile`), never here.
    """
    now = now or utcnow()
    gateway = _gateway()
    if not card_token or not card_token.startswith("tok_") or len(card_token) > 255:
        raise InvalidInput.for_field("card", "The card details could not be read; try again.")
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id, principal)
        if invoice.state not in COLLECTIBLE or invoice.balance_due <= 0:
            raise Conflict(f"Invoice {invoice.label} has nothing to pay.")
        # Locked: two attempts at once by one organization create one Customer.
        organization = session.get(Organization, invoice.organization_id, with_for_update=True)
        assert organization is not None
        customer_id = _customer_id(session, gateway, organization)
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
        session.flush()
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
        attempt = (
            payment.id,
            payment.idempotency_key,
            payment.amount,
            invoice.currency,
            invoice.number,
        )
    payment_id, key, amount, currency, number = attempt
    assert key is not None
    assert number is not None
    try:
        card = gateway.attach_card(customer_id, card_token)
        intent = gateway.create_payment_intent(
            amount_minor=to_minor_units(amount, currency),
            currency=currency,
            customer_id=customer_id,
            payment_method=card,
            metadata={
                "invoice_number": number,
                "invoice_id": str(invoice_id),
                "payment_id": str(payment_id),
            },
            idempotency_key=key,
        )
    except Exception as error:  # any failure: the pending attempt must not linger
        _cancel_attempt(payment_id, str(getattr(error, "detail", error)), now)
        raise
    with db.transaction() as session:
        payment_row = session.get(Payment, payment_id, with_for_update=True)
        assert payment_row is not None
        payment_row.stripe_payment_intent_id = intent.id
        if intent.status == "requires_payment_method" and intent.failure_message:
            _fail(session, payment_row, intent.failure_message)
    return CardAttempt(
        payment_id,
        intent.status,
        intent.client_secret,
        _status_message(intent.status, intent.failure_message),
    )


def _status_message(status: str, failure: str | None) -> str:
    if status == "succeeded":
        return "Payment received: the invoice is marked paid as soon as Stripe confirms it."
    if status == "requires_action":
        return "Your bank asks you to confirm this payment."
    if status == "processing":
        return "The payment is processing; the invoice is marked paid when it completes."
    return failure or "The card was not charged; try another card."


def _cancel_attempt(payment_id: int, note: str, now: datetime) -> None:
    with db.transaction() as session:
        payment = session.get(Payment, payment_id, with_for_update=True)
        if payment is None or payment.state != PENDING:
            return
        payment.state = PAYMENT.step(payment.state, "cancel")
        payment.note = note[:2000]
        audit.record(
            session,
            action="payment.canceled",
            entity_type="payment",
            entity_id=payment.id,
            before={"state": PENDING},
            after={"state": payment.state},
            note=note[:2000],
        )


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
    webhook never came) and apply what it says. Each payment is claimed with
    SKIP LOCKED on PostgreSQL, so several hosts may run this at once."""
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
    return report


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
