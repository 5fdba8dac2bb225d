"""Round 57 (homeread57): the Finance page's currency filter read the currencies of
issued invoices with `SELECT DISTINCT currency`, a scan of every invoice on every view
(20-50 ms at 30,000 invoices, finance56b). finance_0003 indexes the invoices by
(currency, state) and `finance.queries.currencies` reads one entry or so a currency,
each the first issued invoice's after the currency before. The currencies listed must
be the same: those of issued invoices, a currency whose every invoice is void left
out.

Round 58 (plans58b): on PostgreSQL the plan is priced on rows that decide it, 2,000
issued invoices in the four currencies beside the few of `_varied`, ANALYZEd in the
test's transaction (`plans.analyzed`), not on the counts earlier tests left in
`pg_class`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.finance import queries as finance
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.factories import billing_clerk
from tests.support.plans import analyzed, copied, plan_of, sent_with_values


def _every_invoice_read() -> list[str]:
    """The reading before round 57: every invoice's currency, the void left out."""
    issued = Invoice.state.not_in(finance.NOT_COUNTED)
    return sorted(db.session().scalars(select(Invoice.currency).where(issued).distinct()))


def _varied() -> None:
    """Invoices in five currencies: USD open and paid, EUR open beside a void, JPY
    paid, CHF only void, and GBP issued after a void of its own."""
    first = factories.make_organization(db.session()).id
    second = factories.make_organization(db.session()).id
    issue(first, "100.00", date(2027, 1, 5))
    paid = issue(second, "250.00", date(2027, 1, 6))
    paid_offline(paid.id, "250.00", "W-1", received_on=date(2027, 1, 9), now=at(date(2027, 1, 9)))
    issue(first, "90.00", date(2027, 1, 7), currency="EUR")
    yen = issue(second, "12000", date(2027, 1, 8), currency="JPY")
    paid_offline(yen.id, "12000", "W-2", received_on=date(2027, 1, 10), now=at(date(2027, 1, 10)))
    for currency in ("CHF", "EUR", "GBP"):
        voided = issue(first, "75.00", date(2027, 1, 11), currency=currency)
        billing.void_invoice(
            voided.id, reason="Issued in error", now=at(date(2027, 1, 12)), actor=billing_clerk()
        )
    issue(second, "60.00", date(2027, 1, 13), currency="GBP")


def test_the_filter_lists_the_currencies_the_whole_table_gives(
    app: Flask,
    client: FlaskClient,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    assert finance.currencies(db.session()) == _every_invoice_read() == []
    _varied()

    assert finance.currencies(db.session()) == _every_invoice_read() == ["EUR", "GBP", "JPY", "USD"]
    page = signed_in(client, billing_staff).get("/console/finance/?currency=GBP")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for currency in ("EUR", "GBP", "JPY", "USD"):
        assert f'<option value="{currency}"' in text, currency
    assert '<option value="CHF"' not in text


def test_the_currencies_are_read_by_the_currency_index_not_from_every_invoice(
    app: Flask,
) -> None:
    """The statement's plan, with its values: the (currency, state) index, no scan of
    the invoices table (on PostgreSQL priced out, as at size)."""
    _varied()
    first = db.session().scalars(select(func.min(Invoice.id))).one()
    currencies = ("EUR", "GBP", "JPY", "USD")
    copied(
        Invoice.__table__,
        first,
        2000,
        lambda n: {"number": f"COPY-{n}", "currency": currencies[n % len(currencies)]},
    )
    analyzed("invoices")
    with sent_with_values(db.session().get_bind()) as caught:
        assert finance.currencies(db.session()) == ["EUR", "GBP", "JPY", "USD"]
    [(sql, values)] = [(sql, values) for sql, values in caught if "FROM invoices" in sql]
    plan = plan_of(sql, values)
    assert any("ix_invoices_currency_state" in line for line in plan), plan
    # Every read of the invoices by that index (SQLite walks it in order from the
    # start for the first currency, stopping at the first issued invoice).
    reads = [
        line
        for line in plan
        if "SCAN invoices" in line or "SEARCH invoices" in line or " on invoices" in line
    ]
    assert reads, plan
    assert all("ix_invoices_currency_state" in line for line in reads), plan
