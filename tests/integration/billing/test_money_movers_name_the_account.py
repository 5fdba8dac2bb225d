"""Round 59 (names59): a payment's and a refund's recorder (`recorded_by`), a payment
reversal's (`reversed_by`), an invoice's link withdrawal's (`revoked_by`) and a Stripe
event's "looked at" (`looked_at_by`) kept only the address of who acted, and the pages
showed it bare: an address changed and given to a newcomer since read as the
newcomer's. Each keeps the account's id beside it (billing_0029) and the pages name the
person by it, "Name (address)", as histories do; a row from before keeps its address
and is named by it. The repeated-reference message and audit note name the earlier
record's recorder the same way."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import (
    Invoice,
    InvoiceLinkRevocation,
    Payment,
    PaymentReversal,
    Refund,
    StripeEvent,
)
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.support.console_lists import words
from tests.support.named_people import address_passed_on, staff_named, users_read_in_words

SignIn = Callable[..., FlaskClient]
REFUNDS = "/console/refunds"


def _read(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, path
    return words(answer.get_data(as_text=True))


def _before_round_59(model: Any, row_id: int, column: str) -> None:
    """The row as billing_0029 left one recorded before it: no account kept."""
    session = db.session()
    session.execute(update(model).where(model.id == row_id).values({column: None}))
    session.commit()


def _paid(
    invoice: Invoice, actor: Actor, amount: str = "100.00", reference: str = "W-1"
) -> Payment:
    return services.record_offline_payment(
        invoice.id, method="wire", amount=Decimal(amount), reference=reference, actor=actor
    )


def test_a_payment_names_who_recorded_and_who_reversed_it_after_their_addresses_passed_on(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    recorder, recording = staff_named("Tomasz Wren", ("billing",))
    reverser, reversing = staff_named("Aiko Brandt", ("billing",))
    payment = _paid(invoice_for(vendor, ("500.00",)), recording)
    reversal = services.reverse_offline_payment(
        payment.id,
        reason="The cheque bounced.",
        returned_on=office_date(utcnow()),
        standing_days=30,
        actor=reversing,
    )
    assert (payment.recorded_by, payment.recorded_by_id) == (recorder.email, recorder.id)
    assert (reversal.reversed_by, reversal.reversed_by_id) == (reverser.email, reverser.id)
    recorded_as = f"Tomasz Wren ({recorder.email})"
    reversed_as = f"Aiko Brandt ({reverser.email})"
    address_passed_on(recorder, "Ines Newcombe")
    address_passed_on(reverser, "Olu Newman")
    client = signed_in(app.test_client(), billing_staff)

    page = _read(client, f"/console/payments/{payment.id}")
    assert f"recorded by {recorded_as}" in page
    assert f"by {reversed_as}: The cheque bounced." in page
    assert "Ines Newcombe" not in page
    assert "Olu Newman" not in page

    # Rows from before billing_0029 kept no account: named by their address.
    _before_round_59(Payment, payment.id, "recorded_by_id")
    _before_round_59(PaymentReversal, reversal.id, "reversed_by_id")
    page = _read(client, f"/console/payments/{payment.id}")
    assert f"recorded by Ines Newcombe ({payment.recorded_by})" in page
    assert f"by Olu Newman ({reversal.reversed_by}): The cheque bounced." in page


def test_the_refunds_list_names_who_recorded_each_in_one_statement(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Each refund's recorder by the account kept, however many clerks the page names
    in one statement; a refund from before by its address."""

    client = signed_in(app.test_client(), billing_staff)
    invoice = invoice_for(vendor, ("500.00",))
    _office, issuing = staff_named("Credit Office", ("billing",))
    _paid(invoice, issuing, "500.00")
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("100.00"), reason="Seats removed.", actor=issuing
    )
    first, recording = staff_named("Clerk One", ("billing",))
    refund = services.record_offline_refund(
        credit.id, method="wire", amount=Decimal("10.00"), reference="R-1", actor=recording
    )
    assert (refund.recorded_by, refund.recorded_by_id) == (first.email, first.id)
    listed, few = users_read_in_words(app, client, REFUNDS)
    assert f"by Clerk One ({first.email})" in listed
    clerks = [staff_named(f"Clerk {n}", ("billing",)) for n in ("Two", "Three", "Four", "Five")]
    for number, (_person, actor) in enumerate(clerks):
        services.record_offline_refund(
            credit.id,
            method="wire",
            amount=Decimal("10.00"),
            reference=f"R-{number + 2}",
            actor=actor,
        )
    listed, many = users_read_in_words(app, client, REFUNDS)
    assert many == few
    for person, _actor in clerks:
        assert f"by {person.full_name} ({person.email})" in listed

    address = first.email
    newcomer = address_passed_on(first)
    listed = _read(client, REFUNDS)
    assert f"by Clerk One ({address})" in listed
    assert newcomer.full_name not in listed
    _before_round_59(Refund, refund.id, "recorded_by_id")
    assert f"by Ines Newcombe ({address})" in _read(client, REFUNDS)


def test_an_invoices_link_withdrawals_name_who_withdrew_them(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    clerk, withdrawing = staff_named("Tomasz Wren", ("billing",))
    invoice = invoice_for(vendor, ("500.00",))
    withdrawal = services.withdraw_invoice_links(
        invoice.id, reason="Forwarded to the wrong person.", actor=withdrawing
    )
    address = clerk.email
    assert (withdrawal.revoked_by, withdrawal.revoked_by_id) == (address, clerk.id)
    newcomer = address_passed_on(clerk)
    client = signed_in(app.test_client(), billing_staff)
    page = _read(client, f"/console/invoices/{invoice.id}")
    assert f"by Tomasz Wren ({address}): Forwarded to the wrong person." in page
    assert newcomer.full_name not in page

    _before_round_59(InvoiceLinkRevocation, withdrawal.id, "revoked_by_id")
    page = _read(client, f"/console/invoices/{invoice.id}")
    assert f"by Ines Newcombe ({address}): Forwarded to the wrong person." in page


def test_a_stripe_event_looked_at_names_who_marked_it_on_its_page_and_the_list(
    app: Flask, signed_in: SignIn, billing_staff: Any
) -> None:
    session = db.session()
    stored = StripeEvent(
        event_id="evt_names59_failed",
        event_type="payment_intent.succeeded",
        outcome="failed: the payment could not be read",
        kind="failed",
        received_at=utcnow(),
    )
    session.add(stored)
    session.commit()
    clerk, marking = staff_named("Tomasz Wren", ("billing",))
    services.mark_stripe_event_looked_at(
        stored.id, note="Recorded by hand from Stripe's dashboard.", actor=marking
    )
    session.expire_all()
    marked = session.get(StripeEvent, stored.id)
    assert marked is not None
    address = clerk.email
    assert (marked.looked_at_by, marked.looked_at_by_id) == (address, clerk.id)
    newcomer = address_passed_on(clerk)
    client = signed_in(app.test_client(), billing_staff)
    for path in (f"/console/stripe-events/{stored.id}", "/console/stripe-events?kind=looked_at"):
        page = _read(client, path)
        assert f"Recorded by hand from Stripe's dashboard. (Tomasz Wren ({address})," in page
        assert newcomer.full_name not in page


def test_a_repeated_reference_names_who_recorded_the_earlier_payment_by_the_account(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    """The form's warning and the audit note of a repeat confirmed name the earlier
    payment's recorder "Name (address)", by the account kept."""
    clerk, recording = staff_named("Tomasz Wren", ("billing",))
    invoice = invoice_for(vendor, ("1000.00",))
    _paid(invoice, recording, "400.00", "FEDWIRE 0042")
    address = clerk.email
    newcomer = address_passed_on(clerk)
    client = signed_in(app.test_client(), billing_staff)
    form = {
        "method": "wire",
        "amount": "300.00",
        "reference": "fedwire 0042",
        "received_on": "",
        "note": "",
    }
    page = client.post(f"/console/invoices/{invoice.id}/payments", data=form)
    assert page.status_code == 422
    warning = words(page.get_data(as_text=True))
    assert f"recorded by Tomasz Wren ({address})." in warning
    assert newcomer.full_name not in warning

    _, again = staff_named("Second Clerk", ("billing",))
    services.record_offline_payment(
        invoice.id,
        method="wire",
        amount=Decimal("300.00"),
        reference="fedwire 0042",
        repeated_reference="confirmed",
        actor=again,
    )
    note = (
        db.session()
        .scalars(
            select(AuditEvent.note)
            .where(AuditEvent.action == "payment.recorded")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        .one()
    )
    assert note is not None
    assert note.startswith("Repeated reference confirmed: same as the wire payment of 400.00 USD")
    assert note.endswith(f"recorded by Tomasz Wren ({address}).")
