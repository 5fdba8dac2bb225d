"""Round 60 (names60): an offline refund's return kept only the address of who recorded
it (`refunds.returned_by`), which no page showed. It keeps the account beside it
(`returned_by_id`, billing_0031), and the console's pages that list the refund (the
refunds list, the invoice's, the credit note's and the payment's) name the person
"Name (address)" by it, as its history does; a return from before the account was kept
is named by its address; the vendor's invoice page names no clerk. The API's answer to
a return gives the name beside the address (`returned_by_name`)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice, Payment, Refund
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.support.billing import paid_offline, refunded_offline
from tests.support.console_lists import words
from tests.support.factories import bearer, billing_clerk
from tests.support.named_people import address_passed_on, staff_named

SignIn = Callable[..., FlaskClient]


def _refund_sent(invoice_for: Callable[..., Invoice], vendor: Any) -> tuple[Payment, Refund]:
    """A 500.00 invoice paid by wire, credited 100.00 (owed back) and the 100.00 sent."""
    invoice = invoice_for(vendor, ("500.00",))
    payment = paid_offline(invoice.id, "500.00", "W-IN-1")
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("100.00"), reason="Seat removed", actor=billing_clerk()
    )
    return payment, refunded_offline(credit.id, "100.00", "W-BACK-1")


def _read(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, path
    return words(answer.get_data(as_text=True))


def test_a_refunds_return_is_named_by_the_account_on_every_console_page_that_lists_it(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, refund = _refund_sent(invoice_for, vendor)
    returner, returning = staff_named("Marisol Quintero", ("billing",))
    services.return_offline_refund(
        refund.id,
        reason="Account closed at the receiving bank",
        returned_on=office_date(utcnow()),
        actor=returning,
    )
    assert (refund.returned_by, refund.returned_by_id) == (returner.email, returner.id)
    named = f"Marisol Quintero ({returner.email})"
    address_passed_on(returner, "Ines Newcombe")
    client = signed_in(app.test_client(), billing_staff)
    pages = {
        "refunds list": "/console/refunds",
        "invoice": f"/console/invoices/{payment.invoice_id}",
        "credit note": f"/console/credit-notes/{refund.credit_note_id}",
        "payment": f"/console/payments/{payment.id}",
    }

    for page, path in pages.items():
        text = _read(client, path)
        assert f"(recorded by {named})" in text, page
        assert "Ines Newcombe" not in text, page
    # The refund's history names who recorded its return as the row does.
    credit_note_page = _read(client, pages["credit note"])
    history = credit_note_page[credit_note_page.index("History") :]
    assert named in history

    # A return recorded before billing_0031 kept no account: named by its address,
    # whoever holds it now, as the other stored "by" addresses from before.
    session = db.session()
    session.execute(update(Refund).where(Refund.id == refund.id).values(returned_by_id=None))
    session.commit()
    for page, path in pages.items():
        assert f"(recorded by Ines Newcombe ({refund.returned_by}))" in _read(client, path), page


def test_the_vendors_invoice_page_says_the_refund_came_back_without_naming_the_clerk(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    payment, refund = _refund_sent(invoice_for, vendor)
    _returner, returning = staff_named("Marisol Quintero", ("billing",))
    services.return_offline_refund(
        refund.id, reason="Account closed", returned_on=office_date(utcnow()), actor=returning
    )
    page = _read(signed_in(app.test_client(), vendor), f"/portal/invoices/{payment.invoice_id}")
    assert "Returned by the bank on" in page
    assert "Marisol" not in page
    assert "recorded by" not in page


def test_the_apis_answer_to_a_return_names_who_recorded_it_beside_the_address(
    client: FlaskClient,
    vendor: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    _payment, refund = _refund_sent(invoice_for, vendor)
    returner, _returning = staff_named("Marisol Quintero", ("billing",))
    answer = client.post(
        f"/api/v1/refunds/{refund.id}/return",
        json={"reason": "Account closed", "returned_on": office_date(utcnow()).isoformat()},
        headers=bearer(returner),
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["returned_by"], body["returned_by_name"]) == (returner.email, "Marisol Quintero")
