"""Building what the monthly statement run sends: organizations invoiced in a month,
paid on a day, and the statement emails queued."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import time_machine
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization
from licensing.billing import services
from licensing.billing.models import Invoice, SentStatement
from licensing.finance.queries import add_months, month_end
from licensing.mail.models import OutboxMessage
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.factories import billing_clerk

JANUARY = date(2027, 1, 1)
# The morning of 1 February at the office (Chicago): January is over.
RUN = datetime(2027, 2, 1, 14, 0, tzinfo=UTC)
IN_JANUARY = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)
IN_DECEMBER = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def statement_emails() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "statement_of_account")
            .order_by(OutboxMessage.id)
        )
    )


def invoice(organization_id: int, amount: str, at: datetime, currency: str = "USD") -> Invoice:
    issued = send_activation(activated(organization_id, (amount,), at=at, currency=currency))
    assert issued is not None
    return issued


def paid(invoice: Invoice, on: date, *, recorded: datetime | None = None) -> None:
    """An offline payment received `on` a day, recorded then (or at `recorded`: late,
    its row written then too)."""
    now = recorded or datetime(on.year, on.month, on.day, 18, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        services.record_offline_payment(
            invoice.id,
            method="wire",
            amount=invoice.total,
            reference=f"W-{invoice.id}",
            received_on=on,
            now=now,
            actor=billing_clerk(),
        )


def organization(name: str) -> Organization:
    return factories.make_vendor(
        db.session(), organization=factories.make_organization(db.session(), legal_name=name)
    ).organization


def sent_row(
    organization_id: int,
    month: date,
    *,
    currency: str = "USD",
    closing: str = "0.00",
    sent_at: datetime = RUN,
) -> SentStatement:
    """A statement recorded as sent (without its email): many months at once."""
    with db.transaction() as session:
        sent = SentStatement(
            organization_id=organization_id,
            currency=currency,
            month=month,
            opening=Decimal(0),
            closing=Decimal(closing),
            last_opening=Decimal(0),
            last_closing=Decimal(closing),
            closes_on=month_end(month),
            sent_to="accounts@example.test",
            last_sent_to="accounts@example.test",
            sent_at=sent_at,
            resends=0,
        )
        session.add(sent)
    return sent


def months_back(first: date, count: int) -> list[date]:
    """`count` months from `first` backwards, each its first day."""
    return [add_months(first, -shift) for shift in range(count)]
