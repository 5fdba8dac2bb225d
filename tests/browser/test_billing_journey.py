"""Billing, in Chromium against the live server: the vendor accepts an agreement
(auto-approved with a flat development fee), which becomes active; its invoice
appears for the vendor, who pays by card through localstripe's Stripe.js;
Stripe's signed webhook marks it paid and the PDF says so. Billing staff record
an offline wire payment, and confirm one whose bank reference is already recorded."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing.models import Invoice
from licensing.ratecards import services as ratecards
from tests.browser.conftest import fill_card, invoiced_vendor, sign_in, sign_in_on_the_form
from tests.integration.agreements.conftest import DEVELOPMENT_USE, draft
from tests.integration.billing.stripe_support import WEBHOOK_SECRET, stripe_config
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.navigation import arrive, follow
from tests.support.servers import LiveServer, LocalStripe
from tests.support.settings import issuing


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _approved_application(live_server: LiveServer) -> tuple[str, int]:
    """A vendor whose application was approved at submission: an agreement to accept."""
    with live_server.app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        vendor = factories.make_vendor(db.session())
        principal = accounts.principal_for(vendor)
        application = agreements.create_draft(Actor.of(principal), draft(DEVELOPMENT_USE))
        application = agreements.submit(
            application.id, Actor.of(principal), policy=issuing(), attest=True
        )
        assert application.state == "approved"
        return vendor.email, application.id


def test_a_vendor_pays_an_agreements_invoice_by_card_and_the_pdf_shows_paid(
    page: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    localstripe.register_webhook("licensing", f"{live_server.url}/webhooks/stripe", WEBHOOK_SECRET)
    email, application_id = _approved_application(live_server)

    # The vendor accepts the agreement: it becomes active and is invoiced.
    sign_in(page, email)
    page.goto(f"/portal/applications/{application_id}")
    page.get_by_role("link", name="Read and accept the agreement").click()
    page.fill("#signer_name", "Robin Castellanos")
    page.fill("#signer_title", "Chief Executive")
    page.check("#authority_confirmed")
    page.get_by_role("button", name="Accept the agreement").click()
    assert "accepted and active" in page.inner_text(".flashes")
    with live_server.app.app_context():
        invoice = db.session().scalars(select(Invoice)).one()
    balance = f"{invoice.balance_due:,.2f}"

    page.goto("/portal/")
    page.get_by_role("link", name=f"Invoice {invoice.number} to pay").click()
    page.get_by_role("heading", name=f"Invoice {invoice.number}").wait_for()
    assert balance in page.locator("#balance-due").inner_text()

    page.get_by_role("link", name=f"Pay {balance} USD by card").click()
    # localstripe's Stripe.js card Element: a 3-D Secure card, so the bank's
    # confirmation goes through confirmCardPayment.
    fill_card(page, "4000002760003184")
    page.get_by_role("button", name=f"Pay {balance} USD").click()
    page.get_by_role("button", name="Complete authentication").click()

    # The pay page follows the payment by itself: "Still processing" until
    # Stripe's webhook (localstripe sends it after a second), then "Paid",
    # without a reload (a reload would lose the marker set below).
    page.evaluate("window.notReloaded = true")
    status = page.locator("#payment-status")
    status.get_by_role("heading", name="Paid", exact=True).wait_for(timeout=20_000)
    assert page.evaluate("window.notReloaded === true")
    assert "Visa ending 3184" in status.inner_text()
    status.get_by_role("link", name=f"Go to invoice {invoice.number}").click()
    page.get_by_role("status").filter(has_text="Paid on").wait_for()  # the flash
    assert "Visa ending 3184" in page.locator("#payments-heading + table").inner_text()
    pdf = page.request.get(f"/invoices/{invoice.id}.pdf")
    assert pdf.ok
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert "PAID" in text
    assert "Paid" in text
    assert invoice.number in text
    assert "Balance due" in text
    assert "0.00 USD" in text


def test_billing_staff_record_an_offline_wire_payment(page: Any, live_server: LiveServer) -> None:
    _email, invoice = invoiced_vendor(live_server, ("900.00",))
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
    sign_in(page, staff.email)
    page.goto("/console/invoices?overdue=&state=open")
    page.get_by_role("link", name=invoice.number).click()
    page.get_by_label("Method").select_option("wire")
    page.get_by_label("Amount", exact=True).fill("900.00")
    page.get_by_label("Reference").fill("FEDWIRE 20270120-0042")
    # The answer's page loaded, not only begun: `is_visible` below does not wait.
    follow(page, "button", "Record payment")
    page.get_by_text("Recorded a wire transfer of 900.00 USD.").wait_for()
    assert "FEDWIRE 20270120-0042" in page.content()
    assert page.locator(".badge.state-paid").first.is_visible()


def test_billing_staff_are_warned_before_recording_a_bank_reference_twice(
    page: Any, live_server: LiveServer
) -> None:
    _email, invoice = invoiced_vendor(live_server, ("900.00",))
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
    sign_in(page, staff.email)
    page.goto(f"/console/invoices/{invoice.id}")

    form = page.get_by_role("region", name="Record an offline payment")

    def record(amount: str, reference: str) -> None:
        form.get_by_label("Method").select_option("wire")
        form.get_by_label("Amount", exact=True).fill(amount)
        form.get_by_label("Reference", exact=True).fill(reference)
        form.get_by_label("Note").fill("Instalment")
        form.get_by_role("button", name="Record payment").click()

    record("300.00", "FEDWIRE 0042")
    page.get_by_text("Recorded a wire transfer of 300.00 USD.").wait_for()

    # The same reference again (trimmed, another case): the form comes back as typed.
    record("200.00", " fedwire 0042")
    warning = form.locator("#reference-error")
    warning.wait_for()
    assert "already recorded on this invoice: 300.00 USD received" in warning.inner_text()
    # Round 59: the earlier payment's recorder named as pages name people.
    assert f"recorded by {staff.full_name} ({staff.email})" in warning.inner_text()
    assert form.get_by_label("Amount", exact=True).input_value() == "200.00"
    assert form.get_by_label("Reference", exact=True).input_value() == " fedwire 0042"
    assert form.get_by_label("Note").input_value() == "Instalment"
    assert page.locator("#balance-due").inner_text().startswith("600.00")

    confirm = form.get_by_label("Record it anyway: this is a separate payment")
    confirm.check()
    arrive(page, form.get_by_role("button", name="Record payment"))  # `count()` reads it whole
    page.get_by_text("Recorded a wire transfer of 200.00 USD.").wait_for()
    assert page.locator("#balance-due").inner_text().startswith("400.00")
    assert confirm.count() == 0


def test_billing_staff_refund_a_credit_note_on_a_paid_invoice_by_wire(
    page: Any, live_server: LiveServer
) -> None:
    from decimal import Decimal

    from licensing.billing import services as billing

    _email, invoice = invoiced_vendor(live_server, ("600.00",))
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
        billing.record_offline_payment(
            invoice.id,
            method="wire",
            amount=Decimal("600.00"),
            reference="W-600",
            actor=Actor.of(accounts.principal_for(staff)),
        )
        credit = billing.issue_credit_note(
            invoice.id,
            amount=Decimal("150.00"),
            reason="Overbilled",
            actor=Actor.of(accounts.principal_for(staff)),
        )
    sign_in(page, staff.email)
    page.goto(f"/console/invoices/{invoice.id}")
    assert page.locator("#refund-outstanding").inner_text().startswith("150.00")
    form = page.get_by_role("region", name=f"Refund credit note {credit.number}")
    form.get_by_label("How").select_option("wire")
    assert form.get_by_label("Amount to refund").input_value() == "150.00"
    form.get_by_label("Reference").fill("FEDWIRE RF-0150")
    arrive(page, form.get_by_role("button", name="Refund"))  # `count()` reads it whole
    page.get_by_text(f"Refunded 150.00 USD ({credit.number}).").wait_for()
    assert page.locator("#refund-outstanding").inner_text().startswith("0.00")
    assert "FEDWIRE RF-0150" in page.locator("#refunds").inner_text()
    assert page.get_by_role("region", name=f"Refund credit note {credit.number}").count() == 0


def test_billing_staff_are_warned_before_recording_a_refund_reference_twice(
    page: Any, live_server: LiveServer
) -> None:
    from decimal import Decimal

    from licensing.billing import services as billing

    _email, invoice = invoiced_vendor(live_server, ("600.00",))
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
        clerk = Actor.of(accounts.principal_for(staff))
        billing.record_offline_payment(
            invoice.id, method="wire", amount=Decimal("600.00"), reference="W-600", actor=clerk
        )
        credit = billing.issue_credit_note(
            invoice.id, amount=Decimal("150.00"), reason="Overbilled", actor=clerk
        )
    sign_in(page, staff.email)
    page.goto(f"/console/invoices/{invoice.id}")
    form = page.get_by_role("region", name=f"Refund credit note {credit.number}")

    def refund(amount: str, reference: str) -> None:
        form.get_by_label("How").select_option("wire")
        form.get_by_label("Amount to refund").fill(amount)
        form.get_by_label("Reference", exact=True).fill(reference)
        form.get_by_role("button", name="Refund").click()

    refund("100.00", "FEDWIRE RF-0150")
    page.get_by_text(f"Refunded 100.00 USD ({credit.number}).").wait_for()

    # The same reference again (another case): the form comes back as typed.
    refund("50.00", "fedwire rf-0150")
    warning = form.locator(f"#refund-{credit.id}-reference-error")
    warning.wait_for()
    assert "already recorded on this credit note: 100.00 USD sent" in warning.inner_text()
    assert form.get_by_label("Amount to refund").input_value() == "50.00"
    assert page.locator("#refund-outstanding").inner_text().startswith("50.00")

    form.get_by_label("Record it anyway: this is a separate refund").check()
    form.get_by_role("button", name="Refund").click()
    page.get_by_text(f"Refunded 50.00 USD ({credit.number}).").wait_for()
    assert page.locator("#refund-outstanding").inner_text().startswith("0.00")


def test_a_reference_changed_after_ticking_the_box_is_asked_about_again(
    page: Any, live_server: LiveServer
) -> None:
    from decimal import Decimal

    from licensing.billing import services as billing

    _email, invoice = invoiced_vendor(live_server, ("900.00",))
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
        clerk = Actor.of(accounts.principal_for(staff))
        for amount, reference in (("300.00", "FEDWIRE 0042"), ("100.00", "CHK 77")):
            billing.record_offline_payment(
                invoice.id,
                method="wire",
                amount=Decimal(amount),
                reference=reference,
                actor=clerk,
            )
    sign_in(page, staff.email)
    page.goto(f"/console/invoices/{invoice.id}")
    form = page.get_by_role("region", name="Record an offline payment")
    form.get_by_label("Amount", exact=True).fill("200.00")
    form.get_by_label("Reference", exact=True).fill("FEDWIRE 0042")
    form.get_by_role("button", name="Record payment").click()
    warning = form.locator("#reference-error")
    warning.wait_for()
    assert "300.00 USD received" in warning.inner_text()

    # Ticked for the wire, then the reference changed to the check's: asked again.
    confirm = form.get_by_label("Record it anyway: this is a separate payment")
    confirm.check()
    form.get_by_label("Reference", exact=True).fill("CHK 77")
    form.get_by_role("button", name="Record payment").click()
    form.locator("#reference-error", has_text="100.00 USD received").wait_for()
    assert not confirm.is_checked()
    assert page.locator("#balance-due").inner_text().startswith("500.00")

    confirm.check()
    form.get_by_role("button", name="Record payment").click()
    page.get_by_text("Recorded a wire transfer of 200.00 USD.").wait_for()
    assert page.locator("#balance-due").inner_text().startswith("300.00")


def test_a_billing_clerk_pays_an_invoice_by_card_and_finds_the_receipt(
    page: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    """A billing member (round 21): the dashboard leads to the invoice to pay, the
    card is charged, and the paid invoice's PDF is the receipt; nothing on the way
    offers a licensing step."""
    localstripe.register_webhook("licensing", f"{live_server.url}/webhooks/stripe", WEBHOOK_SECRET)
    _email, invoice = invoiced_vendor(live_server, ("640.00",))
    with live_server.app.app_context():
        organization = db.session().get(Organization, invoice.organization_id)
        clerk = factories.make_vendor(db.session(), organization=organization, role="billing")
    sign_in_on_the_form(page, clerk.email)
    navigation = " ".join(page.get_by_role("navigation").all_inner_texts())
    assert "Invoices" in navigation
    assert "Applications" not in navigation
    page.get_by_role("link", name=f"Invoice {invoice.number} to pay").click()
    page.get_by_role("link", name="Pay 640.00 USD by card").click()
    fill_card(page)
    page.get_by_role("button", name="Pay 640.00 USD").click()
    status = page.locator("#payment-status")
    status.get_by_role("heading", name="Paid", exact=True).wait_for(timeout=20_000)
    status.get_by_role("link", name=f"Go to invoice {invoice.number}").click()
    page.get_by_role("status").filter(has_text="Paid on").wait_for()  # the flash
    assert "Visa ending 4242" in page.locator("#payments-heading + table").inner_text()
    receipt = page.request.get(page.get_by_role("link", name="Download PDF").get_attribute("href"))
    assert receipt.ok
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt.body())).pages)
    assert "PAID" in text
    assert invoice.number in text
