"""Billing steps tests take to arrange a history: what a billing clerk records
by hand (an offline payment, a credit note, an offline refund), each by a new
billing staff member through the real services (validation, audit and all).

`dates` are the services' own keywords: `received_on=` (payments) or `sent_on=`
(refunds), and `now=`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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


def cheque_returned_behind_a_credit(
    invoice_id: int,
    amount: str,
    *,
    received_on: date = date(2027, 1, 18),
    returned_on: date = date(2027, 1, 25),
    credited_on: date = date(2027, 3, 1),
) -> None:
    """A cheque of `amount` received on the invoice (paid), a credit note of `amount`
    on `credited_on` (the licence cancelled), then, two days later, the bank's return
    of the cheque recorded, dated `returned_on` before the note: the invoice owes
    nothing now, so it stays paid with its old `paid_at`, though by the bank's days it
    owed from the return to the note (round 55). Each step at 18:00 UTC of its day."""
    cheque = paid_offline(
        invoice_id,
        amount,
        "CHK-1",
        method="check",
        received_on=received_on,
        now=_afternoon(received_on),
    )
    credited(invoice_id, amount, "Licence cancelled", now=_afternoon(credited_on))
    reversed_offline(
        cheque.id,
        "Cheque returned unpaid",
        returned_on=returned_on,
        now=_afternoon(credited_on + timedelta(days=2)),
    )


def _afternoon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)


def said(record: Payment | Refund) -> str:
    """A card payment or refund as a Stripe event's outcome mentions it (round 57,
    billingwords57: "payment 12", "refund 5" before): "card payment of INV-... (Visa
    ending 4242), started ...", "card refund of 60.00 USD of credit note CN-...",
    read afresh."""
    name = logged(record)
    if isinstance(record, Payment) or name.endswith(" (nothing at Stripe yet)"):
        name = name[: name.rindex(" (")]  # a payment's without its Stripe ids
    return name[:1].lower() + name[1:]


def refund_by_id(refund_id: int) -> Refund:
    from licensing import db

    found = db.session().get(Refund, refund_id)
    assert found is not None
    return found


def logged(record: Payment | Refund) -> str:
    """A card payment or refund as a `payments reconcile` line names it (round 56,
    refundlist56: "payment 12" before): a payment as the pages do (`Payment.named`), a
    refund by its amount and credit note, then the Stripe ids, read afresh."""
    from licensing import db
    from licensing.billing.models import Invoice

    session = db.session()
    found = session.get(type(record), record.id, populate_existing=True)
    assert found is not None
    record = found
    if isinstance(record, Payment):
        invoice = session.get(Invoice, record.invoice_id)
        assert invoice is not None
        ids = [record.stripe_payment_intent_id, record.stripe_charge_id]
        name = record.named(invoice.number)
    else:
        credit = session.get(CreditNote, record.credit_note_id)
        assert credit is not None
        ids = [record.stripe_refund_id]
        name = (
            f"Card refund of {record.amount:,.2f} {record.currency} of credit note {credit.number}"
        )
    known = ", ".join(each for each in ids if each)
    return f"{name} (Stripe {known})" if known else f"{name} (nothing at Stripe yet)"
