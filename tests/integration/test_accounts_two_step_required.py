"""Staff must use two-step sign-in when the office requires it
(`TWO_STEP_REQUIRED_FOR_STAFF`, on by default in production only): signed in
without it, they are taken to set it up and can open nothing else until done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.config import Config
from licensing.mail.models import OutboxMessage
from tests.support.two_step import set_up, turn_on

SignIn = Callable[..., FlaskClient]


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"two_step_required_for_staff": True}


def test_staff_without_it_are_taken_to_set_it_up_and_can_open_nothing_else(
    app: Flask, licensing_staff: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), licensing_staff)
    for path in ("/console/", "/console/applications", "/account/", "/account/tokens"):
        sent = client.get(path)
        assert sent.status_code == 303, path
        assert sent.headers["Location"].endswith("/account/two-step/")
    page = client.get("/account/two-step/").get_data(as_text=True)
    assert "required of your account (licensing office staff)" in page
    refused = client.post("/account/tokens", data={"name": "sneaky"})
    # Round 27: a form is held on a page that says nothing was saved (not redirected).
    assert refused.status_code == 403
    assert "Nothing was saved" in refused.get_data(as_text=True)
    set_up(client, licensing_staff)
    assert client.get("/console/").status_code == 200


def test_staff_without_it_may_still_sign_out(
    app: Flask, licensing_staff: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), licensing_staff)
    assert client.post("/sign-out").status_code == 302
    assert "/sign-in" in client.get("/console/").headers["Location"]


def test_vendors_are_not_asked_unless_their_organization_requires_it(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    assert signed_in(app.test_client(), vendor).get("/portal/").status_code == 200


def test_production_requires_it_of_staff_by_default_and_development_does_not() -> None:
    production = {
        "LICENSING_ENV": "production",
        "DATABASE_URL": "postgresql://u:p@db.example/licensing",
        "SECRET_KEY": "s" * 40,
        "AUDIT_HMAC_KEY": "a" * 40,
        "PUBLIC_URL": "https://licensing.example.org",
        "SMTP_URL": "smtp://mail.example.org:25",
        "BILLING_ISSUER": "The Office|1 Street",
        "BILLING_REMIT_TO": "Wire to the bank",
    }
    assert Config.from_env(production).two_step_required_for_staff
    turned_off = {**production, "TWO_STEP_REQUIRED_FOR_STAFF": "false"}
    assert not Config.from_env(turned_off).two_step_required_for_staff
    assert not Config.from_env(
        {"LICENSING_ENV": "testing", "SECRET_KEY": "x" * 40, "AUDIT_HMAC_KEY": "y" * 40}
    ).two_step_required_for_staff


def test_a_new_staff_members_welcome_email_says_two_step_sign_in_comes_right_after_the_password(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    console = signed_in(app.test_client(), admin)
    set_up(console, admin)
    added = console.post(
        "/console/users",
        data={
            "email": "leila.novak@licensing-office.example",
            "full_name": "Leila Novak",
            "roles": ["licensing"],
        },
    )
    assert added.status_code == 302, added.get_data(as_text=True)[:2000]

    (welcome,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "staff_welcome")
    )
    assert "The office requires two-step sign-in of its staff" in welcome.body_text
    assert "Have your phone with you when you open the link." in welcome.body_text


def test_the_admins_user_page_says_staff_are_asked_to_set_it_up_again_at_once(
    app: Flask, admin: User, licensing_staff: User, signed_in: SignIn
) -> None:
    turn_on(licensing_staff)
    console = signed_in(app.test_client(), admin)
    set_up(console, admin)

    page = console.get(f"/console/users/{licensing_staff.id}").get_data(as_text=True)

    assert "are asked to set it up again as soon as they sign in with their password" in page
    assert "(the office requires it of staff)" in page
