"""Receivers of other packages' signals (see `licensing.signals`), and the check
accounts' standing rule calls: the edges through which other packages start
billing's use cases, so they read the settings those take from the running app.

Connected once, when this module is first imported (`licensing.billing.init_app`);
blinker keys receivers by identity, so importing again connects nothing more.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from licensing.billing import services
from licensing.config import current_config
from licensing.signals import ActivatedAgreement, agreement_activated


def invoice_agreement(sender: ActivatedAgreement, *, session: Session, **_: Any) -> None:
    """An agreement became active: issue the invoice for its up-front amounts in
    the same transaction, so acceptance and invoice commit or roll back together."""
    services.invoice_activated_agreement(session, sender)


agreement_activated.connect(invoice_agreement, weak=False)


def overdue_invoices(session: Session, organization_id: int, today: date) -> list[str]:
    """Invoices overdue beyond the standing threshold (OVERDUE_STANDING_DAYS), for
    `accounts.register_overdue_check` (registered in `licensing.billing.init_app`)."""
    days = current_config().overdue_standing_days
    return services.overdue_invoices(session, organization_id, today, days)
