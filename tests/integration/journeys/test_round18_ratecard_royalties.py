"""Round 18: royalties under next year's rate card name the card that priced them."""

from __future__ import annotations

from typing import Any

import time_machine
from sqlalchemy import select

from licensing import db
from licensing.billing.models import Invoice
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixture
    AFTER,
    SOFTWARE,
    active_agreement,
    row,
)
from tests.support import factories


def test_a_royalty_reports_working_and_invoice_name_the_rate_card_that_priced_it(
    client: Any,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        filed = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01",
            json={"attest": True, "rows": [row(1, "A", quantity=3000)]},
            headers=factories.bearer(vendor),
        )
    assert filed.status_code == 201
    report = filed.get_json()
    assert report["lines"][0]["explanation"][0].startswith(
        "line 1, rule distribution-software of rate card 2027.1: usage to date"
    )
    invoice = db.session().scalars(select(Invoice).where(Invoice.number == report["invoice"])).one()
    assert invoice.memo == (
        f"Royalty report RR-{report['id']:06d} under license agreement {report['agreement']}, "
        "term January 1, 2027 to December 31, 2027 (rate card 2027.1), for the period "
        "January 1, 2027 to March 31, 2027."
    )
    assert "rate card 2027.1" in invoice.lines[0].working
