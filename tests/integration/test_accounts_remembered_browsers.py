"""Two-step sign-in remembers a browser: "Don't ask for a code on this browser for
N days" on the code page. There the right password alone signs in; elsewhere, or
once forgotten or out of time, the code is asked as before."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.accounts import services, two_step
from licensing.accounts.models import RememberedBrowser, User
from licensing.accounts.services import LOCKOUT_THRESHOLD
from licensing.accounts.views import BROWSER_COOKIE
from licensing.actors import Actor
from licensing.config import Config, ConfigError, current_config
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.remembered_browsers import (
    CHROME_ON_LINUX,
    asks_for_the_code,
    remembered,
    with_two_step,
)
from tests.support.two_step import code_for, events_of, password_step, turn_on

SignIn = Callable[..., FlaskClient]


def _browsers(user: User) -> list[RememberedBrowser]:
    return list(
        db.session().scalars(
            select(RememberedBrowser)
            .where(RememberedBrowser.user_id == user.id)
            .execution_options(populate_existing=True)
        )
    )


def _reloaded(user: User) -> User:
    found = db.session().get(User, user.id, populate_existing=True)
    assert found is not None
    return found


@pytest.fixture
def vendor_remembered(app: Flask, vendor: User) -> FlaskClient:
    """A browser remembered for `vendor` (two-step sign-in on), signed out."""
    with_two_step(vendor)
    return remembered(app.test_client(), vendor)


def _another_browser(app: Flask, user: User) -> FlaskClient:
    """A second browser remembered, a minute on (a code is accepted once)."""
    with time_machine.travel(utcnow() + timedelta(minutes=1), tick=False):
        return remembered(app.test_client(), user)


# --- remembering ---------------------------------------------------------------------


def test_a_right_code_with_the_box_ticked_remembers_the_browser_by_a_digest_only(
    app: Flask, vendor: User
) -> None:
    with_two_step(vendor)
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = CHROME_ON_LINUX
    password_step(client, vendor)
    page = client.get("/sign-in/code").get_data(as_text=True)
    assert "Don&#39;t ask for a code on this browser for 30 days" in page
    assert 'type="checkbox"' in page
    assert "checked" not in page.split("remember", 1)[1][:200]
    done = client.post("/sign-in/code", data={"code": code_for(vendor.id), "remember": "y"})
    assert done.status_code == 302
    header = next(
        value for value in done.headers.getlist("Set-Cookie") if value.startswith(BROWSER_COOKIE)
    )
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert f"Max-Age={30 * 24 * 3600}" in header
    cookie = client.get_cookie(BROWSER_COOKIE)
    assert cookie is not None
    assert len(cookie.value) >= 43
    [browser] = _browsers(vendor)
    assert browser.token_hash == two_step.browser_token_hash(cookie.value)
    assert cookie.value not in browser.token_hash
    assert browser.label == "Chrome on Linux"
    assert browser.expires_at == browser.created_at + timedelta(days=30)
    [event] = events_of(vendor, "user.browser_remembered")
    assert json.loads(event.after)["browser"] == "Chrome on Linux"


def test_without_the_box_nothing_is_remembered_and_the_code_is_asked_next_time(
    app: Flask, vendor: User
) -> None:
    with_two_step(vendor)
    client = app.test_client()
    password_step(client, vendor)
    client.post("/sign-in/code", data={"code": code_for(vendor.id)})
    assert client.get_cookie(BROWSER_COOKIE) is None
    assert _browsers(vendor) == []
    client.post("/sign-out")
    assert asks_for_the_code(client, vendor)


def test_a_recovery_code_remembers_the_browser_too(app: Flask, vendor: User) -> None:
    with time_machine.travel(utcnow() - timedelta(minutes=3), tick=False):
        codes = turn_on(vendor)
    client = app.test_client()
    password_step(client, vendor)
    client.post("/sign-in/code", data={"code": codes[0], "remember": "y"})
    assert len(_browsers(vendor)) == 1


# --- signing in from a remembered browser -----------------------------------------------


def test_on_a_remembered_browser_the_right_password_alone_signs_in(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    client = vendor_remembered
    with time_machine.travel(utcnow() + timedelta(days=2), tick=False):
        answer = password_step(client, vendor)
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/portal/"
        assert client.get("/portal/").status_code == 200
        [browser] = _browsers(vendor)
        assert browser.last_used_at == utcnow()
        assert _reloaded(vendor).last_sign_in_at == utcnow()


def test_a_wrong_password_on_a_remembered_browser_is_refused_and_counted(
    vendor: User, vendor_remembered: FlaskClient
) -> None:
    answer = password_step(vendor_remembered, vendor, password="not-the-password-1")
    assert answer.status_code == 422
    assert _reloaded(vendor).failed_login_count == 1


def test_a_remembered_sign_in_starts_the_count_of_failures_again(
    vendor: User, vendor_remembered: FlaskClient
) -> None:
    # A right password followed by a wrong code, on another browser: counted.
    for _ in range(2):
        password_step(vendor_remembered, vendor, password="not-the-password-1")
    assert _reloaded(vendor).failed_login_count == 2
    assert not asks_for_the_code(vendor_remembered, vendor)
    assert _reloaded(vendor).failed_login_count == 0


def test_a_remembered_browser_asks_for_the_code_again_once_its_time_runs_out(
    vendor: User, vendor_remembered: FlaskClient
) -> None:
    with time_machine.travel(utcnow() + timedelta(days=29, hours=23), tick=False):
        assert not asks_for_the_code(vendor_remembered, vendor)
        vendor_remembered.post("/sign-out")
    with time_machine.travel(utcnow() + timedelta(days=30, minutes=1), tick=False):
        assert asks_for_the_code(vendor_remembered, vendor)


def test_another_accounts_remembered_browser_asks_for_the_code(
    app: Flask, vendor: User, other_vendor: User, vendor_remembered: FlaskClient
) -> None:
    with_two_step(other_vendor)
    assert asks_for_the_code(vendor_remembered, other_vendor)


def test_a_forged_or_unknown_cookie_asks_for_the_code(app: Flask, vendor: User) -> None:
    with_two_step(vendor)
    for forged in ("forged", "x" * 43, hashlib.sha256(b"guess").hexdigest(), "é" * 10):
        client = app.test_client()
        client.set_cookie(BROWSER_COOKIE, forged)
        assert asks_for_the_code(client, vendor)


def test_a_stored_digest_used_as_the_cookie_asks_for_the_code(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    """A copy of the database gives nobody a remembered browser."""
    [browser] = _browsers(vendor)
    client = app.test_client()
    client.set_cookie(BROWSER_COOKIE, browser.token_hash)
    assert asks_for_the_code(client, vendor)


def test_a_locked_account_is_refused_whatever_the_cookie(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    stranger = app.test_client()
    for _ in range(LOCKOUT_THRESHOLD):
        stranger.post("/sign-in", data={"email": vendor.email, "password": "wrong-password-1"})
    assert _reloaded(vendor).locked_until is not None
    answer = password_step(vendor_remembered, vendor)
    assert answer.status_code == 422
    assert vendor_remembered.get("/portal/").status_code == 302  # not signed in


def test_with_remembering_off_the_box_is_not_offered_and_remembered_browsers_ask_again(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    app.config["LICENSING"] = dataclasses.replace(current_config(), two_step_remember_days=0)
    assert asks_for_the_code(vendor_remembered, vendor)
    page = vendor_remembered.get("/sign-in/code").get_data(as_text=True)
    assert "Don&#39;t ask for a code" not in page
    vendor_remembered.post("/sign-in/code", data={"code": code_for(vendor.id), "remember": "y"})
    assert len(_browsers(vendor)) == 1  # only the one from before


def test_the_number_of_days_comes_from_the_configuration() -> None:
    assert Config.from_env({}).two_step_remember_days == 30
    assert Config.from_env({"TWO_STEP_REMEMBER_DAYS": "0"}).two_step_remember_days == 0
    assert Config.from_env({"TWO_STEP_REMEMBER_DAYS": "7"}).two_step_remember_days == 7
    for wrong in ("-1", "366", "a week"):
        with pytest.raises(ConfigError, match="TWO_STEP_REMEMBER_DAYS"):
            Config.from_env({"TWO_STEP_REMEMBER_DAYS": wrong})


# --- what forgets them all ---------------------------------------------------------------


def _forgotten_once(user: User, how_many: int = 1) -> None:
    assert _browsers(user) == []
    [event] = events_of(user, "user.browsers_forgotten")
    assert json.loads(event.before) == {"remembered_browsers": how_many}


def test_the_everyday_sign_out_keeps_the_browser_remembered(
    vendor: User, vendor_remembered: FlaskClient
) -> None:
    assert not asks_for_the_code(vendor_remembered, vendor)
    vendor_remembered.post("/sign-out")
    assert not asks_for_the_code(vendor_remembered, vendor)


def test_signing_out_everywhere_forgets_every_browser(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    second = _another_browser(app, vendor)
    assert not asks_for_the_code(vendor_remembered, vendor)
    answer = vendor_remembered.post("/sign-out", data={"everywhere": "1"})
    assert answer.status_code == 302
    _forgotten_once(vendor, how_many=2)
    assert vendor_remembered.get_cookie(BROWSER_COOKIE) is None
    assert asks_for_the_code(second, vendor)


def test_a_new_password_forgets_every_browser(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    actor = Actor.of(services.principal_for(vendor))
    services.change_password(actor, DEFAULT_PASSWORD, "Another long passphrase 42")
    _forgotten_once(vendor)
    answer = vendor_remembered.post(
        "/sign-in", data={"email": vendor.email, "password": "Another long passphrase 42"}
    )
    assert answer.headers["Location"].endswith("/sign-in/code")


def test_a_new_password_on_the_profile_says_every_remembered_browser_asks_for_the_code_again(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    assert not asks_for_the_code(vendor_remembered, vendor)
    new = "Another long passphrase 42"
    answer = vendor_remembered.post(
        "/account/password",
        data={"current_password": DEFAULT_PASSWORD, "new_password": new, "confirm": new},
        follow_redirects=True,
    )
    page = answer.get_data(as_text=True)
    assert "Your password is changed." in page
    assert "every browser remembered for two-step sign-in, this one too, asks for your code" in page


def test_a_password_reset_forgets_every_browser(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    services.request_password_reset(vendor.email)
    email = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "reset_password"))
        .one()
    )
    link = re.search(r"/reset/(\S+)", email.body_text)
    assert link is not None
    services.reset_password(link.group(1), "Another long passphrase 42")
    _forgotten_once(vendor)


def test_a_password_reset_on_its_page_says_every_browser_asks_for_the_code_again(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    services.request_password_reset(vendor.email)
    reset = select(OutboxMessage).where(OutboxMessage.template == "reset_password")
    link = re.search(r"(/reset/\S+)", db.session().scalars(reset).one().body_text)
    assert link is not None
    new = "Another long passphrase 42"
    answer = vendor_remembered.post(
        link.group(1), data={"password": new, "confirm": new}, follow_redirects=True
    )
    assert answer.request.path == "/sign-in"
    assert "Sign in with it now: every browser, this one too, asks for your code again." in (
        answer.get_data(as_text=True)
    )


def test_turning_two_step_sign_in_off_forgets_every_browser(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    from licensing.accounts.views import two_step_keys

    actor = Actor.of(services.principal_for(vendor))
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        services.turn_off(actor, DEFAULT_PASSWORD, code_for(vendor.id), two_step_keys())
    _forgotten_once(vendor)


def test_the_admins_and_the_commands_turning_it_off_forget_every_browser(
    app: Flask, vendor: User, admin: User, vendor_remembered: FlaskClient
) -> None:
    services.turn_off_two_step_for(Actor.of(services.principal_for(admin)), vendor.id, "Lost phone")
    _forgotten_once(vendor)
    with_two_step(vendor)
    remembered(app.test_client(), vendor)
    result = app.test_cli_runner().invoke(
        args=["users", "two-step-off", vendor.email, "--reason", "Lost phone again"]
    )
    assert result.exit_code == 0, result.output
    assert _browsers(vendor) == []
    assert [json.loads(event.before) for event in events_of(vendor, "user.browsers_forgotten")] == [
        {"remembered_browsers": 1},
        {"remembered_browsers": 1},
    ]


def test_new_recovery_codes_forget_every_browser(
    vendor: User, vendor_remembered: FlaskClient
) -> None:
    services.regenerate_recovery_codes(Actor.of(services.principal_for(vendor)))
    _forgotten_once(vendor)
    assert asks_for_the_code(vendor_remembered, vendor)


def test_a_move_to_another_organization_forgets_every_browser(
    app: Flask, vendor: User, other_vendor: User, admin: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    with_two_step(colleague)
    client = remembered(app.test_client(), colleague)
    services.move_user(
        colleague.id,
        other_vendor.organization_id,
        "Joined Harbor",
        Actor.of(services.principal_for(admin)),
    )
    _forgotten_once(colleague)
    assert asks_for_the_code(client, colleague)


def test_deactivation_forgets_every_browser(
    vendor: User, admin: User, vendor_remembered: FlaskClient
) -> None:
    colleague_admin = Actor.of(services.principal_for(admin))
    services.set_user_active(vendor.id, False, colleague_admin)
    _forgotten_once(vendor)


def test_nothing_to_forget_writes_nothing(app: Flask, vendor: User) -> None:
    with_two_step(vendor)
    services.regenerate_recovery_codes(Actor.of(services.principal_for(vendor)))
    assert events_of(vendor, "user.browsers_forgotten") == []


def test_forgetting_every_browser_leaves_one_past_its_date_to_the_daily_housekeeping(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    """Round 52: with only a browser past its date left, forgetting every browser
    deleted it with no audit event (none was in time to count); the audit watch
    named it. It trusts nothing already: the housekeeping deletes it, exempt."""
    later = utcnow() + timedelta(days=31)
    with time_machine.travel(later, tick=False):
        assert services.forget_all_browsers(Actor.of(services.principal_for(vendor))) == 0
    assert events_of(vendor, "user.browsers_forgotten") == []
    assert len(_browsers(vendor)) == 1
    pruned = app.test_cli_runner().invoke(
        args=["users", "prune-browsers", "--now", later.isoformat()]
    )
    assert "1 remembered browser(s) past their date deleted." in pruned.output
    assert _browsers(vendor) == []


# --- seeing and forgetting -------------------------------------------------------------


def test_the_two_step_page_lists_the_browsers_and_marks_this_one(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    other = _another_browser(app, vendor)
    other.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0"
    assert not asks_for_the_code(vendor_remembered, vendor)
    page = vendor_remembered.get("/account/two-step/").get_data(as_text=True)
    assert "Browsers that do not ask for a code" in page
    assert page.count("Chrome on Linux") >= 2
    assert page.count("(this browser)") == 1
    assert "Forget all" in page
    assert "Sign out everywhere" in page


def _browser_of(client: FlaskClient, user: User) -> RememberedBrowser:
    """The remembered browser whose cookie `client` holds."""
    cookie = client.get_cookie(BROWSER_COOKIE)
    assert cookie is not None
    [browser] = [
        browser
        for browser in _browsers(user)
        if browser.token_hash == two_step.browser_token_hash(cookie.value)
    ]
    return browser


def test_the_two_step_page_says_sign_out_keeps_the_browsers_and_sign_out_everywhere_forgets_them(
    vendor: User, vendor_remembered: FlaskClient
) -> None:
    # The header's Sign out already ends every session: the page must say what the
    # second button adds, or a user takes the everyday one to sign out this computer only.
    assert not asks_for_the_code(vendor_remembered, vendor)
    page = " ".join(vendor_remembered.get("/account/two-step/").get_data(as_text=True).split())
    assert "already ends every session of your account, on every computer, and keeps" in page
    assert "ends every session too and also forgets every browser" in page


def test_forget_ends_one_browser_and_only_its_owner_may(
    app: Flask, vendor: User, other_vendor: User, vendor_remembered: FlaskClient, signed_in: SignIn
) -> None:
    second = _another_browser(app, vendor)
    first = _browser_of(vendor_remembered, vendor)
    stranger = signed_in(app.test_client(), other_vendor)
    refused = stranger.post(f"/account/two-step/browsers/{first.id}/forget")
    assert refused.status_code == 302
    assert len(_browsers(vendor)) == 2
    assert not asks_for_the_code(vendor_remembered, vendor)
    vendor_remembered.post(f"/account/two-step/browsers/{first.id}/forget")
    assert len(_browsers(vendor)) == 1
    assert _browsers(vendor)[0].id != first.id
    assert len(events_of(vendor, "user.browser_forgotten")) == 1
    vendor_remembered.post("/sign-out")
    assert asks_for_the_code(vendor_remembered, vendor)
    assert not asks_for_the_code(second, vendor)


def test_forgetting_the_browser_in_use_drops_its_cookie_too(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    """Round 29: *Forget* on the browser one is using left its cookie, which then
    served nothing; forgetting another browser leaves this one's cookie alone."""
    second = _another_browser(app, vendor)
    this_one = _browser_of(vendor_remembered, vendor)
    [other] = [browser for browser in _browsers(vendor) if browser.id != this_one.id]
    assert not asks_for_the_code(vendor_remembered, vendor)
    vendor_remembered.post(f"/account/two-step/browsers/{other.id}/forget")
    assert vendor_remembered.get_cookie(BROWSER_COOKIE) is not None  # another one forgotten
    vendor_remembered.post(f"/account/two-step/browsers/{this_one.id}/forget")
    assert vendor_remembered.get_cookie(BROWSER_COOKIE) is None
    assert _browsers(vendor) == []
    assert asks_for_the_code(second, vendor)


def test_the_daily_housekeeping_deletes_the_browsers_whose_time_ran_out(
    app: Flask, vendor: User, other_vendor: User, vendor_remembered: FlaskClient
) -> None:
    """Round 29: rows past their date were deleted only when the account remembered
    a new browser; the worker's daily `users prune-browsers` deletes them, once."""
    with_two_step(other_vendor)
    with time_machine.travel(utcnow() + timedelta(days=20), tick=False):
        remembered(app.test_client(), other_vendor)
    later = utcnow() + timedelta(days=31)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["users", "prune-browsers", "--now", later.isoformat()])
    again = runner.invoke(args=["users", "prune-browsers", "--now", later.isoformat()])

    assert first.exit_code == 0, first.output
    assert "1 remembered browser(s) past their date deleted." in first.output
    assert "0 remembered browser(s)" in again.output
    assert _browsers(vendor) == []
    assert len(_browsers(other_vendor)) == 1  # still in time


def test_forget_all_ends_every_browser_and_this_ones_cookie(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    _another_browser(app, vendor)
    assert not asks_for_the_code(vendor_remembered, vendor)
    answer = vendor_remembered.post("/account/two-step/browsers/forget", follow_redirects=True)
    assert "2 browsers are forgotten" in answer.get_data(as_text=True)
    _forgotten_once(vendor, how_many=2)
    assert vendor_remembered.get_cookie(BROWSER_COOKIE) is None


def test_the_consoles_user_page_says_how_many_browsers_are_remembered(
    app: Flask, vendor: User, admin: User, vendor_remembered: FlaskClient, signed_in: SignIn
) -> None:
    console = signed_in(app.test_client(), admin)
    page = console.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert "1 browser remembered" in page


def test_browser_labels_are_short_and_plain() -> None:
    assert two_step.browser_label(CHROME_ON_LINUX) == "Chrome on Linux"
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36 Edg/131.0"
    assert two_step.browser_label(edge) == "Edge on Windows"
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "Version/17.0 Mobile/15E148 Safari/604.1"
    )
    assert two_step.browser_label(iphone) == "Safari on iOS"
    assert two_step.browser_label("") == "A browser"
    assert len(two_step.browser_label("Firefox/1 " + "x" * 500)) <= 60


def test_the_cookie_is_secure_where_the_session_cookie_is(app: Flask, vendor: User) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True
    with_two_step(vendor)
    client = app.test_client()
    password_step(client, vendor)
    done = client.post("/sign-in/code", data={"code": code_for(vendor.id), "remember": "y"})
    [header] = [
        value for value in done.headers.getlist("Set-Cookie") if value.startswith(BROWSER_COOKIE)
    ]
    assert "; Secure" in header


# --- the office forgets them (round 30) -------------------------------------------------


def _emails(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(select(OutboxMessage).where(OutboxMessage.template == template))
    )


def test_an_admin_forgets_a_persons_remembered_browsers_on_the_console_after_confirming(
    app: Flask, vendor: User, admin: User, vendor_remembered: FlaskClient, signed_in: SignIn
) -> None:
    """Round 30: "my laptop was stolen". Only the person (on their two-step page), or
    turning two-step sign-in off or a deactivation, forgot the browsers; the office,
    which showed how many, could do nothing about them."""
    _another_browser(app, vendor)
    assert not asks_for_the_code(vendor_remembered, vendor)  # the laptop, signed in
    assert vendor_remembered.get("/portal/").status_code == 200
    console = signed_in(app.test_client(), admin)
    page = console.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert "Forget their remembered browsers" in page
    path = f"/console/users/{vendor.id}/browsers/forget"

    asked = console.post(path)

    assert asked.status_code == 200
    question = asked.get_data(as_text=True)
    assert "Forget the browsers remembered for" in question
    assert "signed out everywhere" in question
    assert len(_browsers(vendor)) == 2  # nothing yet

    done = console.post(path, data={"confirmed": "yes"}, follow_redirects=True)

    assert done.status_code == 200
    assert f"Forgot 2 remembered browsers of {vendor.email}" in done.get_data(as_text=True)
    _forgotten_once(vendor, how_many=2)
    [event] = events_of(vendor, "user.browsers_forgotten")
    assert event.actor_user_id == admin.id
    assert event.note == "Forgotten by the licensing office; every session of the account ended."
    assert vendor_remembered.get("/portal/").status_code == 302  # its session ended
    assert asks_for_the_code(vendor_remembered, vendor)
    [told] = _emails("browsers_forgotten")
    assert told.to == [vendor.email]
    assert (
        "next sign-in, on every computer and browser, asks for your password and then the code"
        in (told.body_text)
    )
    # Nothing left: the page no longer offers it, and a repeat changes nothing.
    page = console.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert "Forget their remembered browsers" not in page
    again = console.post(path, data={"confirmed": "yes"}, follow_redirects=True)
    assert "No browser is remembered for" in again.get_data(as_text=True)
    assert len(events_of(vendor, "user.browsers_forgotten")) == 1
    assert len(_emails("browsers_forgotten")) == 1


def test_an_admin_signs_out_everywhere_a_person_with_no_browser_remembered(
    app: Flask, vendor: User, admin: User, licensing_staff: User, signed_in: SignIn
) -> None:
    """Round 31 walk: the laptop was stolen open and signed in, but its owner never
    ticked "Don't ask for a code" (or has two-step sign-in off). The page offered
    nothing, since no browser was remembered, and the office's step ended sessions
    only when it forgot one: the laptop stayed signed in."""
    laptop = signed_in(app.test_client(), vendor)
    assert laptop.get("/portal/").status_code == 200
    console = signed_in(app.test_client(), admin)
    page = console.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert "Forget their remembered browsers" not in page
    assert "Sign them out everywhere" in page
    path = f"/console/users/{vendor.id}/sign-out"
    refused = signed_in(app.test_client(), licensing_staff).post(path, data={"confirmed": "yes"})
    assert refused.status_code == 403

    asked = console.post(path)

    question = asked.get_data(as_text=True)
    assert "out everywhere?" in question
    assert "Their API tokens keep working." in question
    # Round 34: the once-in-10-minutes rule, said where the admin decides.
    assert (
        f"They are emailed at {vendor.email} that the office did it, at most once in "
        "10 minutes: signing them out again within them ends the sessions again without "
        "another email." in question
    )
    assert laptop.get("/portal/").status_code == 200  # nothing yet

    done = console.post(path, data={"confirmed": "yes"}, follow_redirects=True)

    assert f"Signed {vendor.email} out everywhere" in done.get_data(as_text=True)
    assert laptop.get("/portal/").status_code == 302
    [event] = events_of(vendor, "user.signed_out")
    assert event.actor_user_id == admin.id
    assert event.note == "Signed out everywhere by the licensing office."
    [told] = _emails("signed_out_by_office")
    assert told.to == [vendor.email]
    assert "signed you out" in told.body_text
    assert "write to the office" in told.body_text


def test_pressing_sign_them_out_everywhere_twice_ends_the_sessions_twice_and_emails_once(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Round 33: each press emailed the person again ("you were signed out everywhere",
    twice in a minute). The second ends the sessions again (a laptop may have signed
    in meanwhile) but does not email, and the flash says so; after ten minutes, it
    emails again."""
    console = signed_in(app.test_client(), admin)
    path = f"/console/users/{vendor.id}/sign-out"
    first = console.post(path, data={"confirmed": "yes"}, follow_redirects=True)
    assert f"they have been emailed at {vendor.email}" in first.get_data(as_text=True)
    laptop = signed_in(app.test_client(), vendor)  # signed in again meanwhile

    second = console.post(path, data={"confirmed": "yes"}, follow_redirects=True)

    page = second.get_data(as_text=True)
    assert "emailed about a sign-out in the last 10 minutes, so not again" in page
    assert laptop.get("/portal/").status_code == 302
    assert len(_emails("signed_out_by_office")) == 1
    first_event, second_event = sorted(
        events_of(vendor, "user.signed_out"), key=lambda event: event.seq
    )
    assert json.loads(first_event.after) == {"sessions": "ended", "emailed": True}
    assert json.loads(second_event.after) == {"sessions": "ended", "emailed": False}
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        console = signed_in(app.test_client(), admin)
        console.post(path, data={"confirmed": "yes"})
    assert len(_emails("signed_out_by_office")) == 2


def _signed_out_answer(vendor: User, *, emailed: bool, forgotten: int = 0) -> dict[str, object]:
    recipients = [
        {"email": vendor.email, "audience": "person", "organization_id": vendor.organization_id}
    ]
    told = (
        f"emailed {vendor.email}"
        if emailed
        else f"emailed nobody: {vendor.email} was emailed about a sign-out in the last 10 minutes"
    )
    return {
        "sessions_ended": True,
        "browsers_forgotten": forgotten,
        "recipients": recipients if emailed else [],
        "summary": f"Signed {vendor.email} out everywhere; {told}.",
    }


def test_an_admin_signs_a_person_out_everywhere_through_the_api(
    app: Flask, vendor: User, admin: User, vendor_remembered: FlaskClient
) -> None:
    """Round 33: the console's *Sign them out everywhere* had no API twin; an HR system
    that handles a stolen laptop had only forget-browsers, which ends nothing when no
    browser is remembered."""
    laptop = vendor_remembered
    assert not asks_for_the_code(laptop, vendor)  # signed in, by the password alone
    assert laptop.get("/portal/").status_code == 200
    hr = factories.bearer(admin)
    path = f"/api/v1/users/{vendor.id}/sign-out"

    answer = app.test_client().post(path, headers=hr)

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body.pop("user")["id"] == vendor.id
    assert body == _signed_out_answer(vendor, emailed=True, forgotten=1)
    assert "emailed" not in body  # `recipients` only (round 33)
    assert laptop.get("/portal/").status_code == 302
    assert _browsers(vendor) == []
    [told] = _emails("signed_out_by_office")
    assert told.to == [vendor.email]
    [event] = events_of(vendor, "user.signed_out")
    assert event.actor_user_id == admin.id

    again = app.test_client().post(path, headers=hr)

    assert again.status_code == 200
    body = again.get_json()
    del body["user"]
    assert body == _signed_out_answer(vendor, emailed=False)
    assert len(_emails("signed_out_by_office")) == 1
    assert len(events_of(vendor, "user.signed_out")) == 2
    missing = app.test_client().post("/api/v1/users/987654/sign-out", headers=hr)
    assert missing.status_code == 404


def _retried_with_its_key(app: Flask, vendor: User, admin: User, step: str) -> dict[str, Any]:
    """The office's `step` on `vendor` sent twice with one `Idempotency-Key`: the retry
    is answered with the first answer, which emailed the person; the key sent for
    another person is a 422. The first answer."""
    hr = {**factories.bearer(admin), "Idempotency-Key": f"{step}-1"}
    path = f"/api/v1/users/{vendor.id}/{step}"
    first = app.test_client().post(path, headers=hr)
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers

    retry = app.test_client().post(path, headers=hr)

    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == first.get_json()
    assert retry.get_json()["recipients"][0]["email"] == vendor.email
    other = app.test_client().post(f"/api/v1/users/{admin.id}/{step}", headers=hr)
    assert other.status_code == 422  # the key, for another person
    answer: dict[str, Any] = first.get_json()
    return answer


def test_a_sign_out_retried_with_its_idempotency_key_gets_the_first_answer(
    app: Flask, vendor: User, admin: User
) -> None:
    _retried_with_its_key(app, vendor, admin, "sign-out")
    assert len(events_of(vendor, "user.signed_out")) == 1  # not carried out again
    assert len(_emails("signed_out_by_office")) == 1


def test_an_admin_signing_themselves_out_through_the_api_is_not_emailed_as_by_the_office(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    """Round 34 walk: the console stopped offering an admin their own sign-out (round 32:
    it emailed them that the office had signed them out "as asked"), but the API still
    did it. Their sessions end; nobody is emailed, and the answer says why."""
    console = signed_in(app.test_client(), admin)
    answer = app.test_client().post(
        f"/api/v1/users/{admin.id}/sign-out", headers=factories.bearer(admin)
    )

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["recipients"] == []
    assert answer.get_json()["summary"] == (
        f"Signed {admin.email} out everywhere; emailed nobody: {admin.email} is your own account."
    )
    assert console.get("/console/").status_code == 302
    assert _emails("signed_out_by_office") == []
    [event] = events_of(admin, "user.signed_out")
    assert json.loads(event.after) == {"sessions": "ended", "emailed": False}


def test_an_admin_forgetting_their_own_browsers_is_not_emailed_as_by_the_office(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    """Round 34 left: the console offers an admin *Forget their remembered browsers* on
    their own page while any is remembered, and it (and the API) emailed them that "the
    office" had forgotten them, as the sign-out did before round 34. Done, nobody
    emailed, and the page, the answer and the audit say so."""
    with_two_step(admin)
    laptop = remembered(app.test_client(), admin)
    console = signed_in(laptop, admin)  # the password alone: remembered
    path = f"/console/users/{admin.id}/browsers/forget"
    assert "Forget their remembered browsers" in console.get(f"/console/users/{admin.id}").text
    asked = console.post(path).get_data(as_text=True)
    assert "You are not emailed: it is your own account." in asked
    assert "They are emailed that the office did it" not in asked

    done = console.post(path, data={"confirmed": "yes"})

    assert done.status_code == 302  # its own session ended with the rest
    assert _browsers(admin) == []
    assert _emails("browsers_forgotten") == []
    [event] = events_of(admin, "user.browsers_forgotten")
    assert json.loads(event.after) == {"remembered_browsers": 0, "emailed": False}

    _another_browser(app, admin)
    answer = app.test_client().post(
        f"/api/v1/users/{admin.id}/forget-browsers", headers=factories.bearer(admin)
    )

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["browsers_forgotten"] == 1
    assert body["emailed"] is None
    assert body["recipients"] == []
    assert body["summary"] == (
        f"Forgot 1 remembered browser of {admin.email}; emailed nobody: "
        f"{admin.email} is your own account."
    )
    assert _emails("browsers_forgotten") == []
    assert len(events_of(admin, "user.browsers_forgotten")) == 2


def test_the_office_forgetting_a_persons_browsers_records_that_it_emailed_them(
    app: Flask, vendor: User, admin: User, vendor_remembered: FlaskClient
) -> None:
    answer = app.test_client().post(
        f"/api/v1/users/{vendor.id}/forget-browsers", headers=factories.bearer(admin)
    )
    assert answer.status_code == 200
    [event] = events_of(vendor, "user.browsers_forgotten")
    assert json.loads(event.after) == {"remembered_browsers": 0, "emailed": True}


def test_a_deactivated_account_is_not_signed_out_or_emailed_by_the_office(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Round 34 left: the API's sign-out accepted a deactivated account, "ended" its
    sessions and emailed it that the office had signed it out. It has none (they ended
    with its deactivation, and it cannot sign in): a 409 saying so, nothing recorded or
    emailed; the console does not offer the button, and a press from a page opened
    before the deactivation is told the same."""
    console = signed_in(app.test_client(), admin)
    assert "Sign them out everywhere" in console.get(f"/console/users/{vendor.id}").text
    services.set_user_active(vendor.id, False, Actor.of(services.principal_for(admin)))

    answer = app.test_client().post(
        f"/api/v1/users/{vendor.id}/sign-out", headers=factories.bearer(admin)
    )

    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["detail"] == (
        f"{vendor.email} is deactivated: the account cannot sign in and has no session to "
        "end, so nothing was done or emailed: its sessions ended, and its remembered "
        "browsers were forgotten, when it was deactivated."
    )
    assert events_of(vendor, "user.signed_out") == []
    assert _emails("signed_out_by_office") == []
    assert "Sign them out everywhere" not in console.get(f"/console/users/{vendor.id}").text
    pressed = console.post(
        f"/console/users/{vendor.id}/sign-out", data={"confirmed": "yes"}, follow_redirects=True
    )
    assert f"{vendor.email} is deactivated: the account cannot sign in" in pressed.text
    assert events_of(vendor, "user.signed_out") == []
    assert _emails("signed_out_by_office") == []


def test_forgetting_a_deactivated_accounts_browsers_is_refused_as_its_sign_out(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    """Round 34 left: forget-browsers on a deactivated account answered 200 "nothing
    changed or emailed" while the sign-out answered 409. Both are a 409 now, saying
    that its deactivation forgot them: nothing recorded or emailed, on the API and
    from a console page opened before the deactivation."""
    console = signed_in(app.test_client(), admin)
    services.set_user_active(vendor.id, False, Actor.of(services.principal_for(admin)))
    forgot_before = len(events_of(vendor, "user.browsers_forgotten"))

    answer = app.test_client().post(
        f"/api/v1/users/{vendor.id}/forget-browsers", headers=factories.bearer(admin)
    )

    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["detail"] == (
        f"{vendor.email} is deactivated: the account cannot sign in and has no browser "
        "remembered, so nothing was done or emailed: its sessions ended, and its "
        "remembered browsers were forgotten, when it was deactivated."
    )
    pressed = console.post(
        f"/console/users/{vendor.id}/browsers/forget",
        data={"confirmed": "yes"},
        follow_redirects=True,
    )
    assert f"{vendor.email} is deactivated: the account cannot sign in" in pressed.text
    assert len(events_of(vendor, "user.browsers_forgotten")) == forgot_before
    assert _emails("browsers_forgotten") == []


def _refused_callers(vendor: User, licensing_staff: User, admin: User) -> dict[str, dict[str, str]]:
    """The callers the office's steps on a person refuse (403): the person's own
    organization's administrator, licensing staff, and an admin's read token."""
    colleague_admin = factories.make_vendor(
        db.session(), organization=vendor.organization, role="administrator"
    )
    _token, read = services.create_api_token(admin.id, "hr", actor=Actor.SYSTEM, scope="read")
    return {
        "the organization's administrator": factories.bearer(colleague_admin),
        "licensing staff": factories.bearer(licensing_staff),
        "an admin's read token": {"Authorization": f"Bearer {read}"},
    }


def test_only_an_admins_write_token_signs_a_person_out_through_the_api(
    app: Flask, vendor: User, licensing_staff: User, admin: User
) -> None:
    callers = _refused_callers(vendor, licensing_staff, admin)
    for caller, headers in callers.items():
        refused = app.test_client().post(f"/api/v1/users/{vendor.id}/sign-out", headers=headers)
        assert refused.status_code == 403, caller
    assert events_of(vendor, "user.signed_out") == []
    assert _emails("signed_out_by_office") == []


def test_an_admin_on_their_own_console_page_is_not_offered_the_offices_sign_out(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    """Round 32 walk: an admin's own console page offered *Sign them out everywhere*,
    which emailed them that the office had signed them out "as asked" and to write
    to the office if they had not asked. Their own *Sign out* ends every session."""
    console = signed_in(app.test_client(), admin)
    page = console.get(f"/console/users/{admin.id}").get_data(as_text=True)
    assert "Sign them out everywhere" not in page
    assert "ends every session of your own account, on every computer" in page


def _tokens_held(client: FlaskClient) -> list[str]:
    cookie = client.get_cookie(BROWSER_COOKIE)
    return cookie.value.split(".") if cookie is not None else []


def test_a_token_forgotten_by_the_office_goes_from_every_browsers_cookie_when_it_is_read(
    app: Flask, vendor: User, other_vendor: User, admin: User, vendor_remembered: FlaskClient
) -> None:
    """Round 33: after the office forgot a person's browsers, a shared computer's
    cookie kept their dead token beside a colleague's live one until it next
    remembered or forgot an account. The sign-in page reads the cookie: there the
    stale token goes, and only it."""
    with_two_step(other_vendor)
    with time_machine.travel(utcnow() + timedelta(minutes=1), tick=False):
        shared = remembered(remembered(app.test_client(), vendor), other_vendor)
    vendors_token, colleagues_token = _tokens_held(shared)
    [laptops_token] = _tokens_held(vendor_remembered)
    hr = factories.bearer(admin)
    forgot = app.test_client().post(f"/api/v1/users/{vendor.id}/forget-browsers", headers=hr)
    assert forgot.get_json()["browsers_forgotten"] == 2
    assert _tokens_held(shared) == [vendors_token, colleagues_token]  # not read yet

    shared.get("/sign-in")
    vendor_remembered.get("/sign-in")

    assert _tokens_held(shared) == [colleagues_token]
    assert vendor_remembered.get_cookie(BROWSER_COOKIE) is None
    assert laptops_token not in _tokens_held(shared)
    assert not asks_for_the_code(shared, other_vendor)  # the colleague's still serves
    shared.post("/sign-out")
    assert asks_for_the_code(shared, vendor)


def test_only_an_admin_forgets_someone_elses_browsers_on_the_console(
    app: Flask,
    vendor: User,
    licensing_staff: User,
    vendor_remembered: FlaskClient,
    signed_in: SignIn,
) -> None:
    staff = signed_in(app.test_client(), licensing_staff)
    refused = staff.post(f"/console/users/{vendor.id}/browsers/forget", data={"confirmed": "yes"})
    assert refused.status_code == 403
    assert len(_browsers(vendor)) == 1


def test_an_admin_forgets_a_persons_browsers_through_the_api(
    app: Flask, vendor: User, admin: User, other_vendor: User, vendor_remembered: FlaskClient
) -> None:
    hr = factories.bearer(admin)
    path = f"/api/v1/users/{vendor.id}/forget-browsers"

    answer = app.test_client().post(path, headers=hr)

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {
        "user": app.test_client().get(f"/api/v1/users/{vendor.id}", headers=hr).get_json(),
        "browsers_forgotten": 1,
        "sessions_ended": True,
        "emailed": vendor.email,
        # Round 31: whom it emailed, as the move's `recipients` say it.
        "recipients": [
            {"email": vendor.email, "audience": "person", "organization_id": vendor.organization_id}
        ],
        "summary": f"Forgot 1 remembered browser of {vendor.email}; emailed {vendor.email}.",
    }
    _forgotten_once(vendor)
    assert asks_for_the_code(vendor_remembered, vendor)
    assert len(_emails("browsers_forgotten")) == 1
    again = app.test_client().post(path, headers=hr)
    assert again.get_json()["browsers_forgotten"] == 0
    assert again.get_json()["emailed"] is None
    assert again.get_json()["recipients"] == []
    assert again.get_json()["summary"] == (
        f"No browser is remembered for {vendor.email}: nothing changed or emailed."
    )
    assert len(_emails("browsers_forgotten")) == 1
    assert (
        app.test_client().post("/api/v1/users/987654/forget-browsers", headers=hr).status_code
        == 404
    )


def test_a_forget_browsers_retried_with_its_idempotency_key_gets_the_first_answer(
    app: Flask, vendor: User, admin: User, vendor_remembered: FlaskClient
) -> None:
    """Round 34: an HR system whose first answer was lost retried, and read "0 browsers
    forgotten, sessions not ended, nobody emailed", as if nothing had been done. With
    its key, the retry is answered with the first answer and nothing is done again."""
    first = _retried_with_its_key(app, vendor, admin, "forget-browsers")
    assert first["browsers_forgotten"] == 1
    assert first["sessions_ended"] is True
    _forgotten_once(vendor)  # audited once
    assert len(_emails("browsers_forgotten")) == 1


def test_a_vendor_administrator_or_other_staff_cannot_forget_a_persons_browsers_through_the_api(
    app: Flask, vendor: User, licensing_staff: User, admin: User, vendor_remembered: FlaskClient
) -> None:
    callers = _refused_callers(vendor, licensing_staff, admin)
    for caller, headers in callers.items():
        refused = app.test_client().post(
            f"/api/v1/users/{vendor.id}/forget-browsers", headers=headers
        )
        assert refused.status_code == 403, caller
    assert len(_browsers(vendor)) == 1


# --- remembering turned off (round 30) ------------------------------------------------------


def _remembering_off(app: Flask) -> None:
    app.config["LICENSING"] = dataclasses.replace(current_config(), two_step_remember_days=0)


def test_with_remembering_off_the_daily_housekeeping_deletes_every_remembered_browser(
    app: Flask, vendor: User, other_vendor: User, vendor_remembered: FlaskClient
) -> None:
    """Round 30: at 0 the rows stayed (in time by their date), listed on the two-step
    page and counted on the console while no sign-in honoured them."""
    with_two_step(other_vendor)
    remembered(app.test_client(), other_vendor)
    _remembering_off(app)

    assert services.remembered_browser_count(db.session(), vendor.id, utcnow(), 0) == 0
    assert asks_for_the_code(vendor_remembered, vendor)
    done = app.test_cli_runner().invoke(args=["users", "prune-browsers"])

    assert done.exit_code == 0, done.output
    assert "2 remembered browser(s) deleted: remembering is off" in done.output
    assert _browsers(vendor) == []
    assert _browsers(other_vendor) == []


def test_the_consoles_user_page_lists_the_remembered_browsers_for_an_admin_on_the_phone(
    app: Flask, vendor: User, admin: User, vendor_remembered: FlaskClient, signed_in: SignIn
) -> None:
    """Round 30 left it: the page counted them only, and an admin on the phone with a
    person whose laptop was stolen could not say "the one last used on Tuesday"."""
    _another_browser(app, vendor)
    used = utcnow() + timedelta(minutes=5)
    with time_machine.travel(used, tick=False):
        assert not asks_for_the_code(vendor_remembered, vendor)
    console = signed_in(app.test_client(), admin)

    page = console.get(f"/console/users/{vendor.id}").get_data(as_text=True)

    assert "2 browsers remembered" in page
    table = page.split('id="remembered-browsers"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table)
    # The latest used first, with when; the other never used since it was remembered.
    assert [row[0] for row in rows] == ["Chrome on Linux", "Chrome on Linux"]
    assert rows[0][2] == calendar.instant_text(used)
    assert rows[1][2] == "Not since"
    assert "Forget</button>" not in table  # read-only: forgetting is the button above


def test_with_remembering_off_the_two_step_page_and_the_console_list_none(
    app: Flask, vendor: User, admin: User, vendor_remembered: FlaskClient, signed_in: SignIn
) -> None:
    _remembering_off(app)
    with time_machine.travel(utcnow() + timedelta(minutes=1), tick=False):
        assert asks_for_the_code(vendor_remembered, vendor)
        signed = vendor_remembered.post("/sign-in/code", data={"code": code_for(vendor.id)})
        assert signed.status_code == 302
        two_step_page = vendor_remembered.get("/account/two-step/").get_data(as_text=True)
    assert "the licensing office has turned remembering browsers off" in two_step_page
    console = signed_in(app.test_client(), admin)
    assert "0 browsers remembered" in console.get(f"/console/users/{vendor.id}").get_data(
        as_text=True
    )


def test_with_remembering_off_signing_in_drops_the_browsers_cookie(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    _remembering_off(app)
    assert asks_for_the_code(vendor_remembered, vendor)
    assert vendor_remembered.get_cookie(BROWSER_COOKIE) is None


def test_a_lowered_setting_lets_the_daily_housekeeping_delete_browsers_remembered_longer_ago(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    app.config["LICENSING"] = dataclasses.replace(current_config(), two_step_remember_days=7)
    later = utcnow() + timedelta(days=8)
    done = app.test_cli_runner().invoke(
        args=["users", "prune-browsers", "--now", later.isoformat()]
    )
    assert "1 remembered browser(s) past their date deleted." in done.output
    assert _browsers(vendor) == []


# --- a shared computer (round 30) -----------------------------------------------------------


def _tokens(client: FlaskClient) -> list[str]:
    cookie = client.get_cookie(BROWSER_COOKIE)
    return cookie.value.split(".") if cookie else []


def test_a_shared_computer_remembers_each_account_signed_in_there(
    app: Flask, vendor: User, other_vendor: User, vendor_remembered: FlaskClient
) -> None:
    """Round 28 left it: one token a browser, so remembering a second account there
    made the first's row useless, and the first was asked for the code again."""
    with_two_step(other_vendor)
    remembered(vendor_remembered, other_vendor)

    assert len(_tokens(vendor_remembered)) == 2
    assert not asks_for_the_code(vendor_remembered, vendor)
    vendor_remembered.post("/sign-out")
    assert not asks_for_the_code(vendor_remembered, other_vendor)
    assert len(_browsers(vendor)) == 1
    assert len(_browsers(other_vendor)) == 1


def test_an_account_remembered_again_on_the_same_browser_replaces_its_earlier_row(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    """Asked for the code again there (the office lowered the setting), and ticking
    the box again: one row for the browser, not a second beside the first."""
    [before] = _browsers(vendor)
    app.config["LICENSING"] = dataclasses.replace(current_config(), two_step_remember_days=7)
    with time_machine.travel(utcnow() + timedelta(days=8), tick=False):
        remembered(vendor_remembered, vendor)
    [after] = _browsers(vendor)
    assert after.token_hash != before.token_hash
    assert len(_tokens(vendor_remembered)) == 1


def test_forgetting_on_a_shared_computer_keeps_the_other_accounts_remembered(
    app: Flask, vendor: User, other_vendor: User, vendor_remembered: FlaskClient
) -> None:
    with_two_step(other_vendor)
    remembered(vendor_remembered, other_vendor)
    assert not asks_for_the_code(vendor_remembered, vendor)

    vendor_remembered.post("/account/two-step/browsers/forget")

    assert _browsers(vendor) == []
    assert len(_tokens(vendor_remembered)) == 1
    vendor_remembered.post("/sign-out")
    assert asks_for_the_code(vendor_remembered, vendor)
    assert not asks_for_the_code(vendor_remembered, other_vendor)
    page = vendor_remembered.get("/account/two-step/").get_data(as_text=True)
    assert "(this browser)" in page
    # Signing out everywhere there forgets this account's only, too.
    vendor_remembered.post("/sign-out", data={"everywhere": "1"})
    assert _browsers(other_vendor) == []
    assert vendor_remembered.get_cookie(BROWSER_COOKIE) is None


def test_a_browser_holds_at_most_five_accounts_the_oldest_dropped(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    session = db.session()
    start = utcnow()
    for minutes in range(2, 2 * services.ACCOUNTS_PER_BROWSER + 2, 2):
        colleague = factories.make_vendor(session, organization=vendor.organization)
        with_two_step(colleague)
        # A couple of minutes apart: sign-in attempts from one address are rate-limited.
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            remembered(vendor_remembered, colleague)

    assert len(_tokens(vendor_remembered)) == services.ACCOUNTS_PER_BROWSER
    assert asks_for_the_code(vendor_remembered, vendor)
    assert len(_browsers(vendor)) == 1  # unused until its date or a Forget


def test_a_front_desk_computer_with_three_accounts_reads_right_for_each_through_a_day(
    app: Flask, vendor: User, vendor_remembered: FlaskClient
) -> None:
    """Round 31 walk: three colleagues remembered on one front-desk computer. Each
    signs in there with the password alone, and their two-step page lists their own
    browsers, the front desk marked *(this browser)*; one forgets the front desk
    from their own laptop, another signs out everywhere there; the rest stay."""
    desk = vendor_remembered
    session = db.session()
    start = utcnow()
    ben = factories.make_vendor(session, organization=vendor.organization, full_name="Ben")
    cleo = factories.make_vendor(session, organization=vendor.organization, full_name="Cleo")
    for minutes, colleague in ((2, ben), (4, cleo)):
        with_two_step(colleague)
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            remembered(desk, colleague)
    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        bens_laptop = remembered(app.test_client(), ben)
    assert len(_tokens(desk)) == 3

    def two_step_page_at(minutes: int, user: User) -> str:
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert not asks_for_the_code(desk, user), user.full_name
            page = desk.get("/account/two-step/").get_data(as_text=True)
            desk.post("/sign-out")
        return page

    for minutes, user, rows in ((8, vendor, 1), (10, ben, 2), (12, cleo, 1)):
        page = two_step_page_at(minutes, user)
        assert page.count("(this browser)") == 1, user.full_name
        assert page.count('aria-label="Forget Chrome on Linux') == rows, user.full_name

    # Ben forgets the front desk from his laptop: only his token there serves nothing.
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert not asks_for_the_code(bens_laptop, ben)
        desks_row = next(b for b in _browsers(ben) if b.id != _browser_of(bens_laptop, ben).id)
        assert bens_laptop.post(f"/account/two-step/browsers/{desks_row.id}/forget").status_code
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert asks_for_the_code(desk, ben)
        desk.post("/sign-in/code", data={"code": code_for(ben.id)})
        bens_page = desk.get("/account/two-step/").get_data(as_text=True)
        desk.post("/sign-out")
    assert "(this browser)" not in bens_page  # his laptop is listed, unmarked
    assert bens_page.count('aria-label="Forget Chrome on Linux') == 1
    # His token stays in the desk's cookie, serving nothing, until the desk remembers
    # or forgets anyone (each keeps only the tokens still trusted).
    with time_machine.travel(start + timedelta(minutes=17), tick=False):
        assert not asks_for_the_code(desk, cleo)
        desk.post("/sign-out")

    # Cleo signs out everywhere at the desk: hers go, the first account's stays.
    with time_machine.travel(start + timedelta(minutes=18), tick=False):
        assert not asks_for_the_code(desk, cleo)
        desk.post("/sign-out", data={"everywhere": "1"})
        assert asks_for_the_code(desk, cleo)
    assert _browsers(cleo) == []
    page = two_step_page_at(20, vendor)
    assert page.count("(this browser)") == 1
