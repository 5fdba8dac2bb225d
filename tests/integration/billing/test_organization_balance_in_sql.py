"""Round 49: the console's organization page said the balance owed by reading every
invoice still collectible and summing `balance_due` in Python. It is summed in SQL
(`queries.outstanding_balances`): the same figure, a `Decimal` at the currency's digits,
one statement however many invoices there are."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import queries
from licensing.billing.models import Invoice
from licensing.billing.states import COLLECTIBLE
from tests.support.billing import credited, paid_offline
from tests.support.statements import statements_for

SignIn = Callable[..., FlaskClient]


def _python_balance(organization_id: int) -> dict[str, Decimal]:
    """The sum as the page made it before: every collectible invoice read."""
    balance: dict[str, Decimal] = {}
    collectible = select(Invoice).where(
        Invoice.organization_id == organization_id, Invoice.state.in_(sorted(COLLECTIBLE))
    )
    for invoice in db.session().scalars(collectible):
        balance[invoice.currency] = balance.get(invoice.currency, Decimal(0)) + invoice.balance_due
    return balance


def test_the_balance_owed_is_summed_in_sql_to_the_same_figure_at_the_currencys_digits(
    app: Flask,
    vendor: User,
    other_vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: SignIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    organization_id = vendor.organization_id
    part_paid = invoice_for(vendor, ("1200.00", "350.50"))
    paid_offline(part_paid.id, "500.25", "WIRE-1")
    credited(part_paid.id, "100.10", "A line billed twice.")
    paid = invoice_for(vendor, ("99.99",))
    paid_offline(paid.id, "99.99", "WIRE-2")  # paid: owes nothing, not collectible
    invoice_for(vendor, ("0.01",), currency="EUR")
    invoice_for(vendor, ("250.00",), currency="EUR")
    invoice_for(other_vendor, ("7777.00",))  # another organization's
    before = _python_balance(organization_id)
    owed = queries.outstanding_balances(db.session(), organization_id)[1]
    assert owed == before == {"EUR": Decimal("250.01"), "USD": Decimal("950.15")}
    assert all(isinstance(amount, Decimal) for amount in owed.values())
    assert [amount.as_tuple().exponent for amount in owed.values()] == [-2, -2]
    assert list(owed) == ["EUR", "USD"]

    def every_invoice(*args: object) -> None:
        raise AssertionError("the organization page read every invoice to sum its balance")

    monkeypatch.setattr(queries, "outstanding", every_invoice)
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(f"/console/organizations/{organization_id}").get_data(as_text=True)
    said = re.search(r"<strong>Balance owed:</strong>(.*?)</p>", page, re.S)
    assert said is not None
    words = " ".join(re.sub(r"<[^>]+>", " ", said[1]).split())
    assert "250.01" in words
    assert "950.15" in words


def test_the_organization_page_sums_the_balance_in_the_same_statements_at_10_and_100_invoices(
    app: Flask,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: SignIn,
) -> None:
    for _ in range(10):
        invoice_for(vendor, ("10.00",))
    staff = signed_in(app.test_client(), billing_staff)
    url = f"/console/organizations/{vendor.organization_id}"
    at_10 = statements_for(app, staff, url)
    _count, owed = queries.outstanding_balances(db.session(), vendor.organization_id)
    assert owed == {"USD": Decimal("100.00")}
    for _ in range(90):
        invoice_for(vendor, ("10.00",))
    assert statements_for(app, staff, url) == at_10
    _count, owed = queries.outstanding_balances(db.session(), vendor.organization_id)
    assert owed == {"USD": Decimal("1000.00")}
