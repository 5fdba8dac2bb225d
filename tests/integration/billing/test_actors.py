"""Who acts in a billing use case is passed in (an `Actor`), never read from the
request: the use case checks the role itself and names the actor in every
audit event it writes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.errors import PermissionDenied


def _events_since(seq: int) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)
        )
    )


def _last_seq() -> int:
    events = _events_since(0)
    return events[-1].seq if events else 0


def test_a_billing_use_case_refuses_an_actor_without_the_billing_role_and_changes_nothing(
    app: Flask, vendor: User, licensing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("250.00",))
    before = _last_seq()
    for user in (vendor, licensing_staff):
        with pytest.raises(PermissionDenied):
            services.void_invoice(
                invoice.id, reason="issued in error", actor=Actor.of(accounts.principal_for(user))
            )
        with pytest.raises(PermissionDenied):
            services.record_offline_payment(
                invoice.id,
                method="wire",
                amount=Decimal("250.00"),
                reference="W-1",
                actor=Actor.of(accounts.principal_for(user)),
            )
    db.session().refresh(invoice)
    assert (invoice.state, invoice.amount_paid) == ("open", Decimal("0.00"))
    assert _events_since(before) == []


def test_every_event_of_a_payment_names_the_staff_member_who_recorded_it(
    app: Flask, vendor: User, billing_staff: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("250.00",))
    before = _last_seq()
    staff = Actor.of(accounts.principal_for(billing_staff))
    payment = services.record_offline_payment(
        invoice.id, method="wire", amount=Decimal("250.00"), reference="W-2", actor=staff
    )
    events = _events_since(before)
    assert [event.action for event in events] == [
        "payment.recorded",
        "invoice.payment_applied",
        "invoice.paid",
    ]
    assert {(event.actor, event.actor_user_id) for event in events} == {
        (billing_staff.email, billing_staff.id)
    }
    assert payment.recorded_by == billing_staff.email
