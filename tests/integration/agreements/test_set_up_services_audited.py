"""Round 52: services that other tests call inside a unit of work of their own, to
arrange what they test (`tests/support/audited.py` leaves a test's own unit alone:
it is its set-up), called here the way the service's own callers call it, under the
audit watch, with the events each step leaves read back.

Found by reading every `with db.transaction()` block under `tests/` for calls into
`licensing`: the billing tests' invoices come from `agreement_activated` sent in
the test's own unit (`billing/conftest.py::send_activation`, `invoice_for`), the
permissions tests' routed requests from `use_routed_to_permissions`
(`permissions/conftest.py::send_routed`), `change_standing` in a journey's own unit,
`apply_intent_outcome` in the answer-matching tests' and `create_invoice` in the
numbering and PDF tests' (`create_invoice` is what the activation's receiver
calls)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements.models import Application
from licensing.audit.models import AuditEvent
from licensing.billing import services as billing
from licensing.billing.models import Payment
from licensing.billing.payment_gateway import IntentStatus
from licensing.billing.states import CARD, PENDING
from licensing.permissions.models import PermissionRequest
from tests.support import factories
from tests.support.agreements import accept, agreement_of, up_front_invoice
from tests.support.audited import unaudited_state_changes

from .conftest import AUTO_USE, DEVELOPMENT_USE

Apply = Callable[..., Application]


def _actions(entity_type: str, entity_id: int) -> list[str]:
    return list(
        db.session().scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.id)
        )
    )


def test_an_acceptance_issues_its_up_front_invoice_with_each_step_audited(
    app: Flask, apply: Apply, vendor: User
) -> None:
    """`agreement_activated`'s receiver (`invoice_activated_agreement`, then
    `create_invoice`), sent by the acceptance in its own transaction."""
    agreement = agreement_of(apply(vendor, DEVELOPMENT_USE))
    with unaudited_state_changes(app) as watch:
        accept(agreement, vendor)
    assert watch.gaps == []
    assert watch.audited_units >= 1
    assert "agreement.accepted" in _actions("agreement", agreement.id)
    invoice = up_front_invoice(agreement)
    assert invoice.state == "open"
    assert _actions("invoice", invoice.id)[:2] == ["invoice.created", "invoice.finalized"]


def test_a_use_routed_to_permissions_is_made_a_submitted_request_audited_as_made(
    app: Flask, apply: Apply
) -> None:
    """`use_routed_to_permissions`'s receiver, sent by the application's submission:
    the request is made straight into `submitted` (a public form's begins
    `unconfirmed`), and its making is audited."""
    session = db.session()
    academic = factories.make_vendor(
        session, organization=factories.make_organization(session, organization_type="academic")
    )
    education = {**AUTO_USE, "use": "education", "product_name": "Coding 101"}
    education["quantity"] = {"students": 40}
    with unaudited_state_changes(app) as watch:
        application = apply(academic, AUTO_USE, education)
    assert watch.gaps == []
    request = (
        db.session()
        .scalars(
            select(PermissionRequest).where(PermissionRequest.application_id == application.id)
        )
        .one()
    )
    assert request.state == "submitted"
    assert _actions("permission_request", request.id)[0] == "permission_request.created"


def test_staff_changing_an_organizations_standing_audit_it(
    app: Flask, vendor: User, licensing_staff: User
) -> None:
    """`change_standing`, as the console and the API call it
    (`change_organization_standing`, its own transaction)."""
    staff = Actor.of(accounts.principal_for(licensing_staff))
    with unaudited_state_changes(app) as watch:
        accounts.change_organization_standing(
            vendor.organization_id, "suspend", reason="Audit of the watch.", actor=staff
        )
    assert watch.gaps == []
    assert _actions("organization", vendor.organization_id)[-1] == ("organization.standing_changed")


@dataclass
class _Declining:
    """A gateway whose every PaymentIntent was declined."""

    def retrieve_payment_intent(self, intent_id: str) -> IntentStatus:
        return IntentStatus(
            id=intent_id,
            status="requires_payment_method",
            amount=12000,
            amount_received=0,
            currency="usd",
            client_secret=None,
            metadata={},
            failure_message="Your card was declined.",
        )


def test_stripes_answer_applied_to_a_card_payment_is_audited(
    app: Flask, apply: Apply, vendor: User
) -> None:
    """`apply_intent_outcome`, as the reconciliation of payments whose webhook never
    came calls it (each payment claimed in a transaction of its own)."""
    agreement = agreement_of(apply(vendor, DEVELOPMENT_USE))
    accept(agreement, vendor)
    invoice = up_front_invoice(agreement)
    session = db.session()
    payment = Payment(
        invoice_id=invoice.id,
        organization_id=invoice.organization_id,
        method=CARD,
        state=PENDING,
        currency=invoice.currency,
        amount=Decimal("120.00"),
        stripe_payment_intent_id="pi_set_up",
        recorded_by=vendor.email,
        created_at=db.utcnow() - timedelta(hours=2),
    )
    session.add(payment)
    session.commit()
    gateway: Any = _Declining()
    with unaudited_state_changes(app) as watch:
        billing.reconcile_payments(gateway=gateway, older_than=timedelta(minutes=1))
    assert watch.gaps == []
    session.refresh(payment)
    assert payment.state == "failed"
    assert _actions("payment", payment.id)[-1] == "payment.declined"
