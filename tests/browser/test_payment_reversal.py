"""Reversing a bounced check, in Chromium against the live server: billing staff
open the invoice's console page, give the reason and the day the bank returned
it, meet a field message, confirm, and read the payment as reversed with the
invoice owed again (the form's page tests are
tests/integration/billing/test_payment_reversal_page.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice, Payment
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.navigation import arrive, follow
from tests.support.servers import LiveServer


def _paid_by_check(live_server: LiveServer) -> tuple[str, Invoice, Payment]:
    """Billing staff (their email) and a vendor's invoice paid in full by check today."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("1000.00",)))
        assert invoice is not None
        staff = factories.make_staff(db.session(), roles=("billing",))
        payment = billing.record_offline_payment(
            invoice.id,
            method="check",
            amount=Decimal("1000.00"),
            reference="CHK 7781",
            actor=Actor.of(accounts.principal_for(staff)),
        )
        return staff.email, invoice, payment


def test_billing_staff_reverse_a_bounced_check_with_a_reason_and_a_date(
    page: Any, live_server: LiveServer
) -> None:
    email, invoice, payment = _paid_by_check(live_server)
    today = office_date(utcnow()).isoformat()
    sign_in(page, email)
    page.goto(f"/console/invoices/{invoice.id}")
    form = page.get_by_role("region", name="Reverse payment CHK 7781")
    reason = form.get_by_label("Reason")
    returned_on = form.get_by_label("Returned by the bank on")

    # No reason: the form comes back with the message beside the field, the day kept.
    returned_on.fill(today)
    form.get_by_role("button", name="Reverse payment").click()
    missing = form.locator(f"#reverse-{payment.id}-reason-error")
    missing.wait_for()
    assert missing.inner_text() == "Say why the payment is reversed."  # round 50
    assert reason.get_attribute("aria-invalid") == "true"
    assert returned_on.input_value() == today

    # A day the bank cannot have returned it yet: refused before any confirmation,
    # the reason kept as typed.
    reason.fill("Check returned unpaid: insufficient funds.")
    returned_on.fill("2099-01-01")
    # Loaded: a `count()` of nothing on a page half drawn would prove nothing.
    arrive(page, form.get_by_role("button", name="Reverse payment"))
    future = form.locator(f"#reverse-{payment.id}-returned_on-error")
    future.wait_for()
    assert future.inner_text() == "Cannot be in the future."
    assert page.get_by_role("button", name="Reverse the payment").count() == 0
    assert reason.input_value() == "Check returned unpaid: insufficient funds."

    # Corrected: the confirmation says what follows, and the payment is reversed.
    returned_on.fill(today)
    form.get_by_role("button", name="Reverse payment").click()
    page.get_by_role(
        "heading", name=f"Reverse the payment of 1,000.00 USD on {invoice.label}?"
    ).wait_for()
    assert "owed again" in page.content()
    follow(page, "button", "Reverse the payment")
    page.get_by_text("The payment of 1,000.00 USD (CHK 7781) is reversed").wait_for()
    assert f"Reversed: 1,000.00 USD returned {today}" in page.content()
    assert "Check returned unpaid: insufficient funds." in page.content()
    assert page.locator("#balance-due").inner_text().startswith("1,000.00")
    assert page.get_by_role("region", name="Reverse payment CHK 7781").count() == 0
    with live_server.app.app_context():
        stored = db.session().get(Payment, payment.id)
        assert stored is not None
        assert stored.state == "reversed"
