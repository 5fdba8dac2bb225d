"""Receivers of other packages' signals (see `licensing.signals`).

Connected once, when this module is first imported (`licensing.billing.init_app`);
blinker keys receivers by identity, so importing again connects nothing more.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from licensing.billing import services
from licensing.signals import ActivatedAgreement, agreement_activated


def invoice_agreement(sender: ActivatedAgreement, *, session: Session, **_: Any) -> None:
    """An agreement became active: issue the invoice for its up-front amounts in
    the same transaction, so acceptance and invoice commit or roll back together."""
    services.invoice_activated_agreement(session, sender)


agreement_activated.connect(invoice_agreement, weak=False)
