"""Round 55's walk, in Chromium against the live server: a wire refund billing staff
sent bounced. They open the invoice's console page, give the reason and the day the
bank returned it, meet a field message, read the confirmation (checked with axe),
confirm, and read the refund as returned with the credit note owing it back again;
the licensee's invoice page says so too (the form's page tests are
tests/integration/billing/test_offline_refund_returns.py). Round 56: the same from
the wire payment's page, reached from the invoice's *Refunds* table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.billing import services as billing
from licensing.billing.models import Invoice, Payment, Refund
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.browser.conftest import sign_in, signed_in_tab
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.billing import paid_offline, refunded_offline
from tests.support.factories import billing_clerk
from tests.support.navigation import follow
from tests.support.servers import LiveServer


def _wire_refund_sent(live_server: LiveServer) -> tuple[str, str, Invoice, Refund, str]:
    """A vendor's 1,000.00 invoice paid by wire, credited 200.00 and the 200.00 sent
    back by wire today; staff with the billing role. The staff's and vendor's emails,
    and the credit note's number."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("1000.00",)))
        assert invoice is not None
        paid_offline(invoice.id, "1000.00", "W-IN-1")
        credit = billing.issue_credit_note(
            invoice.id, amount=Decimal("200.00"), reason="Two seats removed", actor=billing_clerk()
        )
        refund = refunded_offline(credit.id, "200.00", "W-BACK-7")
        staff = factories.make_staff(db.session(), roles=("billing",))
        return staff.email, vendor.email, invoice, refund, credit.number


def test_billing_staff_record_a_bounced_wire_refund_with_a_reason_and_a_day(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    staff, vendor, invoice, refund, number = _wire_refund_sent(live_server)
    today = office_date(utcnow()).isoformat()
    sign_in(page, staff)
    page.goto(f"/console/invoices/{invoice.id}")
    form = page.get_by_role("region", name="Record refund W-BACK-7 returned")
    reason = form.get_by_label("Reason")
    returned_on = form.get_by_label("Returned by the bank on")

    # No reason: the form comes back with the message beside the field, the day kept.
    returned_on.fill(today)
    form.get_by_role("button", name="Record the return").click()
    missing = form.locator(f"#return-{refund.id}-reason-error")
    missing.wait_for()
    assert missing.inner_text() == "Say why the bank returned the refund."
    assert reason.get_attribute("aria-invalid") == "true"
    assert returned_on.input_value() == today
    assert_accessible(page)  # the page's forms, with a message showing

    # Corrected: the confirmation says what follows.
    reason.fill("Beneficiary account closed.")
    form.get_by_role("button", name="Record the return").click()
    page.get_by_role(
        "heading", name="Record the wire refund of 200.00 USD as returned by the bank?"
    ).wait_for()
    said = " ".join(page.locator("main").inner_text().split())
    assert "owes 0.00 USD and owes back 0.00 USD now; after it, it owes 0.00 USD and " in said
    assert "owes back 200.00 USD, sent again as a new refund." in said
    assert "The licensee is not emailed" in said
    assert_accessible(page)
    # Loaded: the offers below are counted, and `count()` does not wait.
    follow(page, "button", "Record the return")
    page.get_by_text("Recorded: the wire refund of 200.00 USD came back on").wait_for()
    refunds = page.locator("#refunds").inner_text()
    assert "failed" in refunds
    assert f"Returned by the bank on {today}: Beneficiary account closed." in refunds
    assert page.get_by_role("region", name="Record refund W-BACK-7 returned").count() == 0
    # The refund owed again is offered to send anew.
    assert page.get_by_role("region", name=f"Refund credit note {number}").count() == 1

    licensee = signed_in_tab(browser, live_server, vendor)
    licensee.goto(f"/portal/invoices/{invoice.id}")
    assert "Returned by the bank on" in licensee.locator("#refunds").inner_text()
    with live_server.app.app_context():
        stored = db.session().get(Refund, refund.id)
        assert stored is not None
        assert (stored.state, stored.returned_on) == ("failed", office_date(utcnow()))


def test_billing_staff_record_a_bounced_wire_refund_from_the_payment_it_gave_back(
    page: Any, live_server: LiveServer
) -> None:
    """Round 56: the clerk follows the refund's row link on the invoice's page to its
    form, then records the return from the wire payment's page instead, and is
    brought back there."""
    staff, _vendor, invoice, refund, _number = _wire_refund_sent(live_server)
    with live_server.app.app_context():
        paid = select(Payment.id).where(Payment.invoice_id == invoice.id)
        payment_url = f"/console/payments/{db.session().scalars(paid).one()}"
    today = office_date(utcnow()).isoformat()
    sign_in(page, staff)
    page.goto(f"/console/invoices/{invoice.id}")
    page.locator("#refunds").get_by_role("link", name="Record refund W-BACK-7 returned").click()
    page.wait_for_function("() => location.hash !== ''")
    assert page.evaluate("() => location.hash") == f"#return-heading-{refund.id}"

    page.goto(payment_url)
    listed = page.locator("#refunds-offline").inner_text()
    assert "W-BACK-7" in listed
    form = page.get_by_role("region", name="Record refund W-BACK-7 returned")
    form.get_by_label("Reason").fill("Beneficiary account closed.")
    form.get_by_label("Returned by the bank on").fill(today)
    assert_accessible(page)
    form.get_by_role("button", name="Record the return").click()
    page.get_by_role(
        "heading", name="Record the wire refund of 200.00 USD as returned by the bank?"
    ).wait_for()
    follow(page, "button", "Record the return")
    page.get_by_text("Recorded: the wire refund of 200.00 USD came back on").wait_for()
    assert page.evaluate("() => location.pathname") == payment_url
    listed = page.locator("#refunds-offline").inner_text()
    assert f"Returned by the bank on {today}: Beneficiary account closed." in listed
    assert page.get_by_role("region", name="Record refund W-BACK-7 returned").count() == 0
