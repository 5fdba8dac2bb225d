"""Issue 15, items 3, 6 and 7: what the agreement and its up-front invoice say
matches what is billed, and every document carries one copyright year."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient

from licensing.agreements.models import Application
from tests.integration.agreements.conftest import AUTO_USE, NOW, SMALL_USE
from tests.support.agreements import accepted_with_invoice
from tests.support.billing import credited
from tests.support.documents import pdf_text, stored_pdf

# 10 end users on distribution-software: 185.00 of usage, lifted to the 1000.00 minimum.


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_each_up_front_invoice_line_s_working_ends_in_the_amount_it_charges(
    apply: Callable[..., Application], vendor: Any
) -> None:
    _, invoice = accepted_with_invoice(apply(vendor, SMALL_USE), vendor, now=NOW)
    assert invoice is not None
    (line,) = invoice.lines
    assert line.amount == Decimal("815.00")
    assert line.working is not None
    assert line.working.endswith("815.00 USD"), line.working
    assert "185.00 is usage royalties, invoiced on reported usage" in line.working


def test_a_minimum_covered_by_the_estimate_is_not_said_to_be_invoiced_up_front(
    apply: Callable[..., Application], vendor: Any
) -> None:
    agreement, invoice = accepted_with_invoice(apply(vendor, AUTO_USE), vendor, now=NOW)
    assert invoice is None  # 33,800.00 of estimated usage is above the 1,000.00 minimum
    text = _flat(pdf_text(stored_pdf(agreement)))
    assert "minimum annual royalty stated in Schedule A is invoiced at the start" not in text
    assert "minimum royalties) are invoiced when this agreement becomes active" not in text
    assert "charged with the first reports" in text
    assert "any other shortfall is invoiced with the first royalty reports" in text


def test_the_agreement_its_invoice_and_credit_note_carry_the_same_copyright_year(
    apply: Callable[..., Application],
    vendor: Any,
    client: FlaskClient,
    signed_in: Any,
) -> None:
    # Issued in 2026 for a 2027 term: the 2027 release, "CPT © 2026", everywhere.
    agreement, invoice = accepted_with_invoice(apply(vendor, SMALL_USE), vendor, now=NOW)
    assert invoice is not None
    assert invoice.issue_date is not None
    assert invoice.issue_date.year == 2026
    credit = credited(invoice.id, "15.00", "Goodwill")
    notice = "CPT © 2026 American Medical Association. All rights reserved."
    assert notice in _flat(pdf_text(stored_pdf(agreement)))
    browser = signed_in(client, vendor)
    for url in (f"/invoices/{invoice.id}.pdf", f"/credit-notes/{credit.id}.pdf"):
        text = _flat(pdf_text(browser.get(url).data))
        assert notice in text, url
        assert "CPT © 2025" not in text, url
