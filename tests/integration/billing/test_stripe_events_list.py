"""Round 58 (stripeevents58): billing staff had no list of every Stripe event the
service received: the events it ignored, disputes it could not match, replays and
events that failed were read in Stripe's dashboard or the database (and an event that
failed was not stored at all). The console's *Stripe's events* lists every one, says
what was done in words and links the card payment or refund it touched; an outcome is
stored whole (it was cut at 200 characters). Against localstripe, never a mock."""

from __future__ import annotations

import copy
import html
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice, Refund
from licensing.errors import ExternalServiceError
from tests.support import settings
from tests.support.billing import said
from tests.support.console_lists import words
from tests.support.factories import billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import dispute_event, paid_with_charge
from .stripe_support import (
    card_attempt,
    charge_refunded_event,
    deliver_event,
    listed_events,
    refund_updated_event,
    signed,
    stored_event,
    stripe_config,
    unreachable,
)

LIST = "/console/stripe-events"


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_every_event_is_listed_saying_what_was_done_and_linking_the_payment_or_refund(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    paid = card_attempt(invoice_for, vendor, localstripe, "200.00")
    invoice, payment, applied = paid.invoice, paid.payment, paid.succeeded
    assert deliver_event(client, applied).status_code == 200
    # Stripe delivers it again: acknowledged, applied once, counted.
    again = deliver_event(client, applied).get_json()
    assert again["duplicate"] is True
    twice = stored_event(applied["id"])
    assert (twice.deliveries, twice.kind) == (2, "applied")
    # Another product's event on the same Stripe account: stored and ignored.
    foreign = {
        "id": "evt_customer_elsewhere",
        "object": "event",
        "type": "customer.created",
        "data": {"object": {"id": "cus_elsewhere", "object": "customer"}},
    }
    assert deliver_event(client, foreign).get_json()["outcome"] == "ignored: event type not handled"
    # A card refund, which Stripe reports sent.
    db.session().refresh(payment)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Seat removed", actor=billing_clerk()
    )
    refund = services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    assert refund.stripe_refund_id is not None
    sent = refund_updated_event(
        localstripe, refund.stripe_refund_id, created=db.utcnow().replace(microsecond=0)
    )
    assert deliver_event(client, sent).status_code == 200
    refund = db.session().get(Refund, refund.id)
    assert refund is not None

    staff = signed_in(app.test_client(), billing_staff)
    rows = listed_events(staff)
    assert list(rows) == [sent["id"], foreign["id"], applied["id"]]  # newest first
    payment_link = f"[/console/payments/{payment.id}]"
    named = said(payment)
    assert f"Applied Applied: {named} to {invoice.number}" in rows[applied["id"]]
    assert "Delivered 2 times, last" in rows[applied["id"]]
    assert (
        f"The {payment_link} {payment.named(invoice.number, in_sentence=True)}"
        in (rows[applied["id"]])
    )
    assert "Ignored: not this service's" in rows[foreign["id"]]
    assert "customer.created" in rows[foreign["id"]]
    assert rows[foreign["id"]].endswith("None of this service's records")
    refund_link = f"[/console/invoices/{invoice.id}#refund-{refund.id}]"
    assert (
        f"The {refund_link} {refund.named(credit.number, in_sentence=True)}, of the"
        in (rows[sent["id"]])
    )
    assert payment_link in rows[sent["id"]]

    # Narrowed by what was done, by type and by month.
    assert list(listed_events(staff, "?kind=repeated")) == [applied["id"]]
    assert list(listed_events(staff, "?kind=ignored")) == [foreign["id"]]
    assert list(listed_events(staff, "?type=other")) == [foreign["id"]]
    assert list(listed_events(staff, "?type=refund.updated")) == [sent["id"]]
    this_month = db.utcnow().strftime("%Y-%m")
    assert len(listed_events(staff, f"?month={this_month}")) == 3
    assert listed_events(staff, "?month=2020-01") == {}
    # A choice the list does not offer, or a month that is none: the field's message.
    refused = staff.get(f"{LIST}?kind=lost&month=2027-13")
    assert refused.status_code == 422
    told = words(refused.get_data(as_text=True))
    assert "What was done" in told
    assert "Month received takes a month such as 2027-03" in told
    assert "Nothing is listed until the filters above are corrected." in told
    assert staff.get(f"{LIST}?kind=failed&kind=ignored").status_code == 400


def test_an_event_that_failed_is_stored_saying_why_and_applied_when_stripe_sends_it_again(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    paid = card_attempt(invoice_for, vendor, localstripe, "200.00")
    invoice, payment = paid.invoice, paid.payment
    assert deliver_event(client, paid.succeeded).status_code == 200
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("25.00"), reason="Seat removed", actor=billing_clerk()
    )
    services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    # A newer API version's charge.refunded carries no refunds: they are asked of Stripe,
    # which this host cannot reach (a real adapter pointed at a closed port).
    event = copy.deepcopy(charge_refunded_event(localstripe, payment))
    event["data"]["object"].pop("refunds", None)
    payload, headers = signed(event)
    with pytest.raises(ExternalServiceError):
        services.handle_stripe_webhook(payload, headers["Stripe-Signature"], gateway=unreachable())
    stored = stored_event(event["id"])
    assert (stored.kind, stored.deliveries) == ("failed", 1)
    assert stored.outcome.startswith("failed: ")
    assert stored.outcome.endswith(
        "Nothing was applied; Stripe sends it again, and its next delivery is applied afresh"
    )
    assert len(stored.outcome) > 200  # stored whole: it was cut at 200 before round 58
    assert stored.payment_intent_id == payment.stripe_payment_intent_id

    staff = signed_in(app.test_client(), billing_staff)
    home = words(staff.get("/console/").get_data(as_text=True))
    assert "Stripe events that failed (not applied)" in home
    assert "/console/stripe-events?kind=failed" in staff.get("/console/").get_data(as_text=True)
    row = listed_events(staff, "?kind=failed")[event["id"]]
    assert "Failed: not applied, Stripe sends it again" in row
    assert f"[/console/payments/{payment.id}]" in row

    # Stripe's next delivery is applied afresh, in the same row.
    answer = deliver_event(client, event)
    assert answer.status_code == 200
    assert answer.get_json()["duplicate"] is False
    stored = stored_event(event["id"])
    assert stored.kind != "failed"
    assert stored.deliveries == 2
    assert listed_events(staff, "?kind=failed") == {}
    # Delivered a third time: a replay now, counted.
    assert deliver_event(client, event).get_json()["duplicate"] is True
    assert stored_event(event["id"]).deliveries == 3


def test_a_signed_event_whose_object_is_not_its_type_is_a_400_and_listed_as_failed(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    billing_staff: User,
) -> None:
    event = {
        "id": "evt_no_status",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_without_status", "amount": 100, "currency": "usd"}},
    }
    answer = deliver_event(client, event)
    assert answer.status_code == 400
    assert answer.get_json()["title"] == "Malformed event"
    stored = stored_event("evt_no_status")
    assert stored.kind == "failed"
    assert stored.outcome.startswith(
        "failed: the event is not what its type says: data.object is not a PaymentIntent"
    )
    assert stored.payment_intent_id == "pi_without_status"
    rows = listed_events(signed_in(app.test_client(), billing_staff), "?kind=failed")
    assert list(rows) == ["evt_no_status"]


def test_a_dispute_not_matched_is_listed_with_its_long_outcome_whole_and_linked(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """A dispute naming only a charge, of a payment that kept none (before round 24),
    while Stripe cannot be asked for it: kept unmatched, its outcome (with Stripe's
    error) longer than the 200 characters it was cut at, stored and listed whole."""
    _invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    payment.stripe_charge_id = None
    db.session().commit()
    event = dispute_event("charge.dispute.created", payment, charge, with_intent=False)
    payload, headers = signed(event)
    result = services.handle_stripe_webhook(
        payload, headers["Stripe-Signature"], gateway=unreachable()
    )
    assert result.outcome.startswith("not matched: dispute du_1Harborlight: Stripe could not")
    assert len(result.outcome) > 200  # cut at 200 in the stored copy before round 58
    stored = stored_event(event["id"])
    assert (stored.outcome, stored.kind) == (result.outcome, "not_matched")
    assert stored.outcome.endswith("; kept for billing staff")

    staff = signed_in(app.test_client(), billing_staff)
    row = listed_events(staff, "?kind=not_matched")[event["id"]]
    assert "Dispute not matched to a payment: kept for billing staff" in row
    assert words(html.escape(result.outcome[1:])) in row
    assert row.endswith("[/console/disputes#unmatched-heading] Disputes not matched to a payment")
    # The disputes page's unmatched disputes link their events.
    disputes = staff.get("/console/disputes").get_data(as_text=True)
    assert "/console/stripe-events?kind=not_matched" in disputes


def test_a_vendor_or_someone_signed_out_may_not_read_the_list(
    app: Flask, signed_in: Any, vendor: User
) -> None:
    assert signed_in(app.test_client(), vendor).get(LIST).status_code == 403
    assert app.test_client().get(LIST).status_code in (302, 401)
