"""The console's "Reverse payment" form on an invoice's page, with CSRF on as in
production."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from tests.support.factories import DEFAULT_PASSWORD, billing_clerk


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"overrides": {}}  # CSRF on


def _token(page: str, name: str = "csrf_token") -> str:
    found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]+)"', page)
    assert found, f"no {name} on the page"
    return found.group(1)


def _page(client: FlaskClient, invoice: Invoice) -> str:
    """The invoice's console page."""
    return client.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)


def _sign_in(client: FlaskClient, user: User) -> None:
    token = _token(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        "/sign-in", data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def _paid_by_check(invoice: Invoice) -> Payment:
    return services.record_offline_payment(
        invoice.id,
        method="check",
        amount=Decimal("1000.00"),
        reference="CHK 7781",
        actor=billing_clerk(),
    )


def test_billing_staff_reverse_a_check_from_the_invoice_page_after_confirming(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _paid_by_check(invoice)
    _sign_in(client, billing_staff)
    page = _page(client, invoice)
    assert "Reverse payment CHK 7781" in page
    url = f"/console/payments/{payment.id}/reversal"
    prefix = f"reverse-{payment.id}-"
    token = _token(page, f"{prefix}csrf_token")
    today = payment.paid_date.isoformat() if payment.paid_date else ""
    fields = {f"{prefix}reason": "Check returned unpaid.", f"{prefix}returned_on": today}

    forged = client.post(url, data=fields)
    assert forged.status_code == 400

    empty = client.post(url, data={f"{prefix}csrf_token": token, f"{prefix}returned_on": ""})
    assert empty.status_code == 422, empty.get_data(as_text=True)[-1500:]
    text = empty.get_data(as_text=True)
    assert "Say why the payment is reversed." in text
    assert "Give the day the bank returned it." in text

    asked = client.post(url, data={**fields, f"{prefix}csrf_token": token})
    assert asked.status_code == 200
    assert "Reverse the payment of 1,000.00 USD" in asked.get_data(as_text=True)
    db.session().refresh(payment)
    assert payment.state == "succeeded"

    done = client.post(url, data={**fields, f"{prefix}csrf_token": token, "confirmed": "yes"})
    assert done.status_code == 302
    db.session().refresh(payment)
    db.session().refresh(invoice)
    assert (payment.state, invoice.state) == ("reversed", "open")
    after = _page(client, invoice)
    assert "Reversed: 1,000.00 USD returned" in after
    assert "Check returned unpaid." in after
    assert "Reverse payment CHK 7781" not in after
    assert "Record an offline payment" in after


def test_a_reversal_dated_in_the_future_comes_back_with_the_field_message(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _paid_by_check(invoice)
    _sign_in(client, billing_staff)
    page = _page(client, invoice)
    prefix = f"reverse-{payment.id}-"
    response = client.post(
        f"/console/payments/{payment.id}/reversal",
        data={
            f"{prefix}csrf_token": _token(page, f"{prefix}csrf_token"),
            f"{prefix}reason": "Bounced.",
            f"{prefix}returned_on": "2099-01-01",
            "confirmed": "yes",
        },
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Cannot be in the future." in text
    assert "Bounced." in text  # what was typed is kept


def test_staff_without_the_billing_role_see_no_reverse_form(
    client: FlaskClient,
    vendor: User,
    licensing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",))
    _paid_by_check(invoice)
    _sign_in(client, licensing_staff)
    page = client.get(f"/console/invoices/{invoice.id}")
    assert page.status_code == 200
    assert "Reverse payment" not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("returned_on", "message"),
    [
        ("2099-01-01", "Cannot be in the future."),
        ("before", "Cannot be before the payment was received"),
    ],
)
def test_a_reversal_day_the_service_refuses_comes_back_before_staff_are_asked_to_confirm(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    returned_on: str,
    message: str,
) -> None:
    # The confirmation page came first, and the day was refused only once staff
    # had confirmed: every field is now checked before asking.
    invoice = invoice_for(vendor, ("1000.00",))
    payment = _paid_by_check(invoice)
    assert payment.paid_date is not None
    if returned_on == "before":
        returned_on = (payment.paid_date - timedelta(days=1)).isoformat()
    _sign_in(client, billing_staff)
    prefix = f"reverse-{payment.id}-"
    response = client.post(
        f"/console/payments/{payment.id}/reversal",
        data={
            f"{prefix}csrf_token": _token(_page(client, invoice), f"{prefix}csrf_token"),
            f"{prefix}reason": "Bounced.",
            f"{prefix}returned_on": returned_on,
        },
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in text
    assert "Reverse the payment of 1,000.00 USD" not in text  # not the confirmation
    assert "Bounced." in text
    db.session().refresh(payment)
    assert payment.state == "succeeded"
