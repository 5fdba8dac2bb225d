"""Round 26's walk, in Chromium against the live server: a licensee calls billing
staff about a card charge of their invoice, which their bank had asked about
(an inquiry Stripe closed without taking the money). Staff reach the payment's
page from the invoice, the disputes page and the audit log, credit and refund
part of the charge to the card from that page, meeting a field message on the
way, and find the refund on the payment, the invoice, the audit log and the
licensee's own invoice page (the page's form tests are
tests/integration/billing/test_payment_page_actions.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from licensing import db
from licensing.billing.models import Invoice, Payment
from licensing.db import utcnow
from tests.browser.conftest import sign_in, signed_in_tab
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.billing.dispute_support import charge_of, dispute_event
from tests.integration.billing.refund_support import deliver, paid_by_card
from tests.integration.billing.stripe_support import (
    stripe_config,
)
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.navigation import arrive, follow
from tests.support.servers import LiveServer, LocalStripe


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _paid_by_card_and_asked_about(
    live_server: LiveServer, localstripe: LocalStripe
) -> tuple[str, str, Invoice, Payment]:
    """A vendor's 250.00 invoice paid by card, its charge asked about by the bank
    and the inquiry closed; staff with the billing and admin roles. Their emails."""
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(activated(vendor.organization_id or 0, ("250.00",)))
        assert invoice is not None
        webhook = live_server.app.test_client()  # Stripe's deliveries, signed
        payment = paid_by_card(webhook, vendor, localstripe, invoice)
        now = utcnow()
        inquiry = dispute_event(
            "charge.dispute.closed",
            payment,
            charge_of(localstripe, payment),
            status="warning_closed",
            created=now - timedelta(days=2),
            told=now - timedelta(hours=1),
        )
        assert "won" in deliver(webhook, inquiry)["outcome"]
        staff = factories.make_staff(db.session(), roles=("billing", "admin"))
        db.session().refresh(invoice)
        return staff.email, vendor.email, invoice, payment


def test_billing_staff_refund_part_of_a_card_charge_from_the_payments_page(
    page: Any, browser: Any, live_server: LiveServer, localstripe: LocalStripe
) -> None:
    staff, vendor, invoice, payment = _paid_by_card_and_asked_about(live_server, localstripe)
    # By its card and when started (round 55), not its row id; the page's heading says
    # the day in words (round 57), the audit log keeps the name it recorded.
    heading = payment.named(invoice.number, in_words=True)
    logged = payment.named(invoice.number)
    sign_in(page, staff)

    # The payment is reached from its invoice, the disputes page and the audit log.
    page.goto(f"/console/invoices/{invoice.id}")
    page.get_by_role("link", name="Visa ending 4242").click()
    page.get_by_role("heading", name=heading).wait_for()
    page.goto("/console/disputes")
    page.get_by_role("link", name=str(payment.id), exact=True).click()
    page.get_by_role("heading", name=heading).wait_for()
    page.goto("/console/audit")
    # Loaded: a `count()` of nothing on a page half drawn would prove nothing.
    arrive(page, page.get_by_role("link", name=logged, exact=True).first)
    page.get_by_role("heading", name=heading).wait_for()
    assert page.get_by_text("Not refunded to the card").count() == 0  # nothing refuses it

    # Nothing is owed back yet: the page says a refund pays a credit note, and issues one.
    credit = page.get_by_role("region", name="Issue a credit note")
    assert "Nothing is owed back on" in credit.inner_text()
    credit.get_by_label("Amount to credit").fill("60.00")
    credit.get_by_label("Reason").fill("The licensee was billed for two seats too many.")
    credit.get_by_role("button", name="Issue credit note").click()
    # Round 53: confirmed first, on what it will do.
    page.get_by_role("button", name="Issue the credit note").click()
    page.get_by_text(re.compile(r"Credit note CN-\d{4}-\d{6} issued\.")).wait_for()
    assert page.url.endswith(f"/console/payments/{payment.id}")

    # The refund form offers this payment's card; a mistyped amount comes back beside its field.
    refund = page.get_by_role("region", name=re.compile(r"Refund credit note CN-"))
    how = refund.get_by_label("How")
    assert how.input_value() == "card"
    amount = refund.get_by_label("Amount to refund")
    assert amount.input_value() == "60.00"
    amount.fill("sixty")
    arrive(page, refund.get_by_role("button", name="Refund"))
    message = page.locator(".field.has-error .error").first
    message.wait_for()
    assert "Give an amount such as 1250.00" in message.inner_text()
    assert page.get_by_role("heading", name=heading).count() == 1  # still the payment's page
    assert_accessible(page)  # its forms, with a message showing
    page.get_by_label("Amount to refund").fill("60.00")
    page.get_by_role("region", name=re.compile(r"Refund credit note CN-")).get_by_role(
        "button", name="Refund"
    ).click()
    # Round 54: confirmed first, naming the card and what the invoice owes back after.
    page.get_by_role("heading", name="Refund 60.00 USD to Visa ending 4242?").wait_for()
    said = " ".join(page.locator("main").inner_text().split())
    assert "owes back 60.00 USD now; once Stripe confirms the refund" in said
    assert "owes back 0.00 USD." in said
    assert_accessible(page)
    follow(page, "button", "Refund to the card")
    page.get_by_text(re.compile(r"Refunded 60\.00 USD \(CN-")).wait_for()
    facts = page.locator("dl.facts").inner_text()
    assert "250.00 USD; 60.00 USD refunded" in " ".join(facts.split())
    refunds = page.get_by_role("table", name="Refunds counted against this payment")
    assert "succeeded" in refunds.inner_text()
    assert page.get_by_role("region", name=re.compile(r"Refund credit note CN-")).count() == 0

    # Everywhere it should show: the invoice's page, the audit log, the licensee's page.
    page.goto(f"/console/invoices/{invoice.id}")
    assert "60.00" in page.locator("#refunds").inner_text()
    page.goto("/console/audit")
    audit = page.locator("main table").first.inner_text()
    assert "refund.succeeded" in audit
    # The refund is named by its amount and credit note (names57: it said "Card refund 3
    # of CN-...", by row id) and links the payment's page.
    named = page.get_by_role("link", name=re.compile(r"Card refund of 60\.00 USD of CN-")).first
    assert named.get_attribute("href") == f"/console/payments/{payment.id}"
    licensee = signed_in_tab(browser, live_server, vendor)
    licensee.goto(f"/portal/invoices/{invoice.id}")
    assert "60.00" in licensee.locator("#refunds").inner_text()
