"""The card payment's refusals, as the pay page's script shows them (round 59,
refusals59): the sentence said to the payer (a refused step names the steps they may
take, not the state's), and its days in words, as text (the script sets them as
`textContent`). They kept the service's sentence and its ISO days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.states import PAYMENT
from licensing.errors import IllegalTransition
from tests.support.billing import paid_offline
from tests.support.servers import LocalStripe

from .stripe_support import card_token, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_paid_invoices_refusal_names_its_day_in_words_without_markup(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("99.00",))
    paid_offline(
        invoice.id,
        "99.00",
        "WIRE-59",
        received_on=date(2027, 3, 2),
        now=datetime(2027, 3, 2, 16, 0, tzinfo=UTC),
    )
    signed_in(client, vendor)
    refused = client.post(
        f"/portal/invoices/{invoice.id}/card-payments", json={"token": card_token(localstripe)}
    )
    assert refused.status_code == 409
    assert refused.get_json() == {
        "error": f"Invoice {invoice.number} is already paid on March 2, 2027: nothing is "
        "owed on it."
    }


def test_a_refused_step_reaching_the_script_names_the_payers_own_steps(
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A step the payment's machine refuses, as a card attempt would meet it: the
    # state's sentence named Stripe's and billing staff's steps to the vendor.
    invoice = invoice_for(vendor, ("99.00",))

    def refused(*_args: Any, **_kwargs: Any) -> None:
        PAYMENT.step("succeeded", "cancel")

    monkeypatch.setattr(services, "start_card_payment", refused)
    signed_in(client, vendor)
    with pytest.raises(IllegalTransition) as state_said:
        PAYMENT.step("succeeded", "cancel")
    answer = client.post(f"/portal/invoices/{invoice.id}/card-payments", json={"token": "tok_x"})
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error != state_said.value.detail
    assert error.endswith(": there is nothing you may do to it now."), error
