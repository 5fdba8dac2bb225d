"""Round 68 (noticed68): what accepting an agreement invoices at once, and the
up-front invoice's number.

- The acceptance box said "the flat fees and the part of the minimum above the
  estimated usage royalties" and named no use, where the agreement licenses several:
  it says each use's part now (`issuing.up_front_parts`).
- An agreement issued in 2026 for a term starting in 2027 gets an invoice numbered
  INV-2026-...: the number's year is the year it was issued, as for every invoice,
  which its page and PDF did not say (`billing.models.number_year_words`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask

from licensing import db
from tests.integration.agreements.conftest import DEVELOPMENT_USE, NOW, SMALL_USE
from tests.support import factories
from tests.support.agreements import accept, issued_agreement, up_front_invoice
from tests.support.documents import pdf_text
from tests.support.pages import text_of


def _said(text: str) -> str:
    """A page's or PDF's text with the spaces around its tags' places squeezed out."""
    text = " ".join(text.split())
    return re.sub(r"\(\s+", "(", re.sub(r"\s+([,;.)])", r"\1", text))


def test_the_acceptance_box_says_each_uses_part_and_the_invoice_why_its_number_is_2026(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    example_card: str,
) -> None:
    # Clinic Pad's 10 end users come to 185.00, below its rule's 1,000.00 minimum (815.00
    # lifts it, charged up front); the SDK's development is a flat 2,500.00.
    agreement = issued_agreement(vendor, licensing_staff, SMALL_USE, DEVELOPMENT_USE, now=NOW)
    db.session().commit()
    parts = (
        "use 1 (Clinic Pad), 815.00 USD, the part of its minimum above its estimated usage "
        "royalties; use 2 (Scrubber Pro SDK), 2,500.00 USD, its flat fee"
    )
    portal = signed_in(app.test_client(), vendor)
    page = _said(text_of(portal.get(f"/portal/agreements/{agreement.id}")))
    assert (
        f"When you accept, an invoice for 3,315.00 USD is issued at once, due in "
        f"{agreement.payment_terms_days} days: {parts} (see the working below)."
    ) in page, page
    console = signed_in(app.test_client(), licensing_staff)
    page = _said(text_of(console.get(f"/console/agreements/{agreement.id}")))
    assert f"due in {agreement.payment_terms_days} days: {parts}; royalties on usage" in page

    accept(agreement, vendor, now=NOW + timedelta(hours=1))
    db.session().commit()
    invoice = up_front_invoice(agreement)
    assert invoice.number.startswith("INV-2026-")
    why = (
        "(numbered by its year of issue, 2026, as every invoice is; the term it bills starts "
        "on January 1, 2027)"
    )
    assert why in _said(text_of(portal.get(f"/portal/invoices/{invoice.id}")))
    assert why in _said(pdf_text(portal.get(f"/invoices/{invoice.id}.pdf").data))
    billing = signed_in(app.test_client(), factories.make_staff(db.session(), ("billing",)))
    assert why in _said(text_of(billing.get(f"/console/invoices/{invoice.id}")))
