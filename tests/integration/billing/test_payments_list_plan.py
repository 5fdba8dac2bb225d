"""Round 58 (financelinks58): the brief said `payments.created_at` had no index though
the payments list (round 57, payments57) orders and filters by it. It has one,
`ix_payments_created_at` (billing_0026, round 56, for the late entries' check), and
the list's page is read in it: newest first, the page's 50 rows and no sort of the
payments (PostgreSQL sorts only the ties on `created_at` by id, an incremental sort of
the rows read). A month's filter is an OR of the day the money came, the day the bank
returned it (another table's) and the day a payment whose money never came was started,
so no index can narrow it; the walk in order stops at the page's last row. So no
migration: this test holds the plan, priced on 4,000 payments analyzed, on both
databases (`tests/support/plans.py`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from licensing import db
from licensing.billing.models import Payment
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.plans import analyzed, plan_of, sent_with_values, sorts

INDEX = "ix_payments_created_at"
# Payments four a day over most of three years: enough that reading them all and
# sorting is priced above walking the index to the page's last row.
PAYMENTS = 4000


def _crowd() -> None:
    """`PAYMENTS` copies of one wire, each started six hours after the one before and
    received a day in four later, stored as they are and analyzed (`analyzed`)."""
    organization_id = factories.make_organization(db.session()).id
    invoice = issue(organization_id, "100000.00", date(2026, 1, 5))
    paid_offline(invoice.id, "10.00", "W-1", received_on=date(2026, 1, 6), now=at(date(2026, 1, 6)))
    payments = Payment.__table__
    first = dict(db.session().execute(select(payments)).mappings().one())
    del first["id"]
    copies = [
        first
        | {
            "reference": f"W-{n}",
            "created_at": first["created_at"] + timedelta(hours=6 * n),
            "received_on": first["received_on"] + timedelta(days=n // 4),
        }
        for n in range(PAYMENTS)
    ]
    db.session().execute(insert(payments), copies)
    analyzed("payments", "invoices", "payment_reversals")


@pytest.mark.parametrize("query", ["", "month=2026-06&currency=USD", "from=2026-03&to=2026-04"])
def test_the_payments_lists_page_is_read_in_the_created_at_index_with_no_sort_of_the_payments(
    app: Flask, billing_staff: Any, signed_in: Any, query: str
) -> None:
    _crowd()
    staff: FlaskClient = signed_in(app.test_client(), billing_staff)
    with sent_with_values(db.session().get_bind()) as caught:
        assert staff.get(f"/console/payments?{query}").status_code == 200
    page = [(sql, values) for sql, values in caught if "FROM payments" in sql and "LIMIT" in sql]
    assert len(page) == 1, [sql for sql, _ in caught]
    lines = plan_of(*page[0])
    dialect = db.session().get_bind().dialect.name
    assert any(INDEX in line for line in lines), "\n".join(lines)
    # PostgreSQL's ties on the moment, sorted by id as they are read, are not a sort
    # of the payments.
    assert [line for line in sorts(lines, dialect) if "Incremental" not in line] == [], lines
