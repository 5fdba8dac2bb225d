"""Overdue invoices: reminders, late fees and the organization's standing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.billing import links
from licensing.billing.models import Invoice
from licensing.billing.queries import chased
from licensing.billing.services._common import (
    _amount,
    _due_ids,
    _email_billing_contact,
)
from licensing.billing.services.invoices import Charge, create_invoice
from licensing.billing.states import COLLECTIBLE, LATE_FEE, OPEN
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.money import in_words, quantize

# A reminder for an overdue invoice at most this often.
REMINDER_INTERVAL = timedelta(days=7)


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


def process_overdue(*, standing_days: int, now: datetime | None = None) -> OverdueReport:
    """Remind, charge late fees and move standing for overdue invoices (an
    organization with one more than `standing_days` overdue, the setting
    OVERDUE_STANDING_DAYS, to `pending_payment`).

    Idempotent (reminders at most weekly, each month's late fee once, standing
    through its state machine) and safe on several hosts: each invoice and
    organization is claimed (`db.claim`) in its own transaction.
    """
    now = now or utcnow()
    today = office_date(now)
    report = OverdueReport()
    overdue_ids = _due_ids(
        select(Invoice.id)
        .where(Invoice.state == OPEN, Invoice.due_date < today, chased(today))
        .order_by(Invoice.due_date, Invoice.id)
    )
    for invoice_id in overdue_ids:
        with db.transaction() as session:
            # The links' generation with the invoice: a reminder's links need it.
            claimed = session.execute(
                db.claim(
                    select(Invoice, links.generation_column()).where(
                        Invoice.id == invoice_id, Invoice.state == OPEN, chased(today)
                    )
                )
            ).one_or_none()
            if claimed is None:
                continue
            invoice, link_generation = claimed
            report.overdue += 1
            if _remind(session, invoice, now=now, today=today, link_generation=link_generation):
                report.reminders += 1
            fee = _charge_late_fees(session, invoice, now=now, today=today)
            if fee is not None:
                report.late_fee_invoices.append(fee)
    # The organization whose oldest invoice is the longest overdue first, then by id,
    # as the invoices above: the holds' audit events follow the invoices'.
    organization_ids = _due_ids(
        select(Invoice.organization_id)
        .where(
            Invoice.state.in_(sorted(COLLECTIBLE)),
            Invoice.due_date < today - timedelta(days=standing_days),
            chased(today - timedelta(days=standing_days)),
        )
        .group_by(Invoice.organization_id)
        .order_by(func.min(Invoice.due_date), Invoice.organization_id)
    )
    report.pending_payment += accounts.hold_for_overdue(
        organization_ids, _standing_reason(today, standing_days)
    )
    return report


def _standing_reason(today: date, standing_days: int) -> Callable[[Session, int], str | None]:
    """The standing rule's reason to hold an organization: its oldest invoice overdue
    more than `standing_days`, in words (None when there is none)."""

    def overdue_invoice(session: Session, organization_id: int) -> str | None:
        late = _overdue_beyond(session, organization_id, today, standing_days)
        if not late:
            return None
        first = late[0]
        return (
            f"Invoice {first.number} is {first.days_overdue(today)} days overdue "
            f"({in_words(first.balance_due, first.currency)} due {first.due_date})."
        )

    return overdue_invoice


def hold_if_overdue(
    session: Session, organization_id: int, *, today: date, standing_days: int, actor: Actor
) -> None:
    """The overdue run's standing rule now, in the caller's transaction: for a step
    that leaves an invoice overdue beyond `standing_days` (a reversal reopening a
    past-due invoice), rather than at the next daily run."""
    accounts.hold_now_if_overdue(
        session, organization_id, _standing_reason(today, standing_days), actor=actor
    )


def _remind(
    session: Session, invoice: Invoice, *, now: datetime, today: date, link_generation: int
) -> bool:
    if invoice.last_reminder_at is not None and now - invoice.last_reminder_at < REMINDER_INTERVAL:
        return False
    invoice.reminder_count += 1
    invoice.last_reminder_at = now
    _email_billing_contact(
        session,
        invoice,
        subject=f"Reminder: invoice {invoice.number} is {invoice.days_overdue(today)} days overdue",
        template="invoice_overdue",
        link_generation=link_generation,
        days_overdue=invoice.days_overdue(today),
        late_fee_percent=invoice.late_fee_monthly_percent,
    )
    audit.record_event(
        session,
        "invoice.reminder_sent",
        invoice.id,
        after={"reminder_count": invoice.reminder_count},
        actor=Actor.SYSTEM,
    )
    return True


def _charge_late_fees(
    session: Session, invoice: Invoice, *, now: datetime, today: date
) -> str | None:
    """One late-fee invoice for each run that finds new whole months overdue:
    `late_fee_monthly_percent` of the balance then due, per month, on the overdue
    invoice's payment terms."""
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
        # The payment terms of the invoice it is charged on (the agreement's, from
        # PAYMENT_TERMS_DAYS, as its other invoices; docs/billing.md): nothing asks a
        # late fee to be paid the day it is issued.
        payment_terms_days=invoice.payment_terms_days,
        late_fee_monthly_percent=Decimal(0),
        now=now,
        actor=Actor.SYSTEM,
    )
    return late.number


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
                chased(today - timedelta(days=days)),
            )
            .order_by(Invoice.due_date, Invoice.id)
        )
    )


def overdue_invoices(
    session: Session, organization_id: int, today: date, standing_days: int
) -> list[str]:
    """The organization's invoices overdue more than `standing_days`, in words (for
    accounts' overdue check, registered in `licensing.billing.init_app`)."""
    return [
        f"invoice {invoice.number} is {invoice.days_overdue(today)} days overdue"
        for invoice in _overdue_beyond(session, organization_id, today, standing_days)
    ]
