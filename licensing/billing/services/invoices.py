"""Creating, drafting, issuing, voiding and writing off invoices.

`create_invoice()` is the one way an invoice comes into being: the receiver
for activated agreements calls it, late fees call it, and royalty reports
call it. Functions taking a `session` run inside their caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import confirmations, db
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import links, numbering, pdfs, queries
from licensing.billing.letterhead import billing_address
from licensing.billing.models import (
    DESCRIPTION_MAX,
    Invoice,
    InvoiceLine,
    InvoiceLinkRevocation,
)
from licensing.billing.services._common import (
    _email_billing_contact,
    _locked_invoice,
    _reason,
    _restore_standing,
    _settle,
)
from licensing.billing.settings import InvoiceTerms
from licensing.billing.states import AGREEMENT, COLLECTIBLE, DRAFT, INVOICE, MANUAL
from licensing.calendar import day_text, days_text, office_date
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.finance.classification import store_classification
from licensing.money import (
    MoneyError,
    check_bounds,
    check_total,
    format_amount,
    in_words,
    is_currency,
    quantize,
)
from licensing.signals import ActivatedAgreement, ChangedBillingContact, MovedInvoiceLinks
from licensing.words import at_most_characters, priced_words


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
            errors[f"lines.{index}.description"] = [at_most_characters(DESCRIPTION_MAX)]
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
    payment_terms_days: int,
    late_fee_monthly_percent: Decimal,
    parent_invoice_id: int | None = None,
    late_fee_through_month: int | None = None,
    memo: str | None = None,
    finalize: bool = True,
    deductions: bool = False,
    email: bool = True,
    now: datetime | None = None,
    actor: Actor,
) -> Invoice:
    """Create an invoice for `charges`, finalized (numbered, open) unless
    `finalize=False` leaves a draft. The one function every invoice comes from.
    `deductions` admits negative lines (a royalty lowered on one line of a report
    that raises it on another). `actor` is who the audit log names (the system
    when an invoice follows from another record's step, as a late fee does). The
    terms are the agreement's, or the office's standard ones (`InvoiceTerms`).
    `email=False` issues it without its own email: the caller names it in one of
    its own (the overdue run's late fees, one email an organization, round 50). A late
    fee says `late_fee_through_month`, the last month overdue it charges for: the
    database refuses one without (operations_0005)."""
    now = now or utcnow()
    errors = _check_charges(currency, charges, deductions=deductions)
    if payment_terms_days < 0:
        errors["payment_terms_days"] = ["Must be zero or more."]
    if errors:
        raise InvalidInput("The invoice has problems.", errors)
    if session.get(Organization, organization_id) is None:
        # A reference the caller gave, not the record it asked for: the field is
        # named, as for every other field (docs/api.md, round 32).
        raise InvalidInput.for_field(
            "organization_id", f"There is no organization {organization_id}."
        )
    invoice = Invoice(
        organization_id=organization_id,
        state=DRAFT,
        currency=currency,
        source_type=source_type,
        source_id=source_id,
        source_reference=source_reference,
        parent_invoice_id=parent_invoice_id,
        late_fee_through_month=late_fee_through_month,
        payment_terms_days=payment_terms_days,
        late_fee_monthly_percent=late_fee_monthly_percent,
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
    source = f"{source_type} {source_reference or ''}".strip()
    audit.record_new(
        session,
        invoice,
        "invoice.created",
        after={**invoice.snapshot(), "source": source},
        actor=actor,
    )
    if finalize:
        finalize_in(session, invoice, now=now, actor=actor, email=email)
    return invoice


def _bill_to(organization: Organization) -> str:
    lines = [organization.legal_name, *billing_address(organization)]
    lines.append(f"Attn: {organization.billing_contact_name} <{organization.billing_email}>")
    if organization.tax_id:
        lines.append(f"Tax id: {organization.tax_id}")
    return json.dumps({"lines": lines, "email": organization.billing_email})


def finalize_in(
    session: Session, invoice: Invoice, *, now: datetime, actor: Actor, email: bool = True
) -> Invoice:
    """Issue a draft: take the next number (in this transaction), fix the dates
    and the bill-to, and email the billing contact (unless `email=False`: the caller
    names the invoice in an email of its own)."""
    INVOICE.step(invoice.state, "finalize")  # refused before a number is taken
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    issued = office_date(now)
    # The number's sequence row is locked until commit: drawn after the step's
    # records (`billing.services`, the lock order; the audit log's head, locked at
    # commit, comes after it, round 58).
    number = numbering.next_number(session, numbering.INVOICE_SERIES, issued.year)
    invoice.number = number
    invoice.issue_date = issued
    invoice.due_date = issued + timedelta(days=invoice.payment_terms_days)
    invoice.bill_to = _bill_to(organization)
    # Its lines' kind and classification, fixed now as the invoice is (round 61).
    store_classification(session, invoice)
    INVOICE.apply(
        session,
        invoice,
        "finalize",
        actor=actor,
        at=now,
        changes={"number": invoice.number, "due_date": invoice.due_date},
    )
    if invoice.total == 0:  # nothing to pay: settled at once
        _settle(session, invoice, actor=actor, now=now, note="nothing to pay")
    # The PDF the email attaches is the one drawn here anyway: kept, its issued document,
    # so a download serves the bytes the billing contact was sent (round 44).
    kept = pdfs.keep(
        session, pdfs.Document.of_invoice(invoice), pdfs.invoice_pdf(session, invoice), now=now
    )
    if email:
        email_issued(session, invoice, kept)
    return invoice


def email_issued(session: Session, invoice: Invoice, kept: pdfs.Kept) -> None:
    """The billing contact's email of a newly issued invoice, its `kept` PDF attached
    (`finalize_in`'s; the overdue run's when it names a single late fee, round 52)."""
    assert invoice.due_date is not None  # issued: its due date is set
    _email_billing_contact(
        session,
        invoice,
        # Links are withdrawn only once sent, never a draft's: the first generation.
        link_generation=0,
        subject=(
            f"Invoice {invoice.number}: nothing to pay"
            if invoice.total == 0
            else f"Invoice {invoice.number}: {in_words(invoice.total, invoice.currency)} "
            f"due {day_text(invoice.due_date)}"
        ),
        template="invoice_issued",
        # Named, not copied: the outbox sends the kept row's bytes (round 48).
        attachments=[kept.attached(f"{invoice.number}.pdf")],
    )


def create_draft(
    *,
    organization_id: int,
    currency: str,
    charges: Sequence[Charge],
    standard: InvoiceTerms,
    payment_terms_days: int | None = None,
    memo: str | None = None,
    actor: Actor,
) -> Invoice:
    """Billing staff: a manual draft invoice, to be checked and finalized, on the
    office's `standard` terms unless staff give the payment terms."""
    actor.require_role("billing")
    with db.transaction() as session:
        return create_invoice(
            session,
            organization_id=organization_id,
            currency=currency,
            charges=charges,
            source_type=MANUAL,
            payment_terms_days=(
                standard.payment_terms_days if payment_terms_days is None else payment_terms_days
            ),
            late_fee_monthly_percent=standard.late_fee_monthly_percent,
            memo=memo,
            finalize=False,
            actor=actor,
        )


def finalize_invoice(invoice_id: int, *, now: datetime | None = None, actor: Actor) -> Invoice:
    """Billing staff: issue a draft (see `finalize_in`)."""
    actor.require_role("billing")
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        return finalize_in(session, invoice, now=now or utcnow(), actor=actor)


def update_draft(
    invoice_id: int,
    *,
    charges: Sequence[Charge] | None = None,
    memo: str | None = None,
    payment_terms_days: int | None = None,
    actor: Actor,
) -> Invoice:
    """Change a draft. An issued invoice is immutable: a 409 that says to issue
    a credit note instead."""
    actor.require_role("billing")
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        if invoice.state != DRAFT:
            raise Conflict(
                f"{invoice.title} is {invoice.state} and cannot be edited; "
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
        audit.record_event(
            session, "invoice.draft_updated", invoice.id, after=invoice.snapshot(), actor=actor
        )
        return invoice


def void_invoice(
    invoice_id: int,
    *,
    reason: str | None,
    now: datetime | None = None,
    actor: Actor,
) -> Invoice:
    """Void an invoice issued in error. One with money received cannot be voided:
    issue a credit note (and refund) instead."""
    actor.require_role("billing")
    now = now or utcnow()
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        note = _refuse_void(invoice, reason)
        invoice.state_reason = note
        INVOICE.apply(session, invoice, "void", actor=actor, note=note, at=now)
        _restore_standing(session, invoice.organization_id, now, actor)
        # The billing contact was sent the invoice, its PDF and how to pay it.
        _email_billing_contact(
            session,
            invoice,
            subject=f"Invoice {invoice.number} is void: do not pay it",
            template="invoice_voided",
        )
        return invoice


def check_void(invoice_id: int, *, reason: str | None, actor: Actor) -> None:
    """Raise what `void_invoice` would refuse, writing nothing: the console asks staff
    to confirm only a void that would then be taken (a payment recorded since the page
    was drawn is refused before the confirmation, not after it)."""
    _refuse_void(_invoice_to_check(invoice_id, actor), reason)


def _invoice_to_check(invoice_id: int, actor: Actor) -> Invoice:
    """The invoice a billing clerk's step is checked on before it is asked about."""
    actor.require_role("billing")
    invoice = db.session().get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"There is no invoice {invoice_id}.")
    return invoice


def _refuse_void(invoice: Invoice, reason: str | None) -> str:
    """The reason, cleaned; or what makes the void impossible: no reason, a state the
    invoice cannot be voided from, or money received (a credit note is the way)."""
    note = _reason(reason)
    INVOICE.step(invoice.state, "void")
    if invoice.amount_paid > 0:
        raise Conflict(
            f"{invoice.title} has payments of "
            f"{in_words(invoice.amount_paid, invoice.currency)}; issue a credit note instead."
        )
    return note


# The console's confirmation of withdrawing an invoice's links (round 55: the
# billing contact it named was posted back in plain text): signed over that contact
# and the reason, for the clerk shown it, and when (`licensing.confirmations`).
LINKS_CONFIRMATION = confirmations.Kind(
    salt="licensing.billing.links-withdrawal-confirmation",
    record_word="invoice",
    not_done="Not withdrawn",
    nothing_done="Nothing was withdrawn or sent",
    again="withdraw the links again to see whom the new link goes to, then confirm it",
)


def check_links_withdrawal(invoice_id: int, *, reason: str | None, actor: Actor) -> None:
    """Raise what `withdraw_invoice_links` would refuse, writing nothing (round 56):
    the console asks staff to confirm only a withdrawal that would then be taken (a
    blank or unprintable reason, or a draft, was refused after the confirmation)."""
    _refuse_links_withdrawal(_invoice_to_check(invoice_id, actor), reason)


def _refuse_links_withdrawal(invoice: Invoice, reason: str | None) -> str:
    """The reason, cleaned; or what makes the withdrawal impossible: no reason (or
    one a document cannot print), or a draft, whose links were never sent."""
    note = _reason(reason)
    if invoice.state == DRAFT:
        raise Conflict(f"{invoice.title} is a draft: no link to it has been sent.")
    return note


def links_withdrawal_confirmation(
    invoice_id: int, contact: str, reason: str | None, actor: Actor, now: datetime | None = None
) -> str:
    """The value the links' withdrawal's confirmation carries: the billing contact
    it named and the reason it was shown with."""
    said = {"contact": contact, "reason": confirmations.digest((reason or "").strip())}
    return LINKS_CONFIRMATION.sign(invoice_id, actor, now or utcnow(), said)


def withdraw_invoice_links(
    invoice_id: int,
    *,
    reason: str | None,
    now: datetime | None = None,
    actor: Actor,
    shown_contact: str | None = None,
    confirmation: str | None = None,
) -> InvoiceLinkRevocation:
    """Billing staff: stop every link to the invoice sent so far from working (an
    email forwarded or sent to the wrong person) and send its billing contact a new
    one. The invoice itself is not changed; the withdrawal is its own record.

    `shown_contact` (the console's confirmation names who the new link goes to, round
    54): refused (`ContactChanged`, 409, nothing withdrawn or sent) when the billing
    contact is no longer that address, read under the organization's row lock, after
    the invoice's (a change of contact locks the issued invoices before it writes the
    organization, so the two take turns at the invoice; round 56).
    `confirmation` (round 55: `links_withdrawal_confirmation`, "" when the confirming
    post had none): that contact as signed, refused (`ConfirmationRefused`, 400,
    nothing withdrawn or sent) unless it is the service's, for this invoice, reason
    and clerk, and recent."""
    actor.require_role("billing")
    now = now or utcnow()
    if confirmation is not None:
        shown_contact = LINKS_CONFIRMATION.read_as_posted(
            confirmation,
            invoice_id,
            actor,
            now,
            posted={"reason": confirmations.digest((reason or "").strip())},
            what="reason",
            carries=("contact",),
        )["contact"]
    with db.transaction() as session:
        # The invoice, then the organization (the lock order; round 56: the
        # organization first deadlocked with a card payment settling the invoice,
        # `test_link_withdrawal_lock_order.py`). A change of contact locks every
        # issued invoice before it writes the organization, so it and this step
        # still take turns at the invoice.
        invoice = _locked_invoice(session, invoice_id)
        note = _refuse_links_withdrawal(invoice, reason)
        contact = _locked_billing_contact(session, invoice)
        if shown_contact is not None and shown_contact != contact:
            raise ContactChanged(invoice, shown_contact, contact)
        withdrawn = links.generation(session, invoice.id)
        revocation = _withdraw_links(session, invoice, withdrawn, note, now=now, actor=actor)
        _email_billing_contact(
            session,
            invoice,
            link_generation=revocation.generation,
            subject=f"A new link to invoice {invoice.number}",
            template="invoice_link_renewed",
            disputed=bool(queries.open_disputes(session, invoice.id)),
        )
        return revocation


def _locked_billing_contact(session: Session, invoice: Invoice) -> str:
    """The billing contact of the invoice's organization, read under its row lock
    (FOR NO KEY UPDATE: a change of contact writes the row, so it waits for that, and
    not for a row naming the organization being stored)."""
    organization = session.get(
        Organization, invoice.organization_id, with_for_update={"key_share": True}
    )
    assert organization is not None  # an invoice's organization is never deleted
    return organization.billing_email


class ContactChanged(Conflict):
    """Links withdrawn on a confirmation naming a billing contact the organization no
    longer has: the new link would go to an address no one confirmed (round 54)."""

    def __init__(self, invoice: Invoice, shown: str, now: str) -> None:
        named = shown or "no one"
        super().__init__(
            f"Not withdrawn: the billing contact of {invoice.title} changed after the "
            f"withdrawal was shown to confirm (it named {named}; it is {now} now, and a "
            "change of contact withdraws the links to the old address itself). Nothing "
            "was withdrawn and no one was emailed: withdraw the links again to confirm "
            "who the new link goes to."
        )


def _withdraw_links(
    session: Session,
    invoice: Invoice,
    current: int,
    note: str,
    *,
    now: datetime,
    actor: Actor,
) -> InvoiceLinkRevocation:
    """Record one more withdrawal of the invoice's links (the ones sent so far stop
    working; `current`: their generation, read under the invoice's lock), audited as
    `invoice.links_withdrawn` with `note` saying why."""
    revocation = InvoiceLinkRevocation(
        invoice_id=invoice.id,
        generation=current + 1,
        reason=note,
        revoked_by=actor.name,
        revoked_by_id=actor.user_id,
        created_at=now,
    )
    session.add(revocation)
    session.flush()
    audit.record_event(
        session,
        "invoice.links_withdrawn",
        invoice.id,
        after={"withdrawal": revocation.generation, "number": invoice.number},
        actor=actor,
        note=note,
    )
    return revocation


def move_invoice_links(
    session: Session,
    change: ChangedBillingContact,
    *,
    now: datetime | None = None,
    actor: Actor,
) -> MovedInvoiceLinks:
    """The organization's billing contact changed address (in the caller's
    transaction): every link to its invoices that still opens one stops working,
    paid and void ones included (their pages show later credit notes and refunds,
    which are no longer the old address's to see), and the new contact is sent new
    links to the invoices still to pay. Closed invoices are not re-sent: nothing is
    asked of the new contact, and members see them in the portal."""
    now = now or utcnow()
    note = f"Billing contact changed from {change.old_email} to {change.new_email}"
    withdrawn: list[str] = []
    resent: list[str] = []
    linked = _linked_invoices(session, change.organization_id, now)
    # Read once for them all, after the lock: a withdrawal committed while this
    # waited for it is counted.
    current = links.generations(session, [invoice.id for invoice in linked])
    # Not asked for while the bank's dispute of its card payment is open.
    disputed = queries.disputed_invoice_ids(session, {invoice.id for invoice in linked})
    for invoice in linked:
        revocation = _withdraw_links(
            session, invoice, current[invoice.id], note, now=now, actor=actor
        )
        number = str(invoice.number)  # every issued invoice has one (a CHECK)
        withdrawn.append(number)
        if invoice.state in COLLECTIBLE:
            _email_billing_contact(
                session,
                invoice,
                subject=f"A new link to invoice {invoice.number}",
                template="invoice_link_renewed",
                link_generation=revocation.generation,
                old_email=change.old_email,
                disputed=invoice.id in disputed,
            )
            resent.append(number)
    return MovedInvoiceLinks(withdrawn=tuple(withdrawn), resent=tuple(resent))


def lock_issued_invoices(session: Session, organization_id: int) -> list[Invoice]:
    """The organization's issued invoices, row-locked (by id). A billing contact's
    change of address takes them before it writes the organization's row (the
    signal `billing_contact_changing`): a payment settling an invoice locks it, then
    the organization (`restore_standing_if_clear`), as a card attempt does (round
    54: the organization first, then the invoices, deadlocked with it)."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.organization_id == organization_id, Invoice.state != DRAFT)
            .order_by(Invoice.id)
            .with_for_update()
        )
    )


def _linked_invoices(session: Session, organization_id: int, now: datetime) -> list[Invoice]:
    """The organization's issued invoices whose emailed links still open them
    (row-locked, oldest first): every one but those closed longer than a link lasts."""
    issued = lock_issued_invoices(session, organization_id)
    expired_before = now - links.VALID_AFTER_CLOSE
    return [
        invoice
        for invoice in issued
        if (closed := invoice.paid_at or invoice.voided_at) is None or closed >= expired_before
    ]


def mark_uncollectible(
    invoice_id: int,
    *,
    reason: str | None,
    now: datetime | None = None,
    actor: Actor,
) -> Invoice:
    """Billing staff: write an invoice off as uncollectible (it stays owed)."""
    actor.require_role("billing")
    with db.transaction() as session:
        invoice = _locked_invoice(session, invoice_id)
        note = _reason(reason)
        invoice.state_reason = note
        INVOICE.apply(session, invoice, "mark_uncollectible", actor=actor, note=note, at=now)
        return invoice


def invoice_activated_agreement(session: Session, agreement: ActivatedAgreement) -> Invoice | None:
    """The up-front invoice for an agreement that became active (in its transaction),
    issued by the system: it follows from the licensee's acceptance. Nothing to invoice
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
    # At most one: an agreement becomes active once (its state machine, under its
    # row lock), and nothing else issues an invoice for an agreement; the database
    # holds it too (`uq_invoices_one_per_source`).
    existing = queries.upfront_invoice(session, agreement.agreement_id)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            return create_invoice(
                session,
                organization_id=agreement.organization_id,
                currency=agreement.currency,
                charges=charges,
                source_type=AGREEMENT,
                source_id=agreement.agreement_id,
                source_reference=agreement.number,
                payment_terms_days=agreement.payment_terms_days,
                late_fee_monthly_percent=agreement.late_fee_monthly_percent,
                # Round 57: its days in words, as the page and the PDF print it.
                memo=f"License agreement {agreement.number}, term "
                f"{days_text(agreement.term_start, agreement.term_end)} "
                f"({priced_words(agreement.rate_card_version)}).",
                now=agreement.activated_at,
                actor=Actor.SYSTEM,
            )
    except IntegrityError:
        # Stored by another transaction after the look-up: that one is the invoice.
        # Any other refusal is not this one's to answer.
        stored = queries.upfront_invoice(session, agreement.agreement_id)
        if stored is None:
            raise
        return stored
