"""Card payments through Stripe (localstripe): the customer, the PaymentIntent,
the verified webhook and the reconcile command."""

from __future__ import annotations

import copy
import csv
import html
import io
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, Payment, StripeCustomer, StripeEvent
from licensing.calendar import instant_text, office_date
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.mail.models import OutboxMessage
from tests.support import settings
from tests.support.billing import logged
from tests.support.factories import billing_clerk
from tests.support.servers import LocalStripe

from .stripe_support import (
    card_token,
    deliver_event,
    events_for,
    pay_by_card,
    stripe_config,
    succeeded_event,
)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_card_payment_creates_the_customer_once_and_an_intent_for_the_balance_in_cents(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1550.50",))
    payment = pay_by_card(invoice, vendor, localstripe)
    assert payment.state == "pending"
    assert payment.amount == Decimal("1550.50")
    intent = settings.gateway().retrieve_payment_intent(payment.stripe_payment_intent_id or "")
    assert intent.amount == 155050
    assert intent.currency == "USD"
    assert intent.metadata["invoice_number"] == invoice.number
    assert intent.status == "succeeded"
    second = invoice_for(vendor, ("10.00",))
    pay_by_card(second, vendor, localstripe)
    customers = (
        db.session()
        .scalars(
            select(StripeCustomer).where(StripeCustomer.organization_id == vendor.organization_id)
        )
        .all()
    )
    assert len(customers) == 1
    db.session().refresh(invoice)
    assert invoice.state == "open"  # only Stripe's word marks it paid


def test_the_succeeded_webhook_marks_the_invoice_paid_and_a_replay_changes_nothing(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("200.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    event = succeeded_event(localstripe, payment)
    first = deliver_event(client, event)
    assert first.status_code == 200
    assert first.get_json()["outcome"].startswith("applied")
    replay = deliver_event(client, event)
    assert replay.status_code == 200
    assert replay.get_json()["duplicate"] is True
    db.session().refresh(invoice)
    assert invoice.state == "paid"
    assert invoice.amount_paid == Decimal("200.00")
    assert (
        db.session().scalars(select(StripeEvent).where(StripeEvent.event_id == event["id"])).one()
    )


def test_the_same_outcome_under_another_event_id_is_not_applied_twice(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("200.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    event = succeeded_event(localstripe, payment)
    deliver_event(client, event)
    resent = copy.deepcopy(event)
    resent["id"] = event["id"] + "_resent"
    answer = deliver_event(client, resent)
    assert answer.get_json()["outcome"].startswith("no change")
    db.session().refresh(invoice)
    assert invoice.amount_paid == Decimal("200.00")


def test_a_forged_or_stale_signature_is_refused_and_nothing_is_stored(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("200.00",))
    event = succeeded_event(localstripe, pay_by_card(invoice, vendor, localstripe))
    forged = deliver_event(client, event, secret="whsec_someone_else")
    stale = deliver_event(client, event, at=int(utcnow().timestamp()) - 3600)
    unsigned = client.post(
        "/webhooks/stripe", data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert [r.status_code for r in (forged, stale, unsigned)] == [400, 400, 400]
    assert forged.mimetype == "application/problem+json"
    db.session().refresh(invoice)
    assert invoice.state == "open"
    assert db.session().scalars(select(StripeEvent)).all() == []


def test_unknown_event_types_are_stored_and_acknowledged(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    pay_by_card(invoice_for(vendor, ("5.00",)), vendor, localstripe)
    customer = db.session().scalars(select(StripeCustomer)).first()
    assert customer is not None
    created = events_for(localstripe, customer.stripe_customer_id, "customer.created")
    assert created
    answer = deliver_event(client, created[0])
    assert answer.status_code == 200
    assert answer.get_json()["outcome"] == "ignored: event type not handled"


def test_a_late_failure_after_success_changes_nothing_and_failure_then_success_applies(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("80.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    succeeded = succeeded_event(localstripe, payment)
    failed = copy.deepcopy(succeeded)
    failed["id"] += "_failed"
    failed["type"] = "payment_intent.payment_failed"
    failed["data"]["object"]["status"] = "requires_payment_method"
    failed["data"]["object"]["last_payment_error"] = {"message": "Your card was declined."}
    # Out of order: the failure of an earlier attempt arrives first, then the success.
    assert deliver_event(client, failed).get_json()["outcome"].startswith("declined")
    assert deliver_event(client, succeeded).get_json()["outcome"].startswith("applied")
    late = copy.deepcopy(failed)
    late["id"] += "_late"
    assert deliver_event(client, late).get_json()["outcome"].startswith("no change")
    db.session().refresh(invoice)
    db.session().refresh(payment)
    assert invoice.state == "paid"
    assert payment.state == "succeeded"


def test_an_amount_that_does_not_match_is_flagged_for_billing_staff_not_applied(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("300.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    event = copy.deepcopy(succeeded_event(localstripe, payment))
    event["data"]["object"]["amount_received"] = 29999
    answer = deliver_event(client, event)
    assert answer.get_json()["outcome"].startswith("flagged")
    db.session().refresh(invoice)
    db.session().refresh(payment)
    assert invoice.state == "open"
    assert invoice.amount_paid == 0
    assert payment.state == "flagged"
    assert payment.amount_received == Decimal("299.99")
    flagged_mail = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "payment_flagged"))
        .all()
    )
    assert flagged_mail
    assert billing_staff.email in flagged_mail[0].recipients
    # Billing staff review it and accept what was received.
    services.accept_flagged_payment(
        payment.id, note="Customer's bank deducted a fee", actor=billing_clerk()
    )
    db.session().refresh(invoice)
    assert invoice.amount_paid == Decimal("299.99")
    assert invoice.balance_due == Decimal("0.01")


def test_an_event_for_an_intent_of_someone_else_is_ignored(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    event = copy.deepcopy(
        succeeded_event(
            localstripe, pay_by_card(invoice_for(vendor, ("7.00",)), vendor, localstripe)
        )
    )
    event["id"] += "_foreign"
    event["data"]["object"]["id"] = "pi_not_ours"
    event["data"]["object"]["metadata"] = {}
    assert deliver_event(client, event).get_json()["outcome"].startswith("ignored")


def test_a_declined_card_is_refused_and_the_next_card_closes_that_attempt_at_stripe_first(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("50.00",))
    with pytest.raises(InvalidInput) as refused:
        services.start_card_payment(
            invoice.id,
            card_token=card_token(localstripe, "4000000000000341"),
            principal=accounts.principal_for(vendor),
            gateway=settings.gateway(),
        )
    assert "card" in refused.value.errors
    declined = db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    assert declined.state == "failed"  # still the open attempt: its intent is alive at Stripe
    paid = pay_by_card(invoice, vendor, localstripe)
    db.session().refresh(declined)
    assert paid.id != declined.id
    assert declined.state == "canceled"
    gateway = settings.gateway()
    assert gateway.retrieve_payment_intent(declined.stripe_payment_intent_id or "").status == (
        "canceled"
    )
    assert gateway.retrieve_payment_intent(paid.stripe_payment_intent_id or "").status == (
        "succeeded"
    )


def test_a_declined_attempt_closed_by_the_next_card_keeps_the_banks_words_for_staff(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    # Closing a declined attempt wrote "Closed before a new card attempt: the card
    # was declined." over its note, so the invoice's payments listed the office's
    # words where the bank's had been (those were left in the audit log only).
    invoice = invoice_for(vendor, ("50.00",))
    with pytest.raises(InvalidInput):
        services.start_card_payment(
            invoice.id,
            card_token=card_token(localstripe, "4000000000000341"),
            principal=accounts.principal_for(vendor),
            gateway=settings.gateway(),
        )
    declined = db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    banks_words = declined.note
    assert banks_words
    assert "declined" in banks_words.lower()
    pay_by_card(invoice, vendor, localstripe)
    db.session().refresh(declined)
    assert declined.state == "canceled"
    assert declined.note == banks_words
    page = html.unescape(
        signed_in(client, billing_staff)
        .get(f"/console/invoices/{invoice.id}")
        .get_data(as_text=True)
    )
    assert banks_words in page
    assert "Closed before a new card attempt" not in page
    # Why it was closed stays where it belongs, in its audit event.
    closing = db.session().scalars(
        select(AuditEvent.note).where(
            AuditEvent.entity_type == "payment",
            AuditEvent.entity_id == str(declined.id),
            AuditEvent.action == "payment.canceled",
        )
    )
    assert "Closed before a new card attempt: the card was declined." in list(closing)


def test_an_attempt_closed_before_the_fix_lists_the_banks_words_from_its_audit_event(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    # Attempts closed before the closing kept the bank's words hold the office's
    # note; the bank's words are in their `payment.declined` audit event.
    invoice = invoice_for(vendor, ("50.00",))
    with pytest.raises(InvalidInput):
        services.start_card_payment(
            invoice.id,
            card_token=card_token(localstripe, "4000000000000341"),
            principal=accounts.principal_for(vendor),
            gateway=settings.gateway(),
        )
    declined = db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    banks_words = declined.note or ""
    pay_by_card(invoice, vendor, localstripe)
    with db.transaction() as session:
        session.execute(
            update(Payment)
            .where(Payment.id == declined.id)
            .values(note="Closed before a new card attempt: the card was declined.")
        )
    page = html.unescape(
        signed_in(client, billing_staff)
        .get(f"/console/invoices/{invoice.id}")
        .get_data(as_text=True)
    )
    assert banks_words in page
    assert "Closed before a new card attempt" not in page


def test_a_card_declined_when_it_is_saved_is_recorded_as_a_declined_attempt(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    # A card the bank refuses outright (4000000000000002) is declined when Stripe
    # saves it to the customer, before any PaymentIntent. The payer was told
    # "declined", but the attempt stayed `pending` with no intent and was reused
    # by the next card: billing staff, the payments export and the API never saw
    # the decline, and the audit log had no `payment.declined`.
    invoice = invoice_for(vendor, ("75.00",))
    with pytest.raises(InvalidInput) as refused:
        services.start_card_payment(
            invoice.id,
            card_token=card_token(localstripe, "4000000000000002"),
            principal=accounts.principal_for(vendor),
            gateway=settings.gateway(),
        )
    assert "declined" in refused.value.errors["card"][0].lower()
    declined = db.session().scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    db.session().refresh(declined)
    assert declined.state == "failed"
    assert declined.declined
    assert declined.stripe_payment_intent_id is None
    assert "declined" in (declined.note or "").lower()
    events = db.session().scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "payment", AuditEvent.entity_id == str(declined.id)
        )
    )
    assert "payment.declined" in [event.action for event in events]

    # The next card starts a new attempt and closes the declined one.
    paid = pay_by_card(invoice, vendor, localstripe)
    db.session().refresh(declined)
    assert paid.id != declined.id
    assert declined.state == "canceled"
    assert declined.declined  # still read as a decline on the pages and the export


def test_reconcile_applies_what_stripe_says_about_payments_with_no_webhook(
    app: Flask, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("640.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    runner = app.test_cli_runner()
    early = runner.invoke(args=["payments", "reconcile"])
    assert early.exit_code == 0
    assert "0 card payment(s) checked" in early.output
    assert "0 card refund(s) checked" in early.output
    later = (utcnow() + timedelta(hours=1)).isoformat()
    result = runner.invoke(args=["payments", "reconcile", "--now", later])
    assert result.exit_code == 0, result.output
    assert "1 applied" in result.output
    # Round 56 (refundlist56): its line names it as the pages do, with its Stripe ids,
    # not "payment 12: applied: payment 12 to INV-...".
    assert f"{logged(payment)}: applied to {invoice.number}\n" in result.output
    assert f"payment {payment.id}" not in result.output
    assert payment.stripe_payment_intent_id in logged(payment)
    db.session().refresh(invoice)
    assert invoice.state == "paid"
    again = runner.invoke(args=["payments", "reconcile", "--now", later])
    assert "0 card payment(s) checked" in again.output


def test_a_card_payment_is_dated_on_the_invoice_page_by_the_day_stripe_settled_it(
    app: Flask,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # The invoice page dated a card payment by when it was started, the payments
    # export by the office day Stripe settled it: two days for one payment when
    # Stripe's answer came on a later day (here: reconciled three days on).
    invoice = invoice_for(vendor, ("640.00",))
    invoice_id = invoice.id
    payment = pay_by_card(invoice, vendor, localstripe)
    payment_id, started = payment.id, payment.created_at
    vendor_page = signed_in(app.test_client(), vendor)
    console = signed_in(app.test_client(), billing_staff)
    later = utcnow() + timedelta(days=3)
    result = app.test_cli_runner().invoke(
        args=["payments", "reconcile", "--now", later.isoformat()]
    )
    assert "1 applied" in result.output, result.output
    settled = db.session().get(Payment, payment_id)
    assert settled is not None
    db.session().refresh(settled)
    assert settled.settled_at is not None
    settled_day = office_date(settled.settled_at)
    assert settled_day != office_date(started)

    exported = list(
        csv.DictReader(
            io.StringIO(
                console.get(
                    "/console/exports", query_string={"dataset": "payments", "format": "csv"}
                ).get_data(as_text=True)
            )
        )
    )
    paid_dates = [row["paid_date"] for row in exported if row["payment_id"] == str(payment_id)]
    assert paid_dates == [settled_day.isoformat()]
    for client, path in (
        (vendor_page, f"/portal/invoices/{invoice_id}"),
        (console, f"/console/invoices/{invoice_id}"),
    ):
        response = client.get(path)
        page = response.get_data(as_text=True)
        heading = re.search(r"<h2[^>]*>Payments</h2>", page)
        assert heading is not None, (response.status_code, page[-3000:])
        payments = page[heading.start() :]
        row = payments[: payments.index("</tr>", payments.index("<tbody>"))]
        assert f"<td>{settled_day.isoformat()}<br>" in row, row
        assert f"started {instant_text(started)}" in html.unescape(row)
