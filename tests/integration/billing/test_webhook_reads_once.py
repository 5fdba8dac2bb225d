"""Round 68 (reads68): a card payment's webhook reads the organization once, under the
lock that settling the invoice takes, and its email to the billing contact uses that
read (round 67's count: read again, as the session keeps a row nothing refers to only
weakly)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice
from tests.support.servers import LocalStripe
from tests.support.statements import reads_from, sent_by

from .stripe_support import deliver_event, pay_by_card, stripe_config, succeeded_event


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_payment_settling_its_invoice_reads_the_organization_once(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("200.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    event = succeeded_event(localstripe, payment)
    with sent_by(app) as statements:
        delivered = deliver_event(client, event)
    assert delivered.status_code == 200
    assert delivered.get_json()["outcome"].startswith("applied")
    assert reads_from(statements, "organizations") == 1
