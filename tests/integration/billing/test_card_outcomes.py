"""What a card payment's outcome looks like to the payer (localstripe): the
status the pay page polls, the card's brand and last four kept from Stripe's
report, and a declined card reading "declined" on pages and in the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.audit.models import AuditEvent
from licensing.billing import links
from licensing.billing.models import Invoice, Payment
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.servers import LocalStripe

from .stripe_support import (
    DECLINED_CARD,
    card_token,
    declined_card_payment,
    deliver_event,
    pay_by_card,
    stripe_config,
    succeeded_event,
)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _status_url(invoice: Invoice, payment: Payment) -> str:
    return f"/portal/invoices/{invoice.id}/card-payments/{payment.id}"


def test_the_status_reads_still_processing_until_the_webhook_then_paid_with_the_card(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("120.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    signed_in(client, vendor)
    before = client.get(_status_url(invoice, payment))
    assert before.status_code == 200
    assert before.get_json()["outcome"] == "processing"
    assert before.get_json()["title"] == "Still processing"
    assert before.headers["Cache-Control"] == "no-store"

    assert deliver_event(client, succeeded_event(localstripe, payment)).status_code == 200
    after = client.get(_status_url(invoice, payment)).get_json()
    assert after["outcome"] == "paid"
    assert after["title"] == "Paid"
    assert after["card"] == "Visa ending 4242"
    assert "Visa ending 4242" in after["message"]
    assert after["invoice_url"] == f"/portal/invoices/{invoice.id}"


def test_stripes_report_stores_the_brand_and_last_four_shown_on_pages_and_in_the_api(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("80.00",))
    payment = pay_by_card(invoice, vendor, localstripe, "5555555555554444")
    assert payment.card_last4 is None  # nothing is kept before Stripe reports the outcome
    deliver_event(client, succeeded_event(localstripe, payment))
    db.session().refresh(payment)
    assert (payment.card_brand, payment.card_last4) == ("visa", "4444")  # localstripe: Visa
    signed_in(client, vendor)
    page = client.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)
    assert "Visa ending 4444" in page
    receipts = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_received"))
        .all()
    )
    assert len(receipts) == 2  # the billing contact's and the payer's
    for receipt in receipts:
        assert "received 80.00 USD (Visa ending 4444)" in receipt.body_text
    listed = client.get(f"/api/v1/invoices/{invoice.id}/payments", headers=factories.bearer(vendor))
    assert listed.status_code == 200, listed.get_data(as_text=True)
    found = listed.get_json()
    rows = found if isinstance(found, list) else found["items"]
    assert rows[0]["card_brand"] == "visa"
    assert rows[0]["card_last4"] == "4444"
    assert rows[0]["card"] == "Visa ending 4444"
    assert rows[0]["declined"] is False


def test_reconcile_also_keeps_the_card_when_no_webhook_came(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("64.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    later = (utcnow() + timedelta(hours=1)).isoformat()
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--now", later])
    assert "1 applied" in result.output, result.output
    db.session().refresh(payment)
    assert payment.card_label == "Visa ending 4242"


def test_a_declined_card_reads_declined_even_after_the_next_card_closes_the_attempt(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("50.00",))
    declined = declined_card_payment(invoice, vendor, localstripe)
    assert declined.state == "failed"
    assert declined.declined
    assert declined.card_label == "Visa ending 0341"
    audited = db.session().scalars(
        select(AuditEvent.action).where(
            AuditEvent.entity_type == "payment", AuditEvent.entity_id == str(declined.id)
        )
    )
    assert "payment.declined" in set(audited)
    signed_in(client, vendor)
    status = client.get(_status_url(invoice, declined)).get_json()
    assert status["outcome"] == "declined"
    assert status["title"] == "Declined"
    assert status["message"] == (
        "Your card was declined. Nothing was charged (Visa ending 0341); try another card."
    )

    pay_by_card(invoice, vendor, localstripe)
    db.session().refresh(declined)
    assert declined.state == "canceled"  # the state machine is unchanged
    assert declined.outcome == "declined"
    page = client.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)
    assert '<span class="badge state-declined">declined</span>' in page
    assert "state-canceled" not in page
    api = client.get(
        f"/api/v1/invoices/{invoice.id}/payments", headers=factories.bearer(vendor)
    ).get_json()
    rows = api if isinstance(api, list) else api["items"]
    by_id = {row["id"]: row for row in rows}
    assert by_id[declined.id]["state"] == "canceled"
    assert by_id[declined.id]["declined"] is True
    assert by_id[declined.id]["outcome"] == "declined"


def test_a_vendor_cannot_read_the_status_of_another_organizations_payment(
    client: FlaskClient,
    vendor: User,
    other_vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("30.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    mine = invoice_for(other_vendor, ("31.00",))
    signed_in(client, other_vendor)
    assert client.get(_status_url(invoice, payment)).status_code == 404
    # Their own invoice with someone else's payment id: not theirs either.
    assert client.get(_status_url(mine, payment)).status_code == 404


def test_the_linked_status_answers_only_with_the_links_token_and_its_own_invoice(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("40.00",))
    other = invoice_for(vendor, ("41.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    link = f"/invoice-links/{invoice.id}/{links.token(invoice)}"
    found = client.get(f"{link}/card-payments/{payment.id}")
    assert found.status_code == 200
    assert found.get_json()["outcome"] == "processing"
    assert found.get_json()["invoice_url"] == link
    assert client.get(
        f"/invoice-links/{invoice.id}/forged/card-payments/{payment.id}"
    ).status_code in (
        403,
        404,
    )
    other_link = f"/invoice-links/{other.id}/{links.token(other)}"
    assert client.get(f"{other_link}/card-payments/{payment.id}").status_code == 404


def test_the_card_payment_answer_names_the_status_url_the_page_polls(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("22.00",))
    signed_in(client, vendor)
    answer = client.post(
        f"/portal/invoices/{invoice.id}/card-payments", json={"token": card_token(localstripe)}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["status_url"] == f"/portal/invoices/{invoice.id}/card-payments/" + str(
        db.session().scalars(select(Payment.id).where(Payment.invoice_id == invoice.id)).one()
    )
    assert client.get(body["status_url"]).get_json()["outcome"] == "processing"


def test_every_event_of_a_card_payment_by_the_invoice_link_names_the_contact_and_no_user(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("45.00",))
    organization = db.session().get(Organization, invoice.organization_id)
    assert organization is not None
    before = db.session().scalars(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).first()
    answer = client.post(
        f"/invoice-links/{invoice.id}/{links.token(invoice)}/card-payments",
        json={"token": card_token(localstripe, DECLINED_CARD)},
    )
    assert answer.status_code == 422, answer.get_data(as_text=True)
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.seq > (before or 0))).all()
    # record_event's own events and the payment state machine's steps
    assert {"payment.started", "payment.declined"} <= {event.action for event in events}
    assert {(event.actor, event.actor_user_id) for event in events} == {
        (organization.billing_email, None)
    }


def test_a_card_attempt_is_audited_without_a_reference(
    vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("45.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    event = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "payment.started", AuditEvent.entity_id == str(payment.id)
            )
        )
        .one()
    )
    # The balance due, rounded to the currency's minor unit (the ledger keeps four places).
    assert event.after == (
        f'{{"amount":"45.00","invoice":"{invoice.number}","method":"card",'
        f'"paid_by_user_id":{vendor.id},"state":"pending"}}'
    )
