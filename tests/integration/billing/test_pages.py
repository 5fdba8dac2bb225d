"""Billing pages: the vendor's invoices, the card option, the staff console's forms."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice


def test_a_vendor_sees_their_invoices_and_no_card_option_without_stripe_keys(
    client: FlaskClient,
    vendor: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, vendor)
    listing = client.get("/portal/invoices").get_data(as_text=True)
    assert invoice.number in listing
    detail = client.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)
    assert "75.00" in detail
    assert "by card" not in detail
    assert "Wire or ACH" in detail
    assert client.get(f"/portal/invoices/{invoice.id}/pay").status_code == 302
    dashboard = client.get("/portal/").get_data(as_text=True)
    assert f"Invoice {invoice.number} to pay" in dashboard


def test_billing_staff_forms_show_the_fields_problems_and_store_nothing(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, billing_staff)
    page = client.get(f"/console/invoices/{invoice.id}")
    assert page.status_code == 200
    assert "Record an offline payment" in page.get_data(as_text=True)
    refused = client.post(
        f"/console/invoices/{invoice.id}/payments",
        data={"method": "wire", "amount": "80.00", "reference": "W-1"},
    )
    assert refused.status_code == 422
    assert "More than the balance due" in refused.get_data(as_text=True)
    credit = client.post(
        f"/console/invoices/{invoice.id}/credit-notes", data={"amount": "abc", "reason": "x"}
    )
    assert credit.status_code == 422
    assert "Give an amount" in credit.get_data(as_text=True)
    void = client.post(
        f"/console/invoices/{invoice.id}/void",
        data={"void-reason": "duplicate", "confirmed": "yes"},
    )
    assert void.status_code == 302
    listing = client.get("/console/invoices?state=void").get_data(as_text=True)
    assert invoice.number in listing
    assert client.get("/console/invoices?overdue=1").status_code == 200


def test_without_a_webhook_secret_every_webhook_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/webhooks/stripe",
        data=b'{"id": "evt_1", "type": "payment_intent.succeeded"}',
        headers={"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_billing_staff_amount_forms_read_minus_zero_as_zero(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    # Round 50: the staff forms that take amounts read "-0" alike, as 0 (the API's
    # money fields, the approval form, royalty rows and quotes do): each refuses it
    # as it refuses "0", not as a negative amount.
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, billing_staff)
    forms = {
        "payments": {"method": "wire", "reference": "W-1"},
        "credit-notes": {"reason": "goodwill"},
    }
    for path, data in forms.items():
        answers = {}
        for typed in ("0", "-0", "-0.00"):
            answer = client.post(
                f"/console/invoices/{invoice.id}/{path}", data={**data, "amount": typed}
            )
            assert answer.status_code == 422, (path, typed)
            page = answer.get_data(as_text=True)
            answers[typed] = page[page.index('id="') :].count("more than zero")
            assert "negative" not in page, (path, typed)
        assert answers["-0"] == answers["-0.00"] == answers["0"] > 0, (path, answers)
