"""Round 59 (stripeevents59): billing staff could not find a Stripe event by the id
Stripe's dashboard, a licensee or the bank gave them; the console's *Stripe's events*
now searches by an event's, a PaymentIntent's, a charge's, a refund's or a dispute's id
(exact, trimmed), a page at a time. And a signed delivery the service could not read
(no event id, not JSON) was answered 400 and recorded nowhere: each is now in the audit
log and counted on the same page, with when and its first characters. Against
localstripe, never a mock."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import UNREADABLE_ACTION, Invoice, StripeEvent
from licensing.billing.services.webhooks import UNREADABLE_SHOWN
from tests.support import settings
from tests.support.console_lists import words
from tests.support.factories import billing_clerk
from tests.support.pages import next_link
from tests.support.servers import LocalStripe

from .dispute_support import charge_of, dispute_event
from .stripe_support import (
    STRIPE_EVENTS,
    WEBHOOK_SECRET,
    card_attempt,
    charge_refunded_event,
    deliver_event,
    listed_events,
    refund_updated_event,
    signature_of,
    signed,
    stripe_config,
    unreachable,
)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _found(staff: FlaskClient, stripe_id: str, more: str = "") -> list[str]:
    """The events the list finds for `stripe_id`, newest first."""
    return list(listed_events(staff, f"?q={stripe_id}{more}"))


@pytest.mark.usefixtures("before_the_disputes")
def test_an_event_is_found_by_its_own_its_payments_its_charges_its_refunds_or_its_disputes_id(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    # One card payment refunded in part: its success, the refund's event and the
    # charge's charge.refunded.
    refunded = card_attempt(invoice_for, vendor, localstripe, "200.00")
    assert deliver_event(client, refunded.succeeded).status_code == 200
    credit = services.issue_credit_note(
        refunded.invoice.id, amount=Decimal("40.00"), reason="Seat removed", actor=billing_clerk()
    )
    refund = services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    assert refund.stripe_refund_id is not None
    refund_sent = refund_updated_event(
        localstripe, refund.stripe_refund_id, created=db.utcnow().replace(microsecond=0)
    )
    assert deliver_event(client, refund_sent).status_code == 200
    charge_refunded = charge_refunded_event(localstripe, refunded.payment)
    assert deliver_event(client, charge_refunded).status_code == 200
    # Another, whose charge the bank disputes.
    disputed = card_attempt(invoice_for, vendor, localstripe, "250.00")
    assert deliver_event(client, disputed.succeeded).status_code == 200
    db.session().refresh(disputed.payment)
    disputed_charge = charge_of(localstripe, disputed.payment)
    assert disputed.payment.stripe_charge_id == disputed_charge
    opened = dispute_event("charge.dispute.created", disputed.payment, disputed_charge)
    assert deliver_event(client, opened).status_code == 200
    # A third, before payments kept their charge, disputed while Stripe cannot be asked:
    # the dispute is kept not matched, its event naming no PaymentIntent.
    unmatched = card_attempt(invoice_for, vendor, localstripe, "90.00")
    assert deliver_event(client, unmatched.succeeded).status_code == 200
    db.session().refresh(unmatched.payment)
    lost_charge = charge_of(localstripe, unmatched.payment)
    unmatched.payment.stripe_charge_id = None
    db.session().commit()
    not_matched = dispute_event(
        "charge.dispute.created",
        unmatched.payment,
        lost_charge,
        with_intent=False,
        dispute_id="du_1NotMatched",
    )
    payload, headers = signed(not_matched)
    kept = services.handle_stripe_webhook(
        payload, headers["Stripe-Signature"], gateway=unreachable()
    )
    assert kept.outcome.startswith("not matched")

    staff = signed_in(app.test_client(), billing_staff)
    assert len(listed_events(staff)) == 7
    first = refunded.payment
    assert first.stripe_payment_intent_id
    assert first.stripe_charge_id
    # By the event's own id: that event alone.
    assert _found(staff, refunded.succeeded["id"]) == [refunded.succeeded["id"]]
    # By the PaymentIntent: its own event, its refund's and its charge's, newest first.
    payment_events = [charge_refunded["id"], refund_sent["id"], refunded.succeeded["id"]]
    assert _found(staff, first.stripe_payment_intent_id) == payment_events
    # By the charge: the events of the payment charged.
    assert _found(staff, first.stripe_charge_id) == payment_events
    # By the refund: its own event, and the charge.refunded that carries it.
    assert _found(staff, refund.stripe_refund_id) == [charge_refunded["id"], refund_sent["id"]]
    # By the dispute: its event; by the disputed charge: the payment's and the dispute's.
    assert _found(staff, "du_1Harborlight") == [opened["id"]]
    assert _found(staff, disputed_charge) == [opened["id"], disputed.succeeded["id"]]
    # A dispute not matched is found by its charge, which no payment keeps.
    assert _found(staff, lost_charge) == [not_matched["id"]]
    assert _found(staff, "du_1NotMatched") == [not_matched["id"]]
    # Trimmed, and with the other filters.
    assert _found(staff, f"%20{disputed_charge}%20%20") == [opened["id"], disputed.succeeded["id"]]
    assert _found(staff, disputed_charge, "&type=charge.dispute.created") == [opened["id"]]
    # Exact: a part of an id finds nothing, and the page says what it matched.
    assert _found(staff, first.stripe_payment_intent_id[:-2]) == []
    partial = staff.get(f"{STRIPE_EVENTS}?q=pi_")
    told = words(partial.get_data(as_text=True))
    assert "No event from Stripe is about pi_ ." in told
    assert "The id is matched whole: an event's ( evt_ ), a payment intent's ( pi_ )" in told
    # The field keeps what was searched.
    shown = staff.get(f"{STRIPE_EVENTS}?q={disputed_charge}").get_data(as_text=True)
    assert f'value="{disputed_charge}"' in shown
    assert f"Stripe's events about {disputed_charge}, newest first" in words(shown)


def test_a_search_longer_than_any_stripe_id_is_the_fields_message_and_given_twice_a_400(
    app: Flask, signed_in: Any, billing_staff: User
) -> None:
    staff = signed_in(app.test_client(), billing_staff)
    refused = staff.get(f"{STRIPE_EVENTS}?q={'x' * 256}")
    assert refused.status_code == 422
    told = words(refused.get_data(as_text=True))
    assert "A Stripe id is at most 255 characters" in told
    assert "Nothing is listed until the filters above are corrected." in told
    assert staff.get(f"{STRIPE_EVENTS}?q=evt_1&q=evt_2").status_code == 400
    assert staff.get(f"{STRIPE_EVENTS}?q={'x' * 255}").status_code == 200


def test_the_events_of_one_id_are_listed_a_page_at_a_time(
    app: Flask, client: FlaskClient, signed_in: Any, billing_staff: User
) -> None:
    """51 events about one PaymentIntent another product made on the same account
    (stored and ignored): 50 on the first page, the search kept on the next."""
    for number in range(51):
        event = {
            "id": f"evt_elsewhere_{number:02d}",
            "object": "event",
            "type": "payment_intent.created",
            "data": {"object": {"id": "pi_elsewhere", "object": "payment_intent"}},
        }
        assert deliver_event(client, event).status_code == 200
    other = {
        "id": "evt_other_intent",
        "object": "event",
        "type": "payment_intent.created",
        "data": {"object": {"id": "pi_other", "object": "payment_intent"}},
    }
    assert deliver_event(client, other).status_code == 200
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(f"{STRIPE_EVENTS}?q=pi_elsewhere").get_data(as_text=True)
    first = listed_events(staff, "?q=pi_elsewhere")
    assert len(first) == 50
    assert "evt_other_intent" not in first
    following = next_link(page)
    assert following is not None
    assert "q=pi_elsewhere" in following
    second = listed_events(staff, following.removeprefix(STRIPE_EVENTS))
    assert len(second) == 1
    assert set(first) | set(second) == {f"evt_elsewhere_{n:02d}" for n in range(51)}


def _unread_events() -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).where(AuditEvent.action == UNREADABLE_ACTION).order_by(AuditEvent.id)
        )
    )


def _post_signed(client: FlaskClient, body: bytes, secret: str = WEBHOOK_SECRET) -> Any:
    """`body` as it is (JSON or not), signed as Stripe signs, to the webhook."""
    return client.post("/webhooks/stripe", data=body, headers=signature_of(body, secret))


def test_a_signed_delivery_that_is_no_event_is_a_400_recorded_and_counted_for_staff(
    app: Flask, client: FlaskClient, signed_in: Any, billing_staff: User
) -> None:
    not_json = b"this is not JSON \x00 at all\n\n  and more"
    no_id = json.dumps({"type": "payment_intent.succeeded", "data": {"object": {}}}).encode()
    long_body = json.dumps({"object": "event", "padding": "y" * 100_000}).encode()
    for body in (not_json, no_id, not_json, long_body):
        answer = _post_signed(client, body)
        assert answer.status_code == 400
        assert answer.get_json()["title"] == "Malformed event"
    # Forged (another secret): refused as before, recorded nowhere.
    assert _post_signed(client, b"forged", secret="whsec_someone_else").status_code == 400
    assert db.session().scalars(select(StripeEvent)).all() == []
    recorded = _unread_events()
    assert len(recorded) == 4
    # One a delivery, its record the body's SHA-256: Stripe's redeliveries count together.
    assert recorded[0].entity_type == "stripe_delivery"
    assert recorded[0].entity_id == recorded[2].entity_id != recorded[1].entity_id
    assert recorded[0].actor == "system"
    first = recorded[0].after_data
    assert first["bytes"] == len(not_json)
    assert first["start"] == "this is not JSON \ufffd at all and more"
    assert first["why"].startswith("the body is not a Stripe event")
    longest = recorded[3].after_data
    assert longest["bytes"] == len(long_body)
    assert len(longest["start"]) == UNREADABLE_SHOWN
    assert longest["start"].endswith("…")
    assert all(len(each.after or "") < 2_000 for each in recorded)

    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(STRIPE_EVENTS)
    assert page.status_code == 200
    told = words(page.get_data(as_text=True))
    assert (
        "4 deliveries signed by Stripe could not be read as an event (3 different bodies)" in told
    )
    markup = page.get_data(as_text=True)
    table = markup.split('id="unreadable-deliveries"', 1)[1].split("</table>", 1)[0]
    rows = [words(row) for row in table.split("<tr id=")[1:]]
    assert len(rows) == 3  # the body delivered last first
    assert '{"object": "event", "padding": "yyy' in rows[0]
    assert f"{len(long_body):,} bytes in all" in rows[0]
    assert "2 the body is not a Stripe event" in rows[1]  # delivered twice
    assert "this is not JSON \ufffd at all and more" in rows[1]
    assert "first" in rows[1]  # when first, when last
    assert "an event needs id, type and data.object" in rows[2]


def test_the_page_says_when_every_signed_delivery_was_read(
    app: Flask, signed_in: Any, billing_staff: User
) -> None:
    staff = signed_in(app.test_client(), billing_staff)
    told = words(staff.get(STRIPE_EVENTS).get_data(as_text=True))
    assert "None: every delivery signed by Stripe was read as an event." in told
