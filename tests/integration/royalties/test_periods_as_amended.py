"""Round 52: an amended period in the vendor's list of periods and the staff queue
shows the period's royalty as amended (every report's due summed), with the change
the amendment made beside it: the lists showed the change alone, so a period of
2,160.00 amended up by 310.00 read "310.00" (docs/royalty-report-pages.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.billing.models import Invoice
from tests.integration.royalties.conftest import (
    AFTER,
    SOFTWARE,
    lowered_by_amendment,
    reports_of,
    sent_back_and_corrected,
)
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


def _row_of(listed: str, agreement_number: str) -> str:
    """The text of the list's row of the agreement's first quarter."""
    start = listed.index(f"{agreement_number} 2027-01-01 to 2027-03-31")
    return listed[start : start + 300]


def test_an_amended_period_up_lists_its_royalty_as_amended_with_the_change_beside_it(
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
    # 100 end users: 1,850.00; with 20 more, 100 x 18.50 + 20 x 15.50 = 2,160.00.
    assert (first.total_due, corrected.total_due) == (1850, 310)
    with time_machine.travel(AFTER[2], tick=False):
        vendor_list = text_of(signed_in(client, vendor).get("/portal/royalty-reports"))
        queue = text_of(signed_in(client, licensing_staff).get("/console/royalty-reports"))
    for listed in (vendor_list, queue):
        period = _row_of(listed, agreement.number)
        assert "2,160.00 USD (310.00 USD more by amendment)" in period, period
        assert "change by amendment" not in period


def test_an_amended_period_down_lists_its_royalty_as_amended_and_what_was_credited(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    lowered = lowered_by_amendment(file_report, vendor, agreement)
    assert lowered.report is not None
    assert lowered.credit_notes
    first, amendment = reports_of(agreement)
    as_amended = first.total_due + amendment.total_due
    assert amendment.total_due < 0
    with time_machine.travel(AFTER[2], tick=False):
        vendor_list = text_of(signed_in(client, vendor).get("/portal/royalty-reports"))
        queue = text_of(signed_in(client, licensing_staff).get("/console/royalty-reports"))
    invoice = db.session().get(Invoice, first.invoice_id)
    assert invoice is not None
    for listed in (vendor_list, queue):
        period = _row_of(listed, agreement.number)
        # Round 56: the first report's invoice too, which charged the rest of it.
        assert (
            f"{as_amended:,.2f} USD ({-amendment.total_due:,.2f} USD less by amendment) "
            f"{invoice.number} , credit note {lowered.credit_notes[0]}"
        ) in period, period
