"""Stripe.js is allowed on the card payment page and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice

STRIPE_JS = "http://127.0.0.1:9/js.stripe.com/v3/"  # never fetched: the page only names it


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {
        "stripe_secret_key": "sk_test_policy",
        "stripe_publishable_key": "pk_test_policy",
        "stripe_js_url": STRIPE_JS,
    }


def test_only_the_payment_page_may_load_stripe_js(
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, vendor)
    pay = client.get(f"/portal/invoices/{invoice.id}/pay")
    assert pay.status_code == 200
    assert STRIPE_JS in pay.get_data(as_text=True)
    policy = pay.headers["Content-Security-Policy"]
    assert "script-src 'self' http://127.0.0.1:9;" in policy
    assert "frame-src http://127.0.0.1:9;" in policy
    assert "unsafe-inline" not in policy

    for path in (f"/portal/invoices/{invoice.id}", "/portal/", "/"):
        other = client.get(path).headers["Content-Security-Policy"]
        assert "127.0.0.1:9" not in other, path
        assert "script-src 'self';" in other, path
