"""Round 37: the stored words and the rule's description (docs/journeys.md), each
read where its person reads it: a page, an email, a PDF."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing.models import CreditNote
from licensing.mail.models import OutboxMessage
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
)

SignIn = Callable[..., FlaskClient]


def _emails(template: str) -> dict[str, OutboxMessage]:
    """Each address's last email of `template`."""
    sent = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == template).order_by(OutboxMessage.id)
    )
    return {address: message for message in sent for address in json.loads(message.recipients)}


def test_the_credit_note_an_amendment_makes_is_emailed_to_its_filer_too(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Only the billing contact was emailed; the member who filed the amendment read of
    # the credit note on the page alone, and the reason ended without a full stop.
    lowered_by_amendment(file_report, vendor, active_agreement(vendor, SOFTWARE))
    credit = db.session().scalars(select(CreditNote)).one()
    organization = vendor.organization
    emails = _emails("invoice_credit_note")
    assert set(emails) == {organization.billing_email, vendor.email}

    billing = emails[organization.billing_email].body_text
    assert f"Hello {organization.billing_contact_name}," in billing
    assert (
        f"Credit note {credit.number} for 1,200.00 USD is issued against invoice "
        f"{credit.invoice.number}, for the amendment {vendor.full_name} filed."
    ) in billing
    assert f"Reason: {credit.reason}.\n" in billing
    assert "The credit note as PDF:" in billing

    filer = emails[vendor.email].body_text
    assert f"Hello {vendor.full_name}," in filer
    assert "for the amendment you filed." in filer
    assert f"Reason: {credit.reason}.\n" in filer
    assert f"/portal/invoices/{credit.invoice_id}" in filer
    assert (
        f"The billing contact of {organization.legal_name}, {organization.billing_contact_name} "
        f"({organization.billing_email}), is sent this email too."
    ) in filer
    # The signed links are the billing contact's, never the member's.
    assert "The credit note as PDF:" not in filer
    assert emails[vendor.email].subject == emails[organization.billing_email].subject
