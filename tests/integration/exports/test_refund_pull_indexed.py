"""Round 54: the refunds' nightly pulls find the day's refunds through an index on
each time a refund is recorded, sent or failed (billing_0022). `refunds?by=recorded`
asks for refunds recorded, sent or failed on the days, and `invoices?by=recorded`
(since round 53) for invoices with a refund sent or failed on them; none of the three
times had an index, so each night read every refund ever recorded (at 50,000 refunds
64-98 ms a statement on SQLite, 14-17 ms on PostgreSQL; docs/journeys.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Refund
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.plans import analyzed, plan_of, sent_with_values

NIGHT = "2026-11-10"
# Refunds recorded before the night pulled, each sent the day it was recorded (as
# offline refunds are): enough that either database's statistics price a scan out.
EARLIER = 5000
INDEXES = ("ix_refunds_created_at", "ix_refunds_settled_at", "ix_refunds_failed_at")


def _refunded_on_the_10th() -> None:
    """An invoice paid in full on 3 November, credited 50.00 on the 5th, and the 50.00
    sent back by wire on the 10th; and `EARLIER` refunds (of another day each, never
    the 10th) recorded straight into the table, the database's statistics then read."""
    organization = factories.make_organization(db.session()).id
    invoice = issue(organization, "300.00", date(2026, 11, 2))
    paid_offline(
        invoice.id, "300.00", "W-1", received_on=date(2026, 11, 3), now=at(date(2026, 11, 3))
    )
    credit = credited(invoice.id, "50.00", "Seat removed", now=at(date(2026, 11, 5)))
    refunded_offline(
        credit.id, "50.00", "W-BACK-1", sent_on=date(2026, 11, 10), now=at(date(2026, 11, 10))
    )
    first = datetime(2025, 6, 1, 15, 0, tzinfo=UTC)
    earlier = [
        {
            "invoice_id": invoice.id,
            "organization_id": organization,
            "credit_note_id": credit.id,
            "method": "wire",
            "state": "succeeded",
            "currency": "USD",
            "amount": Decimal("0.01"),
            "reference": f"W-EARLIER-{n}",
            "recorded_by": "clerk@example.test",
            "created_at": first + timedelta(hours=2 * n),
            "settled_at": first + timedelta(hours=2 * n),
            "sent_on": (first + timedelta(hours=2 * n)).date(),
        }
        for n in range(EARLIER)
    ]
    session = db.session()
    session.execute(insert(Refund), earlier)
    if session.connection().dialect.name == "sqlite":
        # SQLite's statistics (sqlite_stat1) are rows like any other: rolled back with
        # the test. PostgreSQL's counts outlive it, so there only what is read.
        session.connection().exec_driver_sql("ANALYZE")
    analyzed(
        "refunds",
        "payments",
        "payment_reversals",
        "credit_notes",
        "invoices",
        "organizations",
        "royalty_reports",
    )


@pytest.mark.parametrize(
    ("dataset", "times"),
    [("refunds", INDEXES), ("invoices", ("ix_refunds_settled_at", "ix_refunds_failed_at"))],
)
def test_the_nightly_pull_reads_the_days_refunds_through_their_indexes(
    app: Flask, client: FlaskClient, billing_staff: User, dataset: str, times: tuple[str, ...]
) -> None:
    """Each statement of the pull that reads refunds (its rows and its count),
    EXPLAINed with its own values: each time is a range of its own index, the
    refunds never read whole (on PostgreSQL sequential scans are priced out too)."""
    _refunded_on_the_10th()

    with sent_with_values(app.extensions["licensing.db"].engine) as statements:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": "jsonl", "by": "recorded", "from": NIGHT, "to": NIGHT},
            headers=factories.bearer(billing_staff),
        )
    assert response.status_code == 200, response.get_data(as_text=True)
    pulled = read_jsonl(response.get_data())[1]
    asked = [(sql, values) for sql, values in statements if "refunds.failed_at" in sql]

    assert [row["amount" if dataset == "refunds" else "amount_refunded"] for row in pulled] == [
        "50.00"
    ]
    assert asked
    for sql, values in asked:
        # The few refunds of the night are sorted by id, as at size the plans do.
        plan = "\n".join(plan_of(sql, values, sorts_priced_out=False))
        for index in times:
            assert index in plan, plan
        assert "SCAN refunds\n" not in plan + "\n", plan
        assert "Seq Scan on refunds " not in plan, plan
