"""Round 56: the pages name a payment by its card and when it was started, or its
reference and the day received (`Payment.named`, round 55); the API's refusals still
named it by its row id ("Payment 12 was made by card: ..."), which told a script's
reader nothing they could look up. They name it as the pages do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .refund_support import paid_by_card
from .stripe_support import stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_the_apis_refusal_to_reverse_a_card_payment_names_it_by_its_card_not_its_id(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("90.00",))
    payment = paid_by_card(client, vendor, localstripe, invoice)
    answer = client.post(
        f"/api/v1/payments/{payment.id}/reversal",
        json={"reason": "Bounced", "returned_on": office_date(utcnow()).isoformat()},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 409
    detail = answer.get_json()["detail"]
    named = payment.named(invoice.number)
    assert named.startswith(f"Card payment of {invoice.number} (Visa ending 4242), started ")
    assert detail.startswith(f"{named}, was made by card: a card payment is given back ")
    assert f"Payment {payment.id} " not in detail
