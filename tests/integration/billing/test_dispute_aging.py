"""A disputed balance counted by finance as the service treats it: dated by when
the bank's dispute reached Stripe, and after a dispute lost aged from the day it is
owed again (round 25)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice, PaymentDispute
from licensing.billing.queries import disputed_on
from licensing.finance import queries as finance
from tests.support import settings
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .dispute_support import WITHDRAWN, dispute_event, paid_with_charge
from .stripe_support import signed, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _aged(client: FlaskClient, staff: User, as_of: date) -> tuple[dict[str, Decimal], dict]:
    """The Finance page's aging on `as_of` (row: amount) and the receivables
    export's rows on that day, by invoice number."""
    rows = {row.key: row.amount for row in finance.aging(db.session(), "USD", as_of)}
    answer = client.get(
        "/api/v1/exports/receivables",
        query_string={"format": "csv", "as_of": as_of.isoformat()},
        headers=bearer(staff),
    )
    assert answer.status_code == 200
    exported = csv.DictReader(io.StringIO(answer.get_data(as_text=True)))
    return rows, {row["invoice_number"]: row for row in exported}


def test_a_dispute_applied_a_day_late_is_dated_by_when_it_reached_stripe(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    created = datetime(2027, 3, 2, 14, 0, tzinfo=UTC)
    opened = dispute_event(
        "charge.dispute.funds_withdrawn", payment, charge, moved=(WITHDRAWN,), created=created
    )
    # Kept unmatched while Stripe was unreachable, applied the next morning.
    payload, headers = signed(opened)
    services.handle_stripe_webhook(
        payload,
        headers["Stripe-Signature"],
        gateway=settings.gateway(),
        now=datetime(2027, 3, 3, 9, 0, tzinfo=UTC),
    )
    dispute = db.session().scalars(select(PaymentDispute)).one()
    assert dispute.disputed_at == created
    on_the_day = set(db.session().scalars(select(Invoice.id).where(disputed_on(date(2027, 3, 2)))))
    assert on_the_day == {invoice.id}
    _rows, exported = _aged(client, billing_staff, date(2027, 3, 2))
    assert exported[invoice.number]["disputed"] == "250.00"
    answer = client.get(f"/api/v1/disputes/{dispute.id}", headers=bearer(billing_staff))
    assert answer.get_json()["disputed_at"].startswith("2027-03-02T14:00")
