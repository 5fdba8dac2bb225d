"""Billing steps tests take to arrange a history: what a billing clerk records
by hand (an offline payment, a credit note, an offline refund), each by a new
billing staff member through the real services (validation, audit and all).

`dates` are the services' own keywords: `received_on=` (payments) or `sent_on=`
(refunds), and `now=`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Payment, PaymentReversal, Refund
from tests.support.factories import billing_clerk


def _typed_by_a_clerk(
    amount: str, reference: str, method: str, dates: dict[str, date | datetime]
) -> dict[str, Any]:
    """What the clerk's form gives the service for money received or sent back."""
    return {
        "method": method,
        "amount": Decimal(amount),
        "reference": reference,
        "actor": billing_clerk(),
        **dates,
    }


def paid_offline(
    invoice_id: int, amount: str, reference: str, method: str = "wire", **dates: date | datetime
) -> Payment:
    """`amount` received on the invoice by `method`, recorded by a billing clerk."""
    fields = _typed_by_a_clerk(amount, reference, method, dates)
    return billing.record_offline_payment(invoice_id, **fields)


def credited(
    invoice_id: int, amount: str, reason: str, *, now: datetime | None = None
) -> CreditNote:
    """A credit note of `amount` on the invoice, issued by a billing clerk."""
    return billing.issue_credit_note(
        invoice_id, amount=Decimal(amount), reason=reason, now=now, actor=billing_clerk()
    )


def refunded_offline(
    credit_note_id: int, amount: str, reference: str, method: str = "wire", **dates: date | datetime
) -> Refund:
    """`amount` of the credit note sent back by `method`, recorded by a billing clerk."""
    fields = _typed_by_a_clerk(amount, reference, method, dates)
    return billing.record_offline_refund(credit_note_id, **fields)


def reversed_offline(
    payment_id: int, reason: str, *, returned_on: date, now: datetime, standing_days: int = 30
) -> PaymentReversal:
    """The offline payment reversed by a billing clerk: the bank returned it on
    `returned_on` (`standing_days`: OVERDUE_STANDING_DAYS as the test app has it)."""
    return billing.reverse_offline_payment(
        payment_id,
        reason=reason,
        returned_on=returned_on,
        standing_days=standing_days,
        now=now,
        actor=billing_clerk(),
    )
