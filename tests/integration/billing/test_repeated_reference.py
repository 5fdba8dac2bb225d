"""An offline payment whose bank reference the invoice already has: the console's
form asks billing staff to confirm it is a separate payment before recording it;
the API records it as before (its Idempotency-Key is what guards retries)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.billing.services.references import RepeatedReferencePolicy
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from tests.support.factories import bearer, billing_clerk, named
from tests.support.pages import without_time_tags

CONFIRM_LABEL = "Record it anyway: this is a separate payment with the same reference"


def _payments(invoice: Invoice) -> list[Payment]:
    return list(
        db.session().scalars(
            select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.id)
        )
    )


def _recorded_note(payment: Payment) -> str | None:
    return (
        db.session()
        .scalars(
            select(AuditEvent.note).where(
                AuditEvent.action == "payment.recorded", AuditEvent.entity_id == str(payment.id)
            )
        )
        .one()
    )


def _paid_offline(
    invoice: Invoice,
    clerk: Actor,
    amount: str = "400.00",
    *,
    method: str = "wire",
    reference: str = "FEDWIRE 0042",
    repeated_reference: RepeatedReferencePolicy = "allow",
) -> Payment:
    """An offline payment recorded by the service: the first instalment, unless told."""
    return services.record_offline_payment(
        invoice.id,
        method=method,
        amount=Decimal(amount),
        reference=reference,
        repeated_reference=repeated_reference,
        actor=clerk,
    )


def _second_instalment(client: FlaskClient, invoice: Invoice, **extra: str) -> str:
    response = client.post(
        f"/console/invoices/{invoice.id}/payments",
        data={
            "method": "ach",
            "amount": "300.00",
            "reference": "  fedwire 0042 ",
            "note": "Second instalment",
            **extra,
        },
    )
    # The page says the earlier payment's day in words (round 58), in a <time>.
    return f"{response.status_code} {without_time_tags(response.get_data(as_text=True))}"


def test_a_repeated_reference_comes_back_naming_the_earlier_payment_and_stores_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    clerk = billing_clerk()
    _paid_offline(invoice, clerk)
    # The same reference on another invoice is not this invoice's concern.
    _paid_offline(invoice_for(vendor, ("500.00",)), billing_clerk(), "500.00")
    signed_in(client, billing_staff)

    page = _second_instalment(client, invoice)

    assert page.startswith("422 ")
    today = day_text(office_date(utcnow()))
    assert (
        f"A payment with this reference is already recorded on this invoice: "
        f"400.00 USD received {today}, recorded by {named(clerk.user_id)}."
    ) in page
    assert "500.00 USD received" not in page
    assert CONFIRM_LABEL in page
    # What was typed is kept, and nothing is stored.
    assert 'value="300.00"' in page
    assert 'value="  fedwire 0042 "' in page
    assert "Second instalment</textarea>" in page
    assert '<option selected value="ach">' in page
    assert len(_payments(invoice)) == 1


def test_ticking_record_it_anyway_records_the_payment_once_and_audits_the_confirmation(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    first = _paid_offline(invoice, billing_clerk())
    signed_in(client, billing_staff)
    assert _second_instalment(client, invoice).startswith("422 ")

    # As the page posts it: the box, and the reference the warning was shown for.
    answer = _second_instalment(
        client, invoice, record_anyway="y", confirmed_reference="  fedwire 0042 "
    )

    assert answer.startswith("302 ")
    payments = _payments(invoice)
    assert [(p.amount, p.reference) for p in payments] == [
        (Decimal("400.00"), "FEDWIRE 0042"),
        (Decimal("300.00"), "fedwire 0042"),
    ]
    db.session().refresh(invoice)
    assert invoice.balance_due == Decimal("300.00")
    note = _recorded_note(payments[1])
    assert note is not None
    assert note.startswith("Repeated reference confirmed:")
    # Round 58: named as the pages name it (it was "payment 5 (400.00 USD ...").
    assert "same as the wire payment of 400.00 USD received " in note
    assert f"payment {first.id}" not in note


def test_the_box_confirms_only_the_reference_it_was_shown_for(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    clerk = billing_clerk()
    _paid_offline(invoice, clerk)
    _paid_offline(invoice, clerk, "100.00", method="check", reference="CHK 77")
    signed_in(client, billing_staff)
    asked = _second_instalment(client, invoice)
    assert asked.startswith("422 ")
    assert 'name="confirmed_reference" type="hidden" value="  fedwire 0042 "' in asked

    # Box ticked, but the reference changed to the check's: asked again, about the check.
    changed = _second_instalment(
        client,
        invoice,
        reference="chk 77",
        record_anyway="y",
        confirmed_reference="  fedwire 0042 ",
    )

    assert changed.startswith("422 ")
    today = day_text(office_date(utcnow()))
    assert (
        "A payment with this reference is already recorded on this invoice: "
        f"100.00 USD received {today}, recorded by {named(clerk.user_id)}."
    ) in changed
    assert 'name="confirmed_reference" type="hidden" value="chk 77"' in changed
    assert 'id="record_anyway" name="record_anyway" type="checkbox" value="y">' in changed
    assert len(_payments(invoice)) == 2
    # Ticked again for the check's reference, it is recorded.
    confirmed = _second_instalment(
        client, invoice, reference="chk 77", record_anyway="y", confirmed_reference="chk 77"
    )
    assert confirmed.startswith("302 ")
    assert [p.reference for p in _payments(invoice)] == ["FEDWIRE 0042", "CHK 77", "chk 77"]


def test_the_api_records_a_repeated_reference_as_before_and_its_audit_event_notes_it(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    first = _paid_offline(invoice, billing_clerk())

    response = client.post(
        f"/api/v1/invoices/{invoice.id}/payments",
        json={"method": "wire", "amount": "300.00", "reference": "FEDWIRE 0042"},
        headers=bearer(billing_staff),
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    payments = _payments(invoice)
    assert len(payments) == 2
    note = _recorded_note(payments[1])
    assert note is not None
    assert note.startswith("Repeated reference:")
    # Round 58: named as the pages name it (it was "payment 5 (400.00 USD ...").
    assert "same as the wire payment of 400.00 USD received " in note
    assert f"payment {first.id}" not in note


def test_asking_names_every_earlier_payment_with_the_reference_beside_other_problems(
    vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    clerk = billing_clerk()
    _paid_offline(invoice, clerk)
    _paid_offline(invoice, clerk, "100.00", method="check", reference="fedwire 0042")

    with pytest.raises(services.RepeatedReference) as refused:
        _paid_offline(invoice, clerk, "900.00", repeated_reference="ask")

    today = office_date(utcnow()).isoformat()  # the service's message, as the API says it
    assert refused.value.errors == {
        "amount": ["More than the balance due (500.00 USD)."],
        "reference": [
            "2 payments with this reference are already recorded on this invoice: "
            f"400.00 USD received {today}, recorded by {named(clerk.user_id)}; "
            f"100.00 USD received {today}, recorded by {named(clerk.user_id)}."
        ],
    }
    assert len(_payments(invoice)) == 2
