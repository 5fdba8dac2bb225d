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

from licensing.accounts import services as accounts
from licensing.accounts.services import StillOpen
from licensing.actors import Actor
from licensing.billing import queries, services
from licensing.config import current_config
from licensing.links import links
from licensing.money import in_words
from licensing.signals import ActivatedAgreement, ChangedBillingContact, MovedInvoiceLinks
from licensing.words import counted


def invoice_agreement(sender: ActivatedAgreement, *, session: Session, **_: Any) -> None:
    """An agreement became active: issue the invoice for its up-front amounts in
    the same transaction, so acceptance and invoice commit or roll back together."""
    services.invoice_activated_agreement(session, sender)


def lock_invoices(sender: int, *, session: Session, **_: Any) -> None:
    """An organization's billing contact is about to change: its invoices are locked
    before the organization's row is written (`services.lock_issued_invoices`)."""
    services.lock_issued_invoices(session, sender)


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


def open_money(session: Session, organization_id: int, _today: date) -> list[StillOpen]:
    """What the organization still owes and is owed, for `accounts.register_open_business`:
    the invoices with a balance to pay, the credit notes with a refund not yet sent,
    a few of each named and the rest counted and summed by the database."""
    owed = queries.invoices_to_pay(session, organization_id, accounts.OPEN_NAMED)
    refunds = queries.refunds_to_send(session, organization_id, accounts.OPEN_NAMED)
    full_list = links().organization_invoices(organization_id)
    return accounts.named_and_more(
        [
            f"Invoice {row.number}: {in_words(row.amount, row.currency)} to pay "
            f"(due {row.due_date})."
            for row in owed.first
        ],
        owed.count,
        lambda rest: (
            f"And {counted(rest, 'more invoice')} to pay: {_sums(owed)} owed on "
            f"{owed.count} invoices in all."
        ),
        # The rest of those it counts, not buried among years of paid ones.
        links().organization_invoices(organization_id, to_pay=True),
        "The organization's invoices to pay",
    ) + accounts.named_and_more(
        [
            f"Credit note {row.number}: {in_words(row.amount, row.currency)} "
            "to refund to the licensee."
            for row in refunds.first
        ],
        refunds.count,
        lambda rest: (
            f"And {counted(rest, 'more credit note')} with a refund to send: "
            f"{_sums(refunds)} to refund on {refunds.count} credit notes in all."
        ),
        full_list,
        "The organization's invoices and their credit notes",
    )


def _sums(found: queries.OpenAmounts) -> str:
    return ", ".join(in_words(total, currency) for currency, total in found.sums.items())
