"""A licensee's statement of account: every movement of what one organization owes
in one currency between two office days, with the balance before, after each
movement, and at the end.

The balance is the receivables export's, not a sum of its own: what each invoice
owes on a day (`finance.queries.Receivable.balance_on`: issued and not void by then,
its total less payments received, plus those the bank had returned, less credit
notes issued, never below zero), summed over the organization's invoices. So the
closing balance is what the receivables export says the organization owed on the
last day, to the cent. Each movement's effect is the change it makes to that sum,
which is its amount but where a credit note goes beyond what its invoice owed (the
rest is a refund due) or a refund is sent of what a credit note owes back (owing
nothing new): the statement shows their amounts and says so. A refund sent counts in
the invoice's balance (round 53, `Invoice.owed`): once the payment it came from is
returned by the bank, the licensee owes it again, and the statement says so. A refund
the card's bank returns later is a line of the day returned (round 54), the refund's
own line staying on the day sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.accounts.models import Organization
from licensing.billing.letterhead import billing_address
from licensing.billing.models import (
    CreditNote,
    Invoice,
    Payment,
    PaymentDispute,
    PaymentReversal,
    Refund,
)
from licensing.billing.queries import (
    collected_between,
    moving_or_owing,
    refund_returned_between,
    refunded_between,
    reversed_between,
)
from licensing.billing.states import CARD, DRAFT
from licensing.calendar import office_date, office_day_start
from licensing.filenames import slug
from licensing.finance.queries import Receivable, Returned, receivables
from licensing.money import format_amount

ZERO = Decimal(0)

# What each movement is, in the order movements of one day are listed: an invoice
# before the money on it, money taken back before money given back (a dispute's
# withdrawal before its reinstatement), a void last (nothing else moves on it after).
ISSUED = "issued"
PAID = "paid"
REINSTATED = "reinstated"
CREDITED = "credited"
REVERSED = "reversed"
WITHDRAWN = "withdrawn"
REFUNDED = "refunded"
REFUND_RETURNED = "refund_returned"
VOIDED = "voided"
KINDS = (
    ISSUED,
    PAID,
    CREDITED,
    REVERSED,
    WITHDRAWN,
    REINSTATED,
    REFUNDED,
    REFUND_RETURNED,
    VOIDED,
)


@dataclass(frozen=True)
class Movement:
    """One document or money movement, dated the office day it happened. `amount`
    is signed as it moves what the licensee owes: up for an invoice, a reversal or
    a refund sent, down for a payment, a credit note, a refund the card's bank
    returned (round 54) or a void."""

    day: date
    kind: str
    document: str  # the number an auditor ticks off: INV-... or CN-...
    description: str
    amount: Decimal
    invoice_id: int
    # Within a day: the kind's place in `KINDS`, then when it was recorded.
    recorded_at: datetime | None = None
    record_id: int = 0
    # The credit note the document is (a credit note's line, its refunds' and their
    # returns'): the console's statement opens its page (round 56).
    credit_note_id: int | None = None

    @property
    def sort_key(self) -> tuple[date, int, datetime, int]:
        return (self.day, KINDS.index(self.kind), self.recorded_at or _EPOCH, self.record_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Line:
    """A movement with what it changed the balance by, and the balance after it."""

    movement: Movement
    change: Decimal
    balance: Decimal

    @property
    def differs(self) -> bool:
        """Its effect on the balance is not its amount (a refund due, a refund sent)."""
        return self.change != self.movement.amount


@dataclass(frozen=True)
class Statement:
    organization_id: int
    organization: str
    address: tuple[str, ...]
    currency: str
    start: date
    end: date
    opening: Decimal
    closing: Decimal
    lines: tuple[Line, ...]
    as_of: datetime
    currencies: tuple[str, ...] = field(default=())

    @property
    def charges(self) -> Decimal:
        return sum((line.movement.amount for line in self.lines if line.movement.amount > 0), ZERO)

    def file_name(self, period: str) -> str:
        """Its PDF's name, the same downloaded on the portal, on the console and
        attached to its email: `statement-northwind-inc-USD-2027-03.pdf`, named by
        the organization (`filenames.slug` of its name, in its own script: the
        download's header says it in ASCII too) where it named its row id (round 55)."""
        return f"statement-{slug(self.organization)}-{self.currency}-{period}.pdf"

    @property
    def credits(self) -> Decimal:
        return -sum((line.movement.amount for line in self.lines if line.movement.amount < 0), ZERO)


# --- the arithmetic (pure) ---------------------------------------------------------


def _before(receivable: Receivable, start: date) -> Receivable:
    """The invoice as it stood before `start`: only what happened before it."""
    return replace(
        receivable,
        settlements=[(day, amount) for day, amount in receivable.settlements if day < start],
        returns=[each for each in receivable.returns if each.returned_on < start],
        refunds_returned=[each for each in receivable.refunds_returned if each.returned_on < start],
        voided_on=receivable.voided_on
        if receivable.voided_on and receivable.voided_on < start
        else None,
    )


def _applied(receivable: Receivable, movement: Movement) -> Receivable:
    """The invoice after `movement`: the same event the ledger reads, dated its day."""
    if movement.kind in (PAID, REINSTATED, CREDITED, REFUNDED):
        # A refund sent settles it less (its amount is signed up): round 53.
        settled = (movement.day, -movement.amount)
        return replace(receivable, settlements=[*receivable.settlements, settled])
    if movement.kind in (REVERSED, WITHDRAWN):
        returned = Returned(movement.day, movement.day, movement.amount)
        return replace(receivable, returns=[*receivable.returns, returned])
    if movement.kind == REFUND_RETURNED:  # its amount is signed down (round 54)
        back = Returned(movement.day, movement.day, -movement.amount)
        return replace(receivable, refunds_returned=[*receivable.refunds_returned, back])
    if movement.kind == VOIDED:
        return replace(receivable, voided_on=movement.day)
    return receivable  # issued (counted from its issue day)


def running_lines(
    ledger: Iterable[Receivable], movements: Iterable[Movement], start: date
) -> tuple[Decimal, list[Line]]:
    """The opening balance (the end of the day before `start`) and each movement with
    the balance after it. Each invoice's balance is `Receivable.balance_on`, the
    receivables export's rule, replayed one movement at a time; an invoice counts
    from its `issued` movement (or from before `start`)."""
    opening_day = start - timedelta(days=1)
    standing: dict[int, Receivable] = {}
    counted: set[int] = set()
    for receivable in ledger:
        standing[receivable.invoice_id] = _before(receivable, start)
        if receivable.issue_date < start:
            counted.add(receivable.invoice_id)

    def owed(invoice_id: int, day: date) -> Decimal:
        if invoice_id not in counted or invoice_id not in standing:
            return ZERO
        return standing[invoice_id].balance_on(day)

    opening = sum((owed(invoice_id, opening_day) for invoice_id in standing), ZERO)
    balance = opening
    lines = []
    for movement in sorted(movements, key=lambda each: each.sort_key):
        was = owed(movement.invoice_id, movement.day)
        if movement.kind == ISSUED:
            counted.add(movement.invoice_id)
        elif movement.invoice_id in standing:
            standing[movement.invoice_id] = _applied(standing[movement.invoice_id], movement)
        change = owed(movement.invoice_id, movement.day) - was
        balance += change
        lines.append(Line(movement, change, balance))
    return opening, lines


# --- reading the movements -----------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """One organization's records in one currency, from `start` to `end` (office days)."""

    organization_id: int
    currency: str
    start: date
    end: date


def _numbered(statement: Select[Any], invoice_id: Any, scope: _Scope) -> Select[Any]:
    """`statement` with the number of the invoice its money moved on (NULL unless an
    issued invoice of the statement's organization and currency), read in the same
    statement: round 52 read every invoice's number of the organization for the few
    the range names (2,000 rows at 2,000 agreements)."""
    return statement.add_columns(Invoice.number.label("invoice_number")).outerjoin(
        Invoice,
        and_(
            Invoice.id == invoice_id,
            Invoice.organization_id == scope.organization_id,
            Invoice.currency == scope.currency,
            Invoice.state != DRAFT,
        ),
    )


def _invoices(session: Session, scope: _Scope) -> Iterator[Movement]:
    """Invoices issued in the range, and those voided in it (a void is a movement of
    its own day: the invoice owed until then, as the receivables export has it).
    Only those are read (round 53: every invoice issued by the range's end was read
    whole, and those of other days dropped here, 2,000 at 2,000 agreements)."""
    found = session.scalars(
        select(Invoice).where(
            Invoice.organization_id == scope.organization_id,
            Invoice.currency == scope.currency,
            Invoice.state != DRAFT,
            Invoice.issue_date <= scope.end,
            or_(
                Invoice.issue_date >= scope.start,
                Invoice.voided_at >= office_day_start(scope.start),
            ),
        )
    )
    for invoice in found:
        assert invoice.issue_date is not None
        assert invoice.number is not None
        if scope.start <= invoice.issue_date:
            due = invoice.due_date.isoformat() if invoice.due_date else "on receipt"
            yield Movement(
                invoice.issue_date,
                ISSUED,
                invoice.number,
                f"Invoice issued for {invoice.source_words}, due {due}",
                invoice.total,
                invoice.id,
                invoice.finalized_at,
                invoice.id,
            )
        voided_on = office_date(invoice.voided_at) if invoice.voided_at else None
        if voided_on is not None and scope.start <= voided_on <= scope.end:
            yield Movement(
                voided_on,
                VOIDED,
                invoice.number,
                "Invoice void: issued in error, not owed",
                -invoice.total,
                invoice.id,
                invoice.voided_at,
                invoice.id,
            )


def _credit_notes(session: Session, scope: _Scope) -> Iterator[Movement]:
    found = session.execute(
        _numbered(select(CreditNote), CreditNote.invoice_id, scope).where(
            CreditNote.organization_id == scope.organization_id,
            CreditNote.currency == scope.currency,
            CreditNote.issue_date.between(scope.start, scope.end),
        )
    )
    for credit, number in found:
        words = f"Credit note against {number or 'an invoice'}"
        if credit.refund_due > 0:
            refund_due = format_amount(credit.refund_due, credit.currency)
            words += f" ({refund_due} of it a refund due to you)"
        yield Movement(
            credit.issue_date,
            CREDITED,
            credit.number,
            words,
            -credit.amount,
            credit.invoice_id,
            credit.issued_at,
            credit.id,
            credit.id,
        )


def _disputes_by(
    session: Session, scope: _Scope, record: InstrumentedAttribute[int | None]
) -> dict[int, str]:
    """Stripe's id of each dispute of the organization, by the record its money made
    (`reversal_id`: the withdrawal; `reinstatement_id`: the money given back)."""
    rows = session.execute(
        select(record, PaymentDispute.stripe_dispute_id).where(
            PaymentDispute.organization_id == scope.organization_id, record.is_not(None)
        )
    )
    return {row[0]: row[1] for row in rows if row[0] is not None}


def _paid_words(payment: Payment, reinstated_by: str | None) -> tuple[str, str]:
    if reinstated_by is not None:
        return REINSTATED, f"Card payment reinstated: your bank's dispute {reinstated_by} closed"
    if payment.method == CARD:
        return PAID, f"Card payment ({payment.card_label or 'card'})"
    reference = f", reference {payment.reference}" if payment.reference else ""
    return PAID, f"Payment received ({payment.method}{reference})"


def _payments(session: Session, scope: _Scope) -> Iterator[Movement]:
    """Payments received in the range, by the day the money came (the Finance page's
    and the exports' `collected_between`), those reversed since included."""
    reinstatements = _disputes_by(session, scope, PaymentDispute.reinstatement_id)
    found = session.execute(
        _numbered(select(Payment), Payment.invoice_id, scope).where(
            Payment.organization_id == scope.organization_id,
            Payment.currency == scope.currency,
            collected_between(scope.start, scope.end),
        )
    )
    for payment, number in found:
        day = payment.paid_date
        assert day is not None  # collected: received, or settled by Stripe
        kind, words = _paid_words(payment, reinstatements.get(payment.id))
        yield Movement(
            day,
            kind,
            number or "",
            words,
            -payment.amount,
            payment.invoice_id,
            payment.settled_at or payment.created_at,
            payment.id,
        )


def _reversals(session: Session, scope: _Scope) -> Iterator[Movement]:
    """Payments the bank returned in the range, by the day returned (`reversed_between`):
    a bounced cheque, or the money a card dispute withdrew."""
    disputes = _disputes_by(session, scope, PaymentDispute.reversal_id)
    found = session.execute(
        _numbered(select(PaymentReversal), PaymentReversal.invoice_id, scope).where(
            PaymentReversal.organization_id == scope.organization_id,
            PaymentReversal.currency == scope.currency,
            reversed_between(scope.start, scope.end),
        )
    )
    for reversal, number in found:
        dispute = disputes.get(reversal.id)
        if dispute is not None:
            kind, words = WITHDRAWN, f"Card payment withdrawn: your bank's dispute {dispute}"
        elif reversal.misapplied:
            # Round 68: moved to the invoice it pays; the bank returned nothing.
            kind, words = REVERSED, f"Payment taken off: {reversal.reason}"
        else:
            kind, words = REVERSED, f"Payment returned by the bank: {reversal.reason}"
        yield Movement(
            reversal.returned_on,
            kind,
            number or "",
            words,
            reversal.amount,
            reversal.invoice_id,
            reversal.created_at,
            reversal.id,
        )


def _refunds(session: Session, scope: _Scope) -> Iterator[Movement]:
    """Refunds sent in the range, by the day sent (the refunds export's day), and those
    the bank returned in the range, by the day returned (round 54; an offline refund's
    `returned_on`, round 55;
    `refund_returned_between`), whenever sent: the refund's own line stays on the day it
    was sent, so a statement of a past month never changes when it is returned."""
    found = session.execute(
        select(Refund, CreditNote.number, CreditNote.invoice_id)
        .join(CreditNote, CreditNote.id == Refund.credit_note_id)
        .where(
            Refund.organization_id == scope.organization_id,
            Refund.currency == scope.currency,
            or_(
                refunded_between(scope.start, scope.end),
                refund_returned_between(scope.start, scope.end),
            ),
        )
    )
    for refund, number, invoice_id in found:
        sent = refund.sent_date
        assert sent is not None
        if scope.start <= sent <= scope.end:
            how = "to your card" if refund.method == CARD else f"by {refund.method}"
            yield Movement(
                sent,
                REFUNDED,
                number,
                f"Refund sent {how} of the credit note's refund due",
                refund.amount,
                invoice_id,
                refund.settled_at or refund.created_at,
                refund.id,
                refund.credit_note_id,
            )
        returned = refund.returned_date
        if returned is not None and scope.start <= returned <= scope.end:
            bank = "your card's bank" if refund.method == CARD else "the bank"
            yield Movement(
                returned,
                REFUND_RETURNED,
                number,
                f"Refund returned by {bank} (sent {sent.isoformat()}): "
                "the credit note's refund due is owed to you again",
                -refund.amount,
                invoice_id,
                refund.failed_at or refund.settled_at,
                refund.id,
                refund.credit_note_id,
            )


def movements(session: Session, scope: _Scope) -> list[Movement]:
    return [
        *_invoices(session, scope),
        *_credit_notes(session, scope),
        *_payments(session, scope),
        *_reversals(session, scope),
        *_refunds(session, scope),
    ]


def currencies_billed(session: Session, organization_id: int) -> list[str]:
    """The currencies the organization was invoiced in: one statement each."""
    return sorted(
        session.scalars(
            select(Invoice.currency)
            .where(Invoice.organization_id == organization_id, Invoice.state != DRAFT)
            .distinct()
        )
    )


def statement_of_account(
    session: Session,
    organization: Organization,
    currency: str,
    start: date,
    end: date,
    *,
    as_of: datetime,
) -> Statement:
    """The statement (no checks: the use case `services.statement_for` makes them)."""
    scope = _Scope(organization.id, currency, start, end)
    # Not only those the Finance page's window keeps by `paid_at` (when the invoice
    # was last settled, as booked): the balances rest on the bank's days alone. Every
    # invoice that moves or may owe from `start` (`moving_or_owing`), not every one the
    # organization was ever issued (round 53).
    ledger = receivables(
        session,
        currency,
        None,
        end,
        organization_id=organization.id,
        voided_too=True,
        among=moving_or_owing(start),
    )
    opening, lines = running_lines(ledger, movements(session, scope), start)
    closing = sum((receivable.balance_on(end) for receivable in ledger), ZERO)
    return Statement(
        organization_id=organization.id,
        organization=organization.legal_name,
        address=billing_address(organization),
        currency=currency,
        start=start,
        end=end,
        opening=opening,
        closing=closing,
        lines=tuple(lines),
        as_of=as_of,
        currencies=tuple(currencies_billed(session, organization.id)),
    )
