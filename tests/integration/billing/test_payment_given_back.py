"""A flagged card payment given back (round 36): billing staff give its money back to
the card from the payment's page or through the API (Stripe refunds its charge,
localstripe here), or Stripe reports it refunded in its dashboard; the payment is
`given_back`, once, its payer and billing contact are told, and the invoice, the
Finance page and the statement of account are unchanged: it never counted."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.audit.models import AuditEvent
from licensing.billing import links, payment_gateway, services
from licensing.billing.models import Invoice, Payment
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.errors import Conflict
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.support import factories, settings
from tests.support.billing import logged, said
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.servers import LocalStripe, SMTPServer, message_text, until

from .refund_support import LostAnswer, NeverSent, Refuses, stripe_through
from .stripe_support import (
    _call,
    charge_refunded_event,
    deliver_event,
    flagged_card_payment,
    refund_failed_event,
    stripe_config,
)


@pytest.fixture
def config_changes(localstripe: LocalStripe, smtp_server: SMTPServer) -> dict[str, Any]:
    return {**stripe_config(localstripe), "smtp_url": smtp_server.url}


def _payment_events(payment: Payment, action: str) -> list[AuditEvent]:
    """The payment's audit events of `action`, oldest first."""
    return list(
        db.session().scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.entity_id == str(payment.id))
            .order_by(AuditEvent.seq)
        )
    )


def _given_back_events(payment: Payment) -> list[AuditEvent]:
    return _payment_events(payment, "payment.given_back")


def _invoice_unchanged(client: FlaskClient, staff: User, invoice: Invoice) -> None:
    """The API reads the 300.00 invoice with nothing paid: the payment never counted."""
    read = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(staff)).get_json()
    assert (read["amount_paid"], read["balance_due"]) == ("0.00", "300.00")


def _refunds_at_stripe(localstripe: LocalStripe, payment: Payment) -> list[dict[str, Any]]:
    found = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    return list(found["data"])


@pytest.fixture
def flagged(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> tuple[Invoice, Payment]:
    """A 300.00 invoice paid by card, flagged for 299.99 received."""
    return flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)


def _paid_by_colleague(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> tuple[Invoice, Payment, User]:
    """A flagged payment (299.99 of 300.00) paid by a colleague of the billing contact."""
    organization = db.session().get(Organization, vendor.organization_id)
    payer = factories.make_vendor(db.session(), organization, role="billing")
    invoice, payment = flagged_card_payment(client, payer, localstripe, invoice_for, received=29999)
    return invoice, payment, payer


def test_a_finance_script_gives_a_flagged_payment_back_and_the_invoice_is_unchanged(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    mailbox: SMTPServer,
) -> None:
    invoice, payment, payer = _paid_by_colleague(client, vendor, localstripe, invoice_for)
    headers = bearer(billing_staff)
    response = client.post(
        f"/api/v1/payments/{payment.id}/give-back",
        json={"reason": "The licensee paid twice; not ours to keep."},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["id"], body["state"]) == (payment.id, "given_back")
    assert (body["invoice_state"], body["invoice_balance_due"]) == ("open", "300.00")
    assert body["summary"].startswith("Given back: the card payment for ")
    # Stripe refunded all the charge took (localstripe took 300.00), once.
    [at_stripe] = _refunds_at_stripe(localstripe, payment)
    assert at_stripe["amount"] == 30000
    assert at_stripe["metadata"]["payment_id"] == str(payment.id)
    [event] = _given_back_events(payment)
    assert (event.actor, event.note) == (
        billing_staff.email,
        "The licensee paid twice; not ours to keep.",
    )
    assert event.after_data["stripe_refund_id"] == at_stripe["id"]
    assert event.after_data["amount_given_back"] == "300.00"
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.status_changed_at is not None
    assert client.get("/api/v1/payments?state=flagged", headers=headers).get_json() == []
    read = client.get(f"/api/v1/invoices/{invoice.id}", headers=headers).get_json()
    assert (read["state"], read["amount_paid"], read["balance_due"]) == ("open", "0.00", "300.00")
    # The payer and the billing contact are told, by email.
    told = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "payment_given_back")
    )
    contact = db.session().get(Organization, invoice.organization_id).billing_email  # type: ignore[union-attr]
    assert sorted(address for m in told for address in m.to) == sorted([contact, payer.email])
    mail.deliver_due(settings.delivery())
    received = {m["To"]: m for m in mailbox.wait_for(2)}
    to_payer = message_text(received[payer.email]).replace("\r\n", "\n")
    assert to_payer.startswith(f"Hello {payer.full_name},")
    assert (
        f"We have given back 300.00 USD, the card payment you made for invoice "
        f"{invoice.number}, to the card you paid with (Visa ending 4242)"
    ) in to_payer
    assert "Why: The licensee paid twice; not ours to keep." in to_payer
    assert f"the balance due on invoice {invoice.number} is still 300.00 USD" in to_payer


def test_a_retried_give_back_refunds_once_and_a_replayed_key_answers_the_same(
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    _, payment = flagged
    url = f"/api/v1/payments/{payment.id}/give-back"
    keyed = {**bearer(billing_staff), "Idempotency-Key": "give-back-77"}
    first = client.post(url, json={"reason": "Not ours."}, headers=keyed)
    assert first.status_code == 200, first.get_json()
    again = client.post(url, json={"reason": "Not ours."}, headers=keyed)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    unkeyed = client.post(url, json={"reason": "Not ours."}, headers=bearer(billing_staff))
    assert unkeyed.status_code == 409
    assert unkeyed.headers["Content-Type"].startswith("application/problem+json")
    assert "given back" in unkeyed.get_json()["detail"]
    accept = client.post(
        f"/api/v1/payments/{payment.id}/accept", json={"reason": "x"}, headers=bearer(billing_staff)
    )
    assert accept.status_code == 409  # money given back is never accepted after
    assert len(_refunds_at_stripe(localstripe, payment)) == 1
    assert len(_given_back_events(payment)) == 1


def test_a_give_back_the_rules_or_stripe_refuse_changes_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    _, payment = flagged
    url = f"/api/v1/payments/{payment.id}/give-back"
    headers = bearer(billing_staff)
    assert client.post(url, json={"reason": " "}, headers=headers).status_code == 422
    assert client.post(url, json={"reason": "x"}, headers=bearer(vendor)).status_code == 403
    with stripe_through(Refuses):
        refused = client.post(url, json={"reason": "Not ours."}, headers=headers)
    assert refused.status_code == 502
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    db.session().refresh(payment)
    assert payment.state == "flagged"
    assert _given_back_events(payment) == []
    assert _refunds_at_stripe(localstripe, payment) == []
    accepted = client.post(
        f"/api/v1/payments/{payment.id}/accept", json={"reason": "Fees."}, headers=headers
    )
    assert accepted.status_code == 200
    succeeded = client.post(url, json={"reason": "Not ours."}, headers=headers)
    assert succeeded.status_code == 409
    assert "cannot be given back" in succeeded.get_json()["detail"]
    assert _refunds_at_stripe(localstripe, payment) == []


def test_billing_staff_give_a_flagged_payment_back_from_its_page_after_confirming(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice, payment, payer = _paid_by_colleague(client, vendor, localstripe, invoice_for)
    staff = signed_in(app.test_client(), billing_staff)
    url = f"/console/payments/{payment.id}"
    page = text_of(staff.get(url))
    assert "Give it back to the card" in page
    post = f"/console/payments/{payment.id}/give-back"
    missing = staff.post(post, data={"give_back-reason": ""})
    assert missing.status_code == 422
    assert "Not given back" in text_of(missing)
    fields = {"give_back-reason": "Paid twice; returned."}
    asked = staff.post(post, data=fields)
    assert asked.status_code == 200
    question = text_of(asked)
    organization = db.session().get(Organization, invoice.organization_id)
    assert organization is not None
    assert f"Give back 299.99 USD to {payer.full_name} of {organization.legal_name}?" in question
    assert f"{invoice.number} is unchanged: the payment never counted" in question
    db.session().refresh(payment)
    assert payment.state == "flagged"  # nothing before confirming
    done = staff.post(post, data={**fields, "confirmed": "yes"})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(url)
    db.session().refresh(payment)
    assert payment.state == "given_back"
    after = text_of(staff.get(url))
    assert "given back" in after
    assert "Give it back to the card" not in after
    again = staff.post(post, data={**fields, "confirmed": "yes"})
    assert again.status_code == 409
    assert "cannot be given back" in text_of(again)
    assert len(_refunds_at_stripe(localstripe, payment)) == 1


def test_a_flagged_payment_refunded_in_stripes_dashboard_is_given_back_once(
    client: FlaskClient,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    """A refund made at Stripe (no metadata of ours): `charge.refunded` moves the
    flagged payment to `given_back`, by the system; its replay, another event about
    the same refund, and one without the refunds embedded change nothing."""
    invoice, payment = flagged
    _call(localstripe, "POST", "/v1/refunds", {"payment_intent": payment.stripe_payment_intent_id})
    event = charge_refunded_event(localstripe, payment)
    first = deliver_event(client, event).get_json()
    assert first["outcome"] == f"given back: {said(payment)}"
    assert deliver_event(client, event).get_json()["duplicate"] is True
    bare = copy.deepcopy(event)
    bare["id"] += "_bare"
    bare["data"]["object"].pop("refunds", None)
    assert deliver_event(client, bare).get_json()["outcome"].startswith("no change")
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == "given_back"
    [given] = _given_back_events(payment)
    assert given.actor == "system"
    assert (given.note or "").startswith("Refunded at Stripe (refund re_")
    assert db.session().get(Invoice, invoice.id).amount_paid == 0  # type: ignore[union-attr]


def test_a_flagged_payment_refunded_in_part_at_stripe_stays_flagged(
    client: FlaskClient,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    _, payment = flagged
    _call(
        localstripe,
        "POST",
        "/v1/refunds",
        {"payment_intent": payment.stripe_payment_intent_id, "amount": "100"},
    )
    event = charge_refunded_event(localstripe, payment)
    outcome = deliver_event(client, event).get_json()["outcome"]
    assert f"gives back part of flagged {said(payment)}; it stays flagged" in outcome
    db.session().refresh(payment)
    assert payment.state == "flagged"
    assert _given_back_events(payment) == []


def test_the_give_back_route_is_in_openapi_with_its_errors_and_idempotency_key(
    client: FlaskClient,
) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    give_back = paths["/api/v1/payments/{payment_id}/give-back"]["post"]
    assert {"200", "403", "409", "422", "502"} <= set(give_back["responses"])
    assert "Idempotency-Key" in [parameter["name"] for parameter in give_back["parameters"]]


def test_reconcile_gives_back_a_flagged_payment_refunded_at_stripe_whose_webhook_never_came(
    app: Flask,
    client: FlaskClient,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    _, payment = flagged
    runner = app.test_cli_runner()
    later = (utcnow() + timedelta(hours=1)).isoformat()
    untouched = runner.invoke(args=["payments", "reconcile", "--now", later])
    assert untouched.exit_code == 0, untouched.output
    assert f"{logged(payment)}: no change: Stripe lists no refund of it" in untouched.output
    _call(localstripe, "POST", "/v1/refunds", {"payment_intent": payment.stripe_payment_intent_id})
    result = runner.invoke(args=["payments", "reconcile", "--now", later])
    assert result.exit_code == 0, result.output
    assert f"{logged(payment)}: given back\n" in result.output
    assert "1 flagged card payment(s) checked: 1 applied" in result.output
    db.session().refresh(payment)
    assert payment.state == "given_back"
    again = runner.invoke(args=["payments", "reconcile", "--now", later])
    assert "0 flagged card payment(s) checked" in again.output
    assert len(_given_back_events(payment)) == 1


class _GiveBackFailed(LostAnswer):
    """The real gateway (localstripe, whose refunds always succeed), except that
    Stripe now lists refund `failed_id` as failed: the card's bank returned it."""

    def __init__(self, real: payment_gateway.PaymentGateway, failed_id: str) -> None:
        super().__init__(real)
        self.failed_id = failed_id

    def list_refunds(self, payment_intent_id: str) -> list[payment_gateway.RefundStatus]:
        return [
            dataclasses.replace(status, status="failed", failure_reason="lost_or_stolen_card")
            if status.id == self.failed_id
            else status
            for status in self.real.list_refunds(payment_intent_id)
        ]


def test_reconcile_flags_again_a_payment_whose_give_back_failed_and_whose_webhook_never_came(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 40: reconcile asked only about flagged payments, so a `refund.failed`
    that never came left a payment given back for good. It now asks Stripe about the
    payments given back in the last 30 days (`GIVE_BACK_FAILURE_WINDOW`) and flags
    again, through `fail_give_back`, one whose give-back's refund failed. Tested
    through a gateway double over localstripe: localstripe's refunds never fail."""
    _, payment = flagged
    refund = _given_back_by_api(client, billing_staff, localstripe, payment)
    runner = app.test_cli_runner()
    later = utcnow() + timedelta(hours=1)
    told_before = len(_flagged_notices(payment))

    succeeded = runner.invoke(args=["payments", "reconcile", "--now", later.isoformat()])
    assert succeeded.exit_code == 0, succeeded.output
    assert f"{logged(payment)}: no change: it is given back already" in (succeeded.output)
    assert "1 given-back card payment(s) checked: 0 applied" in succeeded.output

    with stripe_through(lambda real: _GiveBackFailed(real, refund["id"])):
        # Past the window it is not asked about: the webhook is its only news.
        too_late = later + services.GIVE_BACK_FAILURE_WINDOW
        old = runner.invoke(args=["payments", "reconcile", "--now", too_late.isoformat()])
        assert "0 given-back card payment(s) checked" in old.output
        result = runner.invoke(args=["payments", "reconcile", "--now", later.isoformat()])
    assert result.exit_code == 0, result.output
    assert (f"{logged(payment)}: flagged again, its give-back failed") in result.output
    assert "1 given-back card payment(s) checked: 1 applied" in result.output
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == "flagged"
    [event] = _payment_events(payment, "payment.give_back_failed")
    assert event.actor == "system"
    assert event.after_data["stripe_refund_id"] == refund["id"]
    assert "lost_or_stolen_card" in (event.note or "")
    assert len(_flagged_notices(payment)) == told_before + 1  # staff told, as by the webhook
    # The licensee's invoice page says their money is being checked again.
    page = text_of(
        signed_in(app.test_client(), vendor).get(f"/portal/invoices/{stored.invoice_id}")
    )
    given_on = _events_day(payment, "payment.given_back")
    assert (
        "Your card payment of 299.99 USD is being checked again: giving it back to your "
        f"card on {given_on} did not go through."
    ) in page

    again = runner.invoke(args=["payments", "reconcile", "--now", later.isoformat()])
    assert "0 given-back card payment(s) checked" in again.output
    assert len(_flagged_notices(payment)) == told_before + 1


def test_the_pay_pages_poll_says_a_payment_given_back_went_back_to_the_card(
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    """The emailed link's page polls the attempt: given back, it is `closed`, "Given
    back" (it read "Still processing", the fallback for a state it did not know)."""
    invoice, payment = flagged
    given = _ask_give_back(client, billing_staff, payment)
    assert given.status_code == 200
    link = f"/invoice-links/{invoice.id}/{links.token(invoice)}"
    polled = client.get(f"{link}/card-payments/{payment.id}").get_json()
    assert (polled["outcome"], polled["title"]) == ("closed", "Given back")
    assert "went back to the card" in polled["message"]


class _KeysKept(LostAnswer):
    """The real gateway, keeping the idempotency keys the refunds are asked with
    (localstripe answers every key with a new Refund; Stripe, for 24 hours, with
    the first one's)."""

    def __init__(self, real: payment_gateway.PaymentGateway, keys: list[str]) -> None:
        super().__init__(real)
        self.keys = keys

    def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
        self.keys.append(kwargs["idempotency_key"])
        return self.real.create_refund(**kwargs)


def _flagged_notices(payment: Payment) -> list[OutboxMessage]:
    return [
        message
        for message in db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "payment_flagged")
            .order_by(OutboxMessage.id)
        )
        if f"Stripe payment {payment.stripe_payment_intent_id}" in message.body_text
    ]


def test_a_give_back_stripe_reports_failed_is_flagged_again_once_and_may_be_given_back_anew(
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    """Round 37: the refund that gave the money back fails at the card's bank (Stripe's
    `refund.failed`): the money is back with us, so the payment is `flagged` again by
    the state machine, audited, billing staff told as when it was flagged; a replay or
    the same news in `refund.updated` changes nothing; given back anew, Stripe is asked
    for a new Refund (the first key would answer with the one that failed), and a late
    failure of the first refund then leaves the payment given back."""
    invoice, payment = flagged
    url = f"/api/v1/payments/{payment.id}/give-back"
    headers = bearer(billing_staff)
    assert client.post(url, json={"reason": "Not ours."}, headers=headers).status_code == 200
    [first] = _refunds_at_stripe(localstripe, payment)
    told_before = len(_flagged_notices(payment))
    given_at = utcnow() - timedelta(days=3)
    db.session().refresh(payment)
    payment.status_changed_at = given_at  # given back three nights ago
    db.session().commit()

    failed = refund_failed_event(localstripe, first["id"])
    outcome = deliver_event(client, failed).get_json()["outcome"]
    assert outcome == f"flagged again: {said(payment)}, its give-back failed"
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == "flagged"
    assert stored.status_changed_at is not None
    assert stored.status_changed_at > given_at
    [event] = _payment_events(payment, "payment.give_back_failed")
    assert event.actor == "system"
    assert (event.before_data, event.after_data["state"]) == ({"state": "given_back"}, "flagged")
    assert event.after_data["stripe_refund_id"] == first["id"]
    assert "expired_or_canceled_card" in (event.note or "")
    notices = _flagged_notices(payment)
    assert len(notices) == told_before + 1
    assert notices[-1].to == [billing_staff.email]
    assert notices[-1].subject == f"Card payment for {invoice.number} needs review"
    assert "Why: Stripe could not give it back" in notices[-1].body_text
    listed = client.get("/api/v1/payments?state=flagged", headers=headers).get_json()
    assert [p["id"] for p in listed] == [payment.id]

    # The same news again: a replayed event, then `refund.updated` saying it failed.
    assert deliver_event(client, failed).get_json()["duplicate"] is True
    updated = refund_failed_event(localstripe, first["id"], kind="refund.updated")
    assert deliver_event(client, updated).get_json()["outcome"].startswith("no change")
    assert len(_flagged_notices(payment)) == told_before + 1

    # Given back anew: a new Refund at Stripe, and the payment given back by it.
    keys: list[str] = []
    with stripe_through(lambda real: _KeysKept(real, keys)):
        again = client.post(url, json={"reason": "Not ours, again."}, headers=headers)
    assert again.status_code == 200, again.get_json()
    assert keys == [f"give-back-{payment.id}-2"]  # the first key: Stripe's failed Refund
    refunds = _refunds_at_stripe(localstripe, payment)
    assert len(refunds) == 2
    [second] = [r for r in refunds if r["id"] != first["id"]]
    given = sorted(_given_back_events(payment), key=lambda event: event.seq)
    assert [e.after_data["stripe_refund_id"] for e in given] == [first["id"], second["id"]]
    # The first refund's failure told late (another event id) changes nothing now.
    late = {**failed, "id": f"{failed['id']}_late"}
    assert "given back by another" in deliver_event(client, late).get_json()["outcome"]
    db.session().expire_all()
    assert db.session().get(Payment, payment.id).state == "given_back"  # type: ignore[union-attr]
    assert len(_given_back_events(payment)) == 2


def test_the_give_back_confirmation_names_the_billing_contact_alone_when_they_paid(
    app: Flask,
    vendor: User,
    billing_staff: User,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 37: the confirmation names who is emailed as the email goes: the payer
    who is the billing contact is written to once, as the contact (it said "and the
    payer", naming nobody)."""
    invoice, payment = flagged
    organization = db.session().get(Organization, invoice.organization_id)
    assert organization is not None
    organization.billing_email = vendor.email
    db.session().commit()
    staff = signed_in(app.test_client(), billing_staff)
    asked = staff.post(
        f"/console/payments/{payment.id}/give-back", data={"give_back-reason": "Paid twice."}
    )
    assert asked.status_code == 200
    question = text_of(asked)
    contact = f"{organization.billing_contact_name} ({vendor.email})"
    assert f"The billing contact, {contact}, is emailed why." in question
    assert "the payer" not in question


def _events_iso(payment: Payment, action: str) -> str:
    """The office day of the payment's latest `action` audit event, YYYY-MM-DD."""
    event = (
        db.session()
        .scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.entity_id == str(payment.id))
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        .one()
    )
    return office_date(event.occurred_at).isoformat()


def _events_day(payment: Payment, action: str) -> str:
    """The office day of the payment's latest `action` audit event, as pages say it
    (in words since round 57)."""
    return day_text(date.fromisoformat(_events_iso(payment, action)))


def test_the_payments_page_says_stripe_took_the_money_held_it_and_gave_it_back(
    app: Flask,
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 38: a flagged or given-back card payment's page said "Received: not
    received" though Stripe took the money (and, given back, gave it back); it says
    what happened to the money in each state, from what is stored."""
    invoice, payment = flagged
    staff = signed_in(app.test_client(), billing_staff)
    url = f"/console/payments/{payment.id}"
    taken_on = _events_day(payment, "payment.flagged")
    page = text_of(staff.get(url))
    assert "not received" not in page
    assert (
        f"Received 299.99 USD taken by Stripe on {taken_on}, and held for review: "
        f"it counts against {invoice.number} only if accepted."
    ) in page

    headers = bearer(billing_staff)
    given = client.post(
        f"/api/v1/payments/{payment.id}/give-back", json={"reason": "Not ours."}, headers=headers
    )
    assert given.status_code == 200, given.get_json()
    [refund] = _refunds_at_stripe(localstripe, payment)
    page = text_of(staff.get(url))
    assert "not received" not in page
    assert (
        f"Received 299.99 USD taken by Stripe on {taken_on}, held for review, and given back "
        f"to the card on {_events_day(payment, 'payment.given_back')} (300.00 USD, Stripe "
        f"refund {refund['id']}): it never counted against {invoice.number}."
    ) in page
    # Nor is it credited from here: it never counted, and its money went back.
    assert "Issue a credit note" not in page
    assert f"never counted against {invoice.number} and its money went back to the card" in page

    # Its give-back failed at the card's bank: flagged again, the money with us again.
    deliver_event(client, refund_failed_event(localstripe, refund["id"]))
    page = text_of(staff.get(url))
    assert (
        f"and held for review: it counts against {invoice.number} only if accepted. It was "
        f"given back to the card on {_events_day(payment, 'payment.given_back')}, but Stripe "
        f"reported on {_events_day(payment, 'payment.give_back_failed')} that the refund "
        "failed: the money is with us again."
    ) in page


def test_money_taken_in_another_currency_is_said_without_an_amount_of_the_invoices(
    app: Flask,
    billing_staff: User,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 38: a payment flagged for another currency stores 0.00 received of the
    invoice's: its page does not say "0.00 USD taken", but that it came in another."""
    _invoice, payment = flagged
    db.session().refresh(payment)
    payment.amount_received = Decimal("0.00")
    payment.note = "currency eur received, usd asked"
    db.session().commit()
    staff = signed_in(app.test_client(), billing_staff)
    page = text_of(staff.get(f"/console/payments/{payment.id}"))
    assert "0.00 USD taken" not in page
    assert (
        "Received its money (in another currency than asked) taken by Stripe on "
        f"{_events_day(payment, 'payment.flagged')}, and held for review"
    ) in page


def test_a_payment_being_given_back_is_not_accepted_until_stripes_answer_is_in(
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    """Round 39: the give-back asks Stripe outside its transaction; a colleague's
    accept in that while made the payment count 299.99 against its invoice while
    Stripe refunded the money to the card, and the give-back answered 200 "Given
    back ... It never counted" with the payment `succeeded`."""
    invoice, payment = flagged
    refused: list[str] = []

    class AcceptedMeanwhile(LostAnswer):
        def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
            try:
                services.accept_flagged_payment(
                    payment.id, note="Fees.", actor=factories.billing_clerk()
                )
            except Conflict as error:
                refused.append(error.detail)
            return self.real.create_refund(**kwargs)

    with stripe_through(AcceptedMeanwhile):
        response = _ask_give_back(client, billing_staff, payment)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "given_back"
    [detail] = refused
    # Round 42: the state machine's 409, saying what the state allows and why.
    # Round 43: it says what the state waits on, not Stripe's steps as if staff's.
    assert detail.startswith(
        "A payment that is being given back cannot be accepted: Stripe has not answered "
        "the give-back yet; "
    )
    db.session().expire_all()
    _invoice_unchanged(client, billing_staff, invoice)


def test_a_give_back_whose_answer_was_lost_holds_until_reconcile_brings_stripes_answer(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    """Round 42: round 39 refused an accept while a give-back's answer was lost, for
    an hour; after it the payment could be accepted and its 299.99 counted against
    the invoice though Stripe had refunded it to the card. The ask is a state
    (`giving_back`): accepting or giving back again is a 409 for as long as Stripe
    has not answered, and `payments reconcile` asks Stripe and gives it back."""
    invoice, payment = flagged
    url = f"/api/v1/payments/{payment.id}/give-back"
    with stripe_through(LostAnswer):  # Stripe refunded it; its answer never came
        lost = client.post(url, json={"reason": "Not ours."}, headers=bearer(billing_staff))
    assert lost.status_code == 502
    read = client.get(f"/api/v1/payments/{payment.id}", headers=bearer(billing_staff))
    assert read.get_json()["state"] == "giving_back"
    later = utcnow() + timedelta(days=2)
    with pytest.raises(Conflict) as held:
        services.accept_flagged_payment(
            payment.id, note="Fees.", now=later, actor=factories.billing_clerk()
        )
    assert "Stripe has not answered the give-back yet" in held.value.detail
    accept = f"/api/v1/payments/{payment.id}/accept"
    refused = client.post(accept, json={"reason": "Fees."}, headers=bearer(billing_staff))
    assert refused.status_code == 409
    assert "`licensing payments reconcile` asks it" in refused.get_json()["detail"]
    again = client.post(url, json={"reason": "Not ours."}, headers=bearer(billing_staff))
    assert again.status_code == 409
    assert again.get_json()["detail"].startswith(
        "A payment that is being given back cannot be given back: Stripe has not answered "
    )
    assert len(_refunds_at_stripe(localstripe, payment)) == 1

    runner = app.test_cli_runner()
    soon = utcnow() + timedelta(minutes=1)  # the request may still be on its way
    early = runner.invoke(args=["payments", "reconcile", "--now", soon.isoformat()])
    assert "0 card payment(s) being given back checked" in early.output
    result = runner.invoke(args=["payments", "reconcile", "--now", later.isoformat()])
    assert result.exit_code == 0, result.output
    assert f"{logged(payment)}: given back\n" in result.output
    assert "1 card payment(s) being given back checked: 1 applied" in result.output
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == "given_back"
    [given] = _given_back_events(payment)
    assert given.actor == "system"
    assert given.before_data == {"state": "giving_back"}
    assert "Given back by" in (given.note or "")
    # The licensee is told now, as the answer would have told them.
    told = [m for m in db.session().scalars(select(OutboxMessage)) if vendor.email in m.to]
    assert [m.template for m in told].count("payment_given_back") == 1
    _invoice_unchanged(client, billing_staff, invoice)


def test_a_give_back_that_never_reached_stripe_is_flagged_again_by_reconcile(
    app: Flask,
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    """Round 42: a give-back whose request never left this host waits in
    `giving_back`; reconcile finds Stripe made no refund of it and flags it again
    (`refuse_give_back`, audited `payment.give_back_refused`), to be accepted."""
    _, payment = flagged
    told_before = len(_flagged_notices(payment))
    url = f"/api/v1/payments/{payment.id}/give-back"
    with stripe_through(NeverSent):
        lost = client.post(url, json={"reason": "Not ours."}, headers=bearer(billing_staff))
    assert lost.status_code == 502
    later = utcnow() + timedelta(minutes=10)
    result = app.test_cli_runner().invoke(
        args=["payments", "reconcile", "--now", later.isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert (
        f"{logged(payment)}: flagged again, Stripe never made its give-back's refund"
    ) in result.output
    [refused] = _payment_events(payment, "payment.give_back_refused")
    assert refused.actor == "system"
    assert refused.before_data == {"state": "giving_back"}
    # Round 47: a lost answer, not Stripe's refusal: the next give-back keeps the key.
    assert refused.after_data == {"state": "flagged", "refused_by": "never_reached_stripe"}
    # Billing staff are told it waits for them again; the licensee was told nothing.
    assert len(_flagged_notices(payment)) == told_before + 1
    notice = _flagged_notices(payment)[-1]
    assert "Stripe has no refund from this give-back" in notice.body_text
    assert "The licensee was not told it was given back" in notice.body_text
    accepted = services.accept_flagged_payment(
        payment.id, note="Fees.", now=later, actor=factories.billing_clerk()
    )
    assert accepted.state == "succeeded"


def _ask_give_back(client: FlaskClient, staff: User, payment: Payment) -> TestResponse:
    """`staff`'s script asks to give `payment` back, for "Not ours."."""
    return client.post(
        f"/api/v1/payments/{payment.id}/give-back",
        json={"reason": "Not ours."},
        headers=bearer(staff),
    )


def _given_back_by_api(
    client: FlaskClient, staff: User, localstripe: LocalStripe, payment: Payment
) -> dict[str, Any]:
    """`payment` given back by a script of `staff`'s: Stripe's newest Refund of it."""
    given = _ask_give_back(client, staff, payment)
    assert given.status_code == 200, given.get_json()
    assert given.get_json()["state"] == "given_back"
    return _refunds_at_stripe(localstripe, payment)[0]


def test_the_invoices_page_says_what_became_of_a_flagged_payments_money(
    app: Flask,
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 39: the invoice's console page listed a flagged or given-back payment's
    day under *Date paid* as if it had paid; it says, in the payment page's words,
    what Stripe did with the money."""
    invoice, payment = flagged
    staff = signed_in(app.test_client(), billing_staff)
    url = f"/console/invoices/{invoice.id}"
    taken_on = _events_day(payment, "payment.flagged")
    page = text_of(staff.get(url))
    assert (
        f"299.99 USD taken by Stripe on {taken_on}, and held for review: "
        f"it counts against {invoice.number} only if accepted."
    ) in page

    refund = _given_back_by_api(client, billing_staff, localstripe, payment)
    page = text_of(staff.get(url))
    assert (
        f"299.99 USD taken by Stripe on {taken_on}, held for review, and given back to the "
        f"card on {_events_day(payment, 'payment.given_back')} (300.00 USD, Stripe refund "
        f"{refund['id']}): it never counted against {invoice.number}."
    ) in page
    # The same sentence as the payment's own page.
    assert "Stripe refund" in text_of(staff.get(f"/console/payments/{payment.id}"))


def test_the_licensees_invoice_page_says_in_their_words_what_became_of_their_card_payment(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 40: the portal's invoice page listed a flagged or given-back payment as if
    it had paid (its state "flagged", its day under *Date paid*); it says, in the
    licensee's words (the given-back email's), what became of their money."""
    invoice, payment = flagged
    url = f"/portal/invoices/{invoice.id}"
    portal = signed_in(app.test_client(), vendor)
    page = text_of(portal.get(url))
    assert (
        "Your card payment of 299.99 USD is being checked. It counts against the invoice "
        "only once the office accepts it; if it does not, the money goes back to your card."
    ) in page
    assert "being checked" in page
    assert "flagged" not in page.lower()
    assert "taken by Stripe" not in page
    assert "held for review" not in page

    _given_back_by_api(client, billing_staff, localstripe, payment)
    page = text_of(portal.get(url))
    day = _events_day(payment, "payment.given_back")
    assert (
        f"Your card payment of 300.00 USD was given back to your card on {day}; your bank "
        "may take a few days to show it. It never counted against the invoice."
    ) in page
    # The email the licensee was sent says it in the same words.
    [email] = [
        m
        for m in db.session().scalars(select(OutboxMessage))
        if m.template == "payment_given_back" and vendor.email in m.to
    ]
    assert "your bank may take a few days to show it." in email.body_text
    assert "It never counted against the invoice: " in email.body_text


class _FailsMeanwhile(LostAnswer):
    """The real gateway; Stripe's `refund.failed` for the give-back's refund is
    delivered (to `client`) before its answer reaches the give-back's request."""

    def __init__(
        self, real: payment_gateway.PaymentGateway, client: FlaskClient, localstripe: LocalStripe
    ) -> None:
        super().__init__(real)
        self.client, self.localstripe, self.outcomes = client, localstripe, list[str]()

    def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
        status = self.real.create_refund(**kwargs)
        failed = refund_failed_event(self.localstripe, status.id)
        self.outcomes.append(deliver_event(self.client, failed).get_json()["outcome"])
        return status


def test_a_give_back_that_fails_before_its_request_stores_it_ends_flagged_once(
    app: Flask,
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 39 (round 37's race): Stripe's `refund.failed` arrived while the
    give-back's request waited for Stripe's answer; it found the payment still
    flagged and said "no change", and the request then stored `given_back`: the
    money was back with us and the payment said it had gone. The webhook now keeps
    the failure on the flagged payment, and the request, storing the give-back,
    flags it again at once: staff are told, the licensee is not told it went back,
    and a new give-back asks Stripe with a key of its own."""
    invoice, payment = flagged
    told_before = len(_flagged_notices(payment))
    sent_before = len(db.session().scalars(select(OutboxMessage)).all())
    meanwhile: list[_FailsMeanwhile] = []

    def failing(real: payment_gateway.PaymentGateway) -> _FailsMeanwhile:
        meanwhile.append(_FailsMeanwhile(real, app.test_client(), localstripe))
        return meanwhile[-1]

    with stripe_through(failing):
        response = _ask_give_back(client, billing_staff, payment)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "flagged"
    assert response.get_json()["summary"].startswith(
        "Not given back: Stripe reported the refund failed"
    )
    [outcome] = meanwhile[0].outcomes
    assert outcome == f"flagged again: {said(payment)}, its give-back failed in flight"
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == "flagged"
    actions = [
        e.action
        for e in db.session().scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "payment", AuditEvent.entity_id == str(payment.id))
            .order_by(AuditEvent.seq)
        )
    ]
    # Round 42: the ask made it `giving_back`; the failure flagged it again from there.
    assert actions[-2:] == ["payment.give_back_asked", "payment.give_back_failed"]
    # Staff are told, as for any failed give-back; the licensee is not told it went back.
    assert len(_flagged_notices(payment)) == told_before + 1
    assert "The licensee was not told it was given back" in _flagged_notices(payment)[-1].body_text
    sent = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.template for m in sent[sent_before:]] == ["payment_flagged"]
    # The payment's page says the give-back was tried and failed, and when (round 42:
    # it said only "held for review", as if never tried).
    staff = signed_in(app.test_client(), billing_staff)
    day = _events_day(payment, "payment.give_back_failed")
    assert (
        f"Giving it back to the card was tried on {day}, but Stripe reported on {day}, "
        "before it went, that the refund failed: the money is with us again."
    ) in text_of(staff.get(f"/console/payments/{payment.id}"))
    # Given back anew: a key of its own, so Stripe makes a new Refund.
    second = _given_back_by_api(client, billing_staff, localstripe, payment)
    assert len(_refunds_at_stripe(localstripe, payment)) == 2
    assert second["status"] == "succeeded"
    assert invoice.balance_due == Decimal("300.00")


def test_staff_told_of_a_failed_give_back_learn_whom_to_write_to_and_the_licensee_hears_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    mailbox: SMTPServer,
) -> None:
    """Round 39: the billing contact and the payer are emailed when the money goes
    back (round 36); when Stripe then reports the refund failed, they are not emailed
    (what they hear next is staff's to decide, round 37), but staff's email, over
    SMTP, now names them and the day they were told, so staff know whom to write to."""
    invoice, payment, payer = _paid_by_colleague(client, vendor, localstripe, invoice_for)
    organization = db.session().get(Organization, invoice.organization_id)
    assert organization is not None
    refund = _given_back_by_api(client, billing_staff, localstripe, payment)
    deliver_event(client, refund_failed_event(localstripe, refund["id"]))
    mail.deliver_due(settings.delivery())
    until(lambda: len(mailbox.to(billing_staff.email)) >= 2)  # flagged, then failed
    to_staff = message_text(mailbox.to(billing_staff.email)[-1]).replace("\r\n", "\n")
    told_on = _events_iso(payment, "payment.given_back")
    assert "Why: Stripe could not give it back" in to_staff
    assert (
        f"Told on {told_on} that it went back to the card: the billing contact, "
        f"{organization.billing_contact_name} ({organization.billing_email}), and the payer, "
        f"{payer.full_name} ({payer.email}). Write to them: the money will not reach the card."
    ) in to_staff
    # The licensee's side got the give-back's email only, once each.
    for address in (organization.billing_email, payer.email):
        subjects = [str(m["Subject"]) for m in mailbox.to(address)]
        assert [s for s in subjects if "given back" in s] == [
            f"Card payment of 300.00 USD given back for invoice {invoice.number}"
        ]
        assert not [s for s in subjects if "fail" in s.lower()]


def test_pages_api_and_poll_say_what_a_payment_being_given_back_means(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 42: a payment whose give-back Stripe has not answered is `giving_back`;
    the console's payment and invoice pages, the licensee's invoice page, the pay
    page's poll and the API each say what that means, and the console offers
    neither *Accept* nor *Give back* for it."""
    invoice, payment = flagged
    with stripe_through(NeverSent):
        assert _ask_give_back(client, billing_staff, payment).status_code == 502
    asked_on = _events_day(payment, "payment.give_back_asked")
    taken_on = _events_day(payment, "payment.flagged")
    said = (
        f"299.99 USD taken by Stripe on {taken_on}, held for review, and being given back "
        f"to the card: Stripe was asked on {asked_on} and has not answered yet "
        "(`licensing payments reconcile` asks it). It does not count against "
        f"{invoice.number}, and cannot be accepted until Stripe answers."
    )
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(f"/console/payments/{payment.id}")
    read = text_of(page)
    assert said in read
    assert "being given back" in read
    html = page.get_data(as_text=True)
    assert 'class="badge state-being_given_back"' in html
    assert f"/console/payments/{payment.id}/accept" not in html
    assert f"/console/payments/{payment.id}/give-back" not in html
    assert said in text_of(staff.get(f"/console/invoices/{invoice.id}"))
    to_review = text_of(staff.get("/console/invoices"))
    assert payment.named(invoice.number, in_words=True) in to_review
    assert (
        "being given back: Stripe has not answered yet (`licensing payments reconcile` asks it)"
    ) in to_review
    portal = text_of(signed_in(app.test_client(), vendor).get(f"/portal/invoices/{invoice.id}"))
    assert (
        "Your card payment of 299.99 USD is being given back to your card: the office asked "
        "our card processor to refund it, and is waiting for its answer (since "
        f"{asked_on}). It never counted against the invoice."
    ) in portal
    assert "giving_back" not in portal
    link = f"/invoice-links/{invoice.id}/{links.token(invoice)}"
    polled = client.get(f"{link}/card-payments/{payment.id}").get_json()
    assert (polled["outcome"], polled["title"]) == ("review", "Being given back")
    answer = client.get(f"/api/v1/payments/{payment.id}", headers=bearer(billing_staff))
    read_api = answer.get_json()
    assert read_api["state"] == "giving_back"
    assert read_api["state_meaning"].startswith(
        "Being given back: billing staff asked Stripe to refund it to the card and Stripe "
        "has not answered yet."
    )
    document = client.get("/api/v1/openapi.json").get_json()
    state = document["components"]["schemas"]["Payment"]["properties"]["state"]
    assert "giving_back" in state["enum"]
    assert "`giving_back`: Being given back" in state["description"]


def test_the_received_row_says_a_give_back_stripe_refused_was_tried_and_when(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 42: a payment flagged again after a give-back that did not go (Stripe
    refused it, or reconcile found it never reached Stripe) read "held for review"
    as if nobody had tried; its Received row says when it was tried and when it
    failed, on the payment's and the invoice's pages, and the licensee reads that
    giving it back did not go through."""
    invoice, payment = flagged
    with stripe_through(Refuses):
        assert _ask_give_back(client, billing_staff, payment).status_code == 502
    tried = _events_day(payment, "payment.give_back_asked")
    failed = _events_day(payment, "payment.give_back_refused")
    said = (
        f"Giving it back to the card was tried on {tried} and failed on {failed}: Stripe "
        "made no refund (it refused, or never received the request), so the money stayed "
        "with us."
    )
    staff = signed_in(app.test_client(), billing_staff)
    assert said in text_of(staff.get(f"/console/payments/{payment.id}"))
    assert said in text_of(staff.get(f"/console/invoices/{invoice.id}"))
    portal = text_of(signed_in(app.test_client(), vendor).get(f"/portal/invoices/{invoice.id}"))
    assert (
        f"Your card payment of 299.99 USD is being checked again: giving it back to your "
        f"card on {tried} did not go through."
    ) in portal
    # Given back anew, it says it went back, not the attempt before.
    _given_back_by_api(client, billing_staff, localstripe, payment)
    assert said not in text_of(staff.get(f"/console/payments/{payment.id}"))


class _FailsAtOnce(LostAnswer):
    """The real gateway, except that Stripe answers the Refund it made `failed`."""

    def create_refund(self, **kwargs: Any) -> payment_gateway.RefundStatus:
        made = self.real.create_refund(**kwargs)
        return dataclasses.replace(made, status="failed", failure_reason="expired_or_canceled_card")


def test_a_give_back_stripe_answers_failed_at_once_is_asked_anew_with_a_key_of_its_own(
    client: FlaskClient,
    billing_staff: User,
    localstripe: LocalStripe,
    flagged: tuple[Invoice, Payment],
) -> None:
    """Round 42: Stripe made the Refund and answered it `failed` at once. It was
    recorded as a refusal, so the next give-back asked with the same key and Stripe
    would have answered with the same failed Refund; it is now the give-back's
    failure (`fail_give_back` from `giving_back`, with the refund), flagged again,
    and the next give-back asks with a key of its own."""
    _, payment = flagged
    with stripe_through(_FailsAtOnce):
        failed = _ask_give_back(client, billing_staff, payment)
    assert failed.status_code == 502
    assert "expired_or_canceled_card" in failed.get_json()["detail"]
    [refund] = _refunds_at_stripe(localstripe, payment)
    [event] = _payment_events(payment, "payment.give_back_failed")
    assert event.before_data == {"state": "giving_back"}
    assert event.after_data["stripe_refund_id"] == refund["id"]
    keys: list[str] = []
    with stripe_through(lambda real: _KeysKept(real, keys)):
        again = _ask_give_back(client, billing_staff, payment)
    assert again.status_code == 200, again.get_json()
    assert keys == [f"give-back-{payment.id}-2"]


def _home_row(page: str, title: str) -> str:
    """The console home's *Work waiting* row whose link starts with `title`, as text."""
    [row] = [r for r in page.split("<tr") if f">{title}" in r]
    return " ".join(re.sub(r"<[^>]+>", " ", row.split("</tr>")[0].split(">", 1)[1]).split())


def test_the_console_home_counts_payments_being_given_back_apart_from_those_to_check(
    app: Flask,
    client: FlaskClient,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    flagged: tuple[Invoice, Payment],
) -> None:
    """Round 43: *Card payments to check* counted flagged payments only, and a payment
    being given back (which waits on Stripe, not staff) was counted nowhere: the home
    said nothing of money that may be on its way back to a card. It has a row of its
    own, with when the oldest was asked, needing attention only once it has waited
    over a day (reconcile could not settle it)."""
    _, payment = flagged
    staff = signed_in(app.test_client(), billing_staff)
    before = staff.get("/console/").get_data(as_text=True)
    assert "Card payments to check (amount did not match) 1 1 flagged" in _home_row(
        before, "Card payments to check"
    )
    with stripe_through(LostAnswer):
        assert _ask_give_back(client, billing_staff, payment).status_code == 502
    home = staff.get("/console/").get_data(as_text=True)
    assert "(amount did not match) 0 none" in _home_row(home, "Card payments to check")
    waiting = _home_row(home, "Card payments being given back")
    assert "Card payments being given back (waiting on Stripe)" in waiting
    assert "Nothing to do until Stripe answers" in waiting
    assert "reconcile` asks it. 1 none" in waiting
    # Round 44: one waiting links to its payment's page (it linked the invoices page,
    # whose list linked the invoice, whose page offers nothing for it).
    [link] = re.findall(r'<a href="([^"]*)"[^>]*>Card payments being given back', home)
    assert link == f"/console/payments/{payment.id}"
    listed = staff.get("/console/invoices").get_data(as_text=True)
    named = payment.named(payment.invoice.number, in_words=True)
    assert f'<a href="/console/payments/{payment.id}">{named}</a>' in listed
    # A day later, reconcile has not settled it: it needs someone to look.
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    stored.status_changed_at = utcnow() - timedelta(days=2)
    db.session().commit()
    late = staff.get("/console/").get_data(as_text=True)
    assert "1 1 waiting over a day" in _home_row(late, "Card payments being given back")
