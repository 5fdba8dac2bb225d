"""Round 53: the vendor's dashboard says a refund owed as the vendor reads it: who
sends it (the licensing office's billing staff, not "the licensing office" at large),
how much is left of how much, and how it comes back (to the card that paid, where one
can take it; else by bank transfer or check). No day: the office promises none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice
from tests.support.billing import refunded_offline
from tests.support.pages import text_of
from tests.support.servers import LocalStripe

from .refund_support import card_paid_and_credited, paid_offline_and_credited
from .stripe_support import stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_refund_owed_on_a_wired_invoice_waits_on_billing_staff_by_transfer_or_check(
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor, "100.00")
    signed_in(client, vendor)
    dashboard = text_of(client.get("/portal/"))
    assert (
        f"Refund of 100.00 USD due to you (credit note {credit.number}) on invoice "
        f"{credit.invoice.number}: the licensing office's billing staff send it back by bank "
        "transfer or check and email your billing contact when it is sent; the invoice lists "
        "it then the licensing office's billing staff"
    ) in dashboard

    refunded_offline(credit.id, "40.00", "FEDWIRE RF-1")
    dashboard = text_of(client.get("/portal/"))
    assert (
        f"Refund of 60.00 USD due to you (credit note {credit.number}) on invoice "
        f"{credit.invoice.number}: 40.00 USD of the 100.00 USD owed back is sent; the "
        "licensing office's billing staff send the rest back by bank transfer or check"
    ) in dashboard


def test_a_refund_owed_on_a_card_paid_invoice_goes_back_to_the_card(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit, _payment = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    signed_in(client, vendor)
    dashboard = text_of(client.get("/portal/"))
    assert (
        f"Refund of 90.00 USD due to you (credit note {credit.number}) on invoice "
        f"{credit.invoice.number}: the licensing office's billing staff send it back to the "
        "card that paid it and email your billing contact when it is sent"
    ) in dashboard
