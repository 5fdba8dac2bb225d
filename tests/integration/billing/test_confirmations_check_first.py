"""Round 56: every confirmed step on the billing console checks what it would refuse
BEFORE it asks, so billing staff never confirm a step that is then refused: a reason
of spaces only (which the form's required field lets through, and every service
refuses), a reason no document can print, a step the record's state does not
allow. Each is refused on the invoice's page with the field's or the rule's message,
no confirmation shown, nothing done. Until round 56 the links' withdrawal asked
first, then refused."""

from __future__ import annotations

import html
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice, InvoiceLinkRevocation, PaymentReversal
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.factories import billing_clerk
from tests.support.settings import invoice_terms

ASKED = 'name="confirmed" value="yes"'
BLANK = "   "


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _count(model: type) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def _not_asked(response: Any, status: int, said: str | None) -> None:
    page = _page(response)
    assert response.status_code == status, page[:2000]
    assert ASKED not in page
    if said is not None:  # where the page shows the step's form (not on a paid invoice's)
        assert said in page


def _steps(invoice: Invoice) -> dict[str, tuple[str, dict[str, str], str | None]]:
    """Each confirmed step on an issued invoice with a payment and a refund sent,
    posted with a reason of spaces: its path, its fields, the message refusing it."""
    payment = paid_offline(invoice.id, "2000.00", "FEDWIRE 1")
    credit = credited(invoice.id, "600.00", "Overbilled")  # all of it owed back
    refund = refunded_offline(credit.id, "100.00", "FEDWIRE OUT 1")
    today = office_date(utcnow()).isoformat()
    return {
        "void": (f"/console/invoices/{invoice.id}/void", {"void-reason": BLANK}, None),
        "links": (
            f"/console/invoices/{invoice.id}/link-withdrawals",
            {"links-reason": BLANK},
            "Say why.",
        ),
        "credit note": (
            f"/console/invoices/{invoice.id}/credit-notes",
            {"amount": "10.00", "reason": BLANK},
            "Say why.",
        ),
        "reversal": (
            f"/console/payments/{payment.id}/reversal",
            {f"reverse-{payment.id}-reason": BLANK, f"reverse-{payment.id}-returned_on": today},
            None,
        ),
        "refund return": (
            f"/console/refunds/{refund.id}/return",
            {f"return-{refund.id}-reason": BLANK, f"return-{refund.id}-returned_on": today},
            None,
        ),
    }


@pytest.mark.parametrize("step", ["void", "links", "credit note", "reversal", "refund return"])
def test_a_confirmed_step_with_a_reason_of_spaces_is_refused_before_asking(
    step: str,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("2000.00",))
    path, fields, message = _steps(invoice)[step]
    signed_in(client, billing_staff)
    before = (_count(CreditNote), _count(InvoiceLinkRevocation), _count(PaymentReversal))
    _not_asked(client.post(path, data=fields), 422, message)
    assert (_count(CreditNote), _count(InvoiceLinkRevocation), _count(PaymentReversal)) == before
    db.session().refresh(invoice)
    assert invoice.state != "void"


def test_the_links_withdrawal_with_an_unprintable_reason_is_refused_before_asking(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor)
    signed_in(client, billing_staff)
    refused = client.post(
        f"/console/invoices/{invoice.id}/link-withdrawals",
        data={"links-reason": "Forwarded \u12a0\u1260\u1260"},  # Ethiopic: no font draws it
    )
    assert refused.status_code == 422
    assert ASKED not in _page(refused)
    assert _count(InvoiceLinkRevocation) == 0


def test_the_links_withdrawal_of_a_draft_is_refused_before_asking(
    client: FlaskClient, vendor: User, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    draft = services.create_draft(
        organization_id=vendor.organization_id,
        currency="USD",
        charges=[services.Charge("Setup", Decimal("100.00"))],
        standard=invoice_terms(),
        actor=billing_clerk(),
    )
    signed_in(client, billing_staff)
    refused = client.post(
        f"/console/invoices/{draft.id}/link-withdrawals", data={"links-reason": "Forwarded"}
    )
    assert refused.status_code == 409
    assert ASKED not in _page(refused)
    assert _count(InvoiceLinkRevocation) == 0


def test_a_reversal_of_a_payment_already_reversed_is_refused_before_asking(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("2000.00",))
    payment = paid_offline(invoice.id, "1000.00", "FEDWIRE 1")
    today = office_date(utcnow())
    prefix = f"reverse-{payment.id}"
    fields = {f"{prefix}-reason": "Returned unpaid", f"{prefix}-returned_on": today.isoformat()}
    signed_in(client, billing_staff)
    asked = client.post(f"/console/payments/{payment.id}/reversal", data=fields)
    assert ASKED in _page(asked)  # the first time, it asks
    services.reverse_offline_payment(
        payment.id,
        reason="Returned unpaid",
        returned_on=today,
        standing_days=30,
        actor=billing_clerk(),
    )
    again = client.post(f"/console/payments/{payment.id}/reversal", data=fields)
    assert again.status_code == 409
    assert ASKED not in _page(again)
    assert _count(PaymentReversal) == 1
