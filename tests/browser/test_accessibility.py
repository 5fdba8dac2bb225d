"""axe-core finds no serious or critical accessibility problem on the main pages,
as the public, a vendor and billing staff see them (including forms showing
their errors)."""

from __future__ import annotations

from typing import Any

from licensing import db
from licensing.billing.models import Invoice
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer


def _sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _invoice(live_server: LiveServer) -> tuple[str, Invoice]:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("900.00",)))
        assert invoice is not None
        return vendor.email, invoice


def test_the_public_pages_have_no_serious_accessibility_problem(page: Any) -> None:
    for path in ("/", "/estimate", "/sign-in"):
        page.goto(path)
        assert_accessible(page)
    # Forms showing their errors: the estimator with a bad quantity, a failed sign-in.
    page.goto("/estimate?use=development&uses-0-quantity-end_users=-5")
    assert_accessible(page)
    page.goto("/sign-in")
    page.get_by_label("Email address").fill("nobody@bluefin.example")
    page.get_by_label("Password").fill("not-the-password-at-all")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert_accessible(page)


def test_a_vendors_dashboard_and_invoice_have_no_serious_accessibility_problem(
    page: Any, live_server: LiveServer
) -> None:
    email, invoice = _invoice(live_server)
    _sign_in(page, email)
    page.goto("/portal/")
    assert_accessible(page)
    page.goto(f"/portal/invoices/{invoice.id}")
    assert_accessible(page)


def test_the_console_and_an_invoice_have_no_serious_accessibility_problem_for_staff(
    page: Any, live_server: LiveServer
) -> None:
    _email, invoice = _invoice(live_server)
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("admin",))
    _sign_in(page, staff.email)
    page.goto("/console/")
    assert_accessible(page)
    page.goto(f"/console/invoices/{invoice.id}")
    assert_accessible(page)
