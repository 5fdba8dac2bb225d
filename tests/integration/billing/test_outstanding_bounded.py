"""Round 49: `billing.queries.outstanding` read every invoice an organization still
owed, for the vendor dashboard (which listed each), the console's organization page
(which added up their balances) and the monthly statement run (which kept the
overdue ones in the statement's currency). Each asks the database for what it needs:
the dashboard names the five due soonest and counts the rest with what is owed on
them all, the page's balances are summed in SQL (at the currency's digits), the
run reads only the overdue invoices in its currency."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from licensing import calendar, db
from licensing.billing import queries
from licensing.billing.models import Invoice
from licensing.billing.states import MANUAL, OPEN, PAID, UNCOLLECTIBLE
from tests.support.statements import sent_by, statements_for

FIRST_DUE = date(2026, 9, 1)
_numbers = iter(range(1, 100_000))


def _owed(
    organization_id: int,
    count: int,
    *,
    total: str = "100.00",
    paid: str = "0",
    currency: str = "USD",
    state: str = OPEN,
    first_due: date = FIRST_DUE,
) -> None:
    """`count` issued invoices, due a day apart from `first_due`, stored as rows."""
    rows = []
    for day in range(count):
        number = next(_numbers)
        due = first_due + timedelta(days=day)
        rows.append(
            {
                "organization_id": organization_id,
                "number": f"INV-2026-9{number:05d}",
                "state": state,
                "currency": currency,
                "source_type": MANUAL,
                "payment_terms_days": 30,
                "late_fee_monthly_percent": Decimal(0),
                "issue_date": due - timedelta(days=30),
                "due_date": due,
                "total": Decimal(total),
                "amount_paid": Decimal(paid),
                "amount_credited": Decimal(0),
                "finalized_at": datetime(2026, 8, 1, 15, tzinfo=UTC),
            }
        )
    session = db.session()
    session.execute(insert(Invoice), rows)
    session.commit()


def test_the_dashboard_names_the_soonest_due_and_counts_the_rest(
    app: Flask, vendor: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    organization_id = vendor.organization_id
    client = signed_in(app.test_client(), vendor)
    _owed(organization_id, 9, total="100.00", paid="25.50")
    _owed(organization_id, 1, total="40.00", currency="EUR", first_due=FIRST_DUE + timedelta(50))
    at_10 = statements_for(app, client, "/portal/")
    page = client.get("/portal/").get_data(as_text=True)
    assert "5 more invoices to pay" in page
    assert "40.00 EUR, 670.50 USD owed on 10 invoices in all" in page
    for day in range(5):  # the five due soonest, by number
        assert f"due {calendar.day_text(FIRST_DUE + timedelta(days=day))}" in page
    assert f"due {calendar.day_text(FIRST_DUE + timedelta(days=5))}" not in page

    _owed(organization_id, 90, total="10.005", first_due=FIRST_DUE + timedelta(100))
    at_100 = statements_for(app, client, "/portal/")
    assert at_100 == at_10
    page = client.get("/portal/").get_data(as_text=True)
    assert "95 more invoices to pay" in page
    # 670.50 + 90 * 10.005 = 1,570.95 (the sum rounded once, to the cent).
    assert "40.00 EUR, 1,570.95 USD owed on 100 invoices in all" in page


def test_the_balances_owed_are_summed_by_the_database_at_the_currency_s_digits(
    app: Flask, vendor: Any
) -> None:
    organization_id = vendor.organization_id
    _owed(organization_id, 3, total="1000", paid="1", currency="JPY")
    _owed(organization_id, 2, total="10.1234", paid="0.1", currency="USD")
    _owed(organization_id, 1, total="5", paid="9", currency="USD")  # overpaid: nothing owed
    _owed(organization_id, 1, total="7", currency="USD", state=UNCOLLECTIBLE)
    _owed(organization_id, 4, total="999", currency="USD", state=PAID)  # not owed
    with sent_by(app) as statements:
        count, balances = queries.outstanding_balances(db.session(), organization_id)
    assert [sql for sql in statements if sql.startswith("SELECT")] == statements[-1:]
    assert count == 7
    assert {currency: str(total) for currency, total in balances.items()} == {
        "JPY": "2997",
        "USD": "27.05",
    }
    owed = queries.outstanding(db.session(), organization_id, 2)
    assert [invoice.currency for invoice in owed.oldest] == ["JPY", "USD"]
    assert owed.oldest[0].due_date == FIRST_DUE
    assert (owed.count, owed.balances) == (count, balances)


def test_the_statement_run_reads_only_the_overdue_invoices_in_its_currency(
    app: Flask, vendor: Any
) -> None:
    organization_id = vendor.organization_id
    today = FIRST_DUE + timedelta(days=3)
    _owed(organization_id, 6)  # 1-6 September: three due before the 4th
    _owed(organization_id, 2, currency="EUR")
    _owed(organization_id, 2, state=PAID)
    found = queries.past_due_named(db.session(), organization_id, "USD", today, 20).overdue.named
    assert [invoice.due_date for invoice in found] == [
        FIRST_DUE,
        FIRST_DUE + timedelta(days=1),
        FIRST_DUE + timedelta(days=2),
    ]
    assert {invoice.currency for invoice in found} == {"USD"}
