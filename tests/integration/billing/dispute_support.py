"""Disputes of card payments for tests: Stripe's `charge.dispute.*` events, built
with the Dispute object's field names (localstripe has no disputes), for an invoice
paid by a real localstripe card payment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice, Payment, PaymentDispute
from licensing.billing.states import FLAGGED
from licensing.calendar import office_date
from tests.integration.exports.conftest import read_jsonl
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .refund_support import paid_by_card
from .stripe_support import _call, deliver_event

OPENED = datetime(2027, 3, 2, 14, 0, tzinfo=UTC)
WITHDRAWN = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
REINSTATED = datetime(2027, 4, 20, 16, 0, tzinfo=UTC)
DUE_BY = datetime(2027, 3, 20, 23, 59, 59, tzinfo=UTC)


def charge_of(localstripe: LocalStripe, payment: Payment) -> str:
    intent = _call(localstripe, "GET", f"/v1/payment_intents/{payment.stripe_payment_intent_id}")
    return str(intent["latest_charge"]["id"])


def dispute_event(
    event_type: str,
    payment: Payment,
    charge: str,
    *,
    status: str = "needs_response",
    amount: int = 25000,
    moved: tuple[datetime, ...] = (),
    with_intent: bool = True,
    dispute_id: str = "du_1Harborlight",
    created: datetime = OPENED,
    told: datetime | None = None,
) -> dict[str, Any]:
    """A `charge.dispute.*` event as Stripe sends it: the Dispute object, with a
    balance transaction for each time money moved (a withdrawal, then a
    reinstatement). `told`: when Stripe made the event (its `created`; a dispute
    closed is dated by it), by default when the dispute was opened."""
    transactions = [
        {
            "id": f"txn_{dispute_id}_{index}",
            "object": "balance_transaction",
            "amount": -amount if index == 0 else amount,
            "fee": 1500 if index == 0 else -1500,
            "currency": "usd",
            "created": int(when.timestamp()),
            "reporting_category": "dispute" if index == 0 else "dispute_reversal",
        }
        for index, when in enumerate(moved)
    ]
    dispute = {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": transactions,
        "charge": charge,
        "created": int(created.timestamp()),
        "currency": "usd",
        "evidence_details": {
            "due_by": int(DUE_BY.timestamp()),
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment.stripe_payment_intent_id if with_intent else None,
        "reason": "product_not_received",
        "status": status,
    }
    suffix = f"{event_type.rsplit('.', 1)[-1]}_{status}_{len(moved)}_{with_intent}"
    return {
        "id": f"evt_{dispute_id}_{suffix}",
        "object": "event",
        "type": event_type,
        "created": int((told or OPENED).timestamp()),
        "data": {"object": dispute},
    }


def paid_with_charge(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> tuple[Invoice, Payment, str]:
    invoice = invoice_for(vendor, ("250.00",))
    payment = paid_by_card(client, vendor, localstripe, invoice)
    return invoice, payment, charge_of(localstripe, payment)


def deliver_dispute(
    client: FlaskClient,
    payment: Payment,
    charge: str,
    kind: str,
    status: str,
    *,
    amount: int,
    moved: tuple[datetime, ...],
    dispute_id: str = "du_1Harborlight",
    at: datetime | None = None,
) -> None:
    """Deliver `charge.dispute.<kind>` of `payment`'s charge, signed, to the webhook
    (`at`: when the dispute was opened and the event made, `OPENED` by default)."""
    event = dispute_event(
        f"charge.dispute.{kind}",
        payment,
        charge,
        status=status,
        amount=amount,
        moved=moved,
        dispute_id=dispute_id,
        created=at or OPENED,
        told=at,
    )
    response = deliver_event(client, event)
    assert response.status_code == 200, response.get_data(as_text=True)


def lost(client: FlaskClient, payment: Payment, charge: str, *, amount: int, at: datetime) -> None:
    """`payment`'s charge disputed for `amount` cents and the dispute lost, both at
    `at` (Stripe's `created` and `closed` events, signed, to the webhook)."""
    for kind, status in (("created", "needs_response"), ("closed", "lost")):
        deliver_dispute(client, payment, charge, kind, status, amount=amount, moved=(at,), at=at)


def staff_step(client: FlaskClient, staff: User, payment: Payment, step: str, reason: str) -> Any:
    """`POST /api/v1/payments/{id}/<step>` (accept, give-back...) by `staff`, with why."""
    return client.post(
        f"/api/v1/payments/{payment.id}/{step}", json={"reason": reason}, headers=bearer(staff)
    )


def dispute_in_part(
    client: FlaskClient, payment: Payment, charge: str, kind: str, status: str, amount: int
) -> None:
    """A dispute's event of `amount` cents, its money withdrawn (rounds 47-48)."""
    deliver_dispute(client, payment, charge, kind, status, amount=amount, moved=(WITHDRAWN,))


def api_read(client: FlaskClient, staff: User, path: str) -> Any:
    """`GET /api/v1/<path>` by `staff`: its JSON, asserted 200."""
    response = client.get(f"/api/v1/{path}", headers=bearer(staff))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def export_rows(
    client: FlaskClient, staff: User, dataset: str, **filters: Any
) -> list[dict[str, Any]]:
    """The rows of an export through the API, as JSON Lines."""
    response = client.get(
        f"/api/v1/exports/{dataset}",
        query_string={"format": "jsonl", **filters},
        headers=bearer(staff),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return read_jsonl(response.get_data())[1]


def lost_on() -> str:
    """The office day the (one) dispute was closed."""
    db.session().expire_all()
    dispute = db.session().scalars(select(PaymentDispute)).one()
    assert dispute.closed_at is not None
    return office_date(dispute.closed_at).isoformat()


def held_by_disputes(invoices: Sequence[Invoice]) -> None:
    """A flagged card payment of each invoice (it counts for nothing) whose charge the
    bank disputes: the invoice is not asked for while the dispute is open."""
    session = db.session()
    for invoice in invoices:
        payment = Payment(
            invoice_id=invoice.id,
            organization_id=invoice.organization_id,
            method="card",
            state=FLAGGED,
            currency=invoice.currency,
            amount=invoice.total,
            amount_received=invoice.total,
            recorded_by="system",
            stripe_payment_intent_id=f"pi_held_{invoice.id}",
            stripe_charge_id=f"ch_held_{invoice.id}",
        )
        session.add(payment)
        session.flush()
        session.add(
            PaymentDispute(
                stripe_dispute_id=f"dp_held_{invoice.id}",
                stripe_charge_id=payment.stripe_charge_id,
                payment_id=payment.id,
                invoice_id=invoice.id,
                organization_id=invoice.organization_id,
                status="needs_response",
                currency=invoice.currency,
                amount=invoice.total,
                disputed_at=datetime(2027, 1, 28, 15, tzinfo=UTC),
            )
        )
    session.commit()
