"""Round 56: one rule for an amount typed in a billing page's form (the offline
payment, the credit note, the refund). Pages write amounts grouped ("1,000.00"), so
an amount typed as they write it is read; a comma anywhere else ("1000,00", a decimal
comma; "1,00.00") is refused with the field's message, nothing stored. Until round 56
every comma was dropped: "1000,00" was recorded as 100,000.00 USD."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import CreditNote, Invoice, Payment, Refund
from tests.support import factories
from tests.support.billing import credited, paid_offline

MISPLACED = ["1000,00", "1,00.00", "1,0000.00", "10,00", "1,,000.00", ",500.00", "500,", "0,500"]


def _count(model: type) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _field_error(page: str, field_id: str) -> str:
    """The message the page shows beside the field `field_id`."""
    found = re.search(rf'id="{field_id}-error">([^<]*)</p>', page)
    assert found, f"no message beside {field_id}"
    return found.group(1)


def _post_payment(client: FlaskClient, invoice: Invoice, amount: str) -> Any:
    data = {"method": "wire", "amount": amount, "reference": "FEDWIRE 77"}
    return client.post(f"/console/invoices/{invoice.id}/payments", data=data)


def _post_credit(client: FlaskClient, invoice: Invoice, amount: str) -> Any:
    data = {"amount": amount, "reason": "Goodwill"}
    return client.post(f"/console/invoices/{invoice.id}/credit-notes", data=data)


def _post_refund(client: FlaskClient, credit: CreditNote, amount: str) -> Any:
    prefix = f"refund-{credit.id}"
    data = {
        f"{prefix}-method": "wire",
        f"{prefix}-amount": amount,
        f"{prefix}-reference": "FEDWIRE OUT 9",
    }
    return client.post(f"/console/credit-notes/{credit.id}/refunds", data=data)


def test_an_offline_payment_typed_with_thousands_grouped_is_recorded_for_that_amount(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("12000.00",))
    signed_in(client, billing_staff)
    response = _post_payment(client, invoice, " 1,250.50 ")
    assert response.status_code == 302, _page(response)[:2000]
    assert db.session().scalars(select(Payment.amount)).one() == Decimal("1250.50")


@pytest.mark.parametrize("typed", MISPLACED)
def test_an_offline_payment_with_a_comma_not_between_thousands_is_refused_by_its_field(
    typed: str,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("200000.00",))
    signed_in(client, billing_staff)
    response = _post_payment(client, invoice, typed)
    page = _page(response)
    assert response.status_code == 422
    assert _field_error(page, "payment-amount").startswith("Give an amount such as 1250.00")
    assert f'value="{typed}"' in page  # what was typed, to correct
    assert _count(Payment) == 0


def test_a_credit_note_typed_with_thousands_grouped_is_asked_about_for_that_amount(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("12000.00",))
    signed_in(client, billing_staff)
    response = _post_credit(client, invoice, "1,000.00")
    assert response.status_code == 200
    assert f"Issue a credit note of 1,000.00 USD on Invoice {invoice.number}?" in _page(response)


@pytest.mark.parametrize("typed", MISPLACED)
def test_a_credit_note_with_a_comma_not_between_thousands_is_refused_before_asking(
    typed: str,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("200000.00",))
    signed_in(client, billing_staff)
    response = _post_credit(client, invoice, typed)
    page = _page(response)
    assert response.status_code == 422
    assert 'name="confirmation"' not in page  # never asked to confirm
    assert _field_error(page, "credit-amount").startswith("Give an amount such as 1250.00")
    assert _count(CreditNote) == 0


def test_an_offline_refund_typed_with_thousands_grouped_is_recorded_for_that_amount(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("5000.00",))
    paid_offline(invoice.id, "5000.00", "FEDWIRE 1")
    credit = credited(invoice.id, "2000.00", "Overbilled")
    signed_in(client, billing_staff)
    response = _post_refund(client, credit, "1,500.00")
    assert response.status_code == 302, _page(response)[:2000]
    assert db.session().scalars(select(Refund.amount)).one() == Decimal("1500.00")


@pytest.mark.parametrize("typed", ["1500,00", "1,50.00"])
def test_an_offline_refund_with_a_comma_not_between_thousands_is_refused_by_its_field(
    typed: str,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("500000.00",))
    paid_offline(invoice.id, "500000.00", "FEDWIRE 1")
    credit = credited(invoice.id, "200000.00", "Overbilled")
    signed_in(client, billing_staff)
    response = _post_refund(client, credit, typed)
    page = _page(response)
    assert response.status_code == 422
    message = _field_error(page, f"refund-{credit.id}-amount")
    assert message.startswith("Give an amount such as 1250.00")
    assert _count(Refund) == 0


def _api_refusal(response: Any) -> list[str]:
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    errors: dict[str, list[str]] = response.get_json()["errors"]
    return [message for path, said in errors.items() if "amount" in path for message in said]


def test_the_api_takes_no_grouped_amount_for_a_payment_a_credit_note_or_a_refund(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    # The API takes the contract's decimal strings: "1,000.00" is no such string.
    invoice = invoice_for(vendor, ("5000.00",))
    paid_offline(invoice.id, "5000.00", "FEDWIRE 1")
    credit = credited(invoice.id, "2000.00", "Overbilled")
    headers = factories.bearer(billing_staff)
    before = (_count(Payment), _count(CreditNote), _count(Refund))
    for path, body in (
        (f"/api/v1/invoices/{invoice.id}/payments", {"method": "wire", "reference": "W-2"}),
        (f"/api/v1/invoices/{invoice.id}/credit-notes", {"reason": "Goodwill"}),
        (f"/api/v1/credit-notes/{credit.id}/refunds", {"method": "wire", "reference": "W-3"}),
    ):
        refused = client.post(path, json={**body, "amount": "1,000.00"}, headers=headers)
        assert any(m.startswith("Must be a decimal number") for m in _api_refusal(refused))
    assert (_count(Payment), _count(CreditNote), _count(Refund)) == before
