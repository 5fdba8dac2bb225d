"""Round 52: an amendment that lowers a paid royalty leaves money owed back, and the
report's pages said only "Credited credit note CN-..." (the vendor's walk found it
once the filing's message was gone); they now say what is owed back, what was sent,
and what is still to send (docs/royalty-report-pages.md)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing import services as billing
from licensing.billing.models import CreditNote
from tests.integration.royalties.conftest import AFTER, SOFTWARE, row
from tests.support import factories
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


def test_a_report_lowering_a_paid_royalty_says_what_is_owed_back_and_what_was_sent(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)]).report
    assert first is not None
    assert first.invoice_id is not None
    with time_machine.travel(AFTER[1], tick=False):
        billing.record_offline_payment(
            first.invoice_id,
            method="wire",
            amount=first.total_due,
            reference="W-1",
            actor=factories.billing_clerk(),
        )
    amendment = file_report(
        vendor, agreement, 1, [row(1, "A", quantity=2900)], amends=first.id, reason="Recounted"
    ).report
    assert amendment is not None
    credit = db.session().scalars(select(CreditNote)).one()
    owed = -amendment.total_due
    assert credit.refund_due == owed
    with time_machine.travel(AFTER[1], tick=False):
        before = text_of(
            signed_in(client, vendor).get(f"/portal/royalty-reports/report/{amendment.id}")
        )
        billing.record_offline_refund(
            credit.id,
            method="wire",
            amount=Decimal("100.00"),
            reference="R-1",
            actor=factories.billing_clerk(),
        )
        after = text_of(client.get(f"/portal/royalty-reports/report/{amendment.id}"))
        staff = text_of(
            signed_in(client, billing_staff).get(f"/console/royalty-reports/{amendment.id}")
        )
    assert (
        f"Refund {credit.number} credits an amount already paid: {owed:,.2f} USD is owed back "
        f"to you; {owed:,.2f} USD is still to be sent by the licensing office's billing staff."
    ) in before
    assert (
        f"{owed:,.2f} USD is owed back to you, 100.00 USD of it sent; "
        f"{owed - 100:,.2f} USD is still to be sent by the licensing office's billing staff."
    ) in after
    assert (
        f"{owed:,.2f} USD is owed back to the licensee, 100.00 USD of it sent; "
        f"{owed - 100:,.2f} USD is still to be sent by billing staff."
    ) in staff
