"""Round 60 (asof60): the invoices export as of a day, for a card payment's dispute lost
and one won. Each 250.00 invoice is paid by card on 20 January 2027; the bank disputes
both charges and Stripe withdraws the money on 2 March; one dispute is lost, the other
won and the money reinstated on 20 April (a payment of its own, which pays the invoice
again). Before, between and after, each reads as it stood, and a day's rows are the
same when exported again after what followed."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice
from tests.support.exports import exporter
from tests.support.servers import LocalStripe

from .dispute_support import (
    REINSTATED,
    WITHDRAWN,
    deliver_dispute,
    dispute_event,
    lost,
    paid_with_charge,
)
from .stripe_support import deliver_event, stripe_config

pytestmark = pytest.mark.usefixtures("before_the_disputes")

COLUMNS = ("state", "paid_date", "amount_paid", "balance_due")
PAID = ("paid", "2027-01-20", "250.00", "0.00")
OWED = ("open", "", "0.00", "250.00")
EXPECTED = {
    "2027-01-20": {"LOST": PAID, "WON": PAID},
    "2027-03-01": {"LOST": PAID, "WON": PAID},
    "2027-03-03": {"LOST": OWED, "WON": OWED},
    "2027-04-21": {"LOST": OWED, "WON": ("paid", "2027-04-20", "250.00", "0.00")},
}


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _read(body: bytes, names: dict[str, str]) -> dict[str, tuple[str, ...]]:
    rows = csv.DictReader(io.StringIO(body.decode("utf-8")))
    return {names[row["invoice_number"]]: tuple(row[c] for c in COLUMNS) for row in rows}


def test_a_dispute_lost_and_one_won_read_as_they_stood_and_again_the_same(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    lost_invoice, lost_payment, lost_charge = paid_with_charge(
        client, vendor, localstripe, invoice_for
    )
    won_invoice, won_payment, won_charge = paid_with_charge(
        client, vendor, localstripe, invoice_for
    )
    names = {str(lost_invoice.number): "LOST", str(won_invoice.number): "WON"}
    fetch = exporter(client, billing_staff, "invoices")
    taken = {day: fetch("csv", as_of=day) for day in ("2027-01-20", "2027-03-01")}
    # 2 March: both charges disputed, the money withdrawn; one dispute lost at once.
    lost(client, lost_payment, lost_charge, amount=25000, at=WITHDRAWN)
    deliver_dispute(
        client,
        won_payment,
        won_charge,
        "created",
        "needs_response",
        amount=25000,
        moved=(WITHDRAWN,),
        dispute_id="du_2Won",
    )
    taken["2027-03-03"] = fetch("csv", as_of="2027-03-03")
    # 20 April: the other won, its money reinstated.
    won = dispute_event(
        "charge.dispute.closed",
        won_payment,
        won_charge,
        status="won",
        amount=25000,
        moved=(WITHDRAWN, REINSTATED),
        dispute_id="du_2Won",
        told=REINSTATED,
    )
    assert deliver_event(client, won).status_code == 200
    taken["2027-04-21"] = fetch("csv", as_of="2027-04-21")
    for day, then in taken.items():
        assert _read(then, names) == EXPECTED[day], day
        again = fetch("csv", as_of=day)
        assert again.split(b"\r\n")[1:] == then.split(b"\r\n")[1:], day
