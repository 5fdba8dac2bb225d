"""Round 26: the statement of account as its reader ticks it off in Chromium. Each
day and each document number of the movements reads on one line at a laptop's width;
they wrapped at their hyphens ("2027-01-" over "15", "INV-2027-" over "000001"), as
the PDF's dates did before round 25."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import time_machine

from licensing import db
from licensing.billing import services
from tests.browser.conftest import sign_in
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.factories import billing_clerk
from tests.support.servers import LiveServer

ISSUED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
# The day the reader opens it: the statement ends today.
READ_ON = datetime(2026, 12, 15, 16, 0, tzinfo=UTC)

# How many lines the text of an element takes on screen.
_LINES = (
    "e => { const r = document.createRange(); r.selectNodeContents(e);"
    " return r.getClientRects().length; }"
)


def test_each_day_and_document_number_of_the_statement_reads_on_one_line(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        invoice = send_activation(
            activated(vendor.organization_id or 0, ("1200.00", "350.50"), at=ISSUED)
        )
        assert invoice is not None
        services.record_offline_payment(
            invoice.id,
            method="wire",
            amount=Decimal("500.00"),
            reference="W-1",
            received_on=date(2026, 11, 25),
            now=datetime(2026, 11, 25, 16, 0, tzinfo=UTC),
            actor=billing_clerk(),
        )
    page.set_viewport_size({"width": 1280, "height": 900})
    with time_machine.travel(READ_ON):
        sign_in(page, vendor.email)
        page.goto("/portal/statement?from=2026-11-01&to=2026-12-15")

        rows = page.locator("table tbody tr")
        assert rows.count() == 3  # the opening balance, the invoice, the payment
        for row in range(rows.count()):
            day, document = rows.nth(row).locator("td").nth(0), rows.nth(row).locator("td").nth(1)
            assert day.evaluate(_LINES) == 1, day.inner_text()
            if document.inner_text():
                assert document.evaluate(_LINES) == 1, document.inner_text()
        assert page.get_by_role("cell", name=invoice.number or "").count() == 2
