"""The page an invoice email's link opens: what it lists, and what it asks the
database to show it (`tests/support/statements.py`)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.billing import links, services
from licensing.billing.models import Invoice
from tests.support.factories import billing_clerk
from tests.support.statements import sent_by

# The invoice with its links' generation, its payments and their reversals, its
# credit notes and their refunds, its lines; and (round 47) the PDFs kept of it and
# of its credit notes, in one statement however many.
STATEMENTS = 7


def _opened(invoice_for: Callable[..., Invoice], vendor: Any, records: int) -> str:
    invoice = invoice_for(vendor)
    for number in range(records):
        services.record_offline_payment(
            invoice.id,
            method="wire",
            amount=Decimal("10.00"),
            reference=f"WIRE-{number}",
            actor=billing_clerk(),
        )
        credit = services.issue_credit_note(
            invoice.id, amount=Decimal("5.00"), reason=f"Goodwill {number}", actor=billing_clerk()
        )
        services.kept_credit_note_pdf(credit)  # a kept document the page lists
    return "/" + links.invoice_url(invoice).split("://", 1)[1].split("/", 1)[1]


@pytest.mark.parametrize("records", [1, 4])
def test_the_link_page_lists_the_invoice_s_payments_and_credit_notes_in_fixed_statements(
    app: Flask, client: FlaskClient, invoice_for: Callable[..., Invoice], vendor: Any, records: int
) -> None:
    # The page read the invoice, then counted its links' withdrawals in a statement
    # of its own; and it read the payments and credit notes as its caller's, who is
    # no user: it listed none of them, though the portal's page did.
    url = _opened(invoice_for, vendor, records)
    assert client.get(url).status_code == 200
    db.session().expunge_all()  # as a request of its own finds nothing loaded
    with sent_by(app) as statements:
        page = client.get(url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for number in range(records):
        assert f"WIRE-{number}" in text
        assert f"Goodwill {number}" in text
    assert text.count("/documents/") == records + 1  # the issued invoice's, each note's
    assert len(statements) == STATEMENTS, statements
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT COUNT(")]
