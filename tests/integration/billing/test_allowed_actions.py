"""`allowed_actions` on invoices and organizations is what the caller may do:
a vendor takes none of their steps (staff and the service do); staff see the
steps their role takes (round 57: every step the state allows before, but an
organization's standing). Every state and role: `test_allowed_actions_by_role.py`."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing import access, db
from licensing.accounts.models import User
from licensing.agreements.states import AGREEMENT, APPLICATION
from licensing.api.agreements import AGREEMENT_STEP_ROUTES
from licensing.api.applications import APPLICATION_STEP_ROUTES
from licensing.api.invoices import INVOICE_STEP_ROUTES
from licensing.api.permissions import PERMISSION_STEP_ROUTES
from licensing.billing.models import Invoice
from licensing.billing.states import INVOICE
from licensing.permissions.states import PERMISSION_REQUEST
from tests.support import factories
from tests.support.factories import bearer


def test_a_vendor_sees_no_staff_or_system_steps_on_its_open_invoice(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor)
    url = f"/api/v1/invoices/{invoice.id}"
    assert client.get(url, headers=bearer(vendor)).get_json()["allowed_actions"] == []
    listed = client.get("/api/v1/invoices", headers=bearer(vendor)).get_json()
    assert [item["allowed_actions"] for item in listed] == [[]]
    staff_view = client.get(url, headers=bearer(billing_staff)).get_json()
    # Round 57: not the service's `settle`.
    assert staff_view["allowed_actions"] == ["mark_uncollectible", "void"]


def test_a_vendor_sees_no_standing_steps_on_its_organization_and_staff_their_roles_steps(
    client: FlaskClient, vendor: User, billing_staff: User, licensing_staff: User, admin: User
) -> None:
    url = f"/api/v1/organizations/{vendor.organization_id}"
    assert client.get(url, headers=bearer(vendor)).get_json()["allowed_standing_actions"] == []

    def steps(user: User) -> list[str]:
        shown: list[str] = client.get(url, headers=bearer(user)).get_json()[
            "allowed_standing_actions"
        ]
        return shown

    assert steps(billing_staff) == ["mark_pending_payment"]
    assert steps(licensing_staff) == ["close", "suspend"]
    assert steps(admin) == ["close", "mark_pending_payment", "suspend"]
    both = factories.make_staff(db.session(), roles=("licensing", "billing"))
    assert steps(both) == ["close", "mark_pending_payment", "suspend"]
    listed = client.get("/api/v1/organizations", headers=bearer(billing_staff)).get_json()
    assert listed
    for item in listed:
        assert set(item["allowed_standing_actions"]) <= {"mark_pending_payment", "payment_received"}


def test_every_step_route_named_for_allowed_actions_is_a_real_route_of_a_real_step(
    app: Flask,
) -> None:
    tables = (
        (INVOICE, INVOICE_STEP_ROUTES),
        (AGREEMENT, AGREEMENT_STEP_ROUTES),
        (APPLICATION, APPLICATION_STEP_ROUTES),
        (PERMISSION_REQUEST, PERMISSION_STEP_ROUTES),
    )
    for machine, routes in tables:
        assert set(routes) <= machine.actions, machine.entity
        for endpoint in routes.values():
            assert access.declaration_for(app, endpoint) is not None, endpoint
