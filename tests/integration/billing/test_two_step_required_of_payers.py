"""Round 26: two-step sign-in required by an organization, as its billing members meet
it. A member taken to set it up from an invoice they were opening goes on to that
invoice once it is on; and the invoice email's link, which needs no account, opens
whether or not the browser holds a session still owing its second step."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.billing import links
from licensing.billing.models import Invoice
from tests.support import factories
from tests.support.two_step import secret_shown

SignIn = Callable[..., FlaskClient]


def _billing_member_of_an_organization_requiring_it(
    app: Flask, administrator: User, signed_in: SignIn
) -> FlaskClient:
    """A billing member signed in with their password alone, after the
    administrator required two-step sign-in of every member."""
    clerk = factories.make_vendor(
        db.session(), organization=administrator.organization, role="billing"
    )
    admin = signed_in(app.test_client(), administrator)
    assert admin.post("/organization/two-step", data={"required": "true"}).status_code == 302
    return signed_in(app.test_client(), clerk)


def test_a_member_taken_to_set_it_up_from_an_invoice_goes_on_to_that_invoice_once_it_is_on(
    app: Flask, vendor: User, signed_in: SignIn, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("900.00",))
    client = _billing_member_of_an_organization_requiring_it(app, vendor, signed_in)
    opening = f"/portal/invoices/{invoice.id}?tab=payments"

    sent = client.get(opening)
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith("/account/two-step/")
    secret = secret_shown(client.get("/account/two-step/").get_data(as_text=True))
    done = client.post("/account/two-step/confirm", data={"code": pyotp.TOTP(secret).now()})

    assert done.status_code == 200
    page = done.get_data(as_text=True)
    assert f'<a href="{opening}">Done: continue to the page you were opening</a>' in page
    assert client.get(opening).status_code == 200


def test_an_invoice_emails_link_opens_in_a_browser_whose_session_still_owes_its_second_step(
    app: Flask, vendor: User, signed_in: SignIn, invoice_for: Callable[..., Invoice]
) -> None:
    invoice = invoice_for(vendor, ("900.00",))
    client = _billing_member_of_an_organization_requiring_it(app, vendor, signed_in)
    link = f"/invoice-links/{invoice.id}/{links.token(invoice)}"

    opened = client.get(link)

    assert opened.status_code == 200, opened.headers.get("Location")
    assert f"Invoice {invoice.number}" in opened.get_data(as_text=True)
    # A page that needs the account still waits for the set-up.
    assert client.get("/portal/invoices").status_code == 303
