"""Voiding an invoice asks first, after the reason is given: nothing changes until
billing staff confirm, and the confirmation carries the reason through."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice
from tests.support.factories import billing_clerk


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


def test_a_void_that_would_be_refused_is_refused_before_the_confirmation(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """A payment recorded after the invoice page was drawn (another tab, a colleague):
    the Void form still shows there, and its confirmation used to be refused only
    after staff confirmed. Now the refusal comes first, with what to do instead."""
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, billing_staff)
    services.record_offline_payment(
        invoice.id,
        method="check",
        amount=Decimal("25.00"),
        reference="CHK 2040",
        actor=billing_clerk(),
    )
    url = f"/console/invoices/{invoice.id}/void"
    refused = client.post(url, data={"void-reason": "Issued twice"})
    page = refused.get_data(as_text=True)
    # A step the rules refuse is a 409, as everywhere (422 until round 27; 422 is bad input).
    assert refused.status_code == 409
    assert f"Void invoice {invoice.number}?" not in page
    assert "The invoice was not voided" in page
    assert "has payments of 25.00" in page
    assert "issue a credit note instead" in page
    db.session().refresh(invoice)
    assert invoice.state == "open"


def test_voiding_a_void_invoice_again_is_refused_before_the_confirmation(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    invoice = invoice_for(vendor, ("75.00",))
    signed_in(client, billing_staff)
    url = f"/console/invoices/{invoice.id}/void"
    client.post(url, data={"void-reason": "Issued twice", "confirmed": "yes"})
    again = client.post(url, data={"void-reason": "Issued twice"})
    page = again.get_data(as_text=True)
    assert again.status_code == 409  # the state machine's refusal (422 until round 27)
    assert f"Void invoice {invoice.number}?" not in page
    assert "The invoice was not voided" in page
    assert "An invoice that is void cannot be voided: no further step is possible." in page
