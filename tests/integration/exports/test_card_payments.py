"""Card payments (through localstripe) in the payments export, with their Stripe ids."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Payment, StripeCustomer
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.billing.stripe_support import (
    card_token,
    events_for,
    signed,
    stripe_config,
)
from tests.integration.exports.conftest import read_jsonl
from tests.support import settings
from tests.support.factories import bearer
from tests.support.servers import LocalStripe


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_settled_card_payment_is_exported_with_its_intent_and_customer_ids(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
) -> None:
    invoice = send_activation(activated(vendor.organization_id or 0, ("310.25",)))
    assert invoice is not None
    attempt = services.start_card_payment(
        invoice.id,
        card_token=card_token(localstripe),
        principal=accounts.principal_for(vendor),
        gateway=settings.gateway(),
    )
    payment = db.session().get(Payment, attempt.payment_id)
    assert payment is not None
    db.session().refresh(payment)
    intent_id = payment.stripe_payment_intent_id or ""
    (event,) = events_for(localstripe, intent_id, "payment_intent.succeeded")
    payload, headers = signed(event)
    assert client.post("/webhooks/stripe", data=payload, headers=headers).status_code == 200
    customer = db.session().scalars(select(StripeCustomer.stripe_customer_id)).one()
    today = office_date(utcnow()).isoformat()

    response = client.get(
        "/api/v1/exports/payments",
        query_string={"format": "jsonl", "from": today, "to": today},
        headers=bearer(billing_staff),
    )
    _header, rows = read_jsonl(response.get_data())
    assert [
        (r["method"], r["state"], r["amount"], r["stripe_payment_intent_id"], r["paid_date"])
        for r in rows
    ] == [("card", "succeeded", "310.25", intent_id, today)]
    assert rows[0]["stripe_customer_id"] == customer
    paid_invoices = client.get(
        "/api/v1/exports/invoices",
        query_string={"format": "jsonl", "by": "paid", "from": today},
        headers=bearer(billing_staff),
    )
    _header, invoices = read_jsonl(paid_invoices.get_data())
    assert [(r["invoice_number"], r["state"], r["paid_date"]) for r in invoices] == [
        (invoice.number, "paid", today)
    ]
