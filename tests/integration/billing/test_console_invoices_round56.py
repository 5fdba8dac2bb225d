"""Round 56: a licensee phones the office about an invoice and names the sum, not its
number (docs/billing.md, *Pages*; docs/journeys.md, "Round 56: a new billing clerk's
first week"). The console's search read numbers, names and bank references: "14,400.00"
found nothing, so the clerk paged through every invoice of the organization."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.billing.models import Invoice
from licensing.billing.queries import searched_amount
from tests.support.billing import credited, paid_offline


@pytest.fixture
def clerk(app: Flask, signed_in: Any, billing_staff: Any) -> FlaskClient:
    """The console, signed in as billing staff."""
    client: FlaskClient = signed_in(app.test_client(), billing_staff)
    return client


def _listed(clerk: FlaskClient, search: str) -> list[str]:
    answer = clerk.get("/console/invoices", query_string={"q": search})
    assert answer.status_code == 200
    return sorted(set(re.findall(r"INV-\d{4}-\d{6}", answer.get_data(as_text=True))))


@pytest.mark.parametrize(
    "typed", ["14,400.00", "14400", "$14,400.00", "14400.00 USD", "USD 14,400"]
)
def test_the_console_search_finds_an_invoice_by_its_total_however_the_amount_is_typed(
    clerk: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    invoice_for: Callable[..., Invoice],
    typed: str,
) -> None:
    wanted = invoice_for(vendor, ("14000.00", "400.00"))
    invoice_for(vendor, ("14400.50",))
    elsewhere = invoice_for(other_vendor, ("14400.00",))
    assert _listed(clerk, typed) == sorted([wanted.label, elsewhere.label])


def test_the_console_search_finds_an_invoice_by_a_payment_or_a_credit_note_of_the_amount(
    clerk: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """ "We sent you 4,000 last week": the payment's amount finds its invoice; and the
    credit note's amount the invoice it credits."""
    paid = invoice_for(vendor, ("9000.00",))
    paid_offline(paid.id, "4000.00", "CHK 1188", method="check")
    credit = invoice_for(vendor, ("700.00",))
    credited(credit.id, "216.00", "One month's late fee waived.")
    invoice_for(vendor, ("300.00",))
    assert _listed(clerk, "4,000.00") == [paid.label]
    assert _listed(clerk, "216") == [credit.label]


def test_a_search_that_is_no_amount_still_reads_numbers_names_and_references(
    clerk: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("100.00",))
    assert _listed(clerk, invoice.label) == [invoice.label]
    assert searched_amount(invoice.label) is None
    assert searched_amount("FEDWIRE 0412-7731") is None
    assert searched_amount("1,40,0.00") is None
    assert searched_amount("1" * 30) is None  # beyond any stored amount: no amount
    assert str(searched_amount("$1,234.5")) == "1234.5"
