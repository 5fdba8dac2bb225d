"""A card payment (Stripe, through localstripe) is collected on the office date
Stripe's answer was applied: card payments have no `received_on`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.billing import services as billing
from licensing.billing.models import Payment
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.finance import queries
from licensing.finance.queries import Filters
from tests.integration.billing.stripe_support import card_token, stripe_config
from tests.integration.finance.conftest import issue
from tests.support import settings
from tests.support.servers import LocalStripe


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_card_payment_counts_as_collected_in_the_month_it_was_applied(
    vendor: Any, localstripe: LocalStripe
) -> None:
    invoice = issue(vendor.organization_id, "640.00", office_date(utcnow()))
    billing.start_card_payment(
        invoice.id,
        card_token=card_token(localstripe),
        principal=accounts.principal_for(vendor),
        gateway=settings.gateway(),
    )
    applied_at = utcnow() + timedelta(hours=1)
    billing.reconcile_payments(
        now=applied_at, older_than=timedelta(minutes=30), gateway=settings.gateway()
    )
    payment = db.session().scalars(select(Payment)).one()
    assert (payment.method, payment.state, payment.received_on) == ("card", "succeeded", None)

    assert invoice.issue_date is not None
    # From the month issued to the month applied (one month, but for a test run at midnight).
    window = Filters(
        queries.month_start(invoice.issue_date), queries.month_start(office_date(applied_at))
    )
    figures = queries.cash_flow(db.session(), window)
    assert figures[-1].period.contains(office_date(applied_at))
    assert [row.collected for row in figures][-1] == Decimal("640.00")
    assert sum(row.collected for row in figures) == Decimal("640.00")
    assert figures[-1].outstanding == Decimal(0)
    (licensee,) = queries.top_licensees(db.session(), window)
    assert licensee.collected == Decimal("640.00")
