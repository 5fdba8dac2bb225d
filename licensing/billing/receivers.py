"""Receivers of other packages' signals (see `licensing.signals`), and the check
accounts' standing rule calls: the edges through which other packages start
billing's use cases, so they read the settings those take from the running app.

Connected by `licensing.billing.init_app`, as every package connects its
receivers; blinker keys receivers by identity, so a second app connects nothing more.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from licensing.actors import Actor
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice
from licensing.billing.states import COLLECTIBLE
from licensing.config import current_config
from licensing.money import in_words
from licensing.signals import ActivatedAgreement, ChangedBillingContact, MovedInvoiceLinks


def invoice_agreement(sender: ActivatedAgreement, *, session: Session, **_: Any) -> None:
    """An agreement became active: issue the invoice for its up-front amounts in
    the same transaction, so acceptance and invoice commit or roll back together."""
    services.invoice_activated_agreement(session, sender)


def move_invoice_links(
    sender: ChangedBillingContact, *, session: Session, actor: Actor, **_: Any
) -> MovedInvoiceLinks:
    """The billing contact's address changed: the links emailed to the old one stop
    working and the new one gets fresh links, in the change's transaction."""
    return services.move_invoice_links(session, sender, actor=actor)


def overdue_invoices(session: Session, organization_id: int, today: date) -> list[str]:
    """Invoices overdue beyond the standing threshold (OVERDUE_STANDING_DAYS), for
    `accounts.register_overdue_check` (registered in `licensing.billing.init_app`)."""
    days = current_config().overdue_standing_days
    return services.overdue_invoices(session, organization_id, today, days)


def open_money(session: Session, organization_id: int, _today: date) -> list[str]:
    """What the organization still owes and is owed, for `accounts.register_open_business`:
    each invoice with a balance to pay, each credit note with a refund not yet sent."""
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.organization_id == organization_id, Invoice.state.in_(sorted(COLLECTIBLE)))
        .options(selectinload(Invoice.credit_notes).selectinload(CreditNote.refunds))
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    owed = [
        f"Invoice {invoice.number}: {in_words(invoice.balance_due, invoice.currency)} to pay "
        f"(due {invoice.due_date})."
        for invoice in invoices
        if invoice.balance_due > 0
    ]
    credits = session.scalars(
        select(CreditNote)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(Invoice.organization_id == organization_id)
        .options(selectinload(CreditNote.refunds))
        .order_by(CreditNote.id)
    ).all()
    refunds = [
        f"Credit note {credit.number}: {in_words(credit.refund_outstanding, credit.currency)} "
        "to refund to the licensee."
        for credit in credits
        if credit.refund_outstanding > 0
    ]
    return owed + refunds
