"""An offline refund whose bank reference the credit note's refunds already have:
the console's refund form asks billing staff to confirm it is a separate refund
before recording it, as the offline payment form does (one mechanism,
`billing.services.references`); the API records it, noted in the audit log."""

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
from licensing.billing.models import CreditNote, Invoice, Refund
from licensing.billing.services.references import RepeatedReferencePolicy
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from tests.support.factories import bearer, billing_clerk, named
from tests.support.pages import without_time_tags

from .refund_support import paid_offline_and_credited, refunds_of

CONFIRM_LABEL = "Record it anyway: this is a separate refund with the same reference"


def _refunded_offline(
    credit: CreditNote,
    clerk: Actor,
    amount: str = "40.00",
    *,
    reference: str = "FEDWIRE RF-7",
    repeated_reference: RepeatedReferencePolicy = "allow",
) -> Refund:
    return services.record_offline_refund(
        credit.id,
        method="wire",
        amount=Decimal(amount),
        reference=reference,
        repeated_reference=repeated_reference,
        actor=clerk,
    )


def _second_refund(client: FlaskClient, credit: CreditNote, **extra: str) -> str:
    prefix = f"refund-{credit.id}-"
    fields = {
        "method": "ach",
        "amount": "30.00",
        "reference": "  fedwire rf-7 ",
        "note": "Second part",
        **extra,
    }
    response = client.post(
        f"/console/credit-notes/{credit.id}/refunds",
        data={prefix + name: value for name, value in fields.items()},
    )
    # The page says the earlier refund's day in words (round 58), in a <time>.
    return f"{response.status_code} {without_time_tags(response.get_data(as_text=True))}"


def _recorded_note(refund: Refund) -> str | None:
    return (
        db.session()
        .scalars(
            select(AuditEvent.note).where(
                AuditEvent.action == "refund.recorded", AuditEvent.entity_id == str(refund.id)
            )
        )
        .one()
    )


def test_a_repeated_refund_reference_comes_back_naming_the_earlier_refund_and_stores_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    clerk = billing_clerk()
    _refunded_offline(credit, clerk)
    # The same reference on another credit note is not this credit note's concern.
    _refunded_offline(paid_offline_and_credited(invoice_for, vendor), billing_clerk(), "60.00")
    signed_in(client, billing_staff)

    page = _second_refund(client, credit)

    assert page.startswith("422 ")
    today = day_text(office_date(utcnow()))
    assert (
        "A refund with this reference is already recorded on this credit note: "
        f"40.00 USD sent {today}, recorded by {named(clerk.user_id)}."
    ) in page
    assert "60.00 USD sent" not in page
    assert CONFIRM_LABEL in page
    # What was typed is kept, and nothing is stored.
    assert 'value="30.00"' in page
    assert 'value="  fedwire rf-7 "' in page
    assert "Second part</textarea>" in page
    assert len(refunds_of(credit)) == 1


def test_ticking_record_it_anyway_records_the_refund_once_and_audits_the_confirmation(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    first = _refunded_offline(credit, billing_clerk())
    signed_in(client, billing_staff)
    assert _second_refund(client, credit).startswith("422 ")

    answer = _second_refund(
        client, credit, record_anyway="y", confirmed_reference="  fedwire rf-7 "
    )

    assert answer.startswith("302 ")
    refunds = refunds_of(credit)
    assert [(r.amount, r.reference) for r in refunds] == [
        (Decimal("40.00"), "FEDWIRE RF-7"),
        (Decimal("30.00"), "fedwire rf-7"),
    ]
    db.session().refresh(credit)
    assert credit.refund_outstanding == Decimal("30.00")
    note = _recorded_note(refunds[1])
    assert note is not None
    # Round 58: the earlier refund named as the pages name it (it was "refund 5").
    assert note.startswith(
        f"Repeated reference confirmed: same as the {first.named(in_sentence=True)}, recorded by "
    )
    assert note.endswith("\nSecond part")  # the staff's own note follows


def test_the_refund_box_confirms_only_the_reference_it_was_shown_for(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    clerk = billing_clerk()
    _refunded_offline(credit, clerk)
    _refunded_offline(credit, clerk, "10.00", reference="CHK 12")
    signed_in(client, billing_staff)

    changed = _second_refund(
        client,
        credit,
        reference="chk 12",
        record_anyway="y",
        confirmed_reference="  fedwire rf-7 ",
    )

    assert changed.startswith("422 ")
    assert "already recorded on this credit note: 10.00 USD sent" in changed
    assert f'name="refund-{credit.id}-confirmed_reference" type="hidden" value="chk 12"' in changed
    assert len(refunds_of(credit)) == 2


def test_the_api_records_a_repeated_refund_reference_and_its_audit_event_notes_it(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    first = _refunded_offline(credit, billing_clerk())

    response = client.post(
        f"/api/v1/credit-notes/{credit.id}/refunds",
        json={"method": "wire", "amount": "30.00", "reference": "FEDWIRE RF-7"},
        headers=bearer(billing_staff),
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    refunds = refunds_of(credit)
    assert len(refunds) == 2
    credit_number = credit.number
    assert _recorded_note(refunds[1]) == (
        f"Repeated reference: same as the wire refund of 40.00 USD of {credit_number}, sent "
        f"{office_date(utcnow()).isoformat()}, recorded by {named(first.recorded_by_id)}."
    )


def test_asking_names_the_earlier_refund_beside_a_problem_with_the_amount(
    vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    credit = paid_offline_and_credited(invoice_for, vendor)
    clerk = billing_clerk()
    _refunded_offline(credit, clerk)

    with pytest.raises(services.RepeatedReference) as refused:
        _refunded_offline(credit, clerk, "90.00", repeated_reference="ask")

    today = office_date(utcnow()).isoformat()
    assert refused.value.errors == {
        "amount": [f"More than the refund outstanding on {credit.number} (60.00 USD)."],
        "reference": [
            "A refund with this reference is already recorded on this credit note: "
            f"40.00 USD sent {today}, recorded by {named(clerk.user_id)}."
        ],
    }
    assert len(refunds_of(credit)) == 1
