"""Round 48: a remainder larger than what its invoice still owes. A flagged card
payment of 299.99 on a 300.00 invoice, its charge disputed for 100.00 and the dispute
lost, leaves 199.99 with the office; meanwhile the invoice was paid by another payment
or credited. Round 47 refused the remainder and the payment stayed flagged for good.
Now the remainder is accepted with the excess given back offline (Stripe refuses to
refund a charge with a dispute): the remainder counts, the excess is booked as its
reversal on the day it was sent, and the invoice is paid exactly what it owed, the
payments, receivables, invoices and credit notes exports reconciling to the cent.
Stripe's `charge.dispute.*` events delivered signed to the webhook after a real
localstripe card payment. Round 49: a void invoice too (all of it goes back), the
billing contact emailed how the excess went back (delivered to an aiosmtpd server),
the disputes table and the hold's "Not offered" words saying the excess."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.accounts.models import Organization, User
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.servers import LocalStripe, SMTPServer, message_text
from tests.support.settings import delivery

from .dispute_support import api_read as _read
from .dispute_support import charge_of
from .dispute_support import dispute_in_part as _dispute
from .dispute_support import export_rows as _export
from .dispute_support import lost_on as _lost_on
from .stripe_support import flagged_card_payment, stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe, smtp_server: SMTPServer) -> dict[str, Any]:
    # Round 49: the excess's email is delivered to the loopback SMTP server.
    return {**stripe_config(localstripe), "smtp_url": smtp_server.url}


def _accept(client: FlaskClient, staff: User, payment: Payment, **excess: str) -> Any:
    return client.post(
        f"/api/v1/payments/{payment.id}/accept-remainder",
        json={"reason": "The bank kept its part; the rest is ours.", **excess},
        headers=bearer(staff),
    )


def _lost_in_part(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> tuple[Invoice, Payment]:
    """299.99 received on a 300.00 invoice, flagged; 100.00 of it disputed and lost."""
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    charge = charge_of(localstripe, payment)
    _dispute(client, payment, charge, "created", "needs_response", 10000)
    _dispute(client, payment, charge, "closed", "lost", 10000)
    return invoice, payment


@pytest.mark.parametrize("meanwhile", ["paid", "credited", "void"])
def test_a_remainder_more_than_the_invoice_owes_is_accepted_with_the_excess_given_back_offline(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
    mailbox: SMTPServer,
    meanwhile: str,
) -> None:
    """Paid in full by a wire meanwhile (nothing owed: all 199.99 goes back), or credited
    150.00 (150.00 owed: 49.99 goes back), or (round 49) voided (nothing owed on it: all
    199.99 goes back; round 48 refused it for good). Without the excess given back the
    step is the 409 saying what to do; with it (by keyboard-sized form on the console),
    the invoice is paid what it owed (a void one stays void, nothing paid), the exports
    reconcile, and the billing contact is emailed how the excess went back."""
    invoice, payment = _lost_in_part(client, vendor, localstripe, invoice_for)
    clerk = factories.billing_clerk()
    if meanwhile == "paid":
        services.record_offline_payment(
            invoice.id, method="wire", amount=Decimal("300.00"), reference="W-300", actor=clerk
        )
        owed, excess, state = "0.00", "199.99", "paid"
    elif meanwhile == "void":
        services.void_invoice(invoice.id, reason="Issued to the wrong licensee.", actor=clerk)
        owed, excess, state = "0.00", "199.99", "void"
    else:
        services.issue_credit_note(
            invoice.id, amount=Decimal("150.00"), reason="Half the term unused.", actor=clerk
        )
        owed, excess, state = "150.00", "49.99", "open"
    lost_on = _lost_on()
    lost_words = day_text(date.fromisoformat(lost_on))  # pages' sentences (round 57)
    read = _read(client, billing_staff, f"payments/{payment.id}")
    assert (read["remainder"], read["remainder_excess"]) == ("199.99", excess)
    # Round 49: the hold's words (the API's `held`, the pages' "Not offered") say what
    # accepting does when the invoice owes less than the remainder, not "it counts".
    [held] = [h["why"] for h in read["held"] if h["step"] == "accept"]
    assert "and it counts against its invoice" not in held
    if owed == "0.00":
        assert held.endswith(
            "The 199.99 USD not disputed is still held, but its invoice owes nothing now: "
            "accepting the remainder sends all of it back to the licensee offline (wire, "
            "ACH or check), booked as returned, and none of it counts."
        )
    else:
        assert held.endswith(
            "The 199.99 USD not disputed is still held, but its invoice owes only 150.00 USD "
            "now: accepting the remainder counts 150.00 USD against it and sends the 49.99 "
            "USD more back to the licensee offline (wire, ACH or check), booked as returned."
        )

    # Without the excess given back: the 409 says what to do, nothing moves.
    refused = _accept(client, billing_staff, payment)
    assert refused.status_code == 409, refused.get_data(as_text=True)
    owes = (
        "it is void: nothing is owed on it"
        if state == "void"
        else f"it is {state}, balance due {owed} USD"
    )
    assert refused.get_json()["detail"] == (
        f"The 199.99 USD its lost dispute left is more than {invoice.number} owes "
        f"({owes}): Stripe refuses to refund a charge with a "
        f"dispute, so accept it with the {excess} USD beyond that given back offline (wire, "
        "ACH or check, with the transfer's reference): the invoice is then paid what it "
        "owed, and the excess is booked as returned today."
    )
    # A method without the reference: 422 naming the field.
    half = _accept(client, billing_staff, payment, excess_method="wire")
    assert half.status_code == 422, half.get_data(as_text=True)
    assert half.get_json()["errors"] == {"excess_reference": ["Give the bank or check reference."]}

    # The console's payment page says it and asks how the excess went back.
    staff = signed_in(app.test_client(), billing_staff)
    said = text_of(staff.get(f"/console/payments/{payment.id}"))
    assert f"Not offered: A payment that is flagged cannot be accepted: {held}" in said
    now_owes = f"nothing ({state})" if owed == "0.00" else "only 150.00 USD "
    assert (
        f"{invoice.number} now owes {now_owes}, so {excess} USD of it is the licensee's: "
        "Stripe refuses to refund a charge with a dispute, so send it back offline first"
    ) in said
    assert f"Accept the remainder, 199.99 USD , with {excess} USD given back offline" in said
    # Round 50: the lists of card payments to review said only "is to accept as the
    # remainder"; they say what accepting it does, as the payment's page.
    if owed == "0.00":
        what = (
            f"owes nothing now ({state}): accepting it sends all of it back to the licensee "
            "offline (wire, ACH or check), with the transfer's reference, and none of it counts"
        )
    else:
        what = (
            "owes only 150.00 USD now: accepting it counts that and sends the other 49.99 USD "
            "back to the licensee offline (wire, ACH or check), with the transfer's reference"
        )
    line = f"the 199.99 USD left is to accept as the remainder, but invoice {invoice.number} {what}"
    assert line in text_of(staff.get("/console/payments/to-review"))
    assert line in text_of(staff.get("/console/invoices"))
    # On its invoice's page too (a paid or void invoice's page keeps the panel).
    invoice_page = staff.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    assert f'id="remainder-excess_method-{payment.id}"' in invoice_page
    # Posted without the reference: the payment's page again, the field's message linked.
    form = {
        "remainder-reason": "The bank kept its part.",
        "remainder-excess_method": "wire",
        "from_payment": str(payment.id),
    }
    again = staff.post(f"/console/payments/{payment.id}/accept-remainder", data=form)
    assert again.status_code == 422
    assert f'href="#remainder-excess_reference-{payment.id}"' in again.get_data(as_text=True)
    assert "Give the bank or check reference." in text_of(again)
    today = office_date(utcnow())
    mailbox.clear()
    mail.deliver_due(delivery())  # what was queued before: the excess's email follows
    mailbox.clear()
    if meanwhile == "paid":
        # By the console's form, the reference given.
        done = staff.post(
            f"/console/payments/{payment.id}/accept-remainder",
            data={**form, "remainder-excess_reference": "W-BACK-7"},
        )
        assert done.status_code == 302, text_of(done)
        assert (
            "What the lost dispute left of the flagged payment is accepted: "
            f"{invoice.number} owed none of it, so all 199.99 USD is booked as given back "
            "offline today; nothing was applied."
        ) in text_of(staff.get(done.location))
    elif meanwhile == "void":
        # By the API (round 49: refused for good before); its summary says none counted.
        done = _accept(
            client, billing_staff, payment, excess_method="wire", excess_reference="W-BACK-7"
        )
        assert done.status_code == 200, done.get_data(as_text=True)
        assert done.get_json()["summary"] == (
            f"Accepted: the remainder of 199.99 USD; {invoice.number} (void) owed none of "
            f"it, so all of it is booked as given back offline on {today.isoformat()} (the "
            "payment is reversed for all of it)."
        )
    else:
        # By the API, as a finance script would.
        done = _accept(
            client, billing_staff, payment, excess_method="wire", excess_reference="W-BACK-7"
        )
        assert done.status_code == 200, done.get_data(as_text=True)
        assert done.get_json()["summary"] == (
            f"Accepted: the remainder of 199.99 USD, of which 150.00 USD counts against "
            f"{invoice.number}, which is paid now, and 49.99 USD, more than it owed, is "
            f"booked as given back offline on {today.isoformat()} (the payment is reversed "
            "for that part)."
        )

    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.reversal is not None
    assert (stored.state, stored.amount, stored.reversal.amount, stored.reversal.returned_on) == (
        "reversed",
        Decimal("199.99"),
        Decimal(excess),
        today,
    )
    assert stored.reversal.reason == (
        f"The {excess} USD of the remainder that {invoice.number} did not owe, given back "
        "offline by wire transfer (reference W-BACK-7): Stripe refuses to refund a charge "
        "with a dispute."
    )
    stored_invoice = db.session().get(Invoice, invoice.id)
    assert stored_invoice is not None
    assert (stored_invoice.state, stored_invoice.balance_due) == (
        "void" if state == "void" else "paid",
        Decimal(0),
    )
    if state == "void":
        # Nothing counts on a void invoice: the remainder counted and went back at once.
        assert stored_invoice.amount_paid == Decimal(0)
    events = {
        event.action: event
        for event in db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.entity_type == "payment", AuditEvent.entity_id == str(payment.id)
            )
        )
    }
    assert events["payment.remainder_accepted"].after_data["excess"] == excess
    assert events["payment.remainder_accepted"].actor == billing_staff.email
    assert events["payment.reversed"].after_data["state"] == "reversed"
    assert events["payment.reversed"].note == stored.reversal.reason

    read = _read(client, billing_staff, f"payments/{payment.id}")
    assert (read["state"], read["amount"], read["remainder"], read["remainder_excess"]) == (
        "reversed",
        "199.99",
        None,
        None,
    )
    assert read["reversal"]["amount"] == excess

    # Once done: the step again is the state machine's 409.
    twice = _accept(client, billing_staff, payment, excess_method="wire", excess_reference="W")
    assert twice.status_code == 409
    assert twice.get_json()["detail"].startswith("A payment that is reversed cannot")

    # The pages say what counted and what went back.
    counted = (
        f"{excess} USD more than it owed went back to the licensee offline on {day_text(today)}"
    )
    assert counted in text_of(staff.get(f"/console/payments/{payment.id}"))
    assert counted in text_of(staff.get(f"/console/invoices/{invoice.id}"))
    # Round 49: the disputes table says the excess too (it said only what was accepted).
    table = (
        "Nothing taken off the invoice: the 199.99 USD the dispute left was accepted, and "
        "all of it, more than the invoice owed, went back to the licensee offline on "
        f"{today.isoformat()}"
        if owed == "0.00"
        else "Nothing taken off the invoice: only the 199.99 USD the dispute left was "
        "accepted, and 49.99 USD of it, more than the invoice owed, went back to the "
        f"licensee offline on {today.isoformat()}"
    )
    for url in (f"/console/payments/{payment.id}", f"/console/invoices/{invoice.id}"):
        assert table in text_of(staff.get(url)), url
    assert table in text_of(staff.get("/console/disputes"))

    # Round 49: the billing contact is emailed what went back, how and its reference,
    # and the SMTP server receives it.
    assert mail.deliver_due(delivery()).failed == 0
    organization = db.session().get(Organization, invoice.organization_id)
    assert organization is not None
    [returned] = [
        m
        for m in mailbox.to(organization.billing_email)
        if m["Subject"] == f"{excess} USD sent back to you for invoice {invoice.number}"
    ]
    body = " ".join(message_text(returned).split())
    assert (
        f"Your card payment of 299.99 USD (Visa ending 4242) for invoice {invoice.number} "
        "was disputed by your bank for 100.00 USD, which the bank returned to the card when "
        "it decided for the cardholder. The 199.99 USD left with us was more than the "
        "invoice owed"
    ) in body
    assert (
        # The email says the day in words (round 56); the pages above keep YYYY-MM-DD.
        f"so we sent {excess} USD back to you on {calendar.day_text(today)} by wire transfer, "
        "reference W-BACK-7. It could not go back to the card: a charge with a dispute "
        "cannot be refunded."
    ) in body
    if state == "void":
        assert "(the invoice is void: nothing is owed on it)" in body
    if owed == "0.00":
        assert f"None of it counts against invoice {invoice.number}." in body
    else:
        assert (
            f"The other 150.00 USD counts against invoice {invoice.number}, which is paid in full."
        ) in body
    licensee = signed_in(app.test_client(), vendor)
    theirs = text_of(licensee.get(f"/portal/invoices/{invoice.id}"))
    assert (
        f"Your card payment of 299.99 USD was disputed by your bank for 100.00 USD, which "
        f"went back to the card on {lost_words}; of the 199.99 USD left, {excess} USD was more "
        f"than the invoice owed and was sent back to you offline on {day_text(today)}"
    ) in theirs
    if meanwhile == "credited":
        assert "and 150.00 USD counts against the invoice from" in theirs
    else:
        assert "none of it counts against the invoice" in theirs

    # The exports reconcile to the cent: collected less returned is what was paid, and
    # the invoice's total is that plus what was credited and what is owed.
    rows = [
        r
        for r in _export(client, billing_staff, "payments")
        if r["invoice_number"] == invoice.number
    ]
    mine = next(r for r in rows if r["payment_id"] == payment.id)
    assert (mine["state"], mine["amount"], mine["reversed_amount"], mine["reversed_on"]) == (
        "reversed",
        "199.99",
        excess,
        today.isoformat(),
    )
    counted_rows = [r for r in rows if r["state"] in ("succeeded", "reversed")]
    net = sum(Decimal(r["amount"]) for r in counted_rows) - sum(
        Decimal(r["reversed_amount"] or 0) for r in counted_rows
    )
    credits = [
        r
        for r in _export(client, billing_staff, "credit_notes")
        if r["invoice_number"] == invoice.number
    ]
    credited = sum((Decimal(r["amount"]) for r in credits), Decimal(0))
    assert all(r["refund_due"] == "0.00" for r in credits)
    [issued] = [
        r
        for r in _export(client, billing_staff, "invoices")
        if r["invoice_number"] == invoice.number
    ]
    assert Decimal(issued["amount_paid"]) == net
    if state == "void":
        # A void invoice owes nothing and was paid nothing: the remainder came in and
        # went back in full, so collected less reversed is 0.00.
        assert (issued["state"], issued["balance_due"], issued["amount_paid"]) == (
            "void",
            "0.00",
            "0.00",
        )
    else:
        assert (issued["state"], issued["balance_due"]) == ("paid", "0.00")
        assert Decimal(issued["total"]) == net + credited + Decimal(issued["balance_due"])
    assert invoice.issue_date is not None
    as_of = max(invoice.issue_date, today)
    owed_rows = [
        r
        for r in _export(client, billing_staff, "receivables", as_of=as_of.isoformat())
        if r["invoice_number"] == invoice.number
    ]
    assert all(r["balance"] == "0.00" for r in owed_rows)
    # Round 49: the statement of account closes where the receivables export does (the
    # remainder in and its excess back on the same day, a void invoice's included).
    owed_by_them = sum(
        (
            Decimal(r["balance"])
            for r in _export(client, billing_staff, "receivables", as_of=as_of.isoformat())
            if r["organization_id"] == invoice.organization_id
        ),
        Decimal("0.00"),
    )
    statement = services.statement_for(
        db.session(),
        organization,
        services.Asked(invoice.issue_date.isoformat(), as_of.isoformat(), "USD"),
        # Read on `as_of` (the invoice may be issued on a day after today).
        now=utcnow() + timedelta(days=(as_of - today).days),
    )
    assert statement.closing.quantize(Decimal("0.01")) == owed_by_them


def test_an_excess_sent_back_when_the_invoice_owes_all_the_remainder_is_refused(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Nothing exceeds (the invoice owes 300.00, the remainder is 199.99): giving some
    back is a 422 naming the field, nothing moves, and the API's `remainder_excess` is
    null; an unknown method is the schema's 422."""
    invoice, payment = _lost_in_part(client, vendor, localstripe, invoice_for)
    assert _read(client, billing_staff, f"payments/{payment.id}")["remainder_excess"] is None
    refused = _accept(client, billing_staff, payment, excess_method="wire", excess_reference="W")
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert refused.get_json()["errors"] == {
        "excess_method": [
            f"Nothing to give back: {invoice.number} owes 300.00 USD, all the remainder; "
            "accept it without sending any back."
        ]
    }
    unknown = _accept(client, billing_staff, payment, excess_method="cash", excess_reference="W")
    assert unknown.status_code == 422
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == "flagged"
    assert _read(client, billing_staff, f"invoices/{invoice.id}")["balance_due"] == "300.00"


def test_an_excess_reference_of_more_than_one_line_is_refused_and_nothing_emailed(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 50: the reference is written into the billing contact's email (round 49's
    `payment_excess_returned`) and the reversal's reason; with a line break in it
    (pasted, or typed to add a paragraph of its own to the office's email) it was
    accepted and mailed. Now a 422 naming the field, as a name with a line break is;
    the payment stays flagged, nothing is queued."""
    invoice, payment = _lost_in_part(client, vendor, localstripe, invoice_for)
    services.void_invoice(
        invoice.id, reason="Issued to the wrong licensee.", actor=factories.billing_clerk()
    )
    queued = _queued()
    for reference in (
        "W-BACK-7\n\nOur bank details changed: pay the next invoice to IBAN XX00 0000",
        "W-BACK-7\r\nBcc: someone@example.com",
        "W-BACK\t7",
        "W-BACK\u20287",
    ):
        refused = _accept(
            client, billing_staff, payment, excess_method="wire", excess_reference=reference
        )
        assert refused.status_code == 422, refused.get_data(as_text=True)
        assert refused.get_json()["errors"] == {
            "excess_reference": [
                "Write it on one line: no line breaks, tabs or other control characters."
            ]
        }
    # The console's panel says it beside the field, linked from its summary.
    staff = signed_in(app.test_client(), billing_staff)
    again = staff.post(
        f"/console/payments/{payment.id}/accept-remainder",
        data={
            "remainder-reason": "The bank kept its part.",
            "remainder-excess_method": "wire",
            "remainder-excess_reference": "W-BACK-7\r\nPay the next invoice to IBAN XX00",
            "from_payment": str(payment.id),
        },
    )
    assert again.status_code == 422
    assert f'href="#remainder-excess_reference-{payment.id}"' in again.get_data(as_text=True)
    assert "Write it on one line: no line breaks, tabs or other control characters." in (
        text_of(again)
    )
    db.session().expire_all()
    stored = db.session().get(Payment, payment.id)
    assert stored is not None
    assert stored.state == "flagged"
    assert _queued() == queued
    # On one line, it is accepted (spaces around it trimmed).
    accepted = _accept(
        client, billing_staff, payment, excess_method="wire", excess_reference=" W-BACK-7 "
    )
    assert accepted.status_code == 200, accepted.get_data(as_text=True)


def _queued() -> int:
    return len(db.session().scalars(select(OutboxMessage)).all())
