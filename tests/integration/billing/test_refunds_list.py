"""Round 56 (refundlist56): the console had no list of refunds. A billing clerk asked
"did we send that refund? did it bounce?" had to find the invoice first, and the
refunds export was the only place every refund stood together. `/console/refunds`
lists every refund, card and offline: who, the invoice, the credit note (and card
payment) it gives back, amount, method, where it stands and its days; narrowed by
state, method, month and the licensee's name, a page at a time in a fixed number of
statements, its totals a month's *Net refunds* as the Finance page and the refunds
export count them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice, Payment, Refund
from licensing.billing.states import CARD, FAILED, PENDING, SUCCEEDED
from licensing.errors import ExternalServiceError
from licensing.finance import queries as finance
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import at, issue
from tests.support import console_lists, factories, settings
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.console_lists import words as _words
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe
from tests.support.statements import statements_for

from .refund_support import LostAnswer, paid_by_card
from .stripe_support import stripe_config

SignIn = Callable[..., FlaskClient]
LIST = "/console/refunds"


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _rows(markup: str) -> dict[int, str]:
    """The list's rows by refund id, each in words."""
    return console_lists.rows(markup, "refunds-list", "refund")


def _totals(markup: str) -> dict[str, list[str]]:
    """The totals table: each currency's count, sent, returned, net and pending."""
    return console_lists.totals(markup, "refund-totals")


def _listed(staff: FlaskClient, **filters: str) -> str:
    return console_lists.listed(staff, LIST, **filters)


# --- a month of refunds, every way they stand ------------------------------------------------


def _a_month_of_refunds(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> dict[str, Any]:
    """Around March 2027: Osprey's wire refund sent in February and returned by the bank
    on 4 March; its wire and check refunds sent in March; Heron's ACH refund sent on 2
    April; the vendor's card refund sent on 15 March, and another asked of Stripe on
    20 March whose answer was lost (pending)."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
    first = issue(osprey, "500.00", date(2027, 2, 1))
    paid_offline(
        first.id, "500.00", "W-IN-1", received_on=date(2027, 2, 2), now=at(date(2027, 2, 2))
    )
    note = credited(first.id, "300.00", "Seats removed", now=at(date(2027, 2, 5)))
    ids: dict[str, Any] = {"osprey": osprey, "heron": heron, "osprey_invoice": first.id}
    ids["bounced"] = refunded_offline(
        note.id, "100.00", "W-FEB", sent_on=date(2027, 2, 20), now=at(date(2027, 2, 20))
    ).id
    services.return_offline_refund(
        ids["bounced"],
        reason="Beneficiary account closed",
        returned_on=date(2027, 3, 4),
        now=at(date(2027, 3, 6)),
        actor=billing_clerk(),
    )
    ids["wire"] = refunded_offline(
        note.id, "150.00", "W-MAR", sent_on=date(2027, 3, 10), now=at(date(2027, 3, 10))
    ).id
    ids["check"] = refunded_offline(
        note.id,
        "50.00",
        "CHK-31",
        method="check",
        sent_on=date(2027, 3, 31),
        now=at(date(2027, 3, 31)),
    ).id
    second = issue(heron, "200.00", date(2027, 3, 1))
    paid_offline(
        second.id,
        "200.00",
        "ACH-IN",
        method="ach",
        received_on=date(2027, 3, 2),
        now=at(date(2027, 3, 2)),
    )
    heron_note = credited(second.id, "200.00", "Cancelled", now=at(date(2027, 3, 3)))
    ids["april"] = refunded_offline(
        heron_note.id,
        "200.00",
        "ACH-APR",
        method="ach",
        sent_on=date(2027, 4, 2),
        now=at(date(2027, 4, 2)),
    ).id
    with time_machine.travel(datetime(2027, 3, 15, 15, tzinfo=UTC), tick=False):
        card_invoice = invoice_for(vendor, ("90.00",))
        ids["payment"] = paid_by_card(client, vendor, localstripe, card_invoice).id
        card_note = services.issue_credit_note(
            card_invoice.id, amount=Decimal("90.00"), reason="Cancelled", actor=billing_clerk()
        )
        ids["card"] = services.refund_card(
            card_note.id, amount=Decimal("60.00"), actor=billing_clerk(), gateway=settings.gateway()
        ).id
    asked = datetime(2027, 3, 20, 15, tzinfo=UTC)
    with time_machine.travel(asked, tick=False), pytest.raises(ExternalServiceError):
        services.refund_card(
            card_note.id, actor=billing_clerk(), gateway=LostAnswer(settings.gateway())
        )
    (ids["pending"],) = db.session().scalars(
        select(Refund.id).where(Refund.credit_note_id == card_note.id, Refund.state == PENDING)
    )
    ids["card_invoice"] = card_invoice.id
    return ids


def test_a_billing_clerk_finds_every_refund_card_and_offline_with_where_it_stands_and_its_records(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: SignIn,
) -> None:
    ids = _a_month_of_refunds(client, vendor, localstripe, invoice_for)
    staff = signed_in(app.test_client(), billing_staff)
    # The console's navigation leads to it.
    home = staff.get("/console/").get_data(as_text=True)
    assert f'href="{LIST}"' in home

    page = _listed(staff)
    rows = _rows(page)
    # Newest first (by when each was recorded or asked of Stripe).
    assert list(rows) == [
        ids["april"],
        ids["check"],
        ids["pending"],
        ids["card"],
        ids["wire"],
        ids["bounced"],
    ]
    bounced = rows[ids["bounced"]]
    assert "Osprey Analytics Inc." in bounced
    assert "Wire transfer W-FEB" in bounced
    assert "Returned by the bank Beneficiary account closed" in bounced
    assert "Sent 2027-02-20" in bounced
    assert "Returned 2027-03-04" in bounced
    assert "Sent Card payment" not in bounced
    card = rows[ids["card"]]
    assert "Card (Stripe)" in card
    assert "Sent 2027-03-15" in card
    assert re.search(r"to the card payment of INV-\S+ \(Visa ending 4242\)", card), card
    assert "Pending at Stripe" in rows[ids["pending"]]
    assert "Sent 2027-04-02" in rows[ids["april"]]
    assert "Heron Labs LLC" in rows[ids["april"]]

    # Each row links its records: the invoice's page at the refund's row, its credit
    # note, the card payment it gives back, the licensee.
    assert f'href="/console/invoices/{ids["osprey_invoice"]}#refund-{ids["bounced"]}"' in page
    assert f'href="/console/payments/{ids["payment"]}"' in page
    assert f'href="/console/organizations/{ids["osprey"]}"' in page
    # Round 56's merge: its credit note's console page (credits56), not only the PDF.
    assert re.search(r'href="/console/credit-notes/\d+"', page)
    invoice_page = staff.get(f"/console/invoices/{ids['osprey_invoice']}").get_data(as_text=True)
    assert f'<tr id="refund-{ids["bounced"]}">' in invoice_page

    # Filtered: where it stands, how it went, the licensee's name (any case), a month.
    assert list(_rows(_listed(staff, state="returned"))) == [ids["bounced"]]
    assert list(_rows(_listed(staff, state="pending"))) == [ids["pending"]]
    assert list(_rows(_listed(staff, state="sent", method="card"))) == [ids["card"]]
    assert list(_rows(_listed(staff, method="check"))) == [ids["check"]]
    assert list(_rows(_listed(staff, licensee="heron labs"))) == [ids["april"]]
    # March: sent in it, returned in it, or started in it and never sent; not April's.
    march = _rows(_listed(staff, month="2027-03", licensee="osprey"))
    assert list(march) == [ids["check"], ids["wire"], ids["bounced"]]
    assert list(_rows(_listed(staff, month="2027-02"))) == [ids["bounced"]]


def test_the_lists_totals_for_a_month_are_the_finance_pages_net_refunds_and_the_refunds_export(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: SignIn,
) -> None:
    """March: the wire of 150.00 and check of 50.00 and the card's 60.00 sent, the
    wire of 100.00 sent in February returned on 4 March: 260.00 sent, 100.00
    returned, 160.00 net, as the Finance page's *Net refunds* of March and the refunds
    export's rows by day sent less those by day returned; the refund pending at Stripe
    (30.00) counts in neither."""
    _a_month_of_refunds(client, vendor, localstripe, invoice_for)
    staff = signed_in(app.test_client(), billing_staff)
    page = _listed(staff, month="2027-03")
    # The Finance page and the export read in May, the month over.
    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        (figures,) = finance.cash_flow(
            db.session(), finance.Filters(date(2027, 3, 1), date(2027, 3, 1), currency="USD")
        )

        def export(by: str) -> Decimal:
            answer = client.get(
                "/api/v1/exports/refunds",
                query_string={
                    "format": "jsonl",
                    "currency": "USD",
                    "by": by,
                    "from": "2027-03-01",
                    "to": "2027-03-31",
                },
                headers=bearer(billing_staff),
            )
            assert answer.status_code == 200, answer.get_data(as_text=True)
            return sum(
                (Decimal(row["amount"]) for row in read_jsonl(answer.get_data())[1]), Decimal(0)
            )

        sent, returned = export("paid"), export("reversed")
    count, *amounts = _totals(page)["USD"]
    assert count == "5"  # the three sent, the one returned, the one pending
    assert amounts == ["260.00 USD", "100.00 USD", "160.00 USD", "30.00 USD"]
    assert (sent, returned) == (Decimal("260.00"), Decimal("100.00"))
    assert figures.refunded == sent - returned == Decimal("160.00")


# --- no query per row -------------------------------------------------------------------


def _refunds(
    invoice: Invoice, note: CreditNote, payment: Payment, count: int, start: int = 0
) -> None:
    """`count` refunds of `note`, written as rows: card ones to `payment` and wire ones,
    sent, pending, returned and failed in turn."""
    session = db.session()
    for index in range(start, start + count):
        card = index % 2 == 0
        state = (SUCCEEDED, PENDING, FAILED, SUCCEEDED)[index % 4]
        session.add(
            Refund(
                invoice_id=invoice.id,
                organization_id=invoice.organization_id,
                credit_note_id=note.id,
                payment_id=payment.id if card else None,
                method=CARD if card else "wire",
                state=state,
                currency="USD",
                amount=Decimal("1.00"),
                reference=None if card else f"W-{index:04d}",
                stripe_refund_id=f"re_{index:04d}" if card else None,
                recorded_by="billing@example.com",
                sent_on=date(2027, 3, 10) if state != PENDING else None,
                settled_at=at(date(2027, 3, 10)) if state != PENDING else None,
            )
        )
    session.commit()


def test_the_refunds_list_runs_the_same_statements_at_10_and_100_refunds(
    app: Flask, vendor: User, billing_staff: User, signed_in: SignIn
) -> None:
    organization = vendor.organization_id
    invoice = issue(organization, "5000.00", date(2027, 2, 1))
    payment = Payment(
        invoice_id=invoice.id,
        organization_id=organization,
        method=CARD,
        state=SUCCEEDED,
        currency="USD",
        amount=Decimal("5000.00"),
        stripe_payment_intent_id="pi_refunds_list",
        card_brand="visa",
        card_last4="4242",
        recorded_by="vendor@example.com",
        settled_at=at(date(2027, 2, 2)),
    )
    db.session().add(payment)
    db.session().commit()
    note = credited(invoice.id, "200.00", "Seats removed", now=at(date(2027, 2, 5)))
    _refunds(invoice, note, payment, 10)
    staff = signed_in(app.test_client(), billing_staff)
    urls = (LIST, f"{LIST}?month=2027-03&licensee=a", f"{LIST}?state=returned&method=card")
    at_10 = [statements_for(app, staff, url) for url in urls]
    _refunds(invoice, note, payment, 90, start=10)
    at_100 = [statements_for(app, staff, url) for url in urls]
    assert at_100 == at_10
    assert len(_rows(_listed(staff))) == 50


# --- who may read it, and what it refuses ----------------------------------------------


def test_billing_readers_open_the_refunds_list_and_a_vendor_may_not(
    app: Flask,
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    signed_in: SignIn,
) -> None:
    """The staff who read refunds on an invoice's page (billing and licensing staff,
    and admins) read the list; a vendor is refused, and finds no link."""
    for reader in (billing_staff, licensing_staff):
        assert signed_in(app.test_client(), reader).get(LIST).status_code == 200
    refused = signed_in(app.test_client(), vendor)
    assert refused.get(LIST).status_code == 403
    assert f'href="{LIST}"' not in refused.get("/portal/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "status", "field", "said"),
    [
        ("state=bounced", 422, "state", "State takes one of: Pending at Stripe, Sent"),
        ("method=paypal", 422, "method", "Method takes one of: Card (Stripe), Wire transfer"),
        ("month=2027-13", 422, "month", "takes a month such as 2027-03; the link gave “2027-13”"),
        ("month=March", 422, "month", "the link gave “March”"),
        ("state=sent&state=pending", 400, "state", "State takes one value, and the link gave it 2"),
    ],
)
def test_a_filter_the_list_does_not_offer_is_refused_beside_its_field_listing_nothing(
    app: Flask,
    billing_staff: User,
    signed_in: SignIn,
    query: str,
    status: int,
    field: str,
    said: str,
) -> None:
    answer = signed_in(app.test_client(), billing_staff).get(f"{LIST}?{query}")
    assert answer.status_code == status
    markup = answer.get_data(as_text=True)
    assert f'id="{field}-error"' in markup
    assert said in _words(markup)
    assert "Nothing is listed until the filters above are corrected." in markup
