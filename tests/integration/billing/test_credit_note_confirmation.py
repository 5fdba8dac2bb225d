"""Round 53: a credit note is confirmed before it is issued. The console's form shows
what will be credited (the amount, the invoice, its balance after, the refund that
becomes owed) and a confirming press issues it; a confirmation the invoice changed
since (a payment recorded meanwhile) is refused with what changed, nothing stored
(docs/billing.md, "Credit notes confirmed")."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing.models import CreditNote, Invoice
from licensing.mail.models import OutboxMessage
from tests.support.billing import paid_offline
from tests.support.pages import text_of

REASON = "Royalty report amended: 2,900 end users, not 3,000."


def _count(model: type, *where: object) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _nothing_issued() -> None:
    assert _count(CreditNote) == 0
    assert _count(AuditEvent, AuditEvent.action == "credit_note.issued") == 0
    assert _count(OutboxMessage, OutboxMessage.template == "invoice_credit_note") == 0


def _asked(client: FlaskClient, invoice: Invoice, amount: str) -> tuple[str, dict[str, str]]:
    """The credit note form posted: the confirmation page, and the fields it posts."""
    fields = {"amount": amount, "reason": REASON}
    page = client.post(f"/console/invoices/{invoice.id}/credit-notes", data=fields)
    assert page.status_code == 200
    seen = re.search(r'name="seen" value="([^"]*)"', page.get_data(as_text=True))
    assert seen
    return text_of(page), {**fields, "seen": seen.group(1), "confirmed": "yes"}


def test_a_credit_note_is_shown_with_the_balance_after_and_the_refund_owed_then_confirmed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    paid_offline(invoice.id, "900.00", "FEDWIRE 1")
    signed_in(client, billing_staff)

    shown, confirming = _asked(client, invoice, "150.00")
    assert f"Issue a credit note of 150.00 USD on Invoice {invoice.number}?" in shown
    assert (
        f"Invoice {invoice.number} (total 1,000.00 USD, paid 900.00 USD, credited so far "
        "0.00 USD) is credited 150.00 USD."
    ) in shown
    assert "Its balance due goes from 100.00 USD to 0.00 USD." in shown
    assert (
        "50.00 USD of it is more than the invoice still owes: it becomes a refund owed to the "
        "licensee"
    ) in shown
    assert f"Reason printed on the credit note: {REASON}" in shown
    assert "A credit note is never undone or edited" in shown
    _nothing_issued()  # asking stores nothing

    issued = client.post(
        f"/console/invoices/{invoice.id}/credit-notes", data=confirming, follow_redirects=True
    )
    assert issued.status_code == 200
    credit = db.session().scalars(select(CreditNote)).one()
    assert f"Credit note {credit.number} issued." in text_of(issued)
    assert (credit.amount, credit.refund_due) == (Decimal("150.00"), Decimal("50.00"))


def test_a_credit_note_all_off_the_balance_says_no_refund_becomes_owed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.50",))
    signed_in(client, billing_staff)
    shown, _ = _asked(client, invoice, "0.50")
    assert "Its balance due goes from 1,000.50 USD to 1,000.00 USD." in shown
    assert "No refund becomes owed: all of it comes off the balance due." in shown
    _nothing_issued()


def test_a_confirmation_the_invoice_changed_since_is_refused_saying_what_changed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    paid_offline(invoice.id, "900.00", "FEDWIRE 1")
    signed_in(client, billing_staff)
    _, confirming = _asked(client, invoice, "150.00")
    # Meanwhile a colleague records the rest: 150.00 would now be all refund, not 50.00.
    paid_offline(invoice.id, "100.00", "FEDWIRE 2")

    stale = client.post(f"/console/invoices/{invoice.id}/credit-notes", data=confirming)
    assert stale.status_code == 409
    said = text_of(stale)
    assert (
        f"Not issued: Invoice {invoice.number} changed after the credit note was shown to "
        "confirm (it was open and is paid now; amount paid 900.00 USD then, 1,000.00 USD "
        "now), so the balance and refund shown no longer hold. Nothing was issued"
    ) in said
    assert 'value="150.00"' in stale.get_data(as_text=True)  # the form keeps what was typed
    _nothing_issued()

    # Asked again, it shows the figures as they are now, and goes.
    shown, confirming = _asked(client, invoice, "150.00")
    assert "Its balance due goes from 0.00 USD to 0.00 USD." in shown
    assert "150.00 USD of it is more than the invoice still owes" in shown
    answer = client.post(f"/console/invoices/{invoice.id}/credit-notes", data=confirming)
    assert answer.status_code == 302
    assert db.session().scalars(select(CreditNote)).one().refund_due == Decimal("150.00")


def test_a_confirming_post_without_the_figures_it_was_shown_is_refused(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    signed_in(client, billing_staff)
    answer = client.post(
        f"/console/invoices/{invoice.id}/credit-notes",
        data={"amount": "150.00", "reason": REASON, "confirmed": "yes"},
    )
    assert answer.status_code == 409
    assert "Nothing was issued" in text_of(answer)
    _nothing_issued()
