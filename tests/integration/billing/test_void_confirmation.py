"""Voiding an invoice asks first, after the reason is given: nothing changes until
billing staff confirm, and the confirmation carries the reason through."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import Invoice


def test_voiding_an_invoice_asks_first_and_changes_nothing_until_confirmed(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, billing_staff)
    url = f"/console/invoices/{invoice.id}/void"
    no_reason = client.post(url, data={"void-reason": ""})
    assert no_reason.status_code == 422  # the reason is asked for before the confirmation
    asked = client.post(url, data={"void-reason": "Issued twice <by mistake>"})
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert f"Void invoice {invoice.number}?" in page
    assert 'name="void-reason" value="Issued twice &lt;by mistake&gt;"' in page
    db.session().refresh(invoice)
    assert invoice.state == "open"
    done = client.post(url, data={"void-reason": "Issued twice <by mistake>", "confirmed": "yes"})
    assert done.status_code == 302
    db.session().refresh(invoice)
    assert invoice.state == "void"
