"""Sessions end server-side: signing out ends every copy of the session cookie,
and creating an API token from a page needs the password given recently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import ApiToken, User
from licensing.accounts.views import RECENT_PASSWORD
from licensing.db import utcnow
from tests.support.factories import DEFAULT_PASSWORD

COOKIE = "licensing_session"


def _copy_of_the_cookie(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie (stolen, say)."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def _tokens_of(user: User) -> int:
    count = db.session().scalar(select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id))
    return int(count or 0)


def test_a_copied_cookie_stops_working_once_its_owner_signs_out(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    thief = _copy_of_the_cookie(app, client)
    assert thief.get("/portal/").status_code == 200
    assert client.post("/sign-out").status_code == 302
    assert client.get("/portal/").status_code == 302
    refused = thief.get("/portal/")
    assert refused.status_code == 302
    assert "/sign-in" in refused.headers["Location"]


def test_a_copied_cookie_cannot_create_a_token_after_sign_out(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    thief = _copy_of_the_cookie(app, client)
    client.post("/sign-out")
    response = thief.post("/account/tokens", data={"name": "stolen"})
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]
    assert _tokens_of(vendor) == 0


def test_signing_in_again_after_sign_out_works(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    client.post("/sign-out")
    signed_in(client, vendor)
    assert client.get("/portal/").status_code == 200


def test_a_session_from_before_a_password_reset_ends(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    with db.transaction() as session:
        user = session.get(User, vendor.id)
        assert user is not None
        generation = user.session_generation
    services.sign_out(vendor.id)
    assert db.session().get(User, vendor.id, populate_existing=True).session_generation == (  # type: ignore[union-attr]
        generation + 1
    )
    assert client.get("/portal/").status_code == 302


def test_a_token_needs_the_password_again_once_the_sign_in_is_not_recent(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    later = utcnow() + RECENT_PASSWORD + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        page = client.get("/account/tokens").get_data(as_text=True)
        assert 'name="password"' in page
        refused = client.post("/account/tokens", data={"name": "ci"})
        assert refused.status_code == 422
        assert "Enter your password" in refused.get_data(as_text=True)
        wrong = client.post("/account/tokens", data={"name": "ci", "password": "not-it-at-all"})
        assert wrong.status_code == 422
        assert _tokens_of(vendor) == 0
        right = client.post("/account/tokens", data={"name": "ci", "password": DEFAULT_PASSWORD})
        assert right.status_code == 200
        assert _tokens_of(vendor) == 1
        # Confirmed just now: the next token needs no password.
        assert client.post("/account/tokens", data={"name": "ci 2"}).status_code == 200
    assert _tokens_of(vendor) == 2


def test_a_wrong_confirmation_password_counts_towards_the_lockout(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    later = utcnow() + RECENT_PASSWORD + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        for _ in range(services.LOCKOUT_THRESHOLD):
            client.post("/account/tokens", data={"name": "ci", "password": "not-it-at-all"})
        locked = client.post("/account/tokens", data={"name": "ci", "password": DEFAULT_PASSWORD})
    assert locked.status_code == 422
    assert db.session().get(User, vendor.id, populate_existing=True).locked_until is not None  # type: ignore[union-attr]
    assert _tokens_of(vendor) == 0


def test_a_page_opened_after_the_session_ended_asks_to_sign_in_and_says_it_leads_back(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The sign-in page it led to said nothing: a vendor whose session had ended
    # (signed out on another computer, a new password) could not tell why.
    client = signed_in(app.test_client(), vendor)
    other = _copy_of_the_cookie(app, client)
    client.post("/sign-out")
    page = other.get("/portal/applications", follow_redirects=True)
    assert page.request.path == "/sign-in"
    text = page.get_data(as_text=True)
    assert "Sign in to open that page" in text
    assert "Sign in to open that page" not in app.test_client().get("/sign-in").get_data(
        as_text=True
    )
    signed_back = other.post(
        "/sign-in?next=/portal/applications",
        data={"email": vendor.email, "password": DEFAULT_PASSWORD},
    )
    assert signed_back.headers["Location"] == "/portal/applications"
