"""/api/v1: invoices, their payments, credit notes and refunds.

Vendors read their own organization's invoices (another's is a 404); billing
staff create drafts, finalize, void, record offline payments, issue credit
notes and refund what a credit note owes back (to the card through Stripe, or
recorded as sent offline). An issued invoice is immutable: `PATCH` on it is a 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask import current_app, url_for
from sqlalchemy import Select
from sqlalchemy.orm import selectinload, with_expression
from werkzeug.wrappers import Response

from licensing import access, db
from licensing.accounts.models import Organization
from licensing.accounts.queries import get_owned, person_named
from licensing.actors import current_actor
from licensing.api.base import Blueprint, Created, ReadPage, never_answers
from licensing.api.fields import (
    STRINGS,
    ApiSchema,
    Day,
    DecimalText,
    MoneyString,
    Month,
    Percent,
    Required,
    Text,
    allowed_actions_field,
    callers_actions,
    documented,
    read_with_session,
    record_id,
    steps_of,
    vocabulary,
)
from licensing.api.idempotency import (
    KEYS_USED_UP,
    current_claim,
    idempotent,
    idempotent_in_steps,
)
from licensing.billing import (
    gateways,
    pdfs,
    queries,
    sent_statements,
    services,
    statements,
    step_checks,
)
from licensing.billing.letterhead import letterhead
from licensing.billing.models import (
    DESCRIPTION_MAX,
    REASON_MAX,
    REASON_REQUIRED,
    REFERENCE_MAX,
    RETURN_REASON_REQUIRED,
    REVERSAL_REASON_REQUIRED,
    CreditNote,
    Invoice,
    InvoiceLinkRevocation,
    Payment,
    PaymentDispute,
    PaymentReversal,
    Refund,
    SentStatement,
)
from licensing.billing.services import requested_statements
from licensing.billing.settings import InvoiceTerms
from licensing.billing.states import (
    CARD,
    COLLECTIBLE,
    DISPUTE,
    DRAFT,
    GIVING_BACK,
    INVOICE,
    INVOICE_SOURCES,
    OFFLINE_METHODS,
    PAYMENT,
    PAYMENT_MEANINGS,
    PAYMENT_METHODS,
    REFUND,
)
from licensing.billing.step_checks import REFUND_CREDIT_NOTE
from licensing.billing.views import (
    credit_note_pdf_response,
    invoice_pdf_response,
    kept_document_response,
)
from licensing.calendar import OFFICE_TIMEZONE, instant_iso, office_date
from licensing.config import current_config
from licensing.db import utcnow
from licensing.downloads import document_rate_limit, pdf_response
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.links import links
from licensing.money import CURRENCIES, format_amount, in_words
from licensing.problems import INVALID_FIELDS

blp = Blueprint(
    "invoices_api",
    __name__,
    description="Invoices, payments (card and offline) and credit notes.",
)

READERS = ("billing", "licensing")
# The route that takes each step of an invoice (`callers_actions`); `settle` is
# the service's, when payments cover the balance.
INVOICE_STEP_ROUTES = {
    "finalize": "invoices_api.finalize_invoice",
    "void": "invoices_api.void_invoice",
    "mark_uncollectible": "invoices_api.mark_uncollectible",
}
# Round 58: a payment's, a refund's and a credit note's steps, listed alike. A
# payment's other steps are Stripe's and the service's (`succeed`, `fail`, `flag`,
# `cancel`, `refund_at_stripe`, `refuse_give_back`, `fail_give_back`,
# `charge_back`); a refund's `succeed` and `fail` are Stripe's.
PAYMENT_STEP_ROUTES = {
    "accept": "invoices_api.accept_payment",
    "accept_remainder": "invoices_api.accept_remainder",
    "give_back": "invoices_api.give_back_payment",
    "reverse": "invoices_api.reverse_payment",
}
REFUND_STEP_ROUTES = {"mark_returned": "invoices_api.return_refund"}
CREDIT_NOTE_STEP_ROUTES = {REFUND_CREDIT_NOTE: "invoices_api.refund_credit_note"}
Length = ma.validate.Length


# One line of an invoice as `InvoiceSchema._lines` writes it.
INVOICE_LINE = {
    "type": "object",
    "properties": {
        "position": {"type": "integer", "description": "From 1"},
        "description": {"type": "string"},
        "working": {"type": "string", "nullable": True, "description": "How it was reached"},
        "amount": {"type": "string", "example": "815.00"},
    },
    "required": ["position", "description", "working", "amount"],
}


def invoice_steps(invoice: Invoice) -> list[str]:
    """The caller's steps of `invoice` now: its `allowed_actions`, and a 409's.
    Round 57: `void` only with nothing paid (`services.void_invoice` refuses it
    otherwise: a credit note is the way)."""
    return callers_actions(
        INVOICE.allowed(invoice.state),
        INVOICE_STEP_ROUTES,
        refused=lambda step: step == "void" and invoice.amount_paid > 0,
    )


class InvoiceSchema(ApiSchema):
    id = ma.fields.Integer()
    number = ma.fields.String(allow_none=True)
    state = ma.fields.String(metadata={"enum": list(INVOICE.states)})
    allowed_actions = allowed_actions_field()
    organization_id = ma.fields.Integer()
    currency = ma.fields.String()
    source_type = ma.fields.String(
        metadata={
            "enum": list(INVOICE_SOURCES),
            "description": "What it bills: `agreement` (the up-front invoice issued when "
            "the agreement became active), `royalty_report` (a filed report's royalty), "
            "`late_fee` (on an overdue invoice) or `manual` (billing staff's own); "
            "read it with source_id, whose id is of that kind of record (round 40)",
        }
    )
    source_id = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "The id of the record it bills: the agreement "
            "(/agreements/{id}), the royalty report (/royalty-reports/{id}), or the "
            "overdue invoice a late fee charges for; null for a manual invoice"
        },
    )
    source_reference = ma.fields.String(
        allow_none=True,
        metadata={
            "example": "CPT-2027-000001 2027-01-01",
            "description": "The source by number: the agreement's number for an up-front "
            "invoice; the agreement's number and the period's first day for a royalty "
            "invoice (an amendment's invoice shares it with the invoice it amends); the "
            "overdue invoice's number for a late fee; null for a manual invoice (round 40)",
        },
    )
    amends_invoice_number = documented(
        "_amends_invoice_number",
        {
            "type": "string",
            "nullable": True,
            "example": "INV-2027-000004",
            "description": "For an amendment's royalty invoice: the invoice of the report "
            "it amends, which shares its source_reference (the agreement and period); "
            "null otherwise, or when the amended report issued none (round 36)",
        },
    )
    issue_date = Day(allow_none=True)
    due_date = Day(allow_none=True)
    payment_terms_days = ma.fields.Integer()
    late_fee_monthly_percent = Percent(metadata={"description": "Late fee per month, percent"})
    bill_to = documented(
        "_bill_to", STRINGS, metadata={"description": "The bill-to address, line by line"}
    )
    memo = ma.fields.String(allow_none=True)
    lines = documented("_lines", {"type": "array", "items": INVOICE_LINE})
    total = MoneyString()
    amount_paid = MoneyString()
    amount_credited = MoneyString()
    amount_refunded = MoneyString(
        metadata={
            "description": "Refunds sent on its credit notes (round 53): the balance due "
            "is total - amount_paid - amount_credited + amount_refunded, when above 0"
        }
    )
    balance_due = MoneyString()
    refund_due = MoneyString(
        metadata={"description": "What the credit notes owe back (of a paid amount)"}
    )
    refund_outstanding = MoneyString(
        metadata={"description": "Of the refund due, what is neither sent nor on its way"}
    )
    days_overdue = documented(
        "_days_overdue",
        {"type": "integer", "description": "Days past the due date at the office (0 if not)"},
    )
    finalized_at = ma.fields.DateTime(allow_none=True)
    paid_at = ma.fields.DateTime(allow_none=True)
    remit_to = documented(
        "_remit_to",
        STRINGS,
        metadata={
            "description": "Where to send a wire, ACH or check, line by line, as the "
            "invoice's PDF prints it (BILLING_REMIT_TO); quote the invoice's `number` "
            "with the payment (round 40)"
        },
    )
    pay_by_card_url = documented(
        "_pay_by_card_url",
        {
            "type": "string",
            "nullable": True,
            "example": "https://licensing.example.org/portal/invoices/42",
            "description": "The invoice's page in the vendor portal, where a signed-in "
            "vendor user pays the balance by card (there is no card payment through the "
            "API); null when card payments are off or nothing is to be paid by card "
            "(a draft, void or paid invoice, no balance due) (round 40)",
        },
    )
    # Round 68: added at the end, none renamed or moved.
    amends_report = documented(
        "_amends_report",
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "id": {"type": "integer", "example": 2},
                "reference": {"type": "string", "example": "RR-000002"},
                "period_start": {"type": "string", "format": "date", "example": "2027-01-01"},
            },
            "description": "For an amendment's royalty invoice: the royalty report it "
            "amends (`/royalty-reports/{id}`), named whether or not that report issued an "
            "invoice of its own (`amends_invoice_number` is null when it did not), with its "
            "period's first day (the same period as this invoice's); null on every other "
            "invoice (round 68)",
        },
    )

    def _allowed(self, invoice: Invoice) -> list[str]:
        return invoice_steps(invoice)

    def _remit_to(self, invoice: Invoice) -> list[str]:
        return list(letterhead().remit_lines)

    def _pay_by_card_url(self, invoice: Invoice) -> str | None:
        if not current_config().stripe_enabled:
            return None
        if invoice.state not in COLLECTIBLE or invoice.balance_due <= 0:
            return None
        return links().vendor_invoice(invoice.id)

    def _bill_to(self, invoice: Invoice) -> list[str]:
        return invoice.bill_to_lines()

    def _lines(self, invoice: Invoice) -> list[dict[str, Any]]:
        return [
            {
                "position": line.position,
                "description": line.description,
                "working": line.working,
                "amount": MoneyString()._serialize(line.amount, "amount", invoice),
            }
            for line in invoice.lines
        ]

    def _days_overdue(self, invoice: Invoice) -> int:
        return invoice.days_overdue(office_date(utcnow()))

    def _amends_invoice_number(self, invoice: Invoice) -> str | None:
        return queries.amends_invoice_number(db.session(), invoice)

    def _amends_report(self, invoice: Invoice) -> dict[str, Any] | None:
        amended = invoice.amended_report
        if amended is None:
            return None
        start = amended.period_start
        return {
            "id": amended.id,
            "reference": amended.reference,
            "period_start": start.isoformat() if start is not None else None,
        }


def person_name(address: str, user_id: str, what: str) -> ma.fields.Function:
    """Round 60 (names60): the name of the person beside a stored address (`address`,
    the attribute holding it; `user_id`, the account kept beside it), found as the
    console names them: by the account kept, else (a row from before it was kept) the
    account holding the address now; null for none (the system, a deleted account).
    Declared after the address, at the end of its schema: fields are only added."""
    return ma.fields.Function(
        lambda record: person_named(
            db.session(), getattr(record, address), getattr(record, user_id)
        ),
        dump_only=True,
        metadata={
            "type": "string",
            "nullable": True,
            "description": f"The name of {what} (`{address}` is their address as recorded), "
            "as the console names them now: by the account that acted, else by the "
            "account holding the address; null where no account is found (round 60)",
        },
    )


class ReversalSchema(ApiSchema):
    """A payment's reversal as anyone who reads the payment sees it."""

    id = ma.fields.Integer()
    payment_id = ma.fields.Integer()
    invoice_id = ma.fields.Integer()
    currency = ma.fields.String()
    amount = MoneyString(metadata={"description": "The payment's amount, taken off amount_paid"})
    reason = ma.fields.String()
    moved = ma.fields.Boolean(
        attribute="misapplied",
        metadata={
            "description": "Recorded against the wrong invoice and moved to the invoice it "
            "pays (round 68): the bank returned nothing"
        },
    )
    returned_on = Day(
        metadata={
            "description": "The day the bank returned the money (a payment moved to the "
            "invoice it pays: the day it was received)"
        }
    )
    created_at = ma.fields.DateTime()


class StaffReversalSchema(ReversalSchema):
    """A reversal as billing staff record it: with who did (staff's to know, as who
    recorded the payment)."""

    reversed_by = ma.fields.String()
    reversed_by_name = person_name("reversed_by", "reversed_by_id", "who reversed it")
    moved_to_payment_id = ma.fields.Integer(
        attribute="moved_to_id",
        allow_none=True,
        metadata={
            "description": "Set when the payment was recorded against the wrong invoice and "
            "moved (round 68): the payment it became on the right invoice, which may be "
            "another organization's (so staff's to see alone); null for money taken back"
        },
    )


class LinkWithdrawalSchema(ApiSchema):
    """A withdrawal of an invoice's emailed links (billing staff's to see)."""

    id = ma.fields.Integer()
    invoice_id = ma.fields.Integer()
    generation = ma.fields.Integer(
        metadata={"description": "1 for the invoice's first withdrawal, 2 for the next..."}
    )
    reason = ma.fields.String()
    revoked_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    revoked_by_name = person_name("revoked_by", "revoked_by_id", "who withdrew them")


class DisputeSchema(ApiSchema):
    """A card payment the licensee's bank disputed, as Stripe's webhooks told it."""

    id = ma.fields.Integer()
    stripe_dispute_id = ma.fields.String(metadata={"example": "du_1Harborlight"})
    stripe_charge_id = ma.fields.String(allow_none=True)
    payment_id = ma.fields.Integer(metadata={"description": "The card payment disputed"})
    invoice_id = ma.fields.Integer()
    invoice_number = ma.fields.String(attribute="invoice.number")
    organization_id = ma.fields.Integer()
    state = ma.fields.String(
        metadata={
            "enum": list(DISPUTE.states),
            "description": "open until Stripe closes it; won (the office kept or got back "
            "the money) or lost (the bank kept it)",
        }
    )
    status = ma.fields.String(
        metadata={"description": "Stripe's own status (needs_response, under_review, lost...)"}
    )
    reason = ma.fields.String(allow_none=True, metadata={"description": "The bank's reason"})
    currency = ma.fields.String()
    amount = MoneyString(metadata={"description": "The amount disputed"})
    evidence_due_by = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "The last moment to answer in Stripe's dashboard"},
    )
    opened_at = ma.fields.DateTime(metadata={"description": "When this service recorded it"})
    disputed_at = ma.fields.DateTime(
        metadata={
            "description": "When the bank's dispute reached Stripe (Stripe's created); "
            "before round 25, when it was recorded"
        }
    )
    closed_at = ma.fields.DateTime(allow_none=True)
    withdrawn_on = Day(
        allow_none=True,
        metadata={"description": "The day Stripe took the money back (the payment's reversal)"},
    )
    reversal_id = ma.fields.Integer(allow_none=True)
    reinstated_on = Day(
        allow_none=True, metadata={"description": "The day Stripe gave it back (a dispute won)"}
    )
    reinstatement_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The payment the reinstated money is"}
    )
    owed_again_on = Day(
        allow_none=True,
        metadata={"description": "A dispute lost: the day the balance is owed again from"},
    )


class UnmatchedDisputeSchema(ApiSchema):
    """A dispute whose card payment the service could not find, waiting to be matched
    (`licensing payments match-disputes`)."""

    id = ma.fields.Integer()
    stripe_dispute_id = ma.fields.String()
    stripe_charge_id = ma.fields.String(allow_none=True)
    stripe_payment_intent_id = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"description": "Stripe's status when last told"})
    currency = ma.fields.String()
    amount = MoneyString()
    why = ma.fields.String(metadata={"description": "Why no card payment was found"})
    first_seen_at = ma.fields.DateTime()
    last_seen_at = ma.fields.DateTime()


class DisputeQuerySchema(ApiSchema):
    state = vocabulary(DISPUTE.states)
    invoice_id = record_id()


class HeldStepSchema(ApiSchema):
    """A step of billing staff's held back by the bank's dispute (round 47)."""

    step = ma.fields.String(
        metadata={"enum": ["accept", "accept_remainder", "give_back"], "description": "The step"}
    )
    why = ma.fields.String(
        metadata={"description": "Why it is refused, as the 409's detail says after the step"}
    )


def payment_steps(payment: Payment) -> list[str]:
    """The caller's steps of `payment` now: its `allowed_actions`, and a 409's."""
    return callers_actions(
        PAYMENT.allowed(payment.state),
        PAYMENT_STEP_ROUTES,
        refused=lambda step: step_checks.payment_step_refused(payment, step),
    )


def refund_steps(refund: Refund) -> list[str]:
    """The caller's steps of `refund` now: its `allowed_actions`, and a 409's."""
    return callers_actions(
        REFUND.allowed(refund.state),
        REFUND_STEP_ROUTES,
        refused=lambda step: step_checks.refund_step_refused(refund, step),
    )


def credit_note_steps(credit: CreditNote) -> list[str]:
    """The caller's steps of `credit`: `refund` to billing staff while it owes one."""
    return callers_actions(step_checks.credit_note_steps(credit), CREDIT_NOTE_STEP_ROUTES)


class PaymentSchema(ApiSchema):
    id = ma.fields.Integer()
    invoice_id = ma.fields.Integer()
    method = ma.fields.String(metadata={"enum": list(PAYMENT_METHODS)})
    state = ma.fields.String(
        metadata={
            "enum": list(PAYMENT.states),
            "description": "The payment's state: "
            + " ".join(f"`{state}`: {words}" for state, words in PAYMENT_MEANINGS.items()),
        }
    )
    allowed_actions = allowed_actions_field("_allowed")
    state_meaning = ma.fields.Function(
        lambda payment: PAYMENT_MEANINGS[payment.state],
        metadata={"type": "string", "description": "What the state means, in words"},
    )
    currency = ma.fields.String()
    amount = MoneyString()
    amount_received = MoneyString(allow_none=True)
    reference = ma.fields.String(allow_none=True)
    received_on = Day(allow_none=True)
    paid_date = Day(
        allow_none=True,
        dump_only=True,
        metadata={
            "description": "The day the money came, as the Finance page and the payments "
            "export count it: received_on (offline), else the office day Stripe settled it "
            "(card); null until then"
        },
    )
    stripe_payment_intent_id = ma.fields.String(allow_none=True)
    card_brand = ma.fields.String(
        allow_none=True,
        metadata={"description": "The card's brand as Stripe names it (visa, mastercard, ...)"},
    )
    card_last4 = ma.fields.String(allow_none=True, metadata={"description": "Its last four digits"})
    card = ma.fields.String(
        attribute="card_label",
        allow_none=True,
        metadata={"description": "The card as people name it: Visa ending 4242"},
    )
    declined = ma.fields.Boolean(
        metadata={
            "description": "The bank declined the card (state failed, or canceled when the "
            "next card was tried)"
        }
    )
    outcome = ma.fields.String(
        metadata={
            "description": "The state as pages show it: declined for a card decline, else state"
        }
    )
    note = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    settled_at = ma.fields.DateTime(allow_none=True)
    reversal = ma.fields.Nested(
        ReversalSchema,
        allow_none=True,
        metadata={"description": "Why and when it was reversed (state reversed), else null"},
    )
    dispute = ma.fields.Nested(
        DisputeSchema,
        allow_none=True,
        metadata={"description": "The bank's dispute of this card payment, else null"},
    )
    held = ma.fields.List(
        ma.fields.Nested(HeldStepSchema),
        dump_only=True,
        metadata={
            "description": "Round 47: the staff steps its state allows (accept, "
            "accept_remainder, give_back) that the bank's dispute of its charge holds "
            "back, each with why, in the words of the 409 the step would answer; empty "
            "when none is held"
        },
    )
    remainder = MoneyString(
        allow_none=True,
        dump_only=True,
        metadata={
            "description": "Round 47: for a flagged card payment whose charge was disputed "
            "in part and the dispute lost, what the bank did not return to the cardholder "
            "(amount_received less the dispute's amount), to accept with POST "
            "/payments/{id}/accept-remainder; else null"
        },
    )
    remainder_excess = MoneyString(
        attribute="remainder_over_owed",
        allow_none=True,
        dump_only=True,
        metadata={
            "description": "Round 48: of the remainder, what is more than its invoice now "
            "owes (paid or credited meanwhile): accepting the remainder then needs it given "
            "back offline (excess_method, excess_reference); else null"
        },
    )

    def _allowed(self, payment: Payment) -> list[str]:
        return payment_steps(payment)


class CreditNoteSchema(ApiSchema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    invoice_id = ma.fields.Integer()
    currency = ma.fields.String()
    amount = MoneyString()
    applied_to_balance = MoneyString()
    refund_due = MoneyString()
    amount_refunded = MoneyString(
        metadata={"description": "Refunds sent, or pending at Stripe, against refund_due"}
    )
    refund_outstanding = MoneyString()
    allowed_actions = allowed_actions_field()
    reason = ma.fields.String()
    issue_date = Day()
    issued_at = ma.fields.DateTime()

    def _allowed(self, credit: CreditNote) -> list[str]:
        return credit_note_steps(credit)


class KeptDocumentSchema(ApiSchema):
    id = ma.fields.Integer()
    invoice_id = ma.fields.Integer()
    credit_note_id = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "The credit note's, for a credit note's document (round 47)"},
    )
    issued = ma.fields.Boolean(
        metadata={
            "description": "The invoice's issued document (emailed when issued); a credit "
            "note's one document is its issued one"
        }
    )
    standing = ma.fields.String(
        metadata={"description": "The standing it was drawn in, in plain figures (its key)"}
    )
    standing_words = ma.fields.String(
        metadata={"description": "The standing in words, as the invoice pages say it"}
    )
    drawn_at = ma.fields.DateTime(metadata={"description": "When it was first drawn"})
    sha256 = ma.fields.String(metadata={"description": "The SHA-256 of its kept bytes"})


class RefundSchema(ApiSchema):
    id = ma.fields.Integer()
    credit_note_id = ma.fields.Integer()
    invoice_id = ma.fields.Integer()
    payment_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The card payment refunded (card refunds)"}
    )
    method = ma.fields.String(metadata={"enum": list(PAYMENT_METHODS)})
    state = ma.fields.String(metadata={"enum": list(REFUND.states)})
    allowed_actions = allowed_actions_field()
    currency = ma.fields.String()
    amount = MoneyString()
    reference = ma.fields.String(allow_none=True)
    sent_on = Day(allow_none=True)
    sent_date = Day(
        allow_none=True,
        dump_only=True,
        metadata={
            "description": "The day the money went back, as the Finance page and the refunds "
            "export count it: sent_on, the day sent (offline) or the office day of Stripe's "
            "event saying it succeeded (card, round 56; before it, the day that was applied)"
        },
    )
    stripe_refund_id = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    settled_at = ma.fields.DateTime(allow_none=True)
    failed_at = ma.fields.DateTime(
        allow_none=True,
        metadata={
            "description": "When its failure was recorded: Stripe's (card), or billing staff's "
            "record of the bank's return (offline, round 55)"
        },
    )
    returned_date = Day(
        allow_none=True,
        dump_only=True,
        metadata={
            "description": "For a refund sent and then returned by the bank, the day every "
            "dated figure counts the return: returned_on, else (a card refund returned "
            "before round 56) the office day the card's bank's return was recorded"
        },
    )
    returned_on = Day(
        allow_none=True,
        metadata={
            "description": "A refund sent and then returned: the day it came back, as the "
            "bank statement shows it (offline) or as Stripe dates the card's bank's return "
            "(card, since round 56)"
        },
    )
    return_reason = ma.fields.String(
        allow_none=True, metadata={"description": "Why the bank returned it (offline)"}
    )

    def _allowed(self, refund: Refund) -> list[str]:
        return refund_steps(refund)


class StaffRefundSchema(RefundSchema):
    """A refund as billing staff record its return: with who recorded it (staff's to
    know, as who reversed a payment)."""

    returned_by = ma.fields.String(allow_none=True)
    returned_by_name = person_name("returned_by", "returned_by_id", "who recorded its return")


class InvoiceQuerySchema(ApiSchema):
    state = vocabulary(INVOICE.states)
    overdue = ma.fields.Boolean(
        metadata={
            "description": "Only those overdue, the oldest due first: still owed, past their "
            "due date and asked for; not those a bank's dispute of their card payment holds "
            "(round 50: they were listed; the portal's list and the reminders leave them out)"
        }
    )
    held = ma.fields.Boolean(
        metadata={
            "description": "Only those a bank's dispute of their card payment holds today (the "
            "dispute open, or lost and owed again only later): not asked for, never overdue "
            "(round 50)"
        }
    )
    organization_id = record_id()
    q = ma.fields.String(validate=Text(200))


class LineInputSchema(ApiSchema):
    description = ma.fields.String(required=True, validate=Text(DESCRIPTION_MAX, filled=True))
    working = ma.fields.String(load_default=None, allow_none=True, validate=Text(4000))
    amount = DecimalText(required=True)


class InvoiceInputSchema(ApiSchema):
    organization_id = record_id(required=True)
    currency = vocabulary(sorted(CURRENCIES), load_default="USD")
    lines = ma.fields.List(ma.fields.Nested(LineInputSchema), required=True, validate=Length(min=1))
    payment_terms_days = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, 365))
    memo = ma.fields.String(load_default=None, allow_none=True, validate=Text(2000))


class InvoiceUpdateSchema(ApiSchema):
    lines = ma.fields.List(ma.fields.Nested(LineInputSchema), validate=Length(min=1))
    payment_terms_days = ma.fields.Integer(validate=ma.validate.Range(0, 365))
    memo = ma.fields.String(allow_none=True, validate=Text(2000))


class ReasonSchema(ApiSchema):
    # Missing, empty or blank: the service's and the pages' words (round 49).
    reason = Required(REASON_MAX, REASON_REQUIRED)


class AcceptRemainderSchema(ReasonSchema):
    """Round 48: a remainder more than its invoice owes is accepted with the excess
    given back offline: how, and the transfer's reference (both, or neither)."""

    excess_method = vocabulary(
        OFFLINE_METHODS,
        load_default=None,
        metadata={
            "description": "Round 48: how the part of the remainder the invoice does not "
            "owe (`remainder_excess`) went back to the licensee today; required with "
            "excess_reference when there is such a part, refused (422) when there is none"
        },
    )
    excess_reference = ma.fields.String(
        load_default=None,
        validate=Text(REFERENCE_MAX),
        metadata={"description": "Round 48: the transfer's or check's reference"},
    )


class OfflinePaymentInputSchema(ApiSchema):
    method = vocabulary(OFFLINE_METHODS, required=True)
    amount = DecimalText(required=True)
    reference = ma.fields.String(required=True, validate=Text(REFERENCE_MAX, filled=True))
    received_on = Day(load_default=None)
    note = ma.fields.String(load_default=None, allow_none=True, validate=Text(REASON_MAX))


class ReversalInputSchema(ApiSchema):
    # Absent, null, empty or blank: the service's and the page's words (round 50).
    reason = Required(REASON_MAX, REVERSAL_REASON_REQUIRED)
    returned_on = Day(required=True, metadata={"description": "The day the bank returned it"})


class PaymentMoveInputSchema(ApiSchema):
    """Round 68: a wire, ACH or check recorded against the wrong invoice."""

    to_invoice = Required(
        30,
        "Give the number of the invoice it pays (INV-YYYY-NNNNNN).",
        metadata={"description": "The number of the invoice it pays, INV-YYYY-NNNNNN"},
    )
    reason = Required(
        REASON_MAX,
        services.MOVE_REASON_REQUIRED,
        metadata={"description": "How it came to be recorded against this invoice"},
    )


class RefundReturnInputSchema(ApiSchema):
    # Absent, null, empty or blank: the service's and the page's words.
    reason = Required(REASON_MAX, RETURN_REASON_REQUIRED)
    returned_on = Day(required=True, metadata={"description": "The day the bank returned it"})


class CreditNoteInputSchema(ApiSchema):
    amount = DecimalText(required=True)
    reason = Required(REASON_MAX, REASON_REQUIRED)


class RefundInputSchema(ApiSchema):
    # `card`: a Stripe refund to the card that paid; the others record one sent offline.
    method = vocabulary((CARD, *OFFLINE_METHODS), required=True)
    amount = DecimalText(
        load_default=None,
        metadata={"description": "Required offline; for `card` defaults to all outstanding"},
    )
    reference = ma.fields.String(
        load_default=None, validate=Text(REFERENCE_MAX, filled=True), allow_none=True
    )
    sent_on = Day(load_default=None)
    payment_id = ma.fields.Integer(
        load_default=None,
        validate=ma.validate.Range(1, 2**31 - 1),
        metadata={"description": "`card`: the card payment to refund (default: the newest)"},
    )
    note = ma.fields.String(load_default=None, allow_none=True, validate=Text(REASON_MAX))


def _charges(lines: list[dict[str, Any]]) -> list[services.Charge]:
    return [
        services.Charge(line["description"], Decimal(line["amount"]), line.get("working"))
        for line in lines
    ]


@blp.route("/invoices")
@access.allow(vendor=True, staff=READERS)
@blp.arguments(InvoiceQuerySchema, location="query")
@blp.paginate(InvoiceSchema)
def list_invoices(query: dict[str, Any]) -> Select[Any]:
    """Invoices newest first (overdue ones by due date); vendors see their own, issued ones."""
    principal = access.require_principal()
    today = office_date(utcnow())
    return queries.invoices_query(
        state=query.get("state"),
        overdue_on=today if query.get("overdue") else None,
        held_on=today if query.get("held") else None,
        organization_id=query.get("organization_id"),
        search=query.get("q"),
        issued_only=not principal.is_staff,
    ).options(
        selectinload(Invoice.lines),  # InvoiceSchema shows every row's lines
        # and each row's amended invoice, in the same statement (round 36).
        with_expression(Invoice.amends_invoice_number, queries.amended_number()),
    )


@blp.route("/invoices", methods=["POST"])
@access.staff("billing")
@never_answers(
    409, "a draft is created without being finalized, so finalizing's refusal never comes"
)
@blp.arguments(InvoiceInputSchema)
@blp.response(
    201, InvoiceSchema, location=Created("invoices_api.get_invoice", {"invoice_id": "id"})
)
def create_invoice(data: dict[str, Any]) -> Invoice:
    """A draft invoice (billing staff); finalize it to number and issue it."""
    return services.create_draft(
        organization_id=data["organization_id"],
        currency=data["currency"],
        charges=_charges(data["lines"]),
        standard=InvoiceTerms.from_config(current_config()),
        payment_terms_days=data.get("payment_terms_days"),
        memo=data.get("memo"),
        actor=current_actor(),
    )


def _readable(invoice_id: int, *, for_pdf: bool = False) -> Invoice:
    principal = access.require_principal()
    read = queries.invoice_for_pdf if for_pdf else queries.get_invoice
    invoice = read(db.session(), invoice_id)
    if invoice.state == DRAFT and not principal.is_staff:
        raise NotFound(f"There is no invoice {invoice_id}.")
    return invoice


steps_of("invoice", INVOICE_STEP_ROUTES, invoice_steps, invoice_id=_readable)
steps_of(
    "payment", PAYMENT_STEP_ROUTES, payment_steps, payment_id=read_with_session(queries.get_payment)
)
steps_of(
    "refund", REFUND_STEP_ROUTES, refund_steps, refund_id=read_with_session(queries.get_refund)
)


@blp.route("/invoices/<int:invoice_id>")
@access.allow(vendor=True, staff=READERS)
@blp.response(200, InvoiceSchema)
def get_invoice(invoice_id: int) -> Invoice:
    """One invoice: its lines, totals, balance due and state."""
    return _readable(invoice_id)


@blp.route("/invoices/<int:invoice_id>", methods=["PATCH"])
@access.staff("billing")
@blp.arguments(InvoiceUpdateSchema)
@blp.response(200, InvoiceSchema, conflict="The invoice is issued: immutable; issue a credit note")
def update_invoice(data: dict[str, Any], invoice_id: int) -> Invoice:
    """Change a draft. Issued invoices never change (409)."""
    return services.update_draft(
        invoice_id,
        charges=_charges(data["lines"]) if "lines" in data else None,
        memo=data.get("memo"),
        payment_terms_days=data.get("payment_terms_days"),
        actor=current_actor(),
    )


@blp.route("/invoices/<int:invoice_id>/pdf")
@access.allow(vendor=True, staff=READERS)
@document_rate_limit()
@blp.response(200, description="The invoice as PDF", content_type="application/pdf")
@blp.alt_response(
    409,
    description="A draft has no PDF until it is finalized (staff: to a vendor it is not found).",
)
def invoice_pdf(invoice_id: int) -> Response:
    """The invoice as PDF (a draft has none until it is finalized)."""
    invoice = _readable(invoice_id, for_pdf=True)
    return invoice_pdf_response(invoice)


@blp.route("/invoices/<int:invoice_id>/documents")
@access.allow(vendor=True, staff=READERS)
@blp.paginate(KeptDocumentSchema)
def list_kept_documents(invoice_id: int) -> list[dict[str, Any]]:
    """The invoice's PDFs as kept (round 46): the issued one first, then one for each
    standing it was downloaded in since (a payment, a credit note, a void)."""
    invoice = _readable(invoice_id)
    # Its own only: each of its credit notes lists its own (round 47).
    kept = pdfs.kept_documents(db.session(), pdfs.of_invoice(invoice.id, credit_notes=False))
    return _kept_items(invoice, kept)


def _kept_items(invoice: Invoice, kept: list[pdfs.KeptDocument]) -> list[dict[str, Any]]:
    """Kept documents (an invoice's, or one of its credit notes') as the API lists them."""
    return [
        {
            "id": document.id,
            "invoice_id": invoice.id,
            "credit_note_id": document.credit_note_id,
            "issued": document.issued,
            "standing": document.standing,
            "standing_words": document.standing_words(invoice.currency),
            "drawn_at": document.drawn_at,
            "sha256": document.sha256,
        }
        for document in kept
    ]


@blp.route("/invoices/<int:invoice_id>/documents/<int:document_id>/pdf")
@access.allow(vendor=True, staff=READERS)
@blp.response(200, description="The kept document's exact bytes", content_type="application/pdf")
def kept_document_pdf(invoice_id: int, document_id: int) -> Response:
    """One of the invoice's kept PDFs, as kept, with `X-Content-SHA256`: those its
    list gives (a credit note's is served under the credit note). Nothing is drawn,
    so it is not counted in the documents budget."""
    invoice = _readable(invoice_id)
    # Round 49: it also served its credit notes' documents, which its list leaves to
    # each credit note's; list and download now agree.
    return kept_document_response(invoice, document_id, credit_notes=False)


@blp.route("/invoices/<int:invoice_id>/finalize", methods=["POST"])
@access.staff("billing")
@blp.response(200, InvoiceSchema, conflict="Not a draft; lists allowed_actions")
def finalize_invoice(invoice_id: int) -> Invoice:
    """Issue a draft: it takes the next INV-YYYY-NNNNNN number and becomes immutable."""
    return services.finalize_invoice(invoice_id, actor=current_actor())


@blp.route("/invoices/<int:invoice_id>/void", methods=["POST"])
@access.staff("billing")
@blp.arguments(ReasonSchema)
@blp.response(200, InvoiceSchema, conflict="Paid or void already; says which actions it allows")
def void_invoice(data: dict[str, Any], invoice_id: int) -> Invoice:
    """Void a draft, open or uncollectible invoice with a reason (billing staff)."""
    return services.void_invoice(invoice_id, reason=data["reason"], actor=current_actor())


@blp.route("/invoices/<int:invoice_id>/link-withdrawals", methods=["POST"])
@access.staff("billing")
@blp.arguments(ReasonSchema)
@blp.response(
    201,
    LinkWithdrawalSchema,
    conflict="A draft: no link to it has been sent",
    location=Created("invoices_api.get_invoice"),
)
def withdraw_invoice_links(data: dict[str, Any], invoice_id: int) -> InvoiceLinkRevocation:
    """Withdraw the invoice's emailed links (an email forwarded or sent to the wrong
    person): the links sent so far stop working, and the billing contact is emailed a
    new one (billing staff)."""
    return services.withdraw_invoice_links(invoice_id, reason=data["reason"], actor=current_actor())


@blp.route("/invoices/<int:invoice_id>/mark-uncollectible", methods=["POST"])
@access.staff("billing")
@blp.arguments(ReasonSchema)
@blp.response(200, InvoiceSchema, conflict="Not open (paid, void...); says which actions it allows")
def mark_uncollectible(data: dict[str, Any], invoice_id: int) -> Invoice:
    """Mark an open invoice uncollectible with a reason (billing staff)."""
    return services.mark_uncollectible(invoice_id, reason=data["reason"], actor=current_actor())


@blp.route("/invoices/<int:invoice_id>/payments")
@access.allow(vendor=True, staff=READERS)
@blp.paginate(PaymentSchema)
def list_payments(invoice_id: int) -> list[Payment]:
    """The invoice's payments, card and offline, newest first."""
    invoice = _readable(invoice_id)
    return list(queries.payments(db.session(), invoice_id=invoice.id))


@blp.route("/invoices/<int:invoice_id>/payments", methods=["POST"])
@access.staff("billing")
@idempotent
@blp.arguments(OfflinePaymentInputSchema)
@blp.response(
    201,
    PaymentSchema,
    conflict="Nothing is owed on it (a draft, paid or void invoice)",
    location=Created("invoices_api.get_payment", {"payment_id": "id"}),
)
def record_payment(data: dict[str, Any], invoice_id: int) -> Payment:
    """Record a wire, ACH or check payment (billing staff); never more than the balance due."""
    received_on: date | None = data.get("received_on")
    return services.record_offline_payment(
        invoice_id,
        method=data["method"],
        amount=data["amount"],
        reference=data["reference"],
        received_on=received_on,
        note=data.get("note"),
        actor=current_actor(),
    )


@blp.route("/invoices/<int:invoice_id>/credit-notes")
@access.allow(vendor=True, staff=READERS)
@blp.paginate(CreditNoteSchema)
def list_credit_notes(invoice_id: int) -> Select[Any]:
    """The invoice's credit notes, newest first, with how much of each is refunded."""
    invoice = _readable(invoice_id)
    # Paged in SQL, each note's refunds with the page (round 42: a query a note).
    return queries.credit_notes_query(invoice_id=invoice.id)


@blp.route("/invoices/<int:invoice_id>/credit-notes", methods=["POST"])
@access.staff("billing")
@idempotent
@blp.arguments(CreditNoteInputSchema)
@blp.response(
    201,
    CreditNoteSchema,
    conflict="The invoice is neither open nor paid",
    location=Created("invoices_api.get_credit_note", {"credit_note_id": "id"}),
)
def issue_credit_note(data: dict[str, Any], invoice_id: int) -> CreditNote:
    """A CN-YYYY-NNNNNN credit note against an open or paid invoice."""
    return services.issue_credit_note(
        invoice_id, amount=data["amount"], reason=data["reason"], actor=current_actor()
    )


@blp.route("/credit-notes")
@access.allow(vendor=True, staff=READERS)
@blp.paginate(CreditNoteSchema)
def list_all_credit_notes() -> Select[Any]:
    """Credit notes newest first, of every invoice; vendors see their own (round 40:
    a billing system read them only invoice by invoice)."""
    # Each row's refunds with the page, not one query a row (refund_outstanding).
    return queries.credit_notes_query()


@blp.route("/credit-notes/<int:credit_note_id>")
@access.allow(vendor=True, staff=READERS)
@blp.response(200, CreditNoteSchema)
def get_credit_note(credit_note_id: int) -> CreditNote:
    """One credit note: its number, amount, reason, invoice and how much is refunded."""
    return queries.get_credit_note(db.session(), credit_note_id)


@blp.route("/credit-notes/<int:credit_note_id>/pdf")
@access.allow(vendor=True, staff=READERS)
@document_rate_limit()
@blp.response(200, description="The credit note as PDF", content_type="application/pdf")
def credit_note_pdf(credit_note_id: int) -> Response:
    """The credit note as PDF."""
    credit = queries.credit_note_for_pdf(db.session(), credit_note_id)
    return credit_note_pdf_response(credit)


@blp.route("/credit-notes/<int:credit_note_id>/documents")
@access.allow(vendor=True, staff=READERS)
@blp.paginate(KeptDocumentSchema)
def list_credit_note_kept_documents(credit_note_id: int) -> list[dict[str, Any]]:
    """The credit note's PDF as kept (round 47): one document, its issued one, once
    it was first drawn (none before), listed as an invoice's are."""
    credit = queries.get_credit_note(db.session(), credit_note_id)
    kept = pdfs.kept_documents(db.session(), pdfs.of_credit_note(credit.id))
    return _kept_items(credit.invoice, kept)


@blp.route("/credit-notes/<int:credit_note_id>/documents/<int:document_id>/pdf")
@access.allow(vendor=True, staff=READERS)
@blp.response(200, description="The kept document's exact bytes", content_type="application/pdf")
def credit_note_kept_document_pdf(credit_note_id: int, document_id: int) -> Response:
    """The credit note's kept PDF, as kept, with `X-Content-SHA256` (another's is not
    found). Nothing is drawn, so it is not counted in the documents budget."""
    credit = queries.get_credit_note(db.session(), credit_note_id)
    kept = pdfs.kept_document(db.session(), pdfs.of_credit_note(credit.id), document_id)
    return pdf_response(kept.pdf, f"{credit.number}-{document_id}.pdf", sha256=kept.sha256)


@blp.route("/credit-notes/<int:credit_note_id>/refunds")
@access.allow(vendor=True, staff=READERS)
@blp.paginate(RefundSchema)
def list_refunds(credit_note_id: int) -> list[Refund]:
    """Refunds against a credit note, newest first; vendors read their own."""
    credit = queries.get_credit_note(db.session(), credit_note_id)
    return list(queries.refunds(db.session(), credit_note_id=credit.id))


def _refund_started(started: dict[str, int]) -> Response:
    """What a refund request answers about the refund it started, asked in the
    transaction that creates it: the refund as created (a card refund `pending`),
    kept with the key to answer a retry whose request stored no answer."""
    refund = queries.get_refund(db.session(), started["refund_id"])
    return current_app.response_class(
        current_app.json.dumps(RefundSchema().dump(refund)),
        status=201,
        mimetype="application/json",
    )


@blp.route("/credit-notes/<int:credit_note_id>/refunds", methods=["POST"])
@access.staff("billing")
@idempotent_in_steps(_refund_started)
@blp.arguments(RefundInputSchema)
@blp.response(
    201,
    RefundSchema,
    conflict="Nothing left to refund, no card payment to refund, or (card) a dispute of "
    "the invoice's card payment is open: Stripe refuses to refund it until it closes",
    location=Created("invoices_api.get_refund", {"refund_id": "id"}),
)
@blp.alt_response(502, description="Stripe refused or could not be reached")
def refund_credit_note(data: dict[str, Any], credit_note_id: int) -> Refund:
    """Refund what a credit note owes back (billing staff).

    `card` refunds the card that paid through Stripe: `pending` until Stripe
    confirms, then `succeeded` (or `failed`, and the amount is outstanding
    again); refused (409) while a dispute of the invoice's card payment is
    open. `wire`, `ach` or `check` records a refund already sent, with its
    reference. Never more than the credit note's refund outstanding.
    """
    if data["method"] == CARD:
        return services.refund_card(
            credit_note_id,
            amount=data.get("amount"),
            payment_id=data.get("payment_id"),
            note=data.get("note"),
            actor=current_actor(),
            gateway=gateways.gateway(current_config()),
            claim=current_claim(),
        )
    if data.get("amount") is None:
        raise InvalidInput.for_field("amount", "Give the amount refunded.")
    return services.record_offline_refund(
        credit_note_id,
        method=data["method"],
        amount=data["amount"],
        reference=data.get("reference"),
        sent_on=data.get("sent_on"),
        note=data.get("note"),
        actor=current_actor(),
        claim=current_claim(),
    )


@blp.route("/refunds/<int:refund_id>")
@access.allow(vendor=True, staff=READERS)
@blp.response(200, RefundSchema)
def get_refund(refund_id: int) -> Refund:
    """One refund; vendors read their own organization's."""
    return queries.get_refund(db.session(), refund_id)


@blp.route("/refunds/<int:refund_id>/return", methods=["POST"])
@access.staff("billing")
@idempotent
@blp.arguments(RefundReturnInputSchema)
@blp.response(
    200,
    StaffRefundSchema,
    conflict="A card refund (Stripe reports its return), or one not succeeded (already "
    "returned...)",
)
def return_refund(data: dict[str, Any], refund_id: int) -> Refund:
    """Record that the bank returned a wire, ACH or check refund (billing staff, round
    55): the refund becomes `failed` with `returned_on` and `return_reason`, the
    invoice's `amount_refunded` goes back down and the credit note's refund is owed
    again (sent anew as a new refund). Every dated figure (statement, Finance page,
    exports) counts the return on `returned_on`. A card refund's return comes from
    Stripe instead (`refund.failed`)."""
    return services.return_offline_refund(
        refund_id,
        reason=data["reason"],
        returned_on=data["returned_on"],
        actor=current_actor(),
    )


@blp.route("/payments/<int:payment_id>")
@access.allow(vendor=True, staff=READERS)
@blp.response(200, PaymentSchema)
def get_payment(payment_id: int) -> Payment:
    """One payment: its method, amount, card, state, reversal and dispute."""
    return queries.get_payment(db.session(), payment_id)


@blp.route("/payments/<int:payment_id>/reversal", methods=["POST"])
@access.staff("billing")
@idempotent
@blp.arguments(ReversalInputSchema)
@blp.response(
    201,
    StaffReversalSchema,
    conflict="A card payment, or one not succeeded (already reversed...)",
    location=Created("invoices_api.get_payment"),
)
def reverse_payment(data: dict[str, Any], payment_id: int) -> PaymentReversal:
    """Reverse an offline payment that did not clear (billing staff): the payment
    becomes `reversed`, the invoice's amount paid goes back down and a paid invoice
    is open again. A card payment's money goes back through a credit note's Stripe
    refund instead (a flagged one's: `POST /payments/{id}/give-back`)."""
    return services.reverse_offline_payment(
        payment_id,
        reason=data["reason"],
        returned_on=data["returned_on"],
        standing_days=current_config().overdue_standing_days,
        actor=current_actor(),
    )


@blp.route("/payments/<int:payment_id>/move", methods=["POST"])
@access.staff("billing")
@idempotent
@blp.arguments(PaymentMoveInputSchema)
@blp.response(
    201,
    PaymentSchema,
    conflict="A card payment, or one not succeeded (already reversed...)",
    # The new payment's, not the one moved (the URL's `payment_id`).
    location=Created("invoices_api.get_payment", {"payment_id": "id"}),
)
def move_payment(data: dict[str, Any], payment_id: int) -> Payment:
    """Move a wire, ACH or check payment recorded against the wrong invoice to the
    invoice it pays (billing staff; round 68): it is taken off this invoice on the day
    it was received (`reversed`, its reversal's reason starting "Recorded against the
    wrong invoice: "), and the same money is recorded against `to_invoice`, which must
    be owed at least the amount, in the same currency. Answers the new payment. The
    wrong invoice's billing contact is told it was recorded there by mistake (not that
    the bank returned it); the right one's is thanked for it."""
    return services.move_offline_payment(
        payment_id,
        to_invoice=data["to_invoice"],
        reason=data["reason"],
        standing_days=current_config().overdue_standing_days,
        actor=current_actor(),
    )


def accepted_words(payment: Payment) -> str:
    """What accepting a flagged payment did, in the payment page's words (round 29):
    the amount applied, and short of the balance, what stays owed and what then."""
    invoice = payment.invoice
    applied = in_words(payment.amount, payment.currency)
    excess = payment.excess_given_back
    if excess is not None:
        # Round 48: a remainder more than the invoice owed, the excess sent back offline.
        back = in_words(excess.amount, payment.currency)
        counted = in_words(payment.amount - excess.amount, payment.currency)
        if excess.amount >= payment.amount:
            # Round 49: it said "of which 0.00 USD counts" (paid, or void meanwhile).
            return (
                f"Accepted: the remainder of {applied}; {invoice.label} ({invoice.state}) "
                f"owed none of it, so all of it is booked as given back offline on "
                f"{excess.returned_on.isoformat()} (the payment is reversed for all of it)."
            )
        return (
            f"Accepted: the remainder of {applied}, of which {counted} counts against "
            f"{invoice.label}, which is {invoice.state} now, and {back}, more than it owed, "
            f"is booked as given back offline on {excess.returned_on.isoformat()} (the "
            "payment is reversed for that part)."
        )
    if invoice.balance_due <= 0:
        return f"Accepted: {applied} applied to {invoice.label}, which is {invoice.state} now."
    owed = in_words(invoice.balance_due, invoice.currency)
    return (
        f"Accepted: {applied} applied to {invoice.label}, which leaves {owed} owed on it: "
        "the invoice stays open for it and is chased like any balance (reminders once "
        "overdue). The service has no small-balance write-off; to forgive it, issue a "
        f"credit note for it (POST /api/v1/invoices/{invoice.id}/credit-notes)."
    )


class AcceptedPaymentSchema(PaymentSchema):
    """A flagged card payment as accepted: the payment (state succeeded, its amount
    what Stripe received), and what its invoice owes after it."""

    invoice_number = ma.fields.String(attribute="invoice.number")
    invoice_state = ma.fields.String(
        attribute="invoice.state", metadata={"enum": list(INVOICE.states)}
    )
    invoice_balance_due = MoneyString(
        attribute="invoice.balance_due",
        metadata={
            "description": "What the invoice still owes after the payment was applied: "
            "0.00 once paid; more when the card was charged less than the balance"
        },
    )
    summary = ma.fields.Function(
        accepted_words,
        metadata={
            "type": "string",
            "description": "What happened, as the payment's page says it: the amount "
            "applied and, short of the balance, what stays owed and how it is cleared",
        },
    )


@blp.route("/payments/<int:payment_id>/accept", methods=["POST"])
@access.staff("billing")
@idempotent
@blp.arguments(ReasonSchema)
@blp.response(
    200,
    AcceptedPaymentSchema,
    conflict="Not flagged (accepted before: says by whom and when; or never flagged), "
    "more received than the invoice owes (give it back instead: POST /payments/{id}/give-back), "
    "or being given back: Stripe's answer to a give-back is not in (says who asked, when); "
    "its charge disputed (round 44: until the dispute is won; lost, for good), saying why",
)
def accept_payment(data: dict[str, Any], payment_id: int) -> Payment:
    """Accept a flagged card payment for what Stripe actually received, with why
    (billing staff): it becomes `succeeded` and counts against its invoice, as
    *Accept* on the payment's console page. `GET /payments?state=flagged` lists the
    payments waiting. Short of the balance, the invoice stays open for the rest
    (`invoice_balance_due`, `summary`)."""
    try:
        return services.accept_flagged_payment(
            payment_id, note=data["reason"], actor=current_actor()
        )
    except services.AlreadyAccepted as error:
        raise Conflict(_accepted_before(error, payment_id)) from error


@blp.route("/payments/<int:payment_id>/accept-remainder", methods=["POST"])
@access.staff("billing")
@idempotent
@blp.arguments(AcceptRemainderSchema)
@blp.response(
    200,
    AcceptedPaymentSchema,
    conflict="Not flagged (accepted before, or never flagged); no dispute of part of its "
    "charge lost (none, open, won, or of all it received), saying why; or a remainder "
    "more than the invoice owes (round 49: all of it on a void invoice) without its "
    "excess given back offline (excess_method, excess_reference)",
)
def accept_remainder(data: dict[str, Any], payment_id: int) -> Payment:
    """Round 47: accept what a lost dispute of part of a flagged card payment's charge
    left (its `remainder`: what Stripe received, less what the bank returned to the
    cardholder), with why (billing staff): it becomes `succeeded` for that amount and
    counts against its invoice, as *Accept the remainder* on the payment's console
    page. Accepting it whole and giving it back stay held (its `held`).

    Round 48: when the invoice now owes less (its `remainder_excess`), send the excess
    back offline first and name it (`excess_method`, `excess_reference`): the remainder
    counts, and the excess is booked as its reversal today (`reversed`,
    `reversed_amount` in the payments export), so the invoice is paid what it owed."""
    return services.accept_remainder(
        payment_id,
        note=data["reason"],
        excess_method=data["excess_method"],
        excess_reference=data["excess_reference"],
        actor=current_actor(),
    )


def _accepted_before(error: services.AlreadyAccepted, payment_id: int) -> str:
    """The refusal of an accept the payment already had, in a script's words: most
    often a retry, after a timeout, of a request that went through."""
    when = instant_iso(error.accepted_at, to_the_second=True)
    return (
        f"{error.named}, was accepted already, by {error.accepted_by} at {when} "
        f"(it is {error.state} now): a request sent before went through, and nothing was "
        f"applied again. GET /api/v1/payments/{payment_id} shows it."
    )


def given_back_words(payment: Payment) -> str:
    """What giving a flagged payment back did, in the payment page's words."""
    invoice = payment.invoice
    owed = in_words(invoice.balance_due, invoice.currency)
    if payment.state == GIVING_BACK:  # a keyed request's answer as asked (round 45)
        return (
            f"Being given back: Stripe was asked to give the card payment for "
            f"{invoice.label} back to the card, and its answer is not in yet "
            f"(GET /api/v1/payments/{payment.id} says when it is). It never counted, so "
            f"{invoice.label} is unchanged: {invoice.state}, {owed} due."
        )
    failed = services.failed_meanwhile(payment)
    if failed is not None:
        return f"{failed} {invoice.label} is unchanged: {invoice.state}, {owed} due."
    return (
        f"Given back: the card payment for {invoice.label} went back to the card through "
        f"Stripe. It never counted, so {invoice.label} is unchanged: {invoice.state}, "
        f"{owed} due."
    )


class GivenBackPaymentSchema(PaymentSchema):
    """A flagged card payment given back: the payment (state given_back; flagged if
    its refund failed meanwhile; giving_back in the answer replayed to a retry with
    the same key while Stripe is asked, or after its answer was lost, round 45), and
    its invoice, unchanged by it."""

    invoice_number = ma.fields.String(attribute="invoice.number")
    invoice_state = ma.fields.String(
        attribute="invoice.state", metadata={"enum": list(INVOICE.states)}
    )
    invoice_balance_due = MoneyString(
        attribute="invoice.balance_due",
        metadata={"description": "What the invoice owes: unchanged, the payment never counted"},
    )
    summary = ma.fields.Function(
        given_back_words,
        metadata={"type": "string", "description": "What happened, as the payment's page says"},
    )


def _give_back_started(started: dict[str, int]) -> Response:
    """What a keyed give-back answers about the payment as asked (round 45), in the
    transaction that moves it to `giving_back`: kept with the key, it answers a retry
    while Stripe is asked, or after Stripe's answer was lost."""
    payment = queries.get_payment(db.session(), started["payment_id"])
    return current_app.response_class(
        current_app.json.dumps(GivenBackPaymentSchema().dump(payment)),
        status=200,
        mimetype="application/json",
    )


@blp.route("/payments/<int:payment_id>/give-back", methods=["POST"])
@access.staff("billing")
@idempotent_in_steps(_give_back_started)
@blp.arguments(ReasonSchema)
@blp.response(
    200,
    GivenBackPaymentSchema,
    conflict="Not flagged (being given back, given back or accepted before, or never "
    "flagged): says what its state allows, and why; or its charge disputed (round 44: "
    "until the dispute is won; lost, for good), saying why",
)
@blp.alt_response(
    502,
    description="Stripe refused (it is flagged again) or could not be reached (it stays "
    "`giving_back` until Stripe's answer comes in)",
)
def give_back_payment(data: dict[str, Any], payment_id: int) -> Payment:
    """Give a flagged card payment's money back to the card, with why (billing staff):
    Stripe refunds all it took, the payment becomes `given_back`, the billing contact
    and the payer are emailed, and the invoice is unchanged (the payment never
    counted). Not a credit note's refund (`POST /credit-notes/{id}/refunds`). A retry
    (after Stripe refused) asks Stripe with the same key, so the card is refunded
    once. A refund Stripe reported failed before the give-back was stored leaves it
    `flagged` (`summary` says so; nobody on the licensee's side is emailed).
    Round 42: from the ask until Stripe answers the payment is `giving_back`; an
    answer lost on the way leaves it there (every step a 409) until the refund's
    webhook or `licensing payments reconcile` brings it.
    Round 45: with `Idempotency-Key`, the key is stored with the ask, before Stripe is
    asked; a retry while Stripe is asked, or after its answer was lost, is answered
    200 with the payment as asked (`giving_back`, `Idempotent-Replayed: true`), the
    same every time; Stripe refusing gives the key back, for the retry to ask anew."""
    return services.give_back_flagged_payment(
        payment_id,
        note=data["reason"],
        actor=current_actor(),
        gateway=gateways.gateway(current_config()),
        claim=current_claim(),
    )


@blp.route("/payments")
@access.staff(*READERS)
@blp.arguments(ApiSchema.from_dict({"state": vocabulary(PAYMENT.states)})(), location="query")
@blp.paginate(PaymentSchema)
def list_payments_all(query: dict[str, Any]) -> Select[Any]:
    """Payments newest first (staff); `state=flagged` lists those needing review."""
    # PaymentSchema shows each row's dispute
    return queries.payments_query(state=query.get("state")).options(selectinload(Payment.disputes))


@blp.route("/disputes")
@access.staff(*READERS)
@blp.arguments(DisputeQuerySchema, location="query")
@blp.paginate(DisputeSchema)
def list_disputes(query: dict[str, Any]) -> Select[Any]:
    """Card payments disputed (staff): open ones first, the evidence due soonest
    first, then the closed ones, the latest closed first; `state` and `invoice_id`
    narrow it."""
    return queries.disputes_query(invoice_id=query.get("invoice_id"), state=query.get("state"))


@blp.route("/disputes/<int:dispute_id>")
@access.staff(*READERS)
@blp.response(200, DisputeSchema)
def get_dispute(dispute_id: int) -> PaymentDispute:
    """One card dispute: its payment, amount, reason, state and evidence due date."""
    return queries.get_dispute(db.session(), dispute_id)


@blp.route("/disputes/unmatched")
@access.staff(*READERS)
@blp.paginate(UnmatchedDisputeSchema)
def list_unmatched_disputes() -> Select[Any]:
    """Disputes whose card payment was not found (staff), the oldest first, each
    with why; `licensing payments match-disputes` applies them once it is."""
    return queries.unmatched_disputes_query()


# --- a statement of account --------------------------------------------------------


class StatementQuerySchema(ApiSchema):
    from_ = Day(
        data_key="from",
        metadata={
            "description": "First day, included (default: the first of January of to's year)"
        },
    )
    to = Day(metadata={"description": "Last day, included (default: today); at most 366 days"})
    currency = ma.fields.String(
        validate=Length(equal=3),
        metadata={"description": "ISO 4217 code (default: USD, or the one it was invoiced in)"},
    )


class StatementLineSchema(ApiSchema):
    date = Day()
    kind = ma.fields.String(metadata={"enum": list(statements.KINDS)})
    document = ma.fields.String(metadata={"description": "INV-... or CN-..."})
    description = ma.fields.String()
    amount = ma.fields.String(
        metadata={
            "example": "-500.00",
            "description": "Signed as it moves what is owed: up for an invoice, a refund "
            "sent or a payment returned; down for a payment, a credit note or a void",
        }
    )
    change = ma.fields.String(
        metadata={
            "example": "-500.00",
            "description": "What it changed the balance by: its amount, but for a credit "
            "beyond what its invoice owed (the rest a refund due) and a refund sent (0.00)",
        }
    )
    balance = ma.fields.String(
        metadata={"example": "1050.50", "description": "The balance after it"}
    )


class StatementHeadSchema(ApiSchema):
    """Whose statement, of which days, in which currency (a statement read or emailed)."""

    organization_id = ma.fields.Integer()
    organization = ma.fields.String(metadata={"description": "The legal name"})
    currency = ma.fields.String()
    from_ = Day(data_key="from")
    to = Day()


class StatementSchema(StatementHeadSchema):
    opening_balance = ma.fields.String(
        metadata={"example": "0.00", "description": "Owed at the end of the day before from"}
    )
    closing_balance = ma.fields.String(
        metadata={
            "example": "1050.50",
            "description": "Owed at the end of to: the receivables export's balance as of to",
        }
    )
    as_of = ma.fields.DateTime(
        metadata={
            "description": "When the statement was made, in UTC (ISO 8601 with +00:00), as "
            "every instant the API gives: the balances are the ledger as it was then",
            "example": "2026-12-04T15:30:00+00:00",
        }
    )
    as_of_office = ma.fields.DateTime(
        metadata={
            "description": "The same moment in the office's time, US Central "
            "(America/Chicago), with its offset (-06:00 or -05:00): what the statement's "
            "page shows as As of (round 30)",
            "example": "2026-12-04T09:30:00-06:00",
        }
    )
    as_of_office_date = Day(
        metadata={
            "description": "The office day it was made on (round 30): the day `to` "
            "defaults to, and the last day the statement can cover"
        }
    )
    currencies = ma.fields.List(
        ma.fields.String(), metadata={"description": "Every currency it was invoiced in"}
    )
    movements = ma.fields.List(ma.fields.Nested(StatementLineSchema))


def _statement_body(statement: statements.Statement) -> dict[str, Any]:
    """The statement with its amounts as strings of the currency's minor-unit digits."""
    currency = statement.currency

    def amount(value: Decimal) -> str:
        return format_amount(value, currency)

    return {
        "organization_id": statement.organization_id,
        "organization": statement.organization,
        "currency": currency,
        "from_": statement.start,
        "to": statement.end,
        "opening_balance": amount(statement.opening),
        "closing_balance": amount(statement.closing),
        "as_of": statement.as_of.astimezone(UTC),
        "as_of_office": statement.as_of.astimezone(OFFICE_TIMEZONE),
        "as_of_office_date": office_date(statement.as_of),
        "currencies": list(statement.currencies),
        "movements": [
            {
                "date": line.movement.day,
                "kind": line.movement.kind,
                "document": line.movement.document,
                "description": line.movement.description,
                "amount": amount(line.movement.amount),
                "change": amount(line.change),
                "balance": amount(line.balance),
            }
            for line in statement.lines
        ],
    }


@blp.route("/organizations/<int:organization_id>/statement")
@access.allow(vendor=True, staff=READERS)
@blp.arguments(StatementQuerySchema, location="query")
@blp.response(200, StatementSchema)
def get_statement(query: dict[str, Any], organization_id: int) -> dict[str, Any]:
    """A statement of account: the organization's opening balance, every invoice, void,
    credit note, payment, refund and payment returned between `from` and `to` (office
    days, at most 366) with the balance after each, and the closing balance, in one
    currency. A vendor reads only their own organization's (another's is a 404)."""
    session = db.session()
    organization = get_owned(session, Organization, organization_id)
    start, end = query.get("from_"), query.get("to")
    asked = services.Asked(
        start.isoformat() if start else None,
        end.isoformat() if end else None,
        query.get("currency"),
    )
    try:
        statement = services.statement_for(session, organization, asked, now=utcnow())
    except InvalidInput as error:
        # The use case names the form's fields; on the API they are query arguments.
        raise InvalidInput(
            INVALID_FIELDS, {f"query.{name}": texts for name, texts in error.errors.items()}
        ) from None
    return _statement_body(statement)


# --- a statement of account emailed on request (round 54) --------------------------------


class StatementEmailInputSchema(StatementQuerySchema):
    """The days and currency of the statement to email: as the statement's query
    (`GET .../statement`), in the body; `{}` is this year so far in the default currency."""


class StatementEmailedSchema(StatementHeadSchema):
    opening_balance = ma.fields.String(metadata={"example": "0.00"})
    closing_balance = ma.fields.String(metadata={"example": "1200.00"})
    movements = ma.fields.Integer(
        metadata={"description": "How many movements the statement emailed lists"}
    )
    sent_to = ma.fields.String(
        metadata={"description": "The organization's billing contact it was emailed to"}
    )
    statement_url = ma.fields.String(
        metadata={
            "description": "The same statement as it reads now "
            "(GET /api/v1/organizations/{id}/statement?from=&to=&currency=)"
        }
    )


def _statement_query(statement: statements.Statement) -> dict[str, Any]:
    """The statement's own `GET`: its organization, days and currency."""
    return {
        "organization_id": statement.organization_id,
        "from": statement.start.isoformat(),
        "to": statement.end.isoformat(),
        "currency": statement.currency,
    }


EMAIL_STATEMENT_LIMITS = (
    "Not sent, nothing stored: the same statement (days and currency) went to the same "
    f"address less than {requested_statements.SAME_AGAIN_AFTER.seconds // 60} minutes ago, "
    f"or {requested_statements.PER_DAY} statements were emailed to the organization on "
    "request in the last 24 hours (the detail says which, `Retry-After` from when); or "
    f"the caller's documents budget is used up. Or: {KEYS_USED_UP}"
)


@blp.route("/organizations/<int:organization_id>/statement/email", methods=["POST"])
@access.staff("billing")
@document_rate_limit()
@idempotent
@blp.arguments(StatementEmailInputSchema)
@blp.response(200, StatementEmailedSchema)
@blp.alt_response(429, description=EMAIL_STATEMENT_LIMITS)
def email_statement(data: dict[str, Any], organization_id: int) -> dict[str, Any]:
    """Email the organization's statement of account of the days and currency asked
    (billing staff) to its billing contact, PDF attached, through the outbox: the
    console's *Email this statement*, with its bounds; audited
    `organization.statement_emailed`. Takes `Idempotency-Key`."""
    organization = get_owned(db.session(), Organization, organization_id)
    start, end = data.get("from_"), data.get("to")
    asked = services.Asked(
        start.isoformat() if start else None,
        end.isoformat() if end else None,
        data.get("currency"),
    )
    sent = services.email_statement(organization.id, asked, actor=current_actor())
    statement = sent.statement
    currency = statement.currency
    return {
        "organization_id": statement.organization_id,
        "organization": sent.organization,
        "currency": currency,
        "from_": statement.start,
        "to": statement.end,
        "opening_balance": format_amount(statement.opening, currency),
        "closing_balance": format_amount(statement.closing, currency),
        "movements": len(statement.lines),
        "sent_to": sent.to,
        "statement_url": url_for("invoices_api.get_statement", **_statement_query(statement)),
    }


# --- the statements sent ---------------------------------------------------------------


class SentStatementQuerySchema(ApiSchema):
    currency = ma.fields.String(
        validate=Length(equal=3), metadata={"description": "ISO 4217 code: only that currency's"}
    )
    from_ = Month(data_key="from", metadata={"description": "First month, included (YYYY-MM)"})
    to = Month(metadata={"description": "Last month, included (YYYY-MM)"})


class SentStatementSchema(ApiSchema):
    id = ma.fields.Integer()
    organization_id = ma.fields.Integer()
    month = Month(metadata={"example": "2027-01"})
    currency = ma.fields.String()
    opening_balance = ma.fields.String(
        metadata={"example": "400.00", "description": "The opening balance first sent"}
    )
    closing_balance = ma.fields.String(
        metadata={"example": "1600.00", "description": "The closing balance first sent"}
    )
    last_sent_opening_balance = ma.fields.String(
        metadata={
            "example": "400.00",
            "description": "The opening balance last emailed (a re-send carries the "
            "statement as it read then; the first send's otherwise)",
        }
    )
    last_sent_closing_balance = ma.fields.String(
        metadata={"example": "1600.00", "description": "The closing balance last emailed"}
    )
    current_opening_balance = ma.fields.String(
        metadata={"example": "400.00", "description": "The opening balance as it reads now"}
    )
    current_closing_balance = ma.fields.String(
        metadata={
            "example": "1100.00",
            "description": "The month's closing balance as it reads now",
        }
    )
    changed_since_sent = ma.fields.Boolean(
        metadata={
            "description": "The month's statement now reads differently from what was last "
            "emailed (an entry dated into the month since: a payment received in it and "
            "recorded late, a payment the bank returned in it)"
        }
    )
    sent_at = ma.fields.DateTime(metadata={"description": "When it was first emailed (UTC)"})
    sent_to = ma.fields.String(metadata={"description": "The billing contact it went to"})
    last_sent_to = ma.fields.String(
        metadata={
            "description": "The billing contact it was last emailed to (a re-send "
            "goes to the contact of its day)"
        }
    )
    resends = ma.fields.Integer(metadata={"description": "Times billing staff sent it again"})
    resent_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "When it was last sent again (UTC)"}
    )
    statement_url = ma.fields.String(
        metadata={
            "description": "The month's statement of account, as it reads now "
            "(GET /api/v1/organizations/{id}/statement?from=&to=&currency=)"
        }
    )


def _sent_bodies(readings: Sequence[sent_statements.SentReading]) -> list[dict[str, Any]]:
    return [_sent_body(reading) for reading in readings]


def _sent_body(reading: sent_statements.SentReading) -> dict[str, Any]:
    """A statement sent, with its month as it reads now; amounts as strings of the
    currency's minor-unit digits."""
    sent = reading.sent

    def amount(value: Decimal) -> str:
        return format_amount(value, sent.currency)

    return {
        "id": sent.id,
        "organization_id": sent.organization_id,
        "month": sent.month,
        "currency": sent.currency,
        "opening_balance": amount(sent.opening),
        "closing_balance": amount(sent.closing),
        "last_sent_opening_balance": amount(sent.last_opening),
        "last_sent_closing_balance": amount(sent.last_closing),
        "current_opening_balance": amount(reading.opening),
        "current_closing_balance": amount(reading.closing),
        "changed_since_sent": reading.changed,
        "sent_at": sent.sent_at,
        "sent_to": sent.sent_to,
        "last_sent_to": sent.last_sent_to,
        "resends": sent.resends,
        "resent_at": sent.resent_at,
        "statement_url": url_for(
            "invoices_api.get_statement", organization_id=sent.organization_id, **_month_of(sent)
        ),
    }


def _month_of(sent: SentStatement) -> dict[str, Any]:
    """The query of the statement of the month sent."""
    return {
        "from": sent.month.isoformat(),
        "to": sent.closes_on.isoformat(),
        "currency": sent.currency,
    }


def _read_sent(records: Sequence[SentStatement]) -> list[dict[str, Any]]:
    return _sent_bodies(sent_statements.read_now(db.session(), records))


@blp.route("/organizations/<int:organization_id>/statements/sent")
@access.allow(vendor=True, staff=READERS)
@blp.arguments(SentStatementQuerySchema, location="query")
@blp.paginate(SentStatementSchema)
def list_statements_sent(query: dict[str, Any], organization_id: int) -> ReadPage:
    """The monthly statements emailed to the organization, the newest month first: the
    figures sent, and whether its month's statement now reads differently. A vendor
    reads only their own organization's (another's is a 404)."""
    organization = get_owned(db.session(), Organization, organization_id)
    currency, first, last = query.get("currency"), query.get("from_"), query.get("to")
    if currency is not None and currency not in CURRENCIES:
        raise InvalidInput.for_field("query.currency", f"{currency!r} is not an ISO 4217 code.")
    if first is not None and last is not None and first > last:
        raise InvalidInput.for_field("query.from", "Must be the month of to or earlier.")
    statement = sent_statements.sent_query(
        organization_id=organization.id, currency=currency, first=first, last=last
    )
    return ReadPage(statement, _read_sent)


@blp.route(
    "/organizations/<int:organization_id>/statements/sent/<int:sent_id>/resend",
    methods=["POST"],
)
@access.staff("billing")
@idempotent
@blp.response(
    200,
    SentStatementSchema,
    conflict="Sent again to the same address less than 10 minutes ago (nothing is sent)",
)
def resend_statement(organization_id: int, sent_id: int) -> dict[str, Any]:
    """Email a statement sent again (billing staff), as its month reads now, to the
    billing contact the organization has now; audited `statement.resent`. Takes
    `Idempotency-Key`: a retry after a timeout does not email the licensee twice."""
    sent = db.session().get(SentStatement, sent_id)
    if sent is None or sent.organization_id != organization_id:
        raise NotFound(f"There is no statement sent {sent_id} to organization {organization_id}.")
    again = services.resend_statement(sent_id, actor=current_actor())
    return _sent_bodies(sent_statements.read_now(db.session(), [again]))[0]
