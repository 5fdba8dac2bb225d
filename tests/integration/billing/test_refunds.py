"""Refunds of what credit notes owe back: shown on the invoice and the credit
note, recorded offline by billing staff, or refunded to the card through
Stripe (localstripe) and confirmed by the `charge.refunded` webhook."""

from __future__ import annotations

import copy
import io
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import payment_gateway, services
from licensing.billing.models import CreditNote, Invoice, Refund
from licensing.billing.views import REFUNDS_SENT_BY
from licensing.calendar import office_date
from licensing.errors import ExternalServiceError
from licensing.mail.models import OutboxMessage
from tests.integration.exports.conftest import read_jsonl
from tests.support import settings
from tests.support.billing import logged, said
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe

from .refund_support import (
    LostAnswer,
    NeverSent,
    Refuses,
    card_paid_and_credited,
    committed_credit,
    deliver,
    paid_by_card,
    paid_offline_and_credited,
    refunds_of,
)
from .stripe_support import _call, charge_refunded_event, refund_failed_event, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _audited(action: str, entity_id: int) -> int:
    return (
        db.session().scalar(
            select(func.count()).where(
                AuditEvent.action == action, AuditEvent.entity_id == str(entity_id)
            )
        )
        or 0
    )


def test_a_credit_note_on_a_paid_invoice_shows_the_refund_due_on_both_pages_and_its_pdf(
    app: Flask,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor, "120.00")
    assert credit.refund_due == Decimal("120.00")
    portal = signed_in(app.test_client(), vendor).get(f"/portal/invoices/{credit.invoice_id}")
    console = signed_in(app.test_client(), billing_staff).get(
        f"/console/invoices/{credit.invoice_id}"
    )
    for page in (portal, console):
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert 'id="refund-due"><span class="money">120.00 USD' in html
        assert 'id="refund-outstanding"><span class="money">120.00 USD' in html
    assert f"Refund credit note {credit.number}" in console.get_data(as_text=True)
    assert "Refund credit note" not in portal.get_data(as_text=True)
    pdf = (
        app.test_client()
        .get(f"/api/v1/credit-notes/{credit.id}/pdf", headers=bearer(vendor))
        .get_data()
    )
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Refund due to you" in text
    assert "owes you 120.00 USD" in text


def test_the_credit_note_email_says_who_sends_the_refund_as_the_vendor_dashboard_does(
    vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    """Round 53: the email said "the licensing office will send it", the dashboard
    "the licensing office's billing staff" (`REFUNDS_SENT_BY`)."""
    credit = paid_offline_and_credited(invoice_for, vendor, "120.00")
    email = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "invoice_credit_note"))
        .one()
    )
    assert (
        f"Of it, {credit.refund_due:,.2f} USD is a refund due to you; "
        f"{REFUNDS_SENT_BY} will send it."
    ) in email.body_text
    assert REFUNDS_SENT_BY == "the licensing office's billing staff"


def _invoice_pdf_text(app: Flask, vendor: User, invoice_id: int) -> str:
    answer = app.test_client().get(f"/api/v1/invoices/{invoice_id}/pdf", headers=bearer(vendor))
    assert answer.status_code == 200
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.get_data())).pages)


def test_the_invoice_pdf_shows_the_refunds_sent_as_its_page_does_once_there_are_any(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    """Round 53: the page's totals had a *Refunds sent* row, the PDF none, so its
    total - paid - credited did not make its balance due."""
    credit = paid_offline_and_credited(invoice_for, vendor, "120.00")
    before = _invoice_pdf_text(app, vendor, credit.invoice_id)  # kept with no refund
    assert "Refunds sent" not in before
    services.record_offline_refund(
        credit.id,
        method="wire",
        amount=Decimal("50.00"),
        reference="WIRE-BACK-PDF",
        actor=billing_clerk(),
    )
    after = _invoice_pdf_text(app, vendor, credit.invoice_id)
    assert "Credited\n120.00 USD\nRefunds sent (added back to the balance)\n50.00 USD" in after


def test_billing_staff_record_an_offline_refund_from_the_console_and_nothing_more_is_due(
    app: Flask,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    staff = signed_in(app.test_client(), billing_staff)
    prefix = f"refund-{credit.id}-"
    form = {
        f"{prefix}method": "wire",
        f"{prefix}amount": "100.00",
        f"{prefix}reference": "RF-2027-7",
        f"{prefix}note": "Sent to the account on file",
    }
    sent = staff.post(f"/console/credit-notes/{credit.id}/refunds", data=form)
    assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
    (refund,) = refunds_of(credit)
    assert (refund.state, refund.method, refund.amount) == ("succeeded", "wire", Decimal("100.00"))
    assert _audited("refund.recorded", refund.id) == 1
    told = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "refund_sent"))
        .one()
    )
    assert vendor.organization.billing_email in told.recipients
    assert "\n\n\n" not in told.body_text  # paragraphs one blank line apart
    db.session().expire_all()
    assert db.session().get(CreditNote, credit.id).refund_outstanding == 0  # type: ignore[union-attr]
    again = staff.post(f"/console/credit-notes/{credit.id}/refunds", data=form)
    # Nothing is owed: a step the rules refuse, so 409 (422 until round 27, which is bad input).
    assert again.status_code == 409
    assert f"Credit note {credit.number} owes no refund" in again.get_data(as_text=True)
    assert len(db.session().scalars(select(Refund)).all()) == 1
    page = signed_in(app.test_client(), vendor).get(f"/portal/invoices/{credit.invoice_id}")
    assert 'id="refund-outstanding"><span class="money">0.00 USD' in page.get_data(as_text=True)
    assert "RF-2027-7" in page.get_data(as_text=True)


def test_the_refund_api_refuses_more_than_is_outstanding_and_vendors_and_stores_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    url = f"/api/v1/credit-notes/{credit.id}/refunds"
    body = {"method": "check", "amount": "100.01", "reference": "CHK 1"}
    too_much = client.post(url, json=body, headers=bearer(billing_staff))
    assert too_much.status_code == 422
    assert too_much.mimetype == "application/problem+json"
    assert "100.00 USD" in too_much.get_data(as_text=True)
    no_reference = client.post(
        url, json={"method": "check", "amount": "10.00"}, headers=bearer(billing_staff)
    )
    assert no_reference.status_code == 422
    as_vendor = client.post(url, json={**body, "amount": "1.00"}, headers=bearer(vendor))
    assert as_vendor.status_code in (403, 404)
    assert db.session().scalars(select(Refund)).all() == []
    done = client.post(url, json={**body, "amount": "60.00"}, headers=bearer(billing_staff))
    assert done.status_code == 201
    assert done.headers["Location"] == f"/api/v1/refunds/{done.get_json()['id']}"
    assert done.get_json()["amount"] == "60.00"
    note = client.get(f"/api/v1/credit-notes/{credit.id}", headers=bearer(vendor)).get_json()
    assert (note["amount_refunded"], note["refund_outstanding"]) == ("60.00", "40.00")
    invoice = client.get(f"/api/v1/invoices/{credit.invoice_id}", headers=bearer(vendor))
    assert invoice.get_json()["refund_outstanding"] == "40.00"
    listed = client.get(url, headers=bearer(vendor)).get_json()
    assert [r["reference"] for r in listed] == ["CHK 1"]


def test_a_card_refund_is_a_stripe_refund_on_the_payment_intent_and_its_webhook_applies_once(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("250.00",))
    payment = paid_by_card(client, vendor, localstripe, invoice)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Overbilled", actor=billing_clerk()
    )
    answer = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json={"method": "card"},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert (body["state"], body["amount"], body["payment_id"]) == ("succeeded", "40.00", payment.id)
    at_stripe = _call(localstripe, "GET", f"/v1/refunds/{body['stripe_refund_id']}")
    assert (at_stripe["amount"], at_stripe["payment_intent"]) == (
        4000,
        payment.stripe_payment_intent_id,
    )
    assert at_stripe["metadata"]["credit_note_number"] == credit.number
    event = charge_refunded_event(localstripe, payment)
    assert deliver(client, event)["outcome"].startswith("no change")
    assert deliver(client, event)["duplicate"] is True
    assert _audited("refund.succeeded", body["id"]) == 1
    # Nothing more is owed, so a second card refund is refused and Stripe not asked.
    again = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json={"method": "card"},
        headers=bearer(billing_staff),
    )
    assert again.status_code == 409
    assert len(_call(localstripe, "GET", "/v1/refunds?limit=100")["data"]) >= 1
    refunds_of_intent = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )["data"]
    assert [r["amount"] for r in refunds_of_intent] == [4000]


def test_charge_refunded_settles_a_card_refund_whose_answer_was_lost_and_holds_it_meanwhile(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit, payment = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    answer_lost = LostAnswer(settings.gateway())
    with pytest.raises(ExternalServiceError):
        services.refund_card(credit.id, actor=billing_clerk(), gateway=answer_lost)
    (refund,) = refunds_of(credit)
    assert (refund.state, refund.stripe_refund_id) == ("pending", None)
    # Its amount is held: no second refund while Stripe's answer is unknown.
    with pytest.raises(services.Conflict):
        services.refund_card(credit.id, actor=billing_clerk(), gateway=answer_lost)
    event = charge_refunded_event(localstripe, payment)
    # As Stripe's newer API versions send it: the charge without its refunds.
    bare = copy.deepcopy(event)
    bare["id"] += "_bare"
    del bare["data"]["object"]["refunds"]
    assert deliver(client, bare)["outcome"] == f"refunded: {said(refund)}"
    db.session().refresh(refund)
    assert refund.state == "succeeded"
    assert refund.stripe_refund_id
    assert deliver(client, event)["outcome"].startswith("no change")
    assert _audited("refund.succeeded", refund.id) == 1


def _card_refund_through(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    gateway: Callable[[payment_gateway.PaymentGateway], Any],
) -> tuple[CreditNote, Refund]:
    """A card-paid invoice credited in full, refunded through `gateway`, which fails."""
    credit, _payment = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    with pytest.raises(ExternalServiceError):
        services.refund_card(credit.id, actor=billing_clerk(), gateway=gateway(settings.gateway()))
    (refund,) = refunds_of(credit)
    return credit, refund


def test_reconcile_settles_a_card_refund_whose_answer_was_lost_when_no_webhook_comes(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _, refund = _card_refund_through(app, client, vendor, localstripe, invoice_for, LostAnswer)
    # Too recent: its webhook may still come.
    assert services.reconcile_refunds(gateway=settings.gateway()).checked == 0
    later = refund.created_at + timedelta(minutes=31)
    report = services.reconcile_refunds(now=later, gateway=settings.gateway())
    assert report.outcomes == [f"{logged(refund)}: refunded"]
    assert (report.checked, report.applied) == (1, 1)
    db.session().refresh(refund)
    assert refund.state == "succeeded"
    assert refund.stripe_refund_id
    assert services.reconcile_refunds(now=later, gateway=settings.gateway()).checked == 0
    assert _audited("refund.succeeded", refund.id) == 1


def test_reconcile_fails_a_card_refund_that_never_reached_stripe_so_it_is_due_again(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit, refund = _card_refund_through(app, client, vendor, localstripe, invoice_for, NeverSent)
    report = services.reconcile_refunds(
        now=refund.created_at + timedelta(minutes=31), gateway=settings.gateway()
    )
    assert report.outcomes == [f"{logged(refund)}: failed: it never reached Stripe"]
    db.session().refresh(refund)
    db.session().refresh(credit)
    assert refund.state == "failed"
    assert credit.refund_outstanding == Decimal("90.00")
    # Due again: staff can refund it anew, and this time Stripe answers.
    assert (
        services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway()).state
        == "succeeded"
    )


def _failed_at_stripe(localstripe: LocalStripe, refund: Refund) -> dict[str, Any]:
    """Stripe's `refund.failed` event for a refund it had reported succeeded."""
    assert refund.stripe_refund_id is not None
    return refund_failed_event(
        localstripe, refund.stripe_refund_id, failure_reason="lost_or_stolen_card"
    )


def test_a_refund_stripe_refuses_or_later_fails_makes_the_amount_due_again(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit, _payment = card_paid_and_credited(client, vendor, localstripe, invoice_for, "60.00")
    with pytest.raises(payment_gateway.StripeRefused):
        services.refund_card(credit.id, actor=billing_clerk(), gateway=Refuses(settings.gateway()))
    (refused,) = refunds_of(credit)
    assert refused.state == "failed"
    assert "charge disputed" in (refused.note or "")
    done = services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    assert done.state == "succeeded"
    failed_later = _failed_at_stripe(localstripe, done)
    assert deliver(client, failed_later)["outcome"] == f"refund failed: {said(done)}"
    db.session().expire_all()
    again = db.session().get(CreditNote, credit.id)
    assert again is not None
    assert again.refund_outstanding == Decimal("60.00")


def test_two_staff_refunding_the_same_credit_note_at_once_refund_it_once(
    committed_app: Flask,
) -> None:
    with committed_app.app_context():
        credit_id = committed_credit("75.00", paid_with="ACH-1", reason="Error").id
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def refund(reference: str) -> None:
        with committed_app.app_context():
            start.wait(timeout=30)
            try:
                services.record_offline_refund(
                    credit_id,
                    method="wire",
                    amount=Decimal("75.00"),
                    reference=reference,
                    actor=billing_clerk(),
                )
                outcomes.append("refunded")
            except services.Conflict as refused:
                outcomes.append(refused.detail)

    threads = [threading.Thread(target=refund, args=(f"R-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes)[1] == "refunded"
    assert "owes no refund" in sorted(outcomes)[0]
    with committed_app.app_context():
        assert len(db.session().scalars(select(Refund)).all()) == 1


def test_offline_money_is_stored_succeeded_trimmed_and_dated_today_at_the_office(
    app: Flask, vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    # 03:00 UTC on 1 March is still 28 February in the office's time zone.
    told: dict[str, Any] = {"now": datetime(2027, 3, 1, 3, 0, tzinfo=UTC), "actor": billing_clerk()}
    invoice = invoice_for(vendor, ("500.00",))
    paid = services.record_offline_payment(
        invoice.id, method="wire", amount=Decimal("500.00"), reference="  W-77  ", **told
    )
    credit = services.issue_credit_note(  # in February, before either refund is sent
        invoice.id,
        amount=Decimal("100.00"),
        reason="Seat removed",
        now=datetime(2027, 2, 1, 15, 0, tzinfo=UTC),
        actor=billing_clerk(),
    )
    undated, dated = (
        services.record_offline_refund(
            credit.id, method=method, amount=Decimal("10.00"), reference=ref, sent_on=on, **told
        )
        for method, ref, on in (("check", " CHK-9 ", None), ("ach", "ACH-3", date(2027, 2, 20)))
    )
    assert (paid.method, paid.state, paid.reference) == ("wire", "succeeded", "W-77")
    assert paid.received_on == date(2027, 2, 28)
    assert (undated.method, undated.state, undated.reference) == ("check", "succeeded", "CHK-9")
    assert (undated.sent_on, undated.amount) == (date(2027, 2, 28), Decimal("10.00"))
    assert (dated.method, dated.reference, dated.sent_on) == ("ach", "ACH-3", date(2027, 2, 20))


def test_a_refund_failing_after_it_succeeded_comes_again_in_the_nightly_pull_of_that_day(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 32: `refunds?by=recorded` brought a refund the night it was recorded and
    the night Stripe confirmed it, never the night it failed (a failure stamps no
    time): a ledger that booked it kept a refund the Finance page no longer counts."""
    credit, _payment = card_paid_and_credited(client, vendor, localstripe, invoice_for, "60.00")
    done = services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    assert done.state == "succeeded"
    # Recorded and confirmed three days ago; it fails today.
    earlier = datetime.now(UTC) - timedelta(days=3)
    done.created_at = done.settled_at = earlier
    db.session().commit()
    assert deliver(client, _failed_at_stripe(localstripe, done))["outcome"] == (
        f"refund failed: {said(done)}"
    )
    today = office_date(datetime.now(UTC)).isoformat()
    pulled = client.get(
        "/api/v1/exports/refunds",
        query_string={"format": "jsonl", "by": "recorded", "from": today, "to": today},
        headers=bearer(billing_staff),
    )
    assert pulled.status_code == 200
    rows = read_jsonl(pulled.get_data())[1]
    assert [(row["refund_id"], row["state"]) for row in rows] == [(done.id, "failed")]
