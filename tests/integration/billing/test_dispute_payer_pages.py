"""What the licensee sees of an invoice whose card payment their bank disputed: the
invoice went from paid back to open, but while the office contests the money it does
not ask for it, and after a lost dispute it asks by the day it is owed again."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import links, services
from licensing.billing.models import Invoice, Payment
from licensing.billing.queries import disputes
from licensing.calendar import day_text
from licensing.mail.models import OutboxMessage
from tests.support.factories import billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import WITHDRAWN, charge_of, dispute_event
from .refund_support import deliver, paid_by_card
from .stripe_support import stripe_config

# A fixed day before the disputes dated in March 2027: passed only before 3 March 2027.
pytestmark = pytest.mark.usefixtures("before_the_disputes")

# Issued in the autumn, due 30 days later: overdue by any day these tests run.
ISSUED = datetime(2026, 9, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _disputed(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    *,
    status: str = "needs_response",
) -> Invoice:
    invoice = invoice_for(vendor, ("250.00",), at=ISSUED)
    payment: Payment = paid_by_card(client, vendor, localstripe, invoice)
    event_type = "charge.dispute.created" if status == "needs_response" else "charge.dispute.closed"
    event = dispute_event(
        event_type, payment, charge_of(localstripe, payment), status=status, moved=(WITHDRAWN,)
    )
    deliver(client, event)
    return invoice


def _page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    # The words as read: tags dropped, entities decoded, white space collapsed.
    words = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(words)).replace(" .", ".").replace(" :", ":")


def test_the_vendor_is_not_asked_to_pay_an_invoice_while_its_card_payments_dispute_is_open(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = _disputed(client, vendor, localstripe, invoice_for)
    portal = signed_in(app.test_client(), vendor)
    for url in (f"/portal/invoices/{invoice.id}", links.invoice_url(invoice)):
        page = _page(portal, url)
        assert "Your bank disputed the card payment" in page
        assert "we do not ask you to pay it while the dispute is open" in page
        assert "took the money back on March 2, 2027" in page
        assert "by card" not in page
        assert "How to pay" not in page
        # Long past its due date, but nobody is chasing it: no "overdue" badge.
        assert "days overdue" not in page
    listed = _page(portal, "/portal/invoices")
    assert "card payment disputed by your bank: not asked for" in listed
    assert "overdue" not in listed
    dashboard = _page(portal, "/portal/")
    assert f"Invoice {invoice.number}: card payment disputed by your bank" in dashboard
    assert "not asked for while the dispute is open" in dashboard
    assert f"Invoice {invoice.number} to pay" not in dashboard
    assert "days overdue" not in dashboard
    link = links.invoice_url(invoice).removeprefix("http://testserver")
    for payer, pay in ((portal, f"/portal/invoices/{invoice.id}/pay"), (client, f"{link}/pay")):
        refused = payer.get(pay)
        assert refused.status_code == 302
        followed = _page(payer, refused.headers["Location"])
        assert "is not asked to be paid while your bank's dispute" in followed


def test_after_a_lost_dispute_the_vendor_is_asked_to_pay_by_the_day_it_is_owed_again(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = _disputed(client, vendor, localstripe, invoice_for, status="lost")
    portal = signed_in(app.test_client(), vendor)
    (dispute,) = disputes(db.session(), invoice_id=invoice.id)
    assert dispute.owed_again_on is not None
    owed_again = day_text(dispute.owed_again_on)
    page = _page(portal, f"/portal/invoices/{invoice.id}")
    assert "Owed again after your bank's dispute" in page
    assert f"please pay it by {owed_again}" in page
    assert "Pay 250.00 USD by card" in page
    assert "How to pay" in page
    # Its issued due date is months past, but it is owed again only from `owed_again`.
    assert "days overdue" not in page
    listed = _page(portal, "/portal/invoices")
    # The list's cell keeps the day as a column of days does.
    assert f"owed again by {dispute.owed_again_on.isoformat()}" in listed
    assert "overdue" not in listed
    dashboard = _page(portal, "/portal/")
    assert f"250.00 USD owed again after your bank's dispute, due {owed_again}" in dashboard
    assert "days overdue" not in dashboard


def test_a_new_link_to_a_disputed_invoice_does_not_ask_the_billing_contact_to_pay_it(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = _disputed(client, vendor, localstripe, invoice_for)

    services.withdraw_invoice_links(
        invoice.id, reason="Forwarded by mistake", actor=billing_clerk()
    )

    (renewed,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "invoice_link_renewed")
    )
    assert "250.00 USD unpaid since your bank disputed its card payment" in renewed.body_text
    assert "USD to pay" not in renewed.body_text
    assert "pay by card" not in renewed.body_text
