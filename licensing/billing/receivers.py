"""Receivers of other packages' signals (see `licensing.signals`), and the check
accounts' standing rule calls: the edges through which other packages start
billing's use cases, so they read the settings those take from the running app.

Connected by `licensing.billing.init_app`, as every package connects its
receivers; blinker keys receivers by identity, so a second app connects nothing more.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from licensing.actors import Actor
from licensing.billing import services
from licensing.config import current_config
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
