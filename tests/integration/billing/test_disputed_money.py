"""Disputed money as finance counts it: a card payment disputed in part, and a
balance whose dispute is open, on the Finance page, its report and the exports."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice, Payment, PaymentDispute
from licensing.errors import ExternalServiceError
from licensing.finance import queries as finance
from licensing.finance.queries import Filters
from tests.support import settings
from tests.support.billing import logged
from tests.support.exports import receivables
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import REINSTATED, WITHDRAWN, dispute_event, paid_with_charge
from .refund_support import LostAnswer, deliver, refunds_of
from .stripe_support import _call, stripe_config

# A fixed day before the disputes dated in March 2027: passed only before 3 March 2027.
pytestmark = pytest.mark.usefixtures("before_the_disputes")


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_a_payment_disputed_in_part_is_owed_again_only_for_the_disputed_amount(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    # The bank disputes 100.00 of the 250.00 charge: Stripe withdraws 100.00.
    opened = dispute_event(
        "charge.dispute.created", payment, charge, amount=10000, moved=(WITHDRAWN,)
    )
    assert "withdrawal of 100.00 booked" in deliver(client, opened)["outcome"]
    session = db.session()
    march = Filters(date(2027, 2, 1), date(2027, 3, 1), currency="USD")
    figures = {row.period.key: row for row in finance.cash_flow(session, march)}
    assert figures["2027-03"].reversed == Decimal("100.00")
    # Owed on the withdrawal day: what Stripe took back, not the whole payment.
    assert figures["2027-03"].outstanding == Decimal("100.00")
    # Before it, the whole payment stood.
    assert figures["2027-02"].outstanding == Decimal(0)
    (licensee,) = finance.top_licensees(
        session, Filters(date(2026, 1, 1), date(2027, 3, 1), currency="USD")
    )
    assert (licensee.collected, licensee.outstanding) == (Decimal("150.00"), Decimal("100.00"))
    # The receivables export counts it the same, to the cent.
    (row,) = receivables(client, billing_staff, "2027-03-31")
    assert (row["invoice_number"], row["paid_to_date"], row["balance"]) == (
        invoice.number,
        "150.00",
        "100.00",
    )


def test_a_balance_the_bank_is_disputing_is_aged_apart_on_the_page_and_in_the_export(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    chased = invoice_for(vendor, ("40.00",))
    opened = dispute_event("charge.dispute.created", payment, charge, moved=(WITHDRAWN,))
    deliver(client, opened)
    as_of = date(2027, 12, 31)  # both long past their due dates
    rows = {row.key: row for row in finance.aging(db.session(), "USD", as_of)}
    assert (rows["disputed"].invoices, rows["disputed"].amount) == (1, Decimal("250.00"))
    assert rows["disputed"].label == "Disputed or lost, not yet owed again"
    assert (rows["over_90"].invoices, rows["over_90"].amount) == (1, Decimal("40.00"))
    exported = {
        row["invoice_number"]: row for row in receivables(client, billing_staff, "2027-12-31")
    }
    assert exported[invoice.number]["disputed"] == "250.00"
    assert exported[chased.number]["disputed"] == "0.00"
    not_disputed = [row for row in exported.values() if row["disputed"] == "0.00"]
    assert sum(Decimal(row["over_90"]) for row in not_disputed) == rows["over_90"].amount
    # Closed, the balance ages by days past due again (a lost dispute is owed).
    lost = dispute_event(
        "charge.dispute.closed", payment, charge, status="lost", moved=(WITHDRAWN,)
    )
    deliver(client, lost)
    today = {row.key: row for row in finance.aging(db.session(), "USD", as_of)}
    assert today["disputed"].amount == Decimal(0)
    assert today["over_90"].amount == Decimal("290.00")


def _won_and_credited(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> tuple[Invoice, Payment, CreditNote]:
    """A 250.00 card payment disputed, withdrawn and reinstated (won), and its
    invoice then credited 40.00 to refund."""
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    won = dispute_event(
        "charge.dispute.closed", payment, charge, status="won", moved=(WITHDRAWN, REINSTATED)
    )
    assert "reinstatement of 250.00 booked" in deliver(client, won)["outcome"]
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Overbilled", actor=billing_clerk()
    )
    return invoice, payment, credit


def test_a_card_refund_after_a_won_dispute_goes_to_the_original_charge(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, credit = _won_and_credited(client, vendor, localstripe, invoice_for)
    reinstatement = db.session().scalars(select(PaymentDispute.reinstatement_id)).one()
    # The invoice's page offers the refund to the card, as for any card payment.
    page = signed_in(app.test_client(), billing_staff).get(f"/console/invoices/{invoice.id}")
    assert re.search(r'<option selected value="card">|<option value="card" selected', page.text)
    answer = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json={"method": "card"},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    # Counted against the money Stripe gave back, refunded on the charge that took it.
    assert (body["payment_id"], body["amount"], body["state"]) == (
        reinstatement,
        "40.00",
        "succeeded",
    )
    refunded = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    assert [refund["amount"] for refund in refunded["data"]] == [4000]


def test_a_card_refund_after_a_won_dispute_whose_answer_was_lost_is_settled_by_reconcile(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, _payment, credit = _won_and_credited(client, vendor, localstripe, invoice_for)
    with pytest.raises(ExternalServiceError):
        services.refund_card(
            credit.id, actor=billing_clerk(), gateway=LostAnswer(settings.gateway())
        )
    (refund,) = refunds_of(credit)
    later = refund.created_at + timedelta(minutes=31)
    report = services.reconcile_refunds(now=later, gateway=settings.gateway())
    assert report.outcomes == [f"{logged(refund)}: refunded"]
    db.session().refresh(refund)
    assert refund.state == "succeeded"


def test_the_undisputed_part_of_a_payment_charged_back_in_part_is_refunded_offline_and_said_so(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    # The bank disputed 100.00 of the 250.00 charge and won it: 150.00 stays paid.
    lost = dispute_event(
        "charge.dispute.closed", payment, charge, status="lost", amount=10000, moved=(WITHDRAWN,)
    )
    deliver(client, lost)
    # Credited 150.00: 100.00 settles the balance, 50.00 is owed back.
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("150.00"), reason="Overbilled", actor=billing_clerk()
    )
    assert credit.refund_outstanding == Decimal("50.00")
    answer = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json={"method": "card", "amount": "50.00"},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 409
    detail = answer.get_json()["detail"]
    assert f"The {payment.named(invoice.number, in_sentence=True)}" in detail
    assert "for 100.00 USD of its 250.00 USD (Stripe dispute du_1Harborlight, lost)" in detail
    assert "the 150.00 USD not disputed cannot go back to the card" in detail
    assert "Record a refund sent offline" in detail
    assert refunds_of(credit) == []
    # Stripe is not asked: localstripe holds no refund of the charge.
    refunded = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    assert refunded["data"] == []
    # The invoice's page says so beside the refund form, and offers the offline refund.
    page = signed_in(app.test_client(), billing_staff).get(f"/console/invoices/{invoice.id}")
    said = " ".join(re.sub(r"<[^>]+>", "", page.text).split())
    assert "for 100.00 USD of its 250.00 USD: Stripe refuses to refund" in said
    assert "so the 150.00 USD not disputed cannot go back to the card. Refund it offline" in said
    assert re.search(r'<option selected value="wire">|<option value="wire" selected', page.text)
