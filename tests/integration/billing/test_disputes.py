"""A card payment disputed by the licensee's bank: Stripe's `charge.dispute.*` events,
built with the Dispute object's field names and delivered signed to the webhook
(localstripe has no disputes) after a real localstripe card payment."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from licensing import calendar, db
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing import views as billing_views
from licensing.billing.models import (
    Invoice,
    Payment,
    PaymentDispute,
    PaymentReversal,
    UnmatchedDispute,
)
from licensing.billing.queries import disputed_on
from licensing.billing.services import webhooks
from licensing.billing.stripe_gateway import StripeGateway
from licensing.errors import ExternalServiceError
from licensing.finance import queries as finance
from licensing.finance.queries import Filters
from licensing.mail.models import OutboxMessage
from tests.support import settings
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import (
    DUE_BY,
    REINSTATED,
    WITHDRAWN,
    dispute_event,
    paid_with_charge,
)
from .refund_support import deliver, paid_by_card
from .stripe_support import _call, deliver_now, signed, stripe_config

# A fixed day before the disputes dated in March 2027: passed only before 3 March 2027.
pytestmark = pytest.mark.usefixtures("before_the_disputes")


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _emails(subject_part: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.subject.contains(subject_part))
        )
    )


def _audited(action: str) -> int:
    return db.session().scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def _dispute() -> PaymentDispute:
    return db.session().scalars(select(PaymentDispute)).one()


def test_a_dispute_opened_takes_the_money_off_the_invoice_on_the_day_stripe_withdrew_it(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    # Stripe withdraws the money as the dispute opens: `created` carries it already.
    created = dispute_event("charge.dispute.created", payment, charge, moved=(WITHDRAWN,))
    outcome = deliver(client, created)["outcome"]
    assert "recorded" in outcome
    assert "withdrawal of 250.00 booked" in outcome
    withdrawn = dispute_event("charge.dispute.funds_withdrawn", payment, charge, moved=(WITHDRAWN,))
    assert "booked" not in deliver(client, withdrawn)["outcome"]
    assert deliver(client, withdrawn)["duplicate"] is True
    db.session().refresh(invoice)
    db.session().refresh(payment)
    dispute = _dispute()
    assert (dispute.state, dispute.status, dispute.amount) == ("open", "needs_response", 250)
    assert dispute.evidence_due_by == DUE_BY
    assert dispute.withdrawn_on == date(2027, 3, 2)
    assert (invoice.state, invoice.amount_paid, invoice.balance_due) == ("open", 0, 250)
    assert payment.state == "reversed"
    reversal = db.session().scalars(select(PaymentReversal)).one()
    assert (reversal.amount, reversal.returned_on) == (Decimal("250.00"), date(2027, 3, 2))
    assert "dispute du_1Harborlight" in reversal.reason
    assert _audited("payment.charged_back") == 1
    assert _audited("dispute.opened") == 1
    (told,) = _emails("disputed")
    assert billing_staff.email in told.recipients
    assert "Evidence due by" in told.body_text
    assert "Stripe dashboard" in told.body_text
    assert invoice.number in told.body_text
    assert "250.00 USD" in told.body_text
    assert vendor.organization.legal_name in told.body_text
    # Sent once the withdrawal of the same event was booked: the balance is owed now.
    assert "balance due now 250.00 USD" in told.body_text
    # Round 29: it leads to the payment's page, where the dispute is, then the invoice.
    payment_page = f"http://testserver/console/payments/{payment.id}"
    payment_line = f"The payment, its dispute and evidence due date: {payment_page}\n"
    invoice_line = f"The invoice: http://testserver/console/invoices/{invoice.id}\n"
    assert payment_line in told.body_text
    assert told.body_text.index(payment_line) < told.body_text.index(invoice_line)
    # The billing contact is not told a dispute opened, nor chased while it is open.
    assert not _emails("owed again")
    report = services.process_overdue(standing_days=30, now=datetime(2027, 6, 1, tzinfo=UTC))
    db.session().refresh(invoice)
    assert (report.overdue, report.reminders, report.late_fee_invoices) == (0, 0, [])
    assert invoice.reminder_count == 0


def test_a_dispute_lost_before_its_withdrawal_arrives_is_booked_once_and_owed_again(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    closed = dispute_event("charge.dispute.closed", payment, charge, status="lost")
    outcome = deliver(client, closed)["outcome"]
    assert "withdrawal of 250.00 booked" in outcome
    assert "lost" in outcome
    for late in (
        dispute_event("charge.dispute.funds_withdrawn", payment, charge, moved=(WITHDRAWN,)),
        dispute_event("charge.dispute.created", payment, charge),
        dispute_event("charge.dispute.updated", payment, charge, status="under_review"),
    ):
        assert "booked" not in deliver(client, late)["outcome"]
    db.session().refresh(invoice)
    dispute = _dispute()
    assert (dispute.state, dispute.status) == ("lost", "lost")
    assert db.session().scalar(select(func.count()).select_from(PaymentReversal)) == 1
    assert (invoice.state, invoice.balance_due) == ("open", 250)
    assert dispute.owed_again_on is not None
    assert dispute.closed_at is not None
    (contact,) = _emails("owed again")
    assert f"by {calendar.day_text(dispute.owed_again_on)}" in contact.body_text  # in words
    (closing,) = _emails("Dispute of the card payment")
    assert "mark it uncollectible" in closing.body_text
    assert _audited("dispute.lost") == 1


def test_a_dispute_won_pays_the_invoice_again_with_the_money_stripe_reinstated(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    receipts = len(_emails("Payment received"))
    withdrawn = dispute_event("charge.dispute.funds_withdrawn", payment, charge, moved=(WITHDRAWN,))
    deliver(client, withdrawn)
    reinstated = dispute_event(
        "charge.dispute.funds_reinstated",
        payment,
        charge,
        status="won",
        moved=(WITHDRAWN, REINSTATED),
    )
    closed = dispute_event(
        "charge.dispute.closed", payment, charge, status="won", moved=(WITHDRAWN, REINSTATED)
    )
    # Closed first, then the reinstatement: one booking each way.
    assert "reinstatement of 250.00 booked" in deliver(client, closed)["outcome"]
    assert "booked" not in deliver(client, reinstated)["outcome"]
    db.session().refresh(invoice)
    dispute = _dispute()
    assert (dispute.state, dispute.reinstated_on) == ("won", date(2027, 4, 20))
    assert (invoice.state, invoice.amount_paid) == ("paid", Decimal("250.00"))
    back = db.session().get(Payment, dispute.reinstatement_id)
    assert back is not None
    assert (back.state, back.method, back.amount, back.paid_date) == (
        "succeeded",
        "card",
        Decimal("250.00"),
        date(2027, 4, 20),
    )
    assert back.reference == "du_1Harborlight"
    # The licensee is not sent "payment received" for money Stripe gave back.
    assert len(_emails("Payment received")) == receipts


def test_a_dispute_of_a_charge_this_service_did_not_make_is_ignored_not_kept(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Stripe's answer that it knows no such charge is final: the same Stripe account
    may take payments for other products, whose disputes are not the office's to
    list or to ask Stripe about every hour."""
    _invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    foreign = dispute_event("charge.dispute.created", payment, "ch_elsewhere", with_intent=False)
    answer = deliver(client, foreign)
    assert answer["outcome"] == (
        "ignored: dispute du_1Harborlight: no card payment of this service kept charge ch_elsewhere"
    )
    assert db.session().scalar(select(func.count()).select_from(PaymentDispute)) == 0
    waiting = client.get("/api/v1/disputes/unmatched", headers=bearer(billing_staff))
    assert waiting.get_json() == []
    # An older API version names only the charge: the payment kept it when paid.
    assert db.session().get(Payment, payment.id).stripe_charge_id == charge  # type: ignore[union-attr]
    charge_only = dispute_event(
        "charge.dispute.created", payment, charge, with_intent=False, dispute_id="du_2"
    )
    assert "recorded" in deliver(client, charge_only)["outcome"]
    assert _dispute().payment_id == payment.id


def test_a_card_refund_is_refused_before_stripe_is_asked_while_a_dispute_is_open(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Overbilled", actor=billing_clerk()
    )
    deliver(
        client, dispute_event("charge.dispute.created", payment, charge, status="needs_response")
    )
    answer = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json={"method": "card"},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 409
    assert answer.content_type == "application/problem+json"
    assert (
        "Stripe refuses to refund a card while its dispute is open" in answer.get_json()["detail"]
    )
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.post(
        f"/console/credit-notes/{credit.id}/refunds",
        data={f"refund-{credit.id}-method": "card", f"refund-{credit.id}-amount": "40.00"},
    )
    assert page.status_code == 409  # the API's answer too (the page's was 422 until round 27)
    assert "while its dispute is open" in page.get_data(as_text=True)
    refunds = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    assert refunds["data"] == []


def test_billing_staff_see_open_disputes_first_the_evidence_due_soonest_first(
    monkeypatch: pytest.MonkeyPatch,
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    later, later_payment, later_charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    due_later = dispute_event(
        "charge.dispute.created", later_payment, later_charge, dispute_id="du_later"
    )
    due_later["data"]["object"]["evidence_details"]["due_by"] = int(DUE_BY.timestamp()) + 86400 * 5
    deliver(client, due_later)
    deliver(client, dispute_event("charge.dispute.created", payment, charge))
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get("/console/disputes")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.index(invoice.number) < html.index(later.number)
    assert "days left" in html
    assert "Stripe du_1Harborlight" in html
    listed = staff.get("/console/invoices").get_data(as_text=True)
    assert "2 disputes open" in listed
    assert listed.count("disputed: not chased") == 2
    home = staff.get("/console/").get_data(as_text=True)
    assert "Disputed card payments to answer in Stripe" in home
    assert "/console/disputes" in home
    detail = staff.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    assert 'id="disputes-heading">Disputes</h2>' in detail
    # The list is paged, in the same order: it read every dispute ever told of.
    monkeypatch.setattr(billing_views, "DISPUTES_PER_PAGE", 1)
    first = staff.get("/console/disputes").get_data(as_text=True)
    assert invoice.number in first
    assert later.number not in first
    assert "Disputes 1\u20131 of 2 \u00b7 page 1 of 2" in first
    second = staff.get("/console/disputes?page=2").get_data(as_text=True)
    assert later.number in second
    assert invoice.number not in second
    assert "cannot be refunded" in detail
    refused = signed_in(app.test_client(), vendor).get("/console/disputes")
    assert refused.status_code in (302, 403, 404)


def test_the_payments_export_shows_the_withdrawal_and_the_reinstatement_on_their_days(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    moved = (WITHDRAWN, REINSTATED)
    deliver(
        client, dispute_event("charge.dispute.closed", payment, charge, status="won", moved=moved)
    )
    answer = client.get(
        "/api/v1/exports/payments",
        query_string={"format": "csv"},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    header = next(csv.reader(io.StringIO(text)))
    # round 60 (names60) added the people's names after them
    assert header[-5:] == [
        "reversed_amount",
        "stripe_dispute_id",
        "reinstates_payment_id",
        "recorded_by_name",
        "reversed_by_name",
    ]
    rows = {row["payment_id"]: row for row in csv.DictReader(io.StringIO(text))}
    disputed = rows[str(payment.id)]
    assert (disputed["state"], disputed["reversed_on"], disputed["reversed_amount"]) == (
        "reversed",
        "2027-03-02",
        "250.00",
    )
    assert disputed["stripe_dispute_id"] == "du_1Harborlight"
    (back,) = [row for row in rows.values() if row["reinstates_payment_id"] == str(payment.id)]
    assert (back["state"], back["paid_date"], back["amount"], back["stripe_dispute_id"]) == (
        "succeeded",
        "2027-04-20",
        "250.00",
        "du_1Harborlight",
    )
    march = client.get(
        "/api/v1/exports/payments",
        query_string={"format": "csv", "by": "reversed", "from": "2027-03-01", "to": "2027-03-31"},
        headers=bearer(billing_staff),
    ).get_data(as_text=True)
    assert [row["payment_id"] for row in csv.DictReader(io.StringIO(march))] == [str(payment.id)]
    figures = finance.cash_flow(
        db.session(), Filters(date(2027, 3, 1), date(2027, 4, 30), currency="USD")
    )
    assert {row.period.key: (row.collected, row.reversed) for row in figures} == {
        "2027-03": (Decimal(0), Decimal("250.00")),
        "2027-04": (Decimal("250.00"), Decimal(0)),
    }


def test_a_lost_dispute_is_chased_again_only_from_the_invoices_terms_after_the_close(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    assert invoice.due_date is not None
    closed_at = datetime(2027, 5, 1, 15, 0, tzinfo=UTC)  # long past the invoice's due date
    payload, headers = signed(
        dispute_event(
            "charge.dispute.closed",
            payment,
            charge,
            status="lost",
            moved=(WITHDRAWN,),
            told=closed_at,
        )
    )
    services.handle_stripe_webhook(
        payload, headers["Stripe-Signature"], gateway=settings.gateway(), now=closed_at
    )
    dispute = _dispute()
    assert dispute.owed_again_on == date(2027, 5, 1) + timedelta(days=invoice.payment_terms_days)
    before = services.process_overdue(
        standing_days=30, now=datetime.combine(dispute.owed_again_on, time(12), UTC)
    )
    assert (before.overdue, before.reminders, before.late_fee_invoices) == (0, 0, [])
    after = services.process_overdue(
        standing_days=30,
        now=datetime.combine(dispute.owed_again_on + timedelta(days=2), time(12), UTC),
    )
    # Reminded again, but no late fee for the months the money was with the bank.
    assert (after.overdue, after.reminders, after.late_fee_invoices) == (1, 1, [])
    months_later = datetime.combine(dispute.owed_again_on + timedelta(days=65), time(12), UTC)
    assert len(services.process_overdue(standing_days=30, now=months_later).late_fee_invoices) == 1


def test_a_signed_dispute_event_without_the_dispute_is_refused_and_nothing_stored(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    event = dispute_event("charge.dispute.created", payment, charge)
    del event["data"]["object"]["amount"]
    payload, headers = signed(event)
    answer = client.post("/webhooks/stripe", data=payload, headers=headers)
    assert answer.status_code == 400
    assert "not a Dispute" in answer.get_json()["detail"]
    assert db.session().scalar(select(func.count()).select_from(PaymentDispute)) == 0


def test_an_event_that_lost_the_race_to_record_a_new_dispute_is_applied_again_not_dropped(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    real = webhooks._Applying.__call__
    raced: list[str] = []

    def first_loses(applying: webhooks._Applying) -> webhooks.WebhookResult:
        if not raced:  # another event of the dispute stored it first (a unique id)
            raced.append(applying.event.id)
            raise IntegrityError("INSERT INTO payment_disputes", {}, Exception("unique"))
        return real(applying)

    withdrawn = dispute_event("charge.dispute.funds_withdrawn", payment, charge, moved=(WITHDRAWN,))
    with mock.patch.object(webhooks._Applying, "__call__", first_loses):
        answer = deliver(client, withdrawn)
    assert raced == [withdrawn["id"]]
    assert answer["duplicate"] is False
    assert "withdrawal of 250.00 booked" in answer["outcome"]


def test_billing_staff_list_disputes_through_the_api_by_state_and_invoice_with_amounts_as_text(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    other_invoice, other_payment, other_charge = paid_with_charge(
        client, vendor, localstripe, invoice_for
    )
    deliver(client, dispute_event("charge.dispute.created", payment, charge, moved=(WITHDRAWN,)))
    lost = dispute_event(
        "charge.dispute.closed",
        other_payment,
        other_charge,
        status="lost",
        amount=10000,
        moved=(WITHDRAWN,),
        dispute_id="du_2Lost",
    )
    deliver(client, lost)
    staff = bearer(billing_staff)
    every = client.get("/api/v1/disputes", headers=staff)
    assert every.status_code == 200
    assert every.headers["X-Total-Count"] == "2"
    first, second = every.get_json()
    assert (first["stripe_dispute_id"], first["state"]) == ("du_1Harborlight", "open")
    assert (first["amount"], first["currency"], first["invoice_number"]) == (
        "250.00",
        "USD",
        invoice.number,
    )
    assert (first["payment_id"], first["withdrawn_on"]) == (payment.id, "2027-03-02")
    assert first["evidence_due_by"].startswith("2027-03-20T23:59:59")
    assert (second["stripe_dispute_id"], second["state"], second["amount"]) == (
        "du_2Lost",
        "lost",
        "100.00",
    )
    assert second["owed_again_on"] is not None
    lost_only = client.get("/api/v1/disputes?state=lost", headers=staff).get_json()
    assert [found["stripe_dispute_id"] for found in lost_only] == ["du_2Lost"]
    of_invoice = client.get(f"/api/v1/disputes?invoice_id={invoice.id}", headers=staff)
    assert [found["invoice_id"] for found in of_invoice.get_json()] == [invoice.id]
    assert other_invoice.id != invoice.id
    one = client.get(f"/api/v1/disputes/{first['id']}", headers=staff).get_json()
    assert one == first
    bad = client.get("/api/v1/disputes?state=pending", headers=staff)
    assert bad.status_code == 422
    assert bad.content_type == "application/problem+json"
    assert client.get("/api/v1/disputes", headers=bearer(vendor)).status_code == 403


def test_a_disputed_payment_read_through_the_api_carries_its_dispute(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    undisputed = client.get(f"/api/v1/payments/{payment.id}", headers=bearer(billing_staff))
    assert undisputed.get_json()["dispute"] is None
    deliver(client, dispute_event("charge.dispute.created", payment, charge, moved=(WITHDRAWN,)))
    read = client.get(f"/api/v1/payments/{payment.id}", headers=bearer(billing_staff)).get_json()
    assert read["state"] == "reversed"
    assert read["dispute"]["stripe_dispute_id"] == "du_1Harborlight"
    assert (read["dispute"]["state"], read["dispute"]["amount"]) == ("open", "250.00")
    listed = client.get("/api/v1/payments", headers=bearer(billing_staff)).get_json()
    assert [row["dispute"]["state"] for row in listed if row["id"] == payment.id] == ["open"]
    # The licensee reads its own payment's dispute too: the reversal names it already.
    own = client.get(f"/api/v1/invoices/{invoice.id}/payments", headers=bearer(vendor))
    assert own.get_json()[0]["dispute"]["reason"] == "product_not_received"


def _stripe_unreachable() -> Any:
    """Within the block, asking Stripe for a charge times out."""
    down = ExternalServiceError("Stripe did not complete the request: timed out")
    return mock.patch.object(StripeGateway, "charge_payment_intent", side_effect=down)


def _paid_before_charges_were_kept(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> tuple[Payment, str]:
    """A card payment confirmed before round 24: it kept no charge id."""
    _invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    payment.stripe_charge_id = None
    db.session().commit()
    return payment, charge


def test_a_charge_only_dispute_of_a_payment_that_kept_no_charge_is_matched_by_asking_stripe(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, charge = _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for)
    charge_only = dispute_event("charge.dispute.created", payment, charge, with_intent=False)
    assert "recorded" in deliver(client, charge_only)["outcome"]
    assert _dispute().payment_id == payment.id
    assert db.session().scalar(select(func.count()).select_from(UnmatchedDispute)) == 0


def test_stripes_withdrawal_and_reinstatement_dated_ahead_of_the_clock_are_booked_today(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 55 (statements55): as a dispute's close is, never after now. The test's
    clock is 20 January; Stripe's balance transactions say 2 March and 20 April (its
    clock ahead of ours): a day not yet come was booked, and the invoice read as paid
    again from a day in the future."""
    today = date(2027, 1, 20)
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    created = dispute_event("charge.dispute.created", payment, charge, moved=(WITHDRAWN,))
    assert deliver_now(client, created).status_code == 200
    dispute = _dispute()
    assert dispute.withdrawn_on == today
    taken = db.session().scalars(select(PaymentReversal)).one()
    assert taken.returned_on == today
    closed = dispute_event(
        "charge.dispute.closed", payment, charge, status="won", moved=(WITHDRAWN, REINSTATED)
    )
    assert deliver_now(client, closed).status_code == 200
    db.session().refresh(dispute)
    assert (dispute.state, dispute.reinstated_on) == ("won", today)
    back = db.session().get(Payment, dispute.reinstatement_id)
    assert back is not None
    assert back.paid_date == today
    db.session().refresh(invoice)
    assert invoice.state == "paid"


def test_a_dispute_stripe_could_not_place_is_kept_unmatched_and_matched_later_by_the_command(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, charge = _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for)
    charge_only = dispute_event(
        "charge.dispute.created", payment, charge, with_intent=False, moved=(WITHDRAWN,)
    )
    with _stripe_unreachable():
        outcome = deliver(client, charge_only)["outcome"]
    # Stored and answered 200: Stripe is not made to retry, the event is not lost.
    assert outcome.startswith("not matched: dispute du_1Harborlight")
    assert f"Stripe could not be asked for charge {charge}" in outcome
    assert db.session().scalar(select(func.count()).select_from(PaymentDispute)) == 0
    waiting = client.get("/api/v1/disputes/unmatched", headers=bearer(billing_staff))
    (kept,) = waiting.get_json()
    assert (kept["stripe_dispute_id"], kept["stripe_charge_id"], kept["amount"]) == (
        "du_1Harborlight",
        charge,
        "250.00",
    )
    assert "could not be asked" in kept["why"]
    assert _audited("unmatched_dispute.kept") == 1
    page = signed_in(app.test_client(), billing_staff).get("/console/disputes")
    html = page.get_data(as_text=True)
    assert "Disputes not matched to a payment (1)" in html
    home = signed_in(app.test_client(), billing_staff).get("/console/").get_data(as_text=True)
    assert "Disputes not matched to a payment (Stripe could not be asked)" in home
    assert "/console/disputes#unmatched-heading" in home
    assert f"charge {charge}" in html
    assert "licensing payments match-disputes" in html

    # The next morning after Stripe's withdrawal (booked on its day, never after now).
    with time_machine.travel(WITHDRAWN + timedelta(hours=18), tick=True):
        run = services.match_disputes(settings.gateway(), actor=Actor.SYSTEM)
    assert (run.still, run.dropped) == ([], [])
    assert "recorded" in run.matched[0]
    assert "withdrawal of 250.00 booked" in run.matched[0]
    dispute = _dispute()
    assert (dispute.payment_id, dispute.withdrawn_on) == (payment.id, date(2027, 3, 2))
    assert _audited("unmatched_dispute.matched") == 1
    assert client.get("/api/v1/disputes/unmatched", headers=bearer(billing_staff)).get_json() == []
    after = signed_in(app.test_client(), billing_staff).get("/console/disputes")
    assert "not matched to a payment" not in after.get_data(as_text=True)
    assert services.match_disputes(settings.gateway(), actor=Actor.SYSTEM).summary() == (
        "0 disputes matched, 0 dropped as not this service's, 0 still not matched"
    )


def test_a_dispute_kept_while_stripe_was_unreachable_is_dropped_once_stripe_knows_no_such_charge(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, payment, _charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    gone = dispute_event("charge.dispute.created", payment, "ch_gone", with_intent=False)
    with _stripe_unreachable():
        assert deliver(client, gone)["outcome"].startswith("not matched: dispute du_1Harborlight")
        still = app.test_cli_runner().invoke(args=["payments", "match-disputes"])
    assert "Stripe could not be asked for charge ch_gone" in still.output
    assert "0 disputes matched, 0 dropped as not this service's, 1 still not matched" in (
        still.output
    )

    ran = app.test_cli_runner().invoke(args=["payments", "match-disputes"])

    assert ran.exit_code == 0, ran.output
    assert (
        "ignored: dispute du_1Harborlight: no card payment of this service kept charge ch_gone"
        in (ran.output)
    )
    assert "0 disputes matched, 1 dropped as not this service's, 0 still not matched" in ran.output
    assert client.get("/api/v1/disputes/unmatched", headers=bearer(billing_staff)).get_json() == []
    assert _audited("unmatched_dispute.dropped") == 1
    assert db.session().scalar(select(func.count()).select_from(PaymentDispute)) == 0
    again = app.test_cli_runner().invoke(args=["payments", "match-disputes"])
    assert "0 disputes matched, 0 dropped as not this service's, 0 still not matched" in (
        again.output
    )


def test_a_card_refund_goes_to_the_payment_not_disputed_while_another_is(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, disputed, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    deliver(client, dispute_event("charge.dispute.created", disputed, charge, moved=(WITHDRAWN,)))
    db.session().refresh(invoice)
    # The money withdrawn, the licensee paid the invoice again with another card payment.
    again = paid_by_card(client, vendor, localstripe, invoice)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Overbilled", actor=billing_clerk()
    )
    staff = bearer(billing_staff)
    refund_url = f"/api/v1/credit-notes/{credit.id}/refunds"
    named = client.post(
        refund_url, json={"method": "card", "payment_id": disputed.id}, headers=staff
    )
    assert named.status_code == 409
    assert "while its dispute is open" in named.get_json()["detail"]
    answer = client.post(refund_url, json={"method": "card"}, headers=staff)
    assert answer.status_code == 201, answer.get_json()
    assert (answer.get_json()["payment_id"], answer.get_json()["amount"]) == (again.id, "40.00")
    refunded = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={again.stripe_payment_intent_id}"
    )
    assert [refund["amount"] for refund in refunded["data"]] == [4000]


def test_an_older_event_of_a_dispute_kept_unmatched_does_not_replace_the_newer_one_kept(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, charge = _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for)
    created = dispute_event("charge.dispute.created", payment, charge, with_intent=False)
    updated = dispute_event(
        "charge.dispute.updated", payment, charge, status="under_review", with_intent=False
    )
    updated["created"] = created["created"] + 3600
    with _stripe_unreachable():
        deliver(client, updated)
        deliver(client, created)  # delivered late
    (kept,) = client.get("/api/v1/disputes/unmatched", headers=bearer(billing_staff)).get_json()
    assert kept["status"] == "under_review"
    matched = services.match_disputes(settings.gateway(), actor=Actor.SYSTEM).matched
    assert len(matched) == 1
    assert _dispute().status == "under_review"


def _changes(action: str) -> list[tuple[object, object, str | None]]:
    """The audit events of `action`, oldest first: what each says before and after."""
    events = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    )
    return [(event.before_data, event.after_data, event.note) for event in events]


def test_each_status_stripe_gives_a_dispute_kept_unmatched_is_audited_once(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    admin: User,
    signed_in: Callable[..., FlaskClient],
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, charge = _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for)
    created = dispute_event("charge.dispute.created", payment, charge, with_intent=False)
    under_review = dispute_event(
        "charge.dispute.updated", payment, charge, status="under_review", with_intent=False
    )
    under_review["created"] = created["created"] + 3600
    # Money withdrawn, the status unchanged: a later event that changes no status.
    withdrawn = dispute_event(
        "charge.dispute.funds_withdrawn",
        payment,
        charge,
        status="under_review",
        moved=(WITHDRAWN,),
        with_intent=False,
    )
    withdrawn["created"] = created["created"] + 7200
    with _stripe_unreachable():
        deliver(client, created)
        deliver(client, under_review)
        assert deliver(client, under_review)["duplicate"] is True  # Stripe's replay
        deliver(client, withdrawn)
        deliver(client, created)  # an older event, delivered late again under a new id
        created_again = {**created, "id": created["id"] + "_late"}
        deliver(client, created_again)

    kept = db.session().scalars(select(UnmatchedDispute)).one()
    assert kept.status == "under_review"
    # Before round 51 the status moved with no event at all.
    assert _changes("unmatched_dispute.status_changed") == [
        (
            {"status": "needs_response"},
            {"status": "under_review"},
            "Stripe's charge.dispute.updated event of dispute du_1Harborlight.",
        )
    ]
    (first,) = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "unmatched_dispute.kept")
    )
    assert first.after_data["status"] == "needs_response"
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    # The audit log says Stripe's status in words, as the dispute's own history does.
    page = signed_in(app.test_client(), admin).get(
        "/console/audit?action=unmatched_dispute.status_changed"
    )
    assert "under review" in page.get_data(as_text=True)


def test_each_amount_and_currency_stripe_gives_a_dispute_kept_unmatched_is_audited_once(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, charge = _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for)
    created = dispute_event("charge.dispute.created", payment, charge, with_intent=False)
    # The bank disputes less than it first said, then Stripe tells it in another
    # currency, then the status and the amount change in one event.
    lowered = dispute_event(
        "charge.dispute.updated", payment, charge, amount=20000, with_intent=False
    )
    lowered["created"] = created["created"] + 3600
    in_euros = copy.deepcopy(lowered)
    in_euros["id"] += "_eur"
    in_euros["data"]["object"]["currency"] = "eur"
    in_euros["created"] = created["created"] + 7200
    reviewed = dispute_event(
        "charge.dispute.updated",
        payment,
        charge,
        status="under_review",
        amount=18000,
        with_intent=False,
    )
    reviewed["data"]["object"]["currency"] = "eur"
    reviewed["created"] = created["created"] + 10800
    # Money withdrawn, amount and currency as before: no change to audit.
    withdrawn = copy.deepcopy(reviewed)
    withdrawn["id"] += "_withdrawn"
    withdrawn["type"] = "charge.dispute.funds_withdrawn"
    withdrawn["created"] = created["created"] + 14400
    with _stripe_unreachable():
        deliver(client, created)
        deliver(client, lowered)
        assert deliver(client, lowered)["duplicate"] is True  # Stripe's replay
        deliver(client, in_euros)
        deliver(client, reviewed)
        deliver(client, withdrawn)
        deliver(client, {**created, "id": created["id"] + "_late"})  # older, delivered late

    kept = db.session().scalars(select(UnmatchedDispute)).one()
    assert (kept.amount, kept.currency, kept.status) == (Decimal("180.00"), "EUR", "under_review")
    # Before round 51 the amount and the currency moved with no event at all.
    note = "Stripe's charge.dispute.updated event of dispute du_1Harborlight."
    assert _changes("unmatched_dispute.amount_changed") == [
        ({"amount": "250.00", "currency": "USD"}, {"amount": "200.00", "currency": "USD"}, note),
        ({"amount": "200.00", "currency": "USD"}, {"amount": "200.00", "currency": "EUR"}, note),
        ({"amount": "200.00", "currency": "EUR"}, {"amount": "180.00", "currency": "EUR"}, note),
    ]
    assert [after for _before, after, _note in _changes("unmatched_dispute.status_changed")] == [
        {"status": "under_review"}
    ]
    (first,) = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "unmatched_dispute.kept")
    )
    assert (first.after_data["amount"], first.after_data["currency"]) == ("250.00", "USD")
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_the_audit_log_names_a_dispute_and_the_money_it_moved_by_their_invoice_linked_to_it(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    admin: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    deliver(client, dispute_event("charge.dispute.created", payment, charge, moved=(WITHDRAWN,)))
    reader = signed_in(app.test_client(), admin)
    page = reader.get("/console/audit").get_data(as_text=True)
    on_invoice = f"/console/invoices/{invoice.id}"
    # It read "Card payment dispute 1", "Payment 1" and "Payment reversal 1", unlinked.
    assert (
        f'<a href="{on_invoice}#disputes-heading">Dispute du_1Harborlight of the '
        f"{payment.named(invoice.number, in_sentence=True)}</a>"
    ) in page
    # A payment links its own page (round 25), named by its card and when it was
    # started, not its row id (round 55).
    named = payment.named(invoice.number)
    assert f'<a href="/console/payments/{payment.id}">{named}</a>' in page
    assert f'<a href="{on_invoice}#payments-heading">Reversal of the card payment of ' in page
    assert f"payment {payment.id} " not in page
    # The bank's reason and Stripe's status as the dispute pages say them.
    assert "product not received" in page
    assert "product_not_received" not in page
    assert "needs_response" not in page


def test_a_dispute_matched_hours_later_by_the_command_is_dated_by_when_stripe_had_it(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, charge = _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for)
    # The bank's dispute reached Stripe at 22:00 UTC; Stripe could not be asked then.
    created = datetime(2027, 3, 2, 22, 0, tzinfo=UTC)
    charge_only = dispute_event(
        "charge.dispute.created", payment, charge, with_intent=False, created=created
    )
    with _stripe_unreachable():
        deliver(client, charge_only)
    next_morning = datetime(2027, 3, 3, 15, 0, tzinfo=UTC)
    services.match_disputes(settings.gateway(), actor=Actor.SYSTEM, now=next_morning)
    dispute = _dispute()
    assert (dispute.opened_at, dispute.disputed_at) == (next_morning, created)
    disputed = select(Invoice.id).where(disputed_on(date(2027, 3, 2)))
    assert list(db.session().scalars(disputed)) == [payment.invoice_id]


def test_a_lost_dispute_matched_days_later_by_the_command_is_owed_again_from_stripes_close(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, charge = _paid_before_charges_were_kept(client, vendor, localstripe, invoice_for)
    closed_by_stripe = datetime(2027, 5, 1, 15, 0, tzinfo=UTC)
    lost = dispute_event(
        "charge.dispute.closed",
        payment,
        charge,
        status="lost",
        moved=(WITHDRAWN,),
        with_intent=False,
        told=closed_by_stripe,
    )
    with _stripe_unreachable():
        deliver(client, lost)
    three_days_later = datetime(2027, 5, 4, 9, 0, tzinfo=UTC)
    services.match_disputes(settings.gateway(), actor=Actor.SYSTEM, now=three_days_later)
    dispute = _dispute()
    terms = timedelta(days=payment.invoice.payment_terms_days)
    assert (dispute.state, dispute.closed_at) == ("lost", closed_by_stripe)
    assert dispute.owed_again_on == date(2027, 5, 1) + terms  # not 2027-05-04 + terms
