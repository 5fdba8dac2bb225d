"""Round 56: an agreement's page links the invoices billed under it (docs/billing.md,
*Pages*; docs/journeys.md, "Round 56: a new billing clerk's first week"). Its *Charged
to date* was a number whose invoices were nowhere on the page: the clerk searched the
organization's invoices and guessed which were the agreement's."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.agreements.models import Agreement
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.royalties.services import Filing
from tests.support.agreements import up_front_invoice
from tests.support.settings import standing_days

from .conftest import SMALL_SOFTWARE, row

# Both the up-front and the first quarter's royalty invoice months overdue: late fees.
SUMMER = datetime(2027, 8, 2, 15, 0, tzinfo=UTC)


def _listed(client: Any, url: str) -> tuple[set[str], str]:
    answer = client.get(url)
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    return set(re.findall(r"INV-\d{4}-\d{6}", text)), text


def test_an_agreements_page_links_the_invoices_billed_under_it_and_only_those(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Filing],
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    other = active_agreement(other_vendor, SMALL_SOFTWARE)
    filing = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    assert filing.report is not None
    services.process_overdue(standing_days=standing_days(), now=SUMMER)
    ours = {up_front_invoice(agreement).id, filing.report.invoice_id}
    late_fees = set(
        db.session().scalars(
            select(Invoice.number).where(
                Invoice.source_type == "late_fee", Invoice.source_id.in_(ours)
            )
        )
    )
    assert late_fees  # the test's premise: the run charged late fees on them
    expected = {
        invoice.label for invoice in map(db.session().get, [Invoice] * 2, ours) if invoice
    } | late_fees
    console = signed_in(app.test_client(), billing_staff)
    page = console.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    link = f"/console/invoices?agreement={agreement.number}"
    assert f'<a href="{link}">Invoices under this agreement</a>' in page
    found, text = _listed(console, link)
    assert found == expected
    assert f"<h1>Invoices under agreement {agreement.number}</h1>" in text
    assert up_front_invoice(other).label not in text
    # Kept while filtering: the form carries the agreement.
    assert f'<input type="hidden" name="agreement" value="{agreement.number}">' in text
