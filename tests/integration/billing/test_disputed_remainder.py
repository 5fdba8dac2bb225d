"""Round 47: a flagged card payment whose charge the bank disputed in part, and the
dispute lost: the bank returned the disputed part to the cardholder, and the rest is
still the office's. Accepting the payment whole and giving it back stay refused (the
bank has the disputed part; Stripe refuses to refund a charge with a dispute); billing
staff accept the remainder (`accept_remainder`, its own step with its own 409s), and
the invoice's balance and the exports reconcile to the cent. Stripe's
`charge.dispute.*` events delivered signed to the webhook, after a real localstripe
card payment; the API's `held` lists the steps the dispute holds back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
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
from licensing.billing.models import Invoice, Payment
from licensing.billing.states import NO_REMAINDER_WHY
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.errors import Conflict, IllegalTransition
from tests.support import factories
from tests.support.pages import text_of
from tests.support.servers import LocalStripe

from .dispute_support import WITHDRAWN, charge_of, dispute_event, staff_step
from .dispute_support import api_read as _read
from .dispute_support import dispute_in_part as _dispute
from .dispute_support import export_rows as _export
from .dispute_support import lost_on as _lost_on
from .stripe_support import deliver_event, flagged_card_payment, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _post(client: FlaskClient, staff: User, payment: Payment, step: str) -> Any:
    return staff_step(client, staff, payment, step, "The bank kept its part; the rest is ours.")


def test_a_flagged_payment_disputed_in_part_and_lost_has_its_remainder_accepted_and_reconciles(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """299.99 received on a 300.00 invoice, flagged; the bank disputes 100.00 of it and
    wins. Both steps stayed refused for good and nothing handled the 199.99 the office
    still held. Now the payment's answer lists the held steps and the remainder, the
    pages offer *Accept the remainder*, and accepting it counts 199.99: the invoice owes
    100.01, and the payments, invoices and receivables exports say so to the cent."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    charge = charge_of(localstripe, payment)
    _dispute(client, payment, charge, "created", "needs_response", 10000)
    # While open, the remainder is not known: all three staff steps are held.
    read = _read(client, billing_staff, f"payments/{payment.id}")
    assert [held["step"] for held in read["held"]] == ["accept", "accept_remainder", "give_back"]
    assert read["remainder"] is None
    refused = _post(client, billing_staff, payment, "accept-remainder")
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert refused.get_json()["detail"].startswith(
        "A payment that is flagged cannot have its remainder accepted: its charge is disputed"
    )
    # Its why says what a loss would leave (a dispute of it all: nothing).
    assert refused.get_json()["detail"].endswith(
        "if it is lost, the bank returns the part disputed to the cardholder, and the rest "
        "may be accepted as the remainder."
    )

    _dispute(client, payment, charge, "closed", "lost", 10000)
    lost_on = _lost_on()
    lost_words = day_text(date.fromisoformat(lost_on))  # pages' sentences (round 57)
    why = (
        f"its charge was disputed in part and the dispute lost (closed {lost_on}, Stripe "
        "dispute du_1Harborlight): the bank returned 100.00 USD of the 299.99 USD received "
        "to the cardholder, so accepting it whole would count money not held, and Stripe "
        "refuses to refund a charge with a dispute (charge_disputed). The 199.99 USD not "
        "disputed is still held: accept the remainder, and it counts against its invoice."
    )
    read = _read(client, billing_staff, f"payments/{payment.id}")
    assert read["held"] == [
        {"step": "accept", "why": why},
        {"step": "give_back", "why": why},
    ]
    assert read["remainder"] == "199.99"
    for step, words in (("accept", "be accepted"), ("give-back", "be given back")):
        held = _post(client, billing_staff, payment, step)
        assert held.status_code == 409, held.get_data(as_text=True)
        assert held.get_json()["detail"] == f"A payment that is flagged cannot {words}: {why}"

    # The console's payment page and invoice page say what the dispute left and offer it.
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(f"/console/payments/{payment.id}")
    said = text_of(page)
    assert f"Not offered: A payment that is flagged cannot be accepted: {why}" in said
    assert (
        "What the lost dispute left: 199.99 USD of the 299.99 USD received is still held "
        "(the bank returned 100.00 USD to the cardholder). Accepting it counts 199.99 USD "
        f"against {invoice.number} and leaves 100.01 USD owed on it, chased like any balance."
        in said
    )
    assert (
        f"the bank's dispute of 100.00 USD of it was lost on {lost_words}, so that part went "
        "back to the cardholder. The 199.99 USD left is still held" in said
    )
    action = f'action="/console/payments/{payment.id}/accept-remainder'
    assert action in page.get_data(as_text=True)
    assert action in staff.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    # It is work to check again: the invoices page lists it (a dispute lost in full is not).
    listed = text_of(staff.get("/console/invoices"))
    assert (
        f"{payment.named(invoice.number, in_words=True)} : received 299.99 USD, asked 300.00 USD; "
        "the bank's "
        "dispute of "
        "part of its charge was lost: the 199.99 USD left is to accept as the remainder"
    ) in listed
    # The licensee reads it in their words.
    licensee = signed_in(app.test_client(), vendor)
    theirs = text_of(licensee.get(f"/portal/invoices/{invoice.id}"))
    assert (
        "Your card payment of 299.99 USD was disputed by your bank for 100.00 USD, which it "
        f"decided for the cardholder on {lost_words}: that part went back to the card. The "
        "199.99 USD left is being checked" in theirs
    )

    # An empty reason is the form's message (422); nothing moves.
    empty = staff.post(
        f"/console/payments/{payment.id}/accept-remainder",
        data={"remainder-reason": " ", "from_payment": str(payment.id)},
    )
    assert empty.status_code == 422
    accepted = staff.post(
        f"/console/payments/{payment.id}/accept-remainder",
        data={"remainder-reason": "The bank kept its part.", "from_payment": str(payment.id)},
    )
    assert accepted.status_code == 302, text_of(accepted)
    assert (
        "What the lost dispute left of the flagged payment is accepted and applied; "
        f"100.01 USD stays owed on {invoice.number}" in text_of(staff.get(accepted.location))
    )
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert (stored.state, stored.amount, stored.amount_received) == (
        "succeeded",
        Decimal("199.99"),
        Decimal("299.99"),
    )
    [audited] = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "payment.remainder_accepted")
    )
    assert audited.actor == billing_staff.email
    assert audited.note == "The bank kept its part."
    assert audited.after_data == {
        "state": "succeeded",
        "amount": "199.99",
        "amount_received": "299.99",
        "amount_disputed": "100.00",
        "stripe_dispute_id": "du_1Harborlight",
    }
    # Once accepted: a retry, an accept or a give-back is the state machine's 409.
    for step in ("accept-remainder", "give-back"):
        again = _post(client, billing_staff, payment, step)
        assert again.status_code == 409, again.get_data(as_text=True)
        assert again.get_json()["detail"].startswith("A payment that is succeeded cannot")
    read = _read(client, billing_staff, f"payments/{payment.id}")
    assert (read["state"], read["amount"], read["held"], read["remainder"]) == (
        "succeeded",
        "199.99",
        [],
        None,
    )
    invoice_read = _read(client, billing_staff, f"invoices/{invoice.id}")
    assert (invoice_read["amount_paid"], invoice_read["balance_due"]) == ("199.99", "100.01")

    # The pages say what counted and what went back.
    counted = (
        f"the bank's dispute of 100.00 USD of it was lost on {lost_words}, so that part went "
        "back to the cardholder, and the remainder of 199.99 USD was accepted on"
    )
    assert counted in text_of(staff.get(f"/console/payments/{payment.id}"))
    invoice_page = text_of(staff.get(f"/console/invoices/{invoice.id}"))
    assert counted in invoice_page
    assert "Nothing taken off the invoice: only the 199.99 USD the dispute left was accepted" in (
        invoice_page
    )
    assert "Not withdrawn" not in invoice_page
    theirs = text_of(licensee.get(f"/portal/invoices/{invoice.id}"))
    assert (
        "Your card payment of 299.99 USD was disputed by your bank for 100.00 USD, which went "
        f"back to the card on {lost_words}; the 199.99 USD left counts against the invoice"
        in theirs
    )

    # The exports reconcile to the cent: the payment counts 199.99, the invoice owes
    # 100.01, and its total is what was paid plus what is owed.
    [row] = [r for r in _export(client, billing_staff, "payments") if r["payment_id"] == payment.id]
    assert (row["state"], row["amount"], row["amount_received"], row["currency"]) == (
        "succeeded",
        "199.99",
        "299.99",
        "USD",
    )
    assert row["paid_date"] == office_date(stored.settled_at or utcnow()).isoformat()
    # As of the day after both the invoice's issue and the acceptance (the factory
    # issues it on a day of its own).
    assert invoice.issue_date is not None
    as_of = max(invoice.issue_date, office_date(utcnow()))
    [owed] = [
        r
        for r in _export(client, billing_staff, "receivables", as_of=as_of.isoformat())
        if r["invoice_number"] == invoice.number
    ]
    assert (owed["balance"], owed["disputed"]) == ("100.01", "0.00")
    [issued] = [
        r
        for r in _export(client, billing_staff, "invoices")
        if r["invoice_number"] == invoice.number
    ]
    assert (issued["amount_paid"], issued["balance_due"]) == ("199.99", "100.01")
    assert Decimal(issued["total"]) == Decimal(row["amount"]) + Decimal(owed["balance"])


@pytest.mark.parametrize("dispute", ["none", "won", "lost_in_full"])
def test_a_remainder_is_accepted_only_after_a_dispute_lost_of_part_of_the_charge(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    dispute: str,
) -> None:
    """`accept_remainder`'s own 409s: a flagged payment with no dispute lost of part of
    it has no remainder (accept it whole or give it back); one lost in full has none
    left; the API's `held` is empty when nothing is held."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    if dispute != "none":
        charge = charge_of(localstripe, payment)
        _dispute(client, payment, charge, "created", "needs_response", 29999)
        outcome = "won" if dispute == "won" else "lost"
        _dispute(client, payment, charge, "closed", outcome, 29999)
    read = _read(client, billing_staff, f"payments/{payment.id}")
    refused = _post(client, billing_staff, payment, "accept-remainder")
    assert refused.status_code == 409, refused.get_data(as_text=True)
    detail = refused.get_json()["detail"]
    assert read["remainder"] is None
    if dispute == "lost_in_full":
        assert [held["step"] for held in read["held"]] == [
            "accept",
            "accept_remainder",
            "give_back",
        ]
        assert detail.startswith(
            "A payment that is flagged cannot have its remainder accepted: its charge was "
            "disputed and the dispute lost"
        )
        assert read["held"][1]["why"] in detail
    else:
        assert read["held"] == []
        assert detail == (
            f"A payment that is flagged cannot have its remainder accepted: {NO_REMAINDER_WHY}"
        )
    with pytest.raises((Conflict, IllegalTransition)):
        services.accept_remainder(payment.id, note="x", actor=factories.billing_clerk())
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == "flagged"
    assert not list(
        db.session().scalars(
            select(AuditEvent).where(AuditEvent.action == "payment.remainder_accepted")
        )
    )
    assert _read(client, billing_staff, f"invoices/{invoice.id}")["balance_due"] == "300.00"


def test_a_dispute_of_part_of_a_charge_in_another_currency_leaves_no_remainder(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 49, looked at again (round 48's decision kept): Stripe took 276.00 EUR for
    the 300.00 USD invoice, so the payment is flagged with 0.00 USD received (the
    service never converts, and keeps no EUR amount but its note). The bank disputes
    90.00 EUR of the charge (a Dispute is in the charge's currency) and the dispute is
    lost: what is left is 186.00 EUR, whose worth in USD is a rate no figure of
    Stripe's names, so no remainder is computed and the payment is lost in full for the
    service: all three steps held, the invoice owed as it was."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=27600, currency="eur"
    )
    charge = charge_of(localstripe, payment)
    for kind, status in (("created", "needs_response"), ("closed", "lost")):
        disputed = dispute_event(
            f"charge.dispute.{kind}",
            payment,
            charge,
            status=status,
            amount=9000,
            moved=(WITHDRAWN,),
        )
        disputed["id"] += "_eur"
        disputed["data"]["object"]["currency"] = "eur"
        assert deliver_event(client, disputed).status_code == 200
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.dispute is not None
    assert (stored.dispute.state, stored.dispute.currency.lower()) == ("lost", "eur")
    assert (stored.state, stored.amount_received) == ("flagged", Decimal(0))
    read = _read(client, billing_staff, f"payments/{payment.id}")
    assert (read["remainder"], read["remainder_excess"]) == (None, None)
    assert [held["step"] for held in read["held"]] == ["accept", "accept_remainder", "give_back"]
    refused = _post(client, billing_staff, payment, "accept-remainder")
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert "there is none left to give back" in refused.get_json()["detail"]
    assert _read(client, billing_staff, f"invoices/{invoice.id}")["balance_due"] == "300.00"
