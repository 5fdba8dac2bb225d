"""Round 67 (vendor67): what a vendor still stumbled on in their invoices after round
66's walk (docs/journeys.md, "Round 67: what a vendor still stumbles on").

- The agreement's page had no way to its invoices (staff's had one since round 56), and
  the portal's invoice list no filter by agreement.
- An amendment's invoice said which report it bills ("Royalty report RR-000003 (...)"),
  not which it amends, in the lists, the statement of account and its PDF.
- The statement opened on January 1: in April, the up-front invoice of November was
  only an opening balance.
- An invoice's *Documents* promised a PDF for each standing and each credit note,
  and listed only those someone had downloaded."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import time_machine
from flask import Flask

from licensing import db
from licensing.agreements.models import Agreement
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.royalties.services import Filing
from tests.support import factories
from tests.support.documents import downloaded_pdf, pdf_text
from tests.support.pages import text_of

from .conftest import AFTER, SMALL_SOFTWARE, row


def _amended_twice(
    vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Filing],
) -> tuple[Agreement, Invoice, Invoice]:
    """The first quarter filed at 3,000 end users (RR-000001, its invoice), amended down
    to 2,900 (RR-000002: a credit note on that invoice), then up to 3,100 (RR-000003:
    an invoice amending RR-000002); the first invoice paid by wire: (the agreement,
    the first invoice, the last amendment's)."""
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)]).report
    assert first is not None
    lower = file_report(
        vendor, agreement, 1, [row(1, "A", quantity=2900)], amends=first.id, reason="recounted"
    ).report
    assert lower is not None
    higher = file_report(
        vendor, agreement, 1, [row(1, "A", quantity=3100)], amends=lower.id, reason="a new site"
    ).report
    assert higher is not None
    assert first.invoice_id is not None
    assert higher.invoice_id is not None
    paid = db.session().get(Invoice, first.invoice_id)
    assert paid is not None
    with time_machine.travel(AFTER[1], tick=False):
        billing.record_offline_payment(
            paid.id,
            method="wire",
            amount=paid.balance_due,
            reference="W-1",
            actor=factories.billing_clerk(),
        )
    amendment = db.session().get(Invoice, higher.invoice_id)
    assert amendment is not None
    return agreement, paid, amendment


def test_an_agreements_invoices_and_an_amendments_invoice_read_as_the_vendor_needs(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    other_vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Filing],
) -> None:
    agreement, paid, amendment = _amended_twice(vendor, active_agreement, file_report)
    others = active_agreement(other_vendor, SMALL_SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        client = signed_in(app.test_client(), vendor)
        page = client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True)
        link = f"/portal/invoices?agreement={agreement.number}"
        assert f'<a href="{link}">Invoices under this agreement</a>' in page
        listed = text_of(client.get(link))
        # The agreement named, linked to its page; its three invoices, and only those.
        assert f"Invoices under agreement {agreement.number} Statement of account" in listed
        assert "its up-front invoice, its royalty reports' and the late fees on them" in listed
        assert f'href="/portal/agreements/{agreement.id}"' in client.get(link).get_data(
            as_text=True
        )
        assert set(re.findall(r"INV-\d{4}-\d{6}", listed)) == {
            "INV-2026-000001",
            paid.number,
            amendment.number,
        }
        # Another organization's agreement number finds nothing of theirs, named unlinked.
        theirs = text_of(client.get(f"/portal/invoices?agreement={others.number}"))
        assert f"No invoice under agreement {others.number} yet" in theirs
        # The amendment's invoice names the report it amends wherever it is listed.
        amending = f"Royalty report RR-000003 amending RR-000002 ({agreement.number}"
        assert amending in listed
        invoice_page = text_of(client.get(f"/portal/invoices/{amendment.id}"))
        assert f"For Royalty report RR-000003 amending RR-000002 ({agreement.number}" in (
            invoice_page
        )
        pdf = " ".join(pdf_text(downloaded_pdf(client, f"/invoices/{amendment.id}.pdf")).split())
        assert "Royalty report RR-000003 amending RR-000002" in pdf
        # The statement opens on the twelve months to today (2026-04-03 to 2027-04-02):
        # November's up-front invoice is on it, not only in its opening balance.
        statement = text_of(client.get("/portal/statement"))
        assert "April 3, 2026 to April 2, 2027, USD" in statement
        assert "INV-2026-000001 Invoice issued for Agreement" in statement
        assert f"Invoice issued for {amending}" in statement


def test_an_invoices_documents_say_which_pdfs_are_not_kept_yet(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Filing],
) -> None:
    _, paid, _ = _amended_twice(vendor, active_agreement, file_report)
    client = signed_in(app.test_client(), vendor)
    url = f"/portal/invoices/{paid.id}"
    page = text_of(client.get(url))
    documents = page[page.index("Documents") :]
    # Kept: the issued PDF only. Paid and credited since, and nobody downloaded it.
    assert len(re.findall(r"INV-\d{4}-\d{6},? (?:as issued|document)", documents)) == 1
    assert f"Not kept yet, as nobody has downloaded them: {paid.number} as it stands now" in (
        documents
    )
    assert "; credit note CN-2027-000001 ." in documents
    downloaded_pdf(client, f"/invoices/{paid.id}.pdf")
    credit = paid.credit_notes[0]
    downloaded_pdf(client, f"/credit-notes/{credit.id}.pdf")
    again = text_of(client.get(url))
    assert "Not kept yet" not in again
    assert "Credit note CN-2027-000001 as issued" in again
