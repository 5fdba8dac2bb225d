"""The staff invoice page holds several forms: each field has its own id, so each
label focuses its own field."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.billing.models import Invoice
from tests.support.markup import dangling_references, duplicate_ids, none_attributes


def test_every_id_on_the_staff_invoice_page_is_unique_even_with_errors_shown(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, billing_staff)
    pages = [
        client.get(f"/console/invoices/{invoice.id}"),
        client.post(f"/console/invoices/{invoice.id}/payments", data={"method": "wire"}),
        client.post(f"/console/invoices/{invoice.id}/credit-notes", data={"amount": "abc"}),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        assert duplicate_ids(html) == []
        assert dangling_references(html) == []
        assert none_attributes(html) == []
    html = pages[0].get_data(as_text=True)
    assert '<label for="payment-amount">Amount</label>' in html
    assert '<label for="credit-amount">Amount to credit</label>' in html
