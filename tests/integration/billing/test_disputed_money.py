"""Disputed money as finance counts it: a card payment disputed in part, and a
balance whose dispute is open, on the Finance page, its report and the exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice
from licensing.finance import queries as finance
from licensing.finance.queries import Filters
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .dispute_support import WITHDRAWN, dispute_event, paid_with_charge
from .refund_support import deliver
from .stripe_support import stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _receivables(client: FlaskClient, staff: User, as_of: str) -> list[dict[str, str]]:
    answer = client.get(
        "/api/v1/exports/receivables",
        query_string={"format": "csv", "as_of": as_of},
        headers=bearer(staff),
    )
    assert answer.status_code == 200
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_a_payment_disputed_in_part_is_owed_again_only_for_the_disputed_amount(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    # The bank disputes 100.00 of the 250.00 charge: Stripe withdraws 100.00.
    opened = dispute_event(
        "charge.dispute.created", payment, charge, amount=10000, moved=(WITHDRAWN,)
    )
    assert "withdrawal of 100.00 booked" in deliver(client, opened)["outcome"]
    session = db.session()
    march = Filters(date(2027, 2, 1), date(2027, 3, 1), currency="USD")
    figures = {row.period.key: row for row in finance.cash_flow(session, march)}
    assert figures["2027-03"].reversed == Decimal("100.00")
    # Owed on the withdrawal day: what Stripe took back, not the whole payment.
    assert figures["2027-03"].outstanding == Decimal("100.00")
    # Before it, the whole payment stood.
    assert figures["2027-02"].outstanding == Decimal(0)
    (licensee,) = finance.top_licensees(
        session, Filters(date(2026, 1, 1), date(2027, 3, 1), currency="USD")
    )
    assert (licensee.collected, licensee.outstanding) == (Decimal("150.00"), Decimal("100.00"))
    # The receivables export counts it the same, to the cent.
    (row,) = _receivables(client, billing_staff, "2027-03-31")
    assert (row["invoice_number"], row["paid_to_date"], row["balance"]) == (
        invoice.number,
        "150.00",
        "100.00",
    )


def test_a_balance_the_bank_is_disputing_is_aged_apart_on_the_page_and_in_the_export(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    chased = invoice_for(vendor, ("40.00",))
    opened = dispute_event("charge.dispute.created", payment, charge, moved=(WITHDRAWN,))
    deliver(client, opened)
    as_of = date(2027, 12, 31)  # both long past their due dates
    rows = {row.key: row for row in finance.aging(db.session(), "USD", as_of)}
    assert (rows["disputed"].invoices, rows["disputed"].amount) == (1, Decimal("250.00"))
    assert rows["disputed"].label == "Disputed with the bank (not chased)"
    assert (rows["over_90"].invoices, rows["over_90"].amount) == (1, Decimal("40.00"))
    exported = {
        row["invoice_number"]: row for row in _receivables(client, billing_staff, "2027-12-31")
    }
    assert exported[invoice.number]["disputed"] == "250.00"
    assert exported[chased.number]["disputed"] == "0.00"
    not_disputed = [row for row in exported.values() if row["disputed"] == "0.00"]
    assert sum(Decimal(row["over_90"]) for row in not_disputed) == rows["over_90"].amount
    # Closed, the balance ages by days past due again (a lost dispute is owed).
    lost = dispute_event(
        "charge.dispute.closed", payment, charge, status="lost", moved=(WITHDRAWN,)
    )
    deliver(client, lost)
    today = {row.key: row for row in finance.aging(db.session(), "USD", as_of)}
    assert today["disputed"].amount == Decimal(0)
    assert today["over_90"].amount == Decimal("290.00")
