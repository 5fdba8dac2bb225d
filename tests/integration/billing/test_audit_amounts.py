"""Audit payloads are exported, so every amount in them leaves the service as
amounts do everywhere else: a decimal string with exactly the currency's
minor-unit digits ("45.00"), never the ledger's four places ("45.0000") nor the
digits a caller happened to type ("250", "120.5")."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from tests.support import settings
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .refund_support import card_paid_and_credited
from .stripe_support import card_token, events_for, signed, stripe_config

AMOUNT_KEYS = {
    "amount",
    "amount_paid",
    "amount_credited",
    "amount_received",
    "applied_to_balance",
    "refund_due",
    "total",
}
TWO_PLACES = re.compile(r"^-?\d+\.\d{2}$")


def _amounts_since(seq: int) -> dict[str, set[str]]:
    """Every amount the audit events after `seq` record, by `action key`."""
    found: dict[str, set[str]] = {}
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.seq > seq))
    for event in events:
        for payload in (event.before, event.after):
            values: dict[str, Any] = json.loads(payload) if payload else {}
            for key, value in values.items():
                if key in AMOUNT_KEYS and value is not None:
                    found.setdefault(f"{event.action} {key}", set()).add(value)
    return found


def _last_seq() -> int:
    seq = db.session().scalars(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).first()
    return seq or 0


def _not_two_places(found: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        name: {v for v in values if not TWO_PLACES.match(str(v))}
        for name, values in found.items()
        if any(not TWO_PLACES.match(str(v)) for v in values)
    }


def test_offline_payments_and_credit_notes_audit_amounts_with_the_currencys_two_digits(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    start = _last_seq()
    invoice = invoice_for(vendor, ("300",))
    headers = bearer(billing_staff)
    paid = client.post(
        f"/api/v1/invoices/{invoice.id}/payments",
        json={"method": "wire", "amount": "250", "reference": "FED-1"},
        headers=headers,
    )
    assert paid.status_code == 201, paid.get_json()
    rest = client.post(
        f"/api/v1/invoices/{invoice.id}/payments",
        json={"method": "ach", "amount": "50", "reference": "ACH-2"},
        headers=headers,
    )
    assert rest.status_code == 201, rest.get_json()
    credited = client.post(
        f"/api/v1/invoices/{invoice.id}/credit-notes",
        json={"amount": "120.5", "reason": "Seat removed"},
        headers=headers,
    )
    assert credited.status_code == 201, credited.get_json()

    found = _amounts_since(start)

    for name in (
        "invoice.created total",
        "payment.recorded amount",
        "invoice.payment_applied amount_paid",
        "invoice.paid amount_paid",
        "credit_note.issued refund_due",
    ):
        assert name in found, sorted(found)
    assert found["payment.recorded amount"] == {"250.00", "50.00"}
    assert found["credit_note.issued amount"] == {"120.50"}
    assert _not_two_places(found) == {}


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_card_payments_and_card_refunds_audit_amounts_with_the_currencys_two_digits(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    start = _last_seq()
    credit, _payment = card_paid_and_credited(client, vendor, localstripe, invoice_for, "45.00")
    refunded = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json={"method": "card"},
        headers=bearer(billing_staff),
    )
    assert refunded.status_code == 201, refunded.get_json()

    found = _amounts_since(start)

    # Each of these amounts is read back from the ledger, which keeps four places.
    assert found["payment.started amount"] == {"45.00"}
    assert found["refund.started amount"] == {"45.00"}
    assert found["invoice.payment_applied amount"] == {"45.00"}
    assert _not_two_places(found) == {}


def test_a_card_payment_flagged_for_another_currency_audits_what_arrived_as_zero_with_two_digits(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("45.00",))
    attempt = services.start_card_payment(
        invoice.id,
        card_token=card_token(localstripe, "4242424242424242"),
        principal=accounts.principal_for(vendor),
        gateway=settings.gateway(),
    )
    payment = db.session().get(Payment, attempt.payment_id)
    assert payment is not None
    assert payment.stripe_payment_intent_id
    (event,) = events_for(localstripe, payment.stripe_payment_intent_id, "payment_intent.succeeded")
    event = copy.deepcopy(event)
    event["data"]["object"]["currency"] = "eur"
    start = _last_seq()
    payload, headers = signed(event)
    answer = client.post("/webhooks/stripe", data=payload, headers=headers)
    assert answer.get_json()["outcome"].startswith("flagged")

    found = _amounts_since(start)

    # Nothing arrived in the invoice's currency: 0.00 USD, not a bare "0".
    assert found["payment.flagged amount_received"] == {"0.00"}
    assert _not_two_places(found) == {}
