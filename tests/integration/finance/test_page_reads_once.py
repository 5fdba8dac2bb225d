"""Round 56 (finance56b): the Finance page timed through the client at 30,008
invoices read the range's payments twice (the cash flow, then the top licensees) and
asked the disputes of every invoice of the currency, twice, for the aging (correlated
subqueries over every invoice, where a handful have a dispute). Now the payments are
read once for both, and the dispute reads ask only the invoices that have a dispute,
as a set read once. The figures are held by the finance tests and the pin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.plans import sent_with_values

YEAR = "/console/finance/?from=2027-01&to=2027-12&currency=USD&as_of=2027-12-31"


def _paid_and_unpaid() -> None:
    organization = factories.make_organization(db.session()).id
    paid = issue(organization, "400.00", date(2027, 2, 3))
    paid_offline(paid.id, "400.00", "W-1", received_on=date(2027, 2, 9), now=at(date(2027, 2, 9)))
    issue(organization, "250.00", date(2027, 3, 4))


def test_the_page_reads_the_ranges_payments_once_and_the_disputes_of_disputed_invoices_only(
    app: Flask,
    client: FlaskClient,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    _paid_and_unpaid()
    signed_in(client, billing_staff)
    with sent_with_values(app.extensions["licensing.db"].engine) as statements:
        response = client.get(YEAR)
    assert response.status_code == 200
    assert "400.00" in response.get_data(as_text=True)
    payments_read = [
        sql
        for sql, _values in statements
        if sql.lstrip().startswith("SELECT payments.invoice_id, payments.organization_id")
    ]
    assert len(payments_read) == 1, payments_read
    disputes_asked = [sql for sql, _values in statements if "FROM payment_disputes" in sql]
    assert len(disputes_asked) == 2, disputes_asked
    for sql in disputes_asked:
        # The invoices with a dispute, read once as a set, bound each statement.
        assert "invoices.id IN (SELECT payment_disputes.invoice_id" in sql, sql
