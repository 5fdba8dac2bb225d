"""Round 56: the royalty reports lists name every invoice of an amended period, the
first report's and each amendment's, on its row (docs/royalty-report-pages.md). The
vendor's walk amended its first quarter up: the row read "3,400.00 USD (232.50 USD
more by amendment)" beside the amendment's invoice alone (232.50), not the first
report's (3,167.50) that charged the rest of that royalty. Read for the whole page at
once: `tests/integration/test_list_queries.py` amends each period it seeds, and the
lists ask the database as many times at 10 periods as at 100."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing.models import Invoice
from tests.integration.royalties.conftest import (
    AFTER,
    SOFTWARE,
    lowered_by_amendment,
    reports_of,
    sent_back_and_corrected,
)

SignIn = Callable[..., FlaskClient]


def text_of(response: Any) -> str:
    """The page's text, tags dropped (a link's text reads on with what follows it:
    "INV-2027-000001, INV-2027-000002") and spaces squeezed."""
    without_tags = re.sub(r"<[^>]+>", "", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def _row_of(listed: str, agreement_number: str) -> str:
    """The text of the list's row of the agreement's first quarter."""
    start = listed.index(f"{agreement_number} 2027-01-01 to 2027-03-31")
    return listed[start : start + 400]


def _invoice_id(number: str) -> int:
    found = db.session().scalar(select(Invoice.id).where(Invoice.number == number))
    assert found is not None
    return found


def test_an_amended_period_lists_the_first_reports_invoice_and_the_amendments(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first, corrected = sent_back_and_corrected(
        file_report, vendor, licensing_staff, agreement, extra=20
    )
    invoices = [db.session().get(Invoice, report.invoice_id) for report in (first, corrected)]
    numbers = [invoice.number for invoice in invoices if invoice is not None]
    assert len(numbers) == 2
    with time_machine.travel(AFTER[2], tick=False):
        vendor_page = signed_in(client, vendor).get("/portal/royalty-reports")
        queue_page = signed_in(client, licensing_staff).get("/console/royalty-reports")
    for page, pages in ((vendor_page, "/portal/invoices"), (queue_page, "/console/invoices")):
        period = _row_of(text_of(page), agreement.number)
        assert f"2,160.00 USD (310.00 USD more by amendment) {numbers[0]}, {numbers[1]}" in (
            period
        ), period
        body = page.get_data(as_text=True)
        for number in numbers:
            assert f'<a href="{pages}/{_invoice_id(number)}">{number}</a>' in body


def test_a_period_amended_down_lists_its_invoice_and_the_credit_note(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    lowered = lowered_by_amendment(file_report, vendor, agreement)
    first, _amendment = reports_of(agreement)
    invoice = db.session().get(Invoice, first.invoice_id)
    assert invoice is not None
    with time_machine.travel(AFTER[2], tick=False):
        listed = text_of(signed_in(client, vendor).get("/portal/royalty-reports"))
    assert f"less by amendment) {invoice.number}, credit note {lowered.credit_notes[0]}" in _row_of(
        listed, agreement.number
    )
