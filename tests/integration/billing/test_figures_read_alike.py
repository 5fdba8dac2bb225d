"""Round 12: an invoice's and a credit note's figures read in their PDFs as on their
pages: amounts grouped ("3,524.07 USD"), and the working explained as the page
explains it ("about 483.945205", not "35328/73 (about 483.945205)")."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader

from licensing.errors import InvalidInput
from licensing.signals import UpFrontCharge
from tests.integration.billing.conftest import activated, send_activation
from tests.support.billing import credited

# A prorated minimum for 120000 members: the exact fraction the quote keeps, and the
# figures a licensing analyst checks by hand.
WORKING = (
    "120000 members, volume: all in tier 2 (100001 to 1000000), 120000 x 0.004 = 480.00; "
    "minimum 1000.00 x 177/365 (prorated) = 35328/73 (about 483.945205): 480.00 is below "
    "it, so the minimum applies"
)
CHARGES = (
    UpFrontCharge(0, "Distribution of Harborlight Coder", Decimal("483.95"), WORKING),
    UpFrontCharge(1, "Derivative work, Harborlight Atlas", Decimal("3040.12"), "flat 3040.12"),
)


def _pdf_text(content: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(text.split())


def _page_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_invoice_pdf_groups_its_amounts_and_explains_its_working_as_its_page(
    vendor: Any, client: FlaskClient, signed_in: Any
) -> None:
    invoice = send_activation(replace(activated(vendor.organization_id), charges=CHARGES))
    assert invoice is not None
    assert invoice.total == Decimal("3524.07")
    browser = signed_in(client, vendor)
    pdf = _pdf_text(browser.get(f"/invoices/{invoice.id}.pdf").data)
    page = _page_text(browser.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True))
    for text in (pdf, page):
        assert "3,524.07 USD" in text
        assert "3,040.12" in text
        assert (
            "120,000 members, volume: all in tier 2 (100,001 to 1,000,000), 120,000 x 0.004 "
            "= 480.00; minimum 1,000.00 x 177/365 (prorated) = about 483.945205: 480.00 is "
            "below it, so the minimum applies"
        ) in text
    assert "3524.07" not in pdf
    assert "35328/73" not in pdf


def test_the_credit_note_pdf_groups_its_amounts(
    vendor: Any, client: FlaskClient, signed_in: Any
) -> None:
    invoice = send_activation(replace(activated(vendor.organization_id), charges=CHARGES))
    assert invoice is not None
    credit = credited(invoice.id, "1250.00", "Goodwill")
    pdf = _pdf_text(signed_in(client, vendor).get(f"/credit-notes/{credit.id}.pdf").data)
    assert "1,250.00 USD" in pdf
    assert "1250.00" not in pdf


def test_a_refusal_names_the_limit_grouped_as_the_page_shows_it(vendor: Any) -> None:
    invoice = send_activation(replace(activated(vendor.organization_id), charges=CHARGES))
    assert invoice is not None
    with pytest.raises(InvalidInput) as refused:
        credited(invoice.id, "3600.00", "Goodwill")
    assert f"More than can be credited on {invoice.number} (3,524.07 USD)." in str(
        refused.value.errors
    )
