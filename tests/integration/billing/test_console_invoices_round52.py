"""Round 52: a billing clerk finds invoices on the console's list without their numbers
(docs/billing.md, *Pages*). Chasing the week's money there was only "Overdue only": an
invoice due tomorrow was one row among every invoice, newest first. And a bank
statement's line names a transfer's reference, not an invoice: the search read only
numbers and organization names."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing.billing.models import Invoice
from tests.support.billing import credited, paid_offline
from tests.support.factories import bearer

# 12:00 on Monday 1 March 2027 at the office (Chicago, UTC-06:00 in winter).
MONDAY = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
ISSUED = date(2027, 1, 15)  # the day the billing tests' agreements are activated


def _due(invoice_for: Callable[..., Invoice], vendor: Any, day: date) -> Invoice:
    """An invoice of 100.00 issued on 15 January 2027, due on `day` (its terms)."""
    invoice = invoice_for(vendor, ("100.00",), terms=(day - ISSUED).days)
    assert invoice.due_date == day
    return invoice


@pytest.fixture
def clerk(app: Flask, signed_in: Any, billing_staff: Any) -> FlaskClient:
    """The console, signed in as billing staff."""
    client: FlaskClient = signed_in(app.test_client(), billing_staff)
    return client


def _listed(page: str) -> list[str]:
    return re.findall(r"INV-\d{4}-\d{6}", page)


def test_due_this_week_lists_the_invoices_to_pay_due_today_to_six_days_on_soonest_first(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    overdue = _due(invoice_for, vendor, date(2027, 2, 28)).label
    sunday = _due(invoice_for, vendor, date(2027, 3, 7)).label
    today = _due(invoice_for, vendor, date(2027, 3, 1)).label
    next_monday = _due(invoice_for, vendor, date(2027, 3, 8)).label
    paid = _due(invoice_for, vendor, date(2027, 3, 3))
    with time_machine.travel(MONDAY, tick=False):
        paid_offline(paid.id, "100.00", "FEDWIRE 1")
        console = signed_in(app.test_client(), billing_staff)
        everything = console.get("/console/invoices").get_data(as_text=True)
        answer = console.get("/console/invoices", query_string={"due_week": "1"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert set(_listed(everything)) >= {overdue, sunday, today, next_monday, paid.label}
    assert _listed(page) == [today, sunday]
    assert "<h1>Due this week</h1>" in page
    assert 'id="due_week" name="due_week" value="1" checked' in page


def test_the_console_search_finds_every_invoice_a_bank_reference_paid_and_the_api_reads_numbers(
    app: Flask,
    clerk: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    first, second = invoice_for(vendor, ("100.00",)), invoice_for(vendor, ("50.00",))
    unpaid, elsewhere = invoice_for(vendor, ("75.00",)), invoice_for(other_vendor, ("20.00",))
    paid_offline(first.id, "100.00", "FEDWIRE 0412-7731")
    paid_offline(second.id, "50.00", "FEDWIRE 0412-7731")
    paid_offline(elsewhere.id, "20.00", "FEDWIRE 0999-0001")
    answer = clerk.get("/console/invoices", query_string={"q": "0412-7731"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert sorted(_listed(page)) == sorted([first.label, second.label])
    assert unpaid.label not in page
    assert '<label for="q">Number, organization, payment reference or amount</label>' in page
    # The API's `q` keeps its meaning (numbers and names) for existing clients.
    api = app.test_client().get(
        "/api/v1/invoices", query_string={"q": "0412-7731"}, headers=bearer(billing_staff)
    )
    assert api.status_code == 200
    assert first.label not in api.get_data(as_text=True)


def test_an_invoice_paid_by_wire_offers_its_credit_notes_refund_only_offline(
    clerk: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """A clerk refunding part of an overpayment on a wire-paid invoice was offered "To the
    card that paid (Stripe)" first, on an invoice no card paid."""
    invoice = invoice_for(vendor, ("1000.00",))
    paid_offline(invoice.id, "1000.00", "FEDWIRE 0411-1001")
    credit = credited(invoice.id, "150.00", "Royalty report amended.")
    page = clerk.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    form = page[page.index(f"Refund credit note {credit.number}") :]
    how = form[form.index(f'id="refund-{credit.id}-method"') :]
    how = how[: how.index("</select>")]
    assert re.findall(r'<option[^>]*value="(\w+)"', how) == ["wire", "ach", "check"]


def test_the_console_home_counts_the_invoices_due_this_week_and_links_them(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    for day in (date(2027, 2, 28), date(2027, 3, 2), date(2027, 3, 7), date(2027, 3, 8)):
        _due(invoice_for, vendor, day)
    with time_machine.travel(MONDAY, tick=False):
        home = signed_in(app.test_client(), billing_staff).get("/console/").get_data(as_text=True)
    row = home[home.index("Invoices due this week") :]
    row = row[: row.index("</tr>")]
    assert 'href="/console/invoices?due_week=1"' in home
    assert '<td class="num">2</td>' in row
    assert "due 2027-03-02" in row
