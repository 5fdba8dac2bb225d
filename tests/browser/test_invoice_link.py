"""Issue 15, item 2, in Chromium: the billing contact, who has no account, gets the
invoice email with the PDF attached, opens the invoice from its link without
signing in, downloads the PDF and pays by card (localstripe); the webhook marks
the invoice paid."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization
from licensing.mail import services as mail
from tests.browser.conftest import fill_card, invoiced_vendor
from tests.integration.billing.stripe_support import WEBHOOK_SECRET, stripe_config
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer, LocalStripe, SMTPServer, message_text
from tests.support.settings import delivery


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def test_the_billing_contact_opens_the_emailed_invoice_and_pays_it_without_an_account(
    page: Any, live_server: LiveServer, localstripe: LocalStripe, smtp_server: SMTPServer
) -> None:
    localstripe.register_webhook("licensing", f"{live_server.url}/webhooks/stripe", WEBHOOK_SECRET)
    smtp_server.clear()
    _vendor_email, invoice = invoiced_vendor(live_server, ("900.00",))
    with live_server.app.app_context():
        billing_email = (
            db.session()
            .scalars(
                select(Organization.billing_email).where(Organization.id == invoice.organization_id)
            )
            .one()
        )
        mail.deliver_due(delivery())
    (email,) = [m for m in smtp_server.wait_for(1) if "Invoice" in str(m["Subject"])]
    assert billing_email in str(email["To"])
    (attachment,) = list(email.iter_attachments())
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    link = re.search(r"(http://127\.0\.0\.1:\d+/invoice-links/\S+)", message_text(email))
    assert link is not None

    page.goto(link.group(1))  # a fresh browser: nobody is signed in
    page.get_by_role("heading", name=f"Invoice {invoice.number}").wait_for()
    assert "/sign-in" not in page.url
    pdf = page.request.get(page.get_attribute("text=Download PDF", "href"))
    assert pdf.ok
    assert pdf.headers["content-type"] == "application/pdf"

    page.get_by_role("link", name="Pay 900.00 USD by card").click()
    fill_card(page)
    page.get_by_role("button", name="Pay 900.00 USD").click()
    # The pay page follows the payment by itself (localstripe's webhook comes
    # after a second): no reload, and it links back to the linked invoice.
    status = page.locator("#payment-status")
    status.get_by_role("heading", name="Paid", exact=True).wait_for(timeout=20_000)
    assert "Visa ending 4242" in status.inner_text()
    assert_accessible(page)  # the pay page as it ends: the outcome, announced politely
    status.get_by_role("link", name=f"Go to invoice {invoice.number}").click()
    page.get_by_role("status").filter(has_text="Paid on").wait_for()  # the flash
    assert "/invoice-links/" in page.url
