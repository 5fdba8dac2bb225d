"""Signing in and out: sessions, lockout held in the database, rate limits per address."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.app import create_app
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.errors import AuthenticationRequired, DomainError
from licensing.mail.models import OutboxMessage
from tests.conftest import make_config
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD


def _sign_in(client: FlaskClient, email: str, password: str, **kwargs: Any) -> Any:
    return client.post("/sign-in", data={"email": email, "password": password}, **kwargs)


def _reload(user: User) -> User:
    found = db.session().get(User, user.id, populate_existing=True)
    assert found is not None
    return found


def test_a_vendor_signs_in_and_lands_on_their_dashboard(client: FlaskClient, vendor: User) -> None:
    response = _sign_in(client, vendor.email, DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/portal/")
    dashboard = client.get("/portal/")
    assert dashboard.status_code == 200
    assert vendor.organization is not None
    assert vendor.organization.legal_name in dashboard.get_data(as_text=True)


def test_staff_sign_in_and_land_on_the_console(client: FlaskClient, licensing_staff: User) -> None:
    response = _sign_in(client, licensing_staff.email, DEFAULT_PASSWORD)
    assert response.headers["Location"].endswith("/console/")


def test_the_email_is_matched_whatever_its_case(client: FlaskClient, vendor: User) -> None:
    assert _sign_in(client, vendor.email.upper(), DEFAULT_PASSWORD).status_code == 302


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: FlaskClient, vendor: User
) -> None:
    wrong = _sign_in(client, vendor.email, "not-the-password-at-all")
    unknown = _sign_in(client, "nobody@nowhere.example", "not-the-password-at-all")
    assert wrong.status_code == unknown.status_code == 422
    assert "The email or password is incorrect." in wrong.get_data(as_text=True)
    assert "The email or password is incorrect." in unknown.get_data(as_text=True)
    assert client.get("/portal/").status_code == 302


def test_an_unconfirmed_email_cannot_sign_in_yet(client: FlaskClient, app: Flask) -> None:
    user = factories.make_vendor(db.session(), verified=False)
    response = _sign_in(client, user.email, DEFAULT_PASSWORD)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Confirm your email address first" in page
    assert "/verify-email" in page


def test_a_deactivated_account_cannot_sign_in(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    services.set_user_active(vendor.id, False, Actor.of(services.principal_for(admin)))
    response = _sign_in(client, vendor.email, DEFAULT_PASSWORD)
    assert response.status_code == 403
    assert "deactivated" in response.get_data(as_text=True)


def test_sign_in_returns_to_the_page_asked_for(client: FlaskClient, vendor: User) -> None:
    first = client.get("/account/tokens")
    assert first.status_code == 302
    assert "/sign-in?next=/account/tokens" in first.headers["Location"]
    response = _sign_in(
        client, vendor.email, DEFAULT_PASSWORD, query_string={"next": "/account/tokens"}
    )
    assert response.headers["Location"] == "/account/tokens"


# Off the site, or not a path at all: a line break in `next` (an attempt to add a
# header to the redirect) was a 500, and `/\\host` is `//host` to a browser.
OFF_SITE = [
    "https://evil.example/",
    "//evil.example/x",
    "javascript:x",
    "/\\evil.example/x",
    "/\t/evil.example/x",
    "/portal/\r\nSet-Cookie: session=stolen",
    "/portal/\nX-Injected: 1",
    "/portal/\x7f",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_never_redirects_off_the_site(
    client: FlaskClient, vendor: User, target: str
) -> None:
    response = _sign_in(client, vendor.email, DEFAULT_PASSWORD, query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/"


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_sign_in_page_of_a_signed_in_user_never_redirects_off_the_site(
    client: FlaskClient, vendor: User, target: str, signed_in: Callable[..., FlaskClient]
) -> None:
    signed_in(client, vendor)
    response = client.get("/sign-in", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/"
    assert "Set-Cookie: session=stolen" not in str(response.headers)


def test_signing_out_ends_the_session(
    client: FlaskClient, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    signed_in(client, vendor)
    assert client.get("/portal/").status_code == 200
    assert client.post("/sign-out").status_code == 302
    assert client.get("/portal/").status_code == 302


def test_signing_out_says_it_signed_out_every_computer_as_it_did(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 29: the header's *Sign out* ends every session of the account, and said
    only "You have signed out." while the laptop left signed in was signed out too."""
    laptop = signed_in(app.test_client(), vendor)
    desk = signed_in(app.test_client(), vendor)
    page = desk.post("/sign-out", follow_redirects=True).get_data(as_text=True)
    assert "You have signed out, on every computer where you were signed in." in page
    assert laptop.get("/portal/").status_code == 302


def test_sessions_of_two_users_do_not_mix(
    app: Flask, vendor: User, other_vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    first = signed_in(app.test_client(), vendor)
    second = signed_in(app.test_client(), other_vendor)
    assert vendor.email in first.get("/portal/").get_data(as_text=True)
    assert other_vendor.email in second.get("/portal/").get_data(as_text=True)
    assert other_vendor.email not in first.get("/portal/").get_data(as_text=True)


_CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]*(")')


def _page_without(response: Any, email: str) -> str:
    """The page as any address would get it (the form shows the address typed).

    The form's CSRF token is signed with the second it was made in, so two pages
    a second apart differ there whatever the address: it is left out.
    """
    page = str(response.get_data(as_text=True)).replace(email, "<address>")
    return _CSRF_VALUE.sub(r"\1<token>\2", page)


def test_five_failures_in_a_row_lock_the_account_even_against_the_right_password(
    app: Flask, vendor: User
) -> None:
    client = app.test_client()
    for _ in range(services.LOCKOUT_THRESHOLD):
        _sign_in(client, vendor.email, "not-the-password-at-all")
    locked = _reload(vendor)
    assert locked.locked_until is not None
    response = _sign_in(client, vendor.email, DEFAULT_PASSWORD)
    assert response.status_code == 422
    assert client.get("/portal/").status_code == 302


def test_a_locked_account_is_answered_exactly_like_an_unknown_address(
    app: Flask, vendor: User
) -> None:
    client = app.test_client()
    unknown_address = "nobody@nowhere.example"
    for _ in range(services.LOCKOUT_THRESHOLD):
        with pytest.raises(AuthenticationRequired):
            services.sign_in(vendor.email, "not-the-password-at-all")
        with pytest.raises(AuthenticationRequired):
            services.sign_in(unknown_address, "not-the-password-at-all")
    for password in (DEFAULT_PASSWORD, "not-the-password-at-all"):
        locked = _sign_in(client, vendor.email, password)
        unknown = _sign_in(client, unknown_address, password)
        assert locked.status_code == unknown.status_code == 422
        assert _page_without(locked, vendor.email) == _page_without(unknown, unknown_address)
        assert services.SIGN_IN_REFUSED in locked.get_data(as_text=True)


def test_a_locked_account_checks_the_password_hash_like_any_other_attempt(
    app: Flask, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from licensing.accounts import passwords

    for _ in range(services.LOCKOUT_THRESHOLD):
        with pytest.raises(AuthenticationRequired):
            services.sign_in(vendor.email, "not-the-password-at-all")
    checked: list[str] = []
    real_verify = passwords.verify_password
    monkeypatch.setattr(
        passwords,
        "verify_password",
        lambda stored, given: checked.append(given) or real_verify(stored, given),
    )
    with pytest.raises(AuthenticationRequired):
        services.sign_in(vendor.email, DEFAULT_PASSWORD)
    with pytest.raises(AuthenticationRequired):
        services.sign_in("nobody@nowhere.example", DEFAULT_PASSWORD)
    assert checked == [DEFAULT_PASSWORD, DEFAULT_PASSWORD]


def test_the_lockout_is_held_in_the_database_for_every_process(committed_app: Flask) -> None:
    with committed_app.app_context():
        user = factories.make_vendor(db.session())
        for _ in range(services.LOCKOUT_THRESHOLD):
            with pytest.raises(DomainError):
                services.sign_in(user.email, "not-the-password-at-all")
    # Another process: a second app with its own connections to the same database.
    other = create_app(make_config(committed_app.config["LICENSING"].database_url))
    try:
        with other.app_context():
            with pytest.raises(AuthenticationRequired):
                services.sign_in(user.email, DEFAULT_PASSWORD)
            response = other.test_client().post(
                "/sign-in", data={"email": user.email, "password": DEFAULT_PASSWORD}
            )
            assert response.status_code == 422
    finally:
        other.extensions["licensing.db"].engine.dispose()


def test_a_lockout_is_audited_and_the_owner_is_told_by_email(app: Flask, vendor: User) -> None:
    for _ in range(services.LOCKOUT_THRESHOLD):
        with pytest.raises(DomainError):
            services.sign_in(vendor.email, "not-the-password-at-all")
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "user.locked")).one()
    assert event.entity_id == str(vendor.id)
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    assert message.to == [vendor.email]
    assert "locked" in message.subject
    # Wrong passwords only, on an account without two-step sign-in.
    assert "If it was not you, your password held." in message.body_text
    assert event.note == f"{services.LOCKOUT_THRESHOLD} failed sign-in attempts in a row"


def test_the_lock_lifts_after_its_period(app: Flask, vendor: User) -> None:
    for _ in range(services.LOCKOUT_THRESHOLD):
        with pytest.raises(DomainError):
            services.sign_in(vendor.email, "not-the-password-at-all")
    later = utcnow() + services.LOCKOUT_PERIOD + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert services.sign_in(vendor.email, DEFAULT_PASSWORD).id == vendor.id
    assert _reload(vendor).failed_login_count == 0


def test_a_success_resets_the_count_of_failures(app: Flask, vendor: User) -> None:
    for _ in range(services.LOCKOUT_THRESHOLD - 1):
        with pytest.raises(AuthenticationRequired):
            services.sign_in(vendor.email, "not-the-password-at-all")
    services.sign_in(vendor.email, DEFAULT_PASSWORD)
    assert _reload(vendor).failed_login_count == 0
    with pytest.raises(AuthenticationRequired):
        services.sign_in(vendor.email, "not-the-password-at-all")
    assert _reload(vendor).locked_until is None


def test_a_hash_made_with_weaker_parameters_is_upgraded_at_sign_in(
    app: Flask, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    from licensing.accounts import passwords

    old_hash = _reload(vendor).password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    monkeypatch.setattr(passwords, "HASHER", stronger)
    services.sign_in(vendor.email, DEFAULT_PASSWORD)
    new_hash = _reload(vendor).password_hash
    assert new_hash != old_hash
    assert "t=2" in new_hash
