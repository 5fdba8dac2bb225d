"""Stripe.js is allowed on the card payment page and nowhere else; and the page names
the other ways to pay (round 66)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice
from tests.support.pages import text_of

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


# Round 66 (journeyV66): a card refused on the pay page ("Your card was declined.",
# Stripe's words) was a dead end: the page named no other way to pay. It now says to
# try another card or pay by wire, ACH or check, linking the invoice's *How to pay*.
def test_the_pay_page_names_the_other_ways_to_pay_for_a_card_refused(
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, vendor)
    pay = client.get(f"/portal/invoices/{invoice.id}/pay")
    assert pay.status_code == 200
    assert (
        "A card refused? Try another card, or pay by wire, ACH or check instead: the "
        "invoice's How to pay gives the bank account and the address for checks. Quote "
        f"{invoice.number} with the payment."
    ) in text_of(pay)
    assert f'href="/portal/invoices/{invoice.id}#how-heading"' in pay.get_data(as_text=True)
    # And the invoice's page has that section.
    assert 'id="how-heading"' in client.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)
