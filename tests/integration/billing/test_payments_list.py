"""Round 57 (payments57): the console had no list of payments. A payment stood on its
invoice's page and its own page, the card payments to review in a queue of their own,
and all together only in the payments export; the Finance page's *Collected* and
*Reversed* could lead to no rows. `/console/payments` lists every payment, card and
offline: its licensee, invoice, method (the card as pages name it), amount, state as its
page says it and day, newest first, narrowed by the licensee's name, state, method,
month (or a range of months) and currency, a page at a time in a fixed number of
statements; its totals are the Finance page's *Collected* and *Reversed* and the
payments export's rows for the same days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice, Payment, PaymentReversal
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.finance import queries as finance
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import at, issue
from tests.support import console_lists, factories, settings
from tests.support.billing import paid_offline, reversed_offline
from tests.support.console_lists import words as _words
from tests.support.copies import copy_invoice, copy_row
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe
from tests.support.statements import statements_for

from .dispute_support import WITHDRAWN, dispute_event, paid_with_charge
from .refund_support import deliver
from .stripe_support import stripe_config

SignIn = Callable[..., FlaskClient]
LIST = "/console/payments"


def _rows(markup: str) -> dict[int, str]:
    """The list's rows by payment id, each in words."""
    return console_lists.rows(markup, "payments-list", "payment")


def _totals(markup: str) -> dict[str, list[str]]:
    """The totals table: each currency's count, collected, reversed and net."""
    return console_lists.totals(markup, "payment-totals")


def _listed(staff: FlaskClient, **filters: str) -> str:
    return console_lists.listed(staff, LIST, **filters)


def _payments() -> dict[str, int]:
    """February to April 2027: Osprey's wire of 500.00 received on 2 February; its
    cheque of 300.00 received on 5 March and returned by the bank on 20 March; Heron's
    EUR wire of 400.00 received on 10 March; Heron's ACH of 600.00 received on
    2 April."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
    february = issue(osprey, "500.00", date(2027, 2, 1))
    ids = {"osprey": osprey, "february_invoice": february.id}
    ids["wire"] = paid_offline(
        february.id, "500.00", "W-IN-1", received_on=date(2027, 2, 2), now=at(date(2027, 2, 2))
    ).id
    march = issue(osprey, "300.00", date(2027, 3, 1))
    ids["cheque"] = paid_offline(
        march.id, "300.00", "CHK-7", "check", received_on=date(2027, 3, 5), now=at(date(2027, 3, 5))
    ).id
    reversed_offline(
        ids["cheque"], "Cheque bounced", returned_on=date(2027, 3, 20), now=at(date(2027, 3, 21))
    )
    euros = issue(heron, "400.00", date(2027, 3, 2), currency="EUR")
    ids["euros"] = paid_offline(
        euros.id, "400.00", "W-EUR", received_on=date(2027, 3, 10), now=at(date(2027, 3, 10))
    ).id
    april = issue(heron, "600.00", date(2027, 4, 1))
    ids["ach"] = paid_offline(
        april.id, "600.00", "ACH-4", "ach", received_on=date(2027, 4, 2), now=at(date(2027, 4, 2))
    ).id
    return ids


def test_a_billing_clerk_finds_every_offline_payment_with_its_method_state_and_day(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    ids = _payments()
    staff = signed_in(app.test_client(), billing_staff)
    # The console's navigation leads to it.
    assert f'href="{LIST}"' in staff.get("/console/").get_data(as_text=True)

    page = _listed(staff)
    rows = _rows(page)
    # Newest first, by when recorded.
    assert list(rows) == [ids["ach"], ids["euros"], ids["cheque"], ids["wire"]]
    cheque = rows[ids["cheque"]]
    assert "Osprey Analytics Inc." in cheque
    assert "Check CHK-7" in cheque
    assert "300.00 USD" in cheque
    # Reversed, as its page says, with what the bank returned and when.
    assert "reversed 300.00 USD returned 2027-03-20" in cheque
    assert "Paid 2027-03-05" in cheque
    assert "succeeded" in rows[ids["wire"]]
    assert "400.00 EUR" in rows[ids["euros"]]
    assert "ACH transfer ACH-4" in rows[ids["ach"]]
    # Each row links the payment's page, its invoice and its licensee.
    assert f'href="/console/payments/{ids["wire"]}"' in page
    assert f'href="/console/invoices/{ids["february_invoice"]}"' in page
    assert f'href="/console/organizations/{ids["osprey"]}"' in page

    # Filtered: the month (paid or returned in it), with a currency, a range of months,
    # the state, the method and the licensee's name (any case).
    assert list(_rows(_listed(staff, month="2027-03"))) == [ids["euros"], ids["cheque"]]
    assert list(_rows(_listed(staff, month="2027-03", currency="usd"))) == [ids["cheque"]]
    range_usd = _listed(staff, **{"from": "2027-02", "to": "2027-03", "currency": "USD"})
    assert list(_rows(range_usd)) == [ids["cheque"], ids["wire"]]
    assert list(_rows(_listed(staff, **{"from": "2027-04"}))) == [ids["ach"]]
    assert list(_rows(_listed(staff, state="reversed"))) == [ids["cheque"]]
    assert list(_rows(_listed(staff, state="succeeded"))) == [
        ids["ach"],
        ids["euros"],
        ids["wire"],
    ]
    assert list(_rows(_listed(staff, method="wire"))) == [ids["euros"], ids["wire"]]
    assert list(_rows(_listed(staff, licensee="heron labs"))) == [ids["ach"], ids["euros"]]
    assert "No payment matches." in _listed(staff, state="disputed")
    assert "No payment matches." in _listed(staff, licensee="nobody of that name")


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_card_payment_is_named_by_its_card_and_reads_refunded_and_disputed_as_its_page(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    signed_in: SignIn,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """A card payment of 250.00, 40.00 of it refunded on a credit note and 100.00
    withdrawn by the bank's dispute: the row says the card as the pages name it, the
    refund beside the amount and *disputed in part*, as the payment's page does."""
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Overbilled", actor=billing_clerk()
    )
    services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    deliver(
        client,
        dispute_event(
            "charge.dispute.funds_withdrawn", payment, charge, amount=10000, moved=(WITHDRAWN,)
        ),
    )
    today = office_date(utcnow())
    offline = issue(vendor.organization_id, "70.00", today)
    wire = paid_offline(offline.id, "70.00", "W-70", received_on=today).id
    staff = signed_in(app.test_client(), billing_staff)
    row = _rows(_listed(staff))[payment.id]
    assert "Card (Visa ending 4242)" in row
    assert payment.stripe_payment_intent_id in row
    assert "250.00 USD 40.00 USD refunded" in row
    assert "disputed in part 100.00 USD withdrawn" in row
    assert f'href="/console/payments/{payment.id}"' in _listed(staff)
    # Its page says the same.
    detail = _words(staff.get(f"/console/payments/{payment.id}").get_data(as_text=True))
    assert "disputed in part" in detail
    assert "40.00 USD refunded" in detail
    # Its states and method find it, and not the wire.
    for state in ("disputed", "refunded"):
        assert list(_rows(_listed(staff, state=state))) == [payment.id], state
    assert "No payment matches." in _listed(staff, state="reversed")
    assert list(_rows(_listed(staff, method="card"))) == [payment.id]
    assert set(_rows(_listed(staff))) == {payment.id, wire}


def test_the_lists_totals_for_a_month_are_the_finance_pages_collected_and_reversed_and_the_export(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: SignIn
) -> None:
    """March: 300.00 USD collected (the cheque, counted on the day it came though the
    bank returned it since) and 300.00 reversed, 400.00 EUR collected: the list's
    totals, the Finance page's *Collected* and *Reversed* of March in each currency
    and the payments export's rows of March; and February to April in USD, the range
    the Finance page links: 1,400.00 collected, 300.00 reversed, each way."""
    _payments()
    staff = signed_in(app.test_client(), billing_staff)
    march = _totals(_listed(staff, month="2027-03"))
    assert march == {
        "EUR": ["1", "400.00 EUR", "0.00 EUR", "400.00 EUR"],
        "USD": ["1", "300.00 USD", "300.00 USD", "0.00 USD"],
    }
    months = {"from": "2027-02", "to": "2027-04", "currency": "USD"}
    ranged = _totals(_listed(staff, **months))
    assert ranged == {"USD": ["3", "1,400.00 USD", "300.00 USD", "1,100.00 USD"]}

    def export(currency: str, start: str, end: str, by: str) -> list[dict[str, Any]]:
        answer = client.get(
            "/api/v1/exports/payments",
            query_string={
                "format": "jsonl",
                "currency": currency,
                "by": by,
                "from": start,
                "to": end,
            },
            headers=bearer(billing_staff),
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return read_jsonl(answer.get_data())[1]

    def collected(currency: str, start: str, end: str) -> Decimal:
        rows = export(currency, start, end, "paid")
        kept = (row for row in rows if row["state"] in ("succeeded", "reversed"))
        return sum((Decimal(row["amount"]) for row in kept), Decimal(0))

    def reversed_(currency: str, start: str, end: str) -> Decimal:
        rows = export(currency, start, end, "reversed")
        return sum((Decimal(row["reversed_amount"]) for row in rows), Decimal(0))

    def figures(currency: str, first: date, last: date) -> tuple[Decimal, Decimal]:
        rows = finance.cash_flow(db.session(), finance.Filters(first, last, currency=currency))
        return (
            sum((row.collected for row in rows), Decimal(0)),
            sum((row.reversed for row in rows), Decimal(0)),
        )

    def amount(text: str, currency: str) -> Decimal:
        return Decimal(text.removesuffix(f" {currency}").replace(",", ""))

    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        for currency in ("USD", "EUR"):
            listed = (amount(march[currency][1], currency), amount(march[currency][2], currency))
            assert listed == figures(currency, date(2027, 3, 1), date(2027, 3, 1))
            assert listed == (
                collected(currency, "2027-03-01", "2027-03-31"),
                reversed_(currency, "2027-03-01", "2027-03-31"),
            )
        figure = figures("USD", date(2027, 2, 1), date(2027, 4, 1))
        assert figure == (Decimal("1400.00"), Decimal("300.00"))
        assert figure == (
            collected("USD", "2027-02-01", "2027-04-30"),
            reversed_("USD", "2027-02-01", "2027-04-30"),
        )


# --- no query per row -------------------------------------------------------------------


def _many(organization_id: int, count: int, start: int) -> None:
    """`count` invoices, each paid by wire in March; every third reversed. One of
    each kind through the services; the others copies of its rows (the invoice and
    its lines, the payment, its reversal), which is all the list reads of them:
    making 60 through the services was most of the test's time."""
    session = db.session()
    payments, reversals = Payment.__table__, PaymentReversal.__table__
    made: dict[bool, tuple[int, int]] = {}
    for index in range(start, start + count):
        returned = index % 3 == 0
        if returned not in made:
            invoice = issue(organization_id, "100.00", date(2027, 3, 1))
            payment = paid_offline(
                invoice.id,
                "100.00",
                f"W-{index}",
                received_on=date(2027, 3, 2),
                now=at(date(2027, 3, 2)),
            )
            if returned:
                reversed_offline(
                    payment.id, "Returned", returned_on=date(2027, 3, 9), now=at(date(2027, 3, 9))
                )
            made[returned] = (invoice.id, payment.id)
            continue
        invoice_id, payment_id = made[returned]
        copy = copy_invoice(invoice_id, number=f"INV-2027-P{index:05d}")
        paid_copy = copy_row(
            payments,  # type: ignore[arg-type]
            payments.c.id == payment_id,  # type: ignore[attr-defined]
            invoice_id=copy,
            reference=f"W-{index}",
        )
        if returned:
            copy_row(
                reversals,  # type: ignore[arg-type]
                reversals.c.payment_id == payment_id,  # type: ignore[attr-defined]
                payment_id=paid_copy,
                invoice_id=copy,
            )
    session.commit()


def test_the_payments_list_runs_the_same_statements_at_10_and_60_payments(
    app: Flask, vendor: User, billing_staff: User, signed_in: SignIn
) -> None:
    staff = signed_in(app.test_client(), billing_staff)
    _many(vendor.organization_id, 10, 0)
    urls = (
        LIST,
        f"{LIST}?month=2027-03&licensee=a&state=reversed",
        f"{LIST}?from=2027-01&currency=USD&method=wire",
    )
    at_10 = [statements_for(app, staff, url) for url in urls]
    _many(vendor.organization_id, 50, 10)
    at_60 = [statements_for(app, staff, url) for url in urls]
    assert at_60 == at_10
    assert len(_rows(_listed(staff))) == 50


# --- who may read it, and what it refuses ----------------------------------------------


def test_billing_and_licensing_staff_open_the_payments_list_and_a_vendor_may_not(
    app: Flask,
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    signed_in: SignIn,
) -> None:
    """The staff who read a payment's page (billing and licensing staff, and admins)
    read the list; a vendor is refused, and finds no link."""
    for reader in (billing_staff, licensing_staff):
        assert signed_in(app.test_client(), reader).get(LIST).status_code == 200
    refused = signed_in(app.test_client(), vendor)
    assert refused.get(LIST).status_code == 403
    assert f'href="{LIST}"' not in refused.get("/portal/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "status", "field", "said"),
    [
        ("month=2027-13", 422, "month", "Month (paid, returned or started) takes a month"),
        ("from=March", 422, "from", "From month takes a month such as 2027-03"),
        ("from=2027-05&to=2027-03", 422, "to", "To month cannot come before from month."),
        ("month=2027-03&to=2027-04", 422, "month", "give one month, or From month and To month"),
        ("currency=dollars", 422, "currency", "Currency takes a currency's code such as USD"),
        ("state=bounced", 422, "state", "State"),
        ("method=bitcoin", 422, "method", "Method"),
        ("state=reversed&state=failed", 400, "state", "State takes one value"),
    ],
)
def test_a_filter_the_payments_list_cannot_read_is_refused_beside_its_field(
    app: Flask,
    billing_staff: User,
    signed_in: SignIn,
    query: str,
    status: int,
    field: str,
    said: str,
) -> None:
    _payments()
    answer = signed_in(app.test_client(), billing_staff).get(f"{LIST}?{query}")
    assert answer.status_code == status
    markup = answer.get_data(as_text=True)
    assert f'id="{field}-error"' in markup
    assert said in _words(markup)
    assert "Nothing is listed until the filters above are corrected." in markup
    assert 'id="payments-list"' not in markup
