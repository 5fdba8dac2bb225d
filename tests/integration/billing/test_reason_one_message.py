"""Round 49: a staff step's reason refused in one message. The API answered "This
field is required." for a reason absent or empty (its schema) and "Say why." for
one of spaces only (the service), for the same mistake; the pages say "Say why."
for both. The API's schema now trims the reason and refuses it absent, null, empty
or blank in the service's words (`billing.models.REASON_REQUIRED`), on every step
that takes one (accept, accept the remainder, give back, void, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import REASON_REQUIRED, Invoice
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .stripe_support import flagged_card_payment, stripe_config

NOT_GIVEN: list[dict[str, Any]] = [{}, {"reason": None}, {"reason": ""}, {"reason": "  \t "}]


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_missing_or_blank_reason_is_refused_in_the_services_words_on_the_api_and_pages(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=30001
    )
    headers = bearer(billing_staff)
    steps = (
        f"/api/v1/payments/{payment.id}/accept",
        f"/api/v1/payments/{payment.id}/accept-remainder",
        f"/api/v1/payments/{payment.id}/give-back",
        f"/api/v1/invoices/{invoice.id}/void",
    )
    for url in steps:
        for body in NOT_GIVEN:
            refused = client.post(url, json=body, headers=headers)
            assert refused.status_code == 422, (url, body, refused.get_json())
            errors = refused.get_json()["errors"]
            assert errors == {"reason": [REASON_REQUIRED]}, (url, body, errors)
    # The pages said it already, for an empty reason (the form) and a blank one (the
    # service): the same words, from the same constant.
    staff = signed_in(app.test_client(), billing_staff)
    for reason in ("", "  \t "):
        page = staff.post(f"/console/payments/{payment.id}/accept", data={"accept-reason": reason})
        assert page.status_code == 422
        assert REASON_REQUIRED in page.get_data(as_text=True)
        assert "This field is required." not in page.get_data(as_text=True)
