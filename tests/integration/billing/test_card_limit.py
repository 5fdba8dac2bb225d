"""Round 50: a balance beyond Stripe's largest charge (eight digits of minor units,
999,999.99 USD) is never sent to Stripe: the pay pages say to pay by wire, ACH or
check, and a card attempt is a 422 naming the limit with nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice, Payment, StripeCustomer
from licensing.money import CARD_MAX_MINOR_UNITS, beyond_card_limit, card_limit
from tests.support.pages import text_of
from tests.support.servers import LocalStripe

from .stripe_support import card_token, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def counted(model: Any) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def test_the_card_limit_is_stripes_eight_digits_of_minor_units() -> None:
    assert CARD_MAX_MINOR_UNITS == 99_999_999
    assert card_limit("USD") == Decimal("999999.99")
    assert card_limit("JPY") == Decimal("99999999")
    assert not beyond_card_limit(Decimal("999999.99"), "USD")
    assert beyond_card_limit(Decimal("1000000.00"), "USD")


def test_a_balance_beyond_a_cards_limit_is_refused_before_stripe_is_asked(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("600000.00", "400000.00"))
    signed_in(client, vendor)
    shown = client.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)
    assert "by card</a>" not in shown  # the invoice's page offers no card payment
    assert 'id="beyond-card"' in shown
    page = client.get(f"/portal/invoices/{invoice.id}/pay", follow_redirects=True)
    assert page.request.path == f"/portal/invoices/{invoice.id}"
    said = " ".join(text_of(page).split())
    assert (
        f"Invoice {invoice.number}'s balance of 1,000,000.00 USD is more than one card payment "
        "can take (999,999.99 USD at most): pay it by wire, ACH or check, as the invoice says."
    ) in said
    refused = client.post(
        f"/portal/invoices/{invoice.id}/card-payments", json={"token": card_token(localstripe)}
    )
    assert refused.status_code == 422, refused.get_data(as_text=True)[:300]
    assert "999,999.99 USD at most" in refused.get_data(as_text=True)
    assert counted(Payment) == 0
    assert counted(StripeCustomer) == 0  # no Customer made at Stripe either
    # At the limit, the card is taken.
    paid = invoice_for(vendor, ("999999.99",))
    assert "by card</a>" in client.get(f"/portal/invoices/{paid.id}").get_data(as_text=True)
    accepted = client.post(
        f"/portal/invoices/{paid.id}/card-payments", json={"token": card_token(localstripe)}
    )
    assert accepted.status_code == 200, accepted.get_json()
