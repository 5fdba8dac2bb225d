"""Round 57 (names57): an invoice reopened or settled by a refund said why as "wire
refund 5" / "wire refund 5 failed", and the audit log named the refund "Wire refund 5 of
CN-...", where the pages name a refund by its amount, credit note and day ("Wire refund
of 100.00 USD (CN-...) sent 2027-..."). Both now name it so; notes stored before keep
their text."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing.models import Invoice, Refund
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.pages import text_of


def _notes(invoice_id: int, action: str) -> list[str]:
    return [
        note or ""
        for note in db.session().scalars(
            select(AuditEvent.note).where(
                AuditEvent.action == action, AuditEvent.entity_id == str(invoice_id)
            )
        )
    ]


def test_an_invoice_settled_by_a_refunds_return_and_the_audit_log_name_it_by_amount_and_day(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    admin: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("500.00",))
    paid_offline(invoice.id, "500.00", "W-IN-1")
    credit = credited(invoice.id, "100.00", "Seat removed")
    refund = refunded_offline(credit.id, "100.00", "W-BACK-1")
    today = office_date(utcnow()).isoformat()
    named = f"wire refund of 100.00 USD of {credit.number}, sent {today}"
    # As test_reopen_owed's invoices: 100.00 of the payment taken off as the code
    # before billing_0021 booked it, and the invoice reopened by the command: the
    # refund's return then leaves nothing owed, and settles it.
    stored = db.session().get(Invoice, invoice.id)
    assert stored is not None
    db.session().refresh(stored)
    stored.amount_paid -= Decimal("100.00")
    db.session().commit()
    result = app.test_cli_runner().invoke(args=["invoices", "reopen-owed", "--apply"])
    assert result.exit_code == 0, result.output
    db.session().rollback()
    # The bank returns it: nothing is owed again, and the invoice is settled.
    signed_in(client, billing_staff)
    prefix = f"return-{refund.id}-"
    fields = {f"{prefix}reason": "Account closed", f"{prefix}returned_on": today}
    page = client.post(f"/console/refunds/{refund.id}/return", data=fields)
    assert page.status_code == 200, text_of(page)[:2000]
    shown = re.search(r'name="confirmation" value="([^"]*)"', page.get_data(as_text=True))
    assert shown
    answer = client.post(
        f"/console/refunds/{refund.id}/return",
        data={**fields, "confirmation": shown.group(1), "confirmed": "yes"},
    )
    assert answer.status_code in (200, 302), text_of(answer)[:2000]
    settled = [note for note in _notes(invoice.id, "invoice.paid") if "refund" in note]
    assert settled == [f"{named}, returned {today}"]
    # The audit log names the refund record as the pages do.
    signed_in(client, admin)
    log = text_of(client.get("/console/audit", query_string={"entity_type": "refund"}))
    assert f"Wire refund of 100.00 USD of {credit.number}, sent {today}" in log
    assert f"Wire refund {refund.id} of" not in log
    assert db.session().get(Refund, refund.id) is not None
