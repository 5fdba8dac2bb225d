"""Round 61 (outage61): Stripe unreachable or slow while a vendor pays by card.

The service talks to localstripe through a line whose answers can be lost
(`StripeLine`): a Stripe that takes connections and never answers. Before, the
adapter waited stripe-python's 80 seconds a try, three tries, so the payer's request
outlived gunicorn's 30-second timeout and got no answer at all, and the words it had
were the library's (the address it tried, "let us know at support@stripe.com"). Now
each try waits at most `CONNECT_SECONDS` and `ANSWER_SECONDS` (here a second each),
the page's script is told in the service's words, nothing is recorded paid, and the
hourly reconcile catches up once Stripe answers again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import stripe_gateway
from licensing.billing.models import Invoice, Payment
from licensing.db import utcnow
from tests.support.servers import LocalStripe

from .stripe_support import StripeLine, card_token, stripe_config


@pytest.fixture
def line(localstripe: LocalStripe, monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeLine]:
    # Shorter waits than the service's, read when the app's adapter is built. Each
    # lost answer is waited out for real, twice (the try and its retry), so the wait
    # is most of these tests' time: a second (round 63; three before, some 6.5 s a
    # test) is still a hundred times what localstripe takes to answer on loopback.
    monkeypatch.setattr(stripe_gateway, "CONNECT_SECONDS", 1.0)
    monkeypatch.setattr(stripe_gateway, "ANSWER_SECONDS", 1.0)
    found = StripeLine(localstripe)
    yield found
    found.close()


@pytest.fixture
def config_changes(localstripe: LocalStripe, line: StripeLine) -> dict[str, Any]:
    return {**stripe_config(localstripe), "stripe_api_base": line.url}


def _pay(client: FlaskClient, invoice: Invoice, localstripe: LocalStripe) -> Any:
    """What the pay page's script posts once Stripe.js has made a token of the card."""
    return client.post(
        f"/portal/invoices/{invoice.id}/card-payments", json={"token": card_token(localstripe)}
    )


def _attempts(invoice: Invoice) -> list[Payment]:
    db.session().expire_all()
    return list(db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).all())


def _state(invoice: Invoice) -> str:
    db.session().expire_all()
    found = db.session().get(Invoice, invoice.id)
    assert found is not None
    return found.state


def _reconcile(app: Flask) -> str:
    later = (utcnow() + timedelta(hours=1)).isoformat()
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--now", later])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_stripe_that_never_answers_is_said_plainly_and_nothing_is_stored_until_it_answers(
    app: Flask,
    vendor: User,
    signed_in: Callable[..., FlaskClient],
    localstripe: LocalStripe,
    line: StripeLine,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("40.00",))
    payer = signed_in(app.test_client(), vendor)
    line.answering = False

    refused = _pay(payer, invoice, localstripe)

    assert refused.status_code == 502
    assert refused.get_json() == {"error": stripe_gateway.UNREACHABLE}
    assert str(line.port) not in refused.get_data(as_text=True)
    assert _state(invoice) == "open"
    # Its first request to Stripe (the organization's Customer) got no answer, and the
    # attempt's unit of work, which made it, stored nothing.
    assert _attempts(invoice) == []
    assert "Pay by card" in payer.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)

    line.answering = True
    paid = _pay(payer, invoice, localstripe)
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["status"] == "succeeded"
    _reconcile(app)  # the hourly run, had the webhook not come first
    assert _state(invoice) == "paid"


def test_a_charge_whose_answer_was_lost_is_not_recorded_paid_until_reconcile_asks_stripe(
    app: Flask,
    vendor: User,
    signed_in: Callable[..., FlaskClient],
    localstripe: LocalStripe,
    line: StripeLine,
    invoice_for: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stripe confirmed the payment (the card was charged) and its answer never came:
    the payer is told it was not completed here, the invoice stays open, and the
    reconcile run records the payment from Stripe's own word, once."""
    invoice = invoice_for(vendor, ("55.00",))
    payer = signed_in(app.test_client(), vendor)
    confirm = stripe_gateway.StripeGateway.confirm_payment_intent

    def answer_lost(self: Any, *args: Any, **kwargs: Any) -> Any:
        line.answering = False
        return confirm(self, *args, **kwargs)

    monkeypatch.setattr(stripe_gateway.StripeGateway, "confirm_payment_intent", answer_lost)

    refused = _pay(payer, invoice, localstripe)

    assert refused.status_code == 502
    assert refused.get_json() == {"error": stripe_gateway.UNREACHABLE}
    assert _state(invoice) == "open"
    [attempt] = _attempts(invoice)
    assert attempt.state == "pending"
    assert attempt.stripe_payment_intent_id is not None

    monkeypatch.setattr(stripe_gateway.StripeGateway, "confirm_payment_intent", confirm)
    line.answering = True
    _reconcile(app)
    [attempt] = _attempts(invoice)
    assert attempt.state == "succeeded"
    assert _state(invoice) == "paid"
