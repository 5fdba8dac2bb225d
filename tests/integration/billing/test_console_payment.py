"""A payment's own console page: the payment, its invoice, its refunds, reversal and
disputes, and their history; linked from the invoice's page, the disputes page and
the audit log (round 25)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.calendar import instant_text, moment_text
from tests.support import settings
from tests.support.factories import billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import WITHDRAWN, dispute_event, paid_with_charge
from .refund_support import deliver
from .stripe_support import stripe_config


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_card_payment_has_a_console_page_with_its_refunds_reversal_disputes_and_history(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    admin: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("40.00"), reason="Overbilled", actor=billing_clerk()
    )
    services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    withdrawn = dispute_event(
        "charge.dispute.funds_withdrawn", payment, charge, amount=10000, moved=(WITHDRAWN,)
    )
    deliver(client, withdrawn)
    url = f"/console/payments/{payment.id}"
    staff = signed_in(app.test_client(), billing_staff)
    page = staff.get(url)
    assert page.status_code == 200
    said = _words(page.text)
    # Round 55 (polish55): named by its card and when it was started, as the emails
    # name it, not by its row id ("Card payment 5 of INV-..."); to the second since
    # round 56, so two tries on one card in one minute read apart.
    # Round 57: the page's heading says its moment in words.
    started = moment_text(payment.created_at, seconds=True)
    title = f"Card payment of {invoice.number} (Visa ending 4242), started {started}"
    assert said.startswith(title)
    assert f"payment {payment.id}" not in said.lower()
    assert "Amount 250.00 USD ; 40.00 USD refunded" in said
    assert payment.stripe_payment_intent_id in said
    assert charge in said
    assert f"Paid by {vendor.full_name} ({vendor.email})" in said
    assert credit.number in said  # its refund
    assert "100.00 USD withdrawn on" in said  # its withdrawal (read as a dispute's)
    assert "du_1Harborlight" in said  # its dispute
    assert "product not received" in said
    # The history holds the payment's, its refund's, reversal's and dispute's events.
    history = said[said.index("History") :]
    for happened in ("charged back", "Dispute opened", "Refund"):
        assert happened.lower() in history.lower(), happened
    # Licensing staff read it too; a vendor may not; an unknown payment is a 404.
    assert signed_in(app.test_client(), licensing_staff).get(url).status_code == 200
    assert signed_in(app.test_client(), vendor).get(url).status_code in (403, 404)
    assert staff.get("/console/payments/999999").status_code == 404
    # Linked from the invoice's payments, the disputes page and the audit log.
    link = f'href="{url}"'
    assert link in staff.get(f"/console/invoices/{invoice.id}").text
    assert link in staff.get("/console/disputes").text
    audit = signed_in(app.test_client(), admin).get("/console/audit")
    # The audit log names it as recorded: its moment as the log's column writes it.
    recorded = instant_text(payment.created_at, seconds=True)
    assert f'<a href="{url}">{title.replace(started, recorded)}</a>' in audit.text
