"""Round 27: two-step sign-in required while a member is in the middle of something.
A form posted after the administrator required it is not done and not thrown away: a
page says so and posts the same fields again once the set-up is done. The card
payment page's script, which asks for JSON, gets JSON it reads (403, with the
set-up's address), not the set-up's HTML page by a redirect."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import OneTimeToken, User
from tests.support import factories
from tests.support.two_step import secret_shown

SignIn = Callable[..., FlaskClient]


def _required_of(app: Flask, administrator: User, member: User, signed_in: SignIn) -> FlaskClient:
    """`member` signed in with their password alone; then the administrator requires
    two-step sign-in of every member (the member's browser is mid-work)."""
    client = signed_in(app.test_client(), member)
    admin = signed_in(app.test_client(), administrator)
    assert admin.post("/organization/two-step", data={"required": "true"}).status_code == 302
    return client


def _hidden_fields(page: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in found}


def _set_up(client: FlaskClient) -> None:
    secret = secret_shown(client.get("/account/two-step/").get_data(as_text=True))
    done = client.post("/account/two-step/confirm", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200


TYPED = {"email": "newcomer@northwind.example", "role": "billing"}


def _invitation_held(app: Flask, vendor: User, signed_in: SignIn) -> tuple[FlaskClient, str]:
    """A second administrator sends an invitation from the *Organization* page just
    after the first required two-step sign-in: their browser, and the page answered."""
    colleague = factories.make_vendor(
        db.session(), organization=vendor.organization, role="administrator"
    )
    client = _required_of(app, vendor, colleague, signed_in)
    held = client.post(
        "/organization/invitations",
        data=TYPED,
        headers={"Referer": "http://localhost/organization?tab=members"},
    )
    assert held.status_code == 403
    return client, held.get_data(as_text=True)


def test_a_form_posted_once_it_is_required_is_not_done_and_its_page_sends_it_again_after_set_up(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client, page = _invitation_held(app, vendor, signed_in)
    assert "Nothing was saved" in page
    assert "your organization requires it of its members" in page
    assert 'action="/organization/invitations"' in page
    fields = _hidden_fields(page)
    assert {name: fields[name] for name in TYPED} == TYPED
    assert "csrf_token" in fields
    assert (
        db.session()
        .scalars(select(OneTimeToken).where(OneTimeToken.email == TYPED["email"]))
        .first()
        is None
    )

    _set_up(client)
    sent = client.post("/organization/invitations", data=fields)
    assert sent.status_code == 302
    invited = db.session().scalars(select(OneTimeToken).where(OneTimeToken.email == TYPED["email"]))
    assert [link.organization_role for link in invited] == ["billing"]


def test_set_up_from_a_held_form_offers_to_continue_to_the_page_the_form_was_on(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client, _ = _invitation_held(app, vendor, signed_in)
    secret = secret_shown(client.get("/account/two-step/").get_data(as_text=True))
    done = client.post("/account/two-step/confirm", data={"code": pyotp.TOTP(secret).now()})
    assert 'href="/organization?tab=members"' in done.get_data(as_text=True)


def test_the_card_payment_and_its_status_poll_get_json_saying_to_set_it_up(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    clerk = factories.make_vendor(db.session(), organization=vendor.organization, role="billing")
    client = _required_of(app, vendor, clerk, signed_in)
    json_please = {"Accept": "application/json"}

    polled = client.get("/portal/invoices/1/card-payments/1", headers=json_please)
    paid = client.post("/portal/invoices/1/card-payments", json={"token": "tok_visa"})

    for answer in (polled, paid):
        assert answer.status_code == 403
        assert answer.mimetype == "application/json"
        body = answer.get_json()
        assert body["outcome"] == "two_step_required"
        assert body["two_step_url"] == "/account/two-step/"
        assert "Nothing you sent was carried out" in body["error"]
    # A page (HTML asked for) is still taken to the set-up.
    assert client.get("/portal/invoices").status_code == 303


def test_a_held_form_with_a_file_says_its_button_sends_the_rest_back_to_the_form_to_choose_it(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Round 28: a royalty report's CSV posted just after the requirement came on was
    held with "Send it again", which could not send the file: pressed, it answered
    "Please correct the following; nothing was stored. CSV file: Choose the CSV file
    to upload." The page now says what the button does: it sends what was typed
    back to the form, where the file is chosen again."""
    member = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    client = _required_of(app, vendor, member, signed_in)
    held = client.post(
        "/portal/royalty-reports/1/2027-01-01",
        data={"mode": "csv", "action": "submit", "file": (io.BytesIO(b"line\n"), "q1.csv")},
        content_type="multipart/form-data",
    )
    assert held.status_code == 403
    said = " ".join(re.sub(r"<[^>]+>", " ", held.get_data(as_text=True)).split())
    assert (
        "Then come back here and send the rest again: it returns to the form with what you "
        "typed, where you choose q1.csv again (a chosen file cannot be kept on this page)."
    ) in said
    assert "Send the rest again" in said
    assert "Send it again" not in said


def test_a_held_form_never_writes_a_password_into_its_page(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Round 30: a new password posted on the profile just after the requirement came
    on was held with the current and the new password in hidden fields of the page."""
    member = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    client = _required_of(app, vendor, member, signed_in)
    typed = {
        "current_password": "the-current-one-9871",
        "new_password": "a-brand-new-one-5512",
        "confirm": "a-brand-new-one-5512",
    }
    held = client.post("/account/password", data=typed)
    assert held.status_code == 403
    page = held.get_data(as_text=True)
    for secret in typed.values():
        assert secret not in page
    assert "password" not in " ".join(_hidden_fields(page))
    said = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "type your password again (a password is never kept on a page)." in said
    assert "Send the rest again" in said
