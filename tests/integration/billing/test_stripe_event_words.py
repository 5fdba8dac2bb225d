"""Round 57 (billingwords57): a Stripe event's stored outcome, and the webhook's answer
to Stripe, said "applied: payment 12 to INV-...", where every page names a payment by
its card and when it was started. Outcomes now name payments and refunds as the pages
do; a card payment's console page lists the events Stripe sent about it with their
outcomes, those stored before round 57 as they were stored."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice, Payment, StripeEvent
from licensing.db import utcnow
from tests.support.billing import paid_offline, said
from tests.support.servers import LocalStripe

from .stripe_support import deliver_event, pay_by_card, stripe_config, succeeded_event


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _words(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _events_table(client: FlaskClient, payment: Payment) -> list[str]:
    answer = client.get(f"/console/payments/{payment.id}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    table = page[page.index('id="stripe-events"') :]
    table = table[: table.index("</table>")]
    return [_words(row) for row in table.split("<tr>")[2:]]


def test_a_webhooks_outcome_names_the_payment_as_the_pages_do_and_its_page_lists_it(
    app: Flask,
    client: FlaskClient,
    signed_in: Any,
    vendor: User,
    billing_staff: Any,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("200.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    event = succeeded_event(localstripe, payment)
    answer = deliver_event(client, event).get_json()
    db.session().refresh(payment)
    # "Card payment of INV-... (Visa ending 4242), started ..." in a sentence: not its row id.
    named = said(payment)
    assert named.startswith(f"card payment of {invoice.number} (Visa ending 4242), started ")
    assert answer["outcome"] == f"applied: {named} to {invoice.number}"
    assert f"payment {payment.id}" not in answer["outcome"]
    stored = db.session().scalars(select(StripeEvent).where(StripeEvent.event_id == event["id"]))
    assert stored.one().outcome == answer["outcome"]
    # The same news again under another id: no change, named alike.
    again = copy.deepcopy(event)
    again["id"] = f"{event['id']}_again"
    answer = deliver_event(client, again).get_json()
    assert answer["outcome"] == f"no change: {named} is already succeeded"

    # The payment's console page lists both events, newest first, with what was done.
    rows = _events_table(signed_in(app.test_client(), billing_staff), payment)
    assert len(rows) == 2
    assert (
        f"payment_intent.succeeded {again['id']} no change: {named} is already succeeded"
        in (rows[0])
    )
    assert (
        f"payment_intent.succeeded {event['id']} applied: {named} to {invoice.number}" in (rows[1])
    )


def test_an_outcome_stored_before_round_57_is_listed_as_it_was_stored(
    app: Flask,
    signed_in: Any,
    vendor: User,
    billing_staff: Any,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("200.00",))
    payment = pay_by_card(invoice, vendor, localstripe)
    session = db.session()
    old = f"applied: payment {payment.id} to {invoice.number}"
    session.add(
        StripeEvent(
            event_id="evt_before_round_57",
            event_type="payment_intent.succeeded",
            payment_intent_id=payment.stripe_payment_intent_id,
            outcome=old,
            received_at=utcnow(),
        )
    )
    # Another payment's event is not listed on this one's page.
    session.add(
        StripeEvent(
            event_id="evt_someone_else",
            event_type="payment_intent.succeeded",
            payment_intent_id="pi_someone_else",
            outcome="ignored: not a payment of this service",
            received_at=utcnow(),
        )
    )
    session.commit()
    rows = _events_table(signed_in(app.test_client(), billing_staff), payment)
    assert len(rows) == 1
    assert rows[0].endswith(f"payment_intent.succeeded evt_before_round_57 {old}")


def test_an_offline_payments_page_lists_no_stripe_events(
    app: Flask,
    signed_in: Any,
    vendor: User,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("200.00",))
    payment = paid_offline(invoice.id, "200.00", "W-IN-57")
    page = signed_in(app.test_client(), billing_staff).get(f"/console/payments/{payment.id}")
    assert page.status_code == 200
    assert "Stripe's events" not in html.unescape(page.get_data(as_text=True))
