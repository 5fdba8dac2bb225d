"""The office and a person's passkeys (round 45): an admin removes one or all (a
lost or stolen device), on the console or the command line; the office's recovery
steps that remove them too (two-step sign-in turned off, a deactivation) and those
that keep them (a password reset); and the sessions resting on a removed passkey.
Real ceremonies, as in `test_accounts_passkeys.py`."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.db import utcnow
from tests.support.pages import confirmation_carried
from tests.support.passkey_records import (
    emails_to,
    passkey_id,
    passkey_names,
    still_signed_in,
)
from tests.support.passkeys import add_passkey, authenticator, sign_in_with_passkey
from tests.support.two_step import events_of, turn_on

SignIn = Callable[..., FlaskClient]


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_an_admin_removes_one_of_a_persons_passkeys_with_a_reason_audited_and_emailed(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    phone, laptop = authenticator(), authenticator()
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, phone, "Phone").status_code == 302
    assert add_passkey(owner, laptop, "Laptop").status_code == 302
    by_laptop = app.test_client()
    assert sign_in_with_passkey(by_laptop, laptop).status_code == 302
    office = signed_in(app.test_client(), admin)
    page = _page(office.get(f"/console/users/{vendor.id}"))
    assert '<h2 id="passkeys">Passkeys</h2>' in page
    assert '<option value="all">All of them</option>' in page
    assert "Every session of " + vendor.email + " ends" in page

    url = f"/console/users/{vendor.id}/passkeys/remove"
    form = {"passkey": str(passkey_id(vendor, "Phone")), "reason": "Phone stolen; called back"}
    # Round 55: asked first, as an organization's administrator is; nothing removed yet.
    asked = office.post(url, data=form)
    assert asked.status_code == 200
    question = " ".join(_page(asked).split())
    assert f"Remove {vendor.full_name}'s passkeys?" in question
    assert f"The passkey Phone no longer signs {vendor.full_name} ({vendor.email}) in" in question
    assert "“Phone stolen; called back”" in question
    assert passkey_names(vendor) == ["Phone", "Laptop"]
    done = office.post(
        url, data={**form, "confirmed": "yes", "confirmation": confirmation_carried(asked)}
    )

    assert done.status_code == 302, _page(done)[:3000]
    assert passkey_names(vendor) == ["Laptop"]
    shown = _page(office.get(f"/console/users/{vendor.id}"))
    assert f"Removed the passkey Phone of {vendor.email} and signed them out everywhere" in shown
    (event,) = events_of(vendor, "user.passkey_removed")
    assert json.loads(event.before) == {"passkeys": ["Phone"]}
    assert json.loads(event.after) == {"passkeys": 1, "emailed": True}
    assert event.note == "Phone stolen; called back"
    assert event.actor_user_id == admin.id
    (email,) = emails_to(vendor, "passkeys_removed_by_office")
    assert 'The licensing office removed the passkey named "Phone"' in email.body_text
    assert "Reason given: Phone stolen; called back" in email.body_text
    assert "If you did not ask the licensing office for this" in email.body_text
    # Every session ends (the device may be signed in, either way) ...
    assert not still_signed_in(owner)
    assert not still_signed_in(by_laptop)
    # ... and the removed passkey signs in nowhere; the other still does.
    refused = sign_in_with_passkey(app.test_client(), phone)
    assert "That passkey is not one this service knows" in _page(refused)
    assert sign_in_with_passkey(app.test_client(), laptop).status_code == 302


def test_an_admin_removes_all_of_them_and_a_reason_is_asked_first(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    assert add_passkey(owner, authenticator(), "Laptop").status_code == 302
    office = signed_in(app.test_client(), admin)

    no_reason = office.post(
        f"/console/users/{vendor.id}/passkeys/remove", data={"passkey": "all", "reason": "  "}
    )
    assert no_reason.status_code == 422
    assert "Say why" in _page(no_reason) or "This field is required" in _page(no_reason)
    assert passkey_names(vendor) == ["Phone", "Laptop"]
    not_theirs = office.post(
        f"/console/users/{vendor.id}/passkeys/remove", data={"passkey": "999999", "reason": "x"}
    )
    assert not_theirs.status_code == 302
    assert passkey_names(vendor) == ["Phone", "Laptop"]

    url = f"/console/users/{vendor.id}/passkeys/remove"
    form = {"passkey": "all", "reason": "Bag with phone and laptop lost"}
    asked = office.post(url, data=form)
    assert "All 2 of their passkeys (Phone, Laptop) no longer sign" in _page(asked)
    done = office.post(
        url, data={**form, "confirmed": "yes", "confirmation": confirmation_carried(asked)}
    )

    assert done.status_code == 302
    assert passkey_names(vendor) == []
    (event,) = events_of(vendor, "user.passkey_removed")
    assert json.loads(event.before) == {"passkeys": ["Phone", "Laptop"]}
    (email,) = emails_to(vendor, "passkeys_removed_by_office")
    assert '2 passkeys ("Phone", "Laptop")' in email.body_text
    page = _page(office.get(f"/console/users/{vendor.id}"))
    assert 'id="passkeys"' not in page  # none left: nothing offered
    again = office.post(
        f"/console/users/{vendor.id}/passkeys/remove", data={"passkey": "all", "reason": "again"}
    )
    assert again.status_code == 302
    assert "has no passkey: nothing was removed" in _page(office.get(f"/console/users/{vendor.id}"))
    assert len(emails_to(vendor, "passkeys_removed_by_office")) == 1


def test_only_an_admin_removes_someone_elses_passkeys(
    app: Flask, vendor: User, licensing_staff: User, signed_in: SignIn
) -> None:
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    staff = signed_in(app.test_client(), licensing_staff)
    refused = staff.post(
        f"/console/users/{vendor.id}/passkeys/remove", data={"passkey": "all", "reason": "asked"}
    )
    assert refused.status_code == 403
    # A vendor organization's administrator has no such step either (the office's).
    own = owner.post(
        f"/console/users/{vendor.id}/passkeys/remove", data={"passkey": "all", "reason": "asked"}
    )
    assert own.status_code == 403
    assert passkey_names(vendor) == ["Phone"]


def test_a_session_signed_in_with_a_passkey_its_owner_removed_elsewhere_ends(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    laptop = authenticator()
    by_password = signed_in(app.test_client(), vendor)
    assert add_passkey(by_password, laptop, "Laptop").status_code == 302
    assert add_passkey(by_password, authenticator(), "Phone").status_code == 302
    lost_laptop = app.test_client()
    assert sign_in_with_passkey(lost_laptop, laptop).status_code == 302
    assert still_signed_in(lost_laptop)
    other_laptop_session = app.test_client()
    assert sign_in_with_passkey(other_laptop_session, laptop).status_code == 302

    # The owner removes the laptop's passkey from another computer.
    removed = by_password.post(f"/account/passkeys/{passkey_id(vendor, 'Laptop')}/remove")

    assert removed.status_code == 302
    assert not still_signed_in(lost_laptop)
    assert not still_signed_in(other_laptop_session)
    assert still_signed_in(by_password)  # a password session, and the one acting


def test_removing_the_passkey_this_session_signed_in_with_keeps_this_session(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device, "Phone").status_code == 302
    browser = app.test_client()
    assert sign_in_with_passkey(browser, device).status_code == 302

    removed = browser.post(f"/account/passkeys/{passkey_id(vendor, 'Phone')}/remove")

    assert removed.status_code == 302
    assert "Passkey Phone removed" in _page(browser.get("/account/two-step/"))
    assert still_signed_in(browser)


def test_the_office_turning_two_step_off_for_a_lost_phone_removes_every_passkey_and_says_so_first(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    phone = authenticator()
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, phone, "Phone").status_code == 302
    assert add_passkey(owner, authenticator(), "Laptop").status_code == 302
    turn_on(vendor)
    on_the_phone = app.test_client()
    assert sign_in_with_passkey(on_the_phone, phone).status_code == 302
    office = signed_in(app.test_client(), admin)
    page = _page(office.get(f"/console/users/{vendor.id}"))
    assert (
        "Turning it off here also removes all 2 of their passkeys (Phone, Laptop): a lost "
        "phone may carry one." in page
    )

    done = office.post(
        f"/console/users/{vendor.id}/two-step/off", data={"reason": "Lost phone; called back"}
    )

    assert done.status_code == 302
    assert passkey_names(vendor) == []
    assert (
        f"Two-step sign-in is off for {vendor.email}, their 2 passkeys are removed, and they "
        "have been emailed" in _page(office.get(f"/console/users/{vendor.id}"))
    )
    (event,) = events_of(vendor, "user.passkey_removed")
    assert json.loads(event.before) == {"passkeys": ["Phone", "Laptop"]}
    assert event.note == "Two-step sign-in was turned off: Lost phone; called back"
    email = emails_to(vendor, "two_step_disabled")[-1]
    assert 'Your passkeys ("Phone", "Laptop") were removed too' in email.body_text
    assert not still_signed_in(on_the_phone)  # the session rested on the phone's passkey


def test_the_owner_turning_two_step_off_keeps_their_passkeys(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    from tests.support.factories import DEFAULT_PASSWORD

    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    codes = turn_on(vendor)
    off = owner.post("/account/two-step/off", data={"password": DEFAULT_PASSWORD, "code": codes[0]})
    assert off.status_code == 302
    assert passkey_names(vendor) == ["Phone"]
    assert events_of(vendor, "user.passkey_removed") == []


def test_an_operator_removes_passkeys_from_the_command_line(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    owner = signed_in(app.test_client(), admin)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    assert add_passkey(owner, authenticator(), "Laptop").status_code == 302
    runner = app.test_cli_runner()

    one = runner.invoke(
        args=["users", "remove-passkeys", admin.email.upper(), "--name", "Phone", "--reason", "x y"]
    )

    assert one.exit_code == 0, one.output
    assert "Removed 1 passkey (Phone)" in one.output
    assert passkey_names(admin) == ["Laptop"]
    (event,) = events_of(admin, "user.passkey_removed")
    assert event.actor == "system"
    assert event.note is not None
    assert event.note.startswith("x y (licensing users remove-passkeys")
    unknown = runner.invoke(
        args=["users", "remove-passkeys", admin.email, "--name", "Tablet", "--reason", "z"]
    )
    assert unknown.exit_code == 1
    assert "has no passkey named Tablet" in unknown.output
    rest = runner.invoke(args=["users", "remove-passkeys", admin.email, "--reason", "all"])
    assert rest.exit_code == 0, rest.output
    assert passkey_names(admin) == []
    none = runner.invoke(args=["users", "remove-passkeys", admin.email, "--reason", "again"])
    assert none.exit_code == 1
    assert "has no passkey" in none.output
    assert not still_signed_in(owner)


def test_the_command_line_two_step_off_removes_passkeys_too(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    owner = signed_in(app.test_client(), admin)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    turn_on(admin)
    result = app.test_cli_runner().invoke(
        args=["users", "two-step-off", admin.email, "--reason", "Only admin lost phone"]
    )
    assert result.exit_code == 0, result.output
    assert "any passkey of theirs is removed" in result.output
    assert passkey_names(admin) == []


def test_a_deactivation_removes_passkeys_for_good(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device, "Phone").status_code == 302
    office = signed_in(app.test_client(), admin)
    assert (
        office.post(
            f"/console/users/{vendor.id}/active", data={"active": "false", "confirmed": "yes"}
        ).status_code
        == 302
    )
    assert passkey_names(vendor) == []
    (event,) = events_of(vendor, "user.passkey_removed")
    assert event.note == "The account was deactivated."
    office.post(f"/console/users/{vendor.id}/active", data={"active": "true"})
    refused = sign_in_with_passkey(app.test_client(), device)
    assert "That passkey is not one this service knows" in _page(refused)


def test_a_password_reset_keeps_the_passkeys(app: Flask, vendor: User, signed_in: SignIn) -> None:
    from licensing.accounts import services

    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device, "Phone").status_code == 302
    services.request_password_reset(vendor.email)
    (message,) = emails_to(vendor, "reset_password")
    link = next(word for word in message.body_text.split() if "/reset/" in word)
    token = link.rsplit("/reset/", 1)[1]
    services.reset_password(token, "A new long passphrase 42")
    assert passkey_names(vendor) == ["Phone"]
    assert sign_in_with_passkey(app.test_client(), device).status_code == 302


def test_the_reset_email_says_passkeys_still_sign_in_only_to_someone_who_has_one(
    app: Flask, vendor: User, other_vendor: User, signed_in: SignIn
) -> None:
    """Round 47: a reset keeps passkeys (above), and its email said nothing of them:
    whoever resets because of a lost device read nothing of the device's passkey."""
    from licensing.accounts import services

    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, authenticator(), "Phone").status_code == 302
    assert add_passkey(owner, authenticator(), "Laptop").status_code == 302
    # As a request's fresh session: the count is read with the user, not kept from
    # the fixture's loading of it.
    db.session().expire_all()

    services.request_password_reset(vendor.email)
    services.request_password_reset(other_vendor.email)

    (with_passkeys,) = emails_to(vendor, "reset_password")
    text = " ".join(with_passkeys.body_text.split())
    assert (
        "Your 2 passkeys still sign you in after a reset, whatever the new password: if you "
        "are resetting it because you lost a device that carries one, sign in and remove "
        "that passkey on your two-step sign-in page:" in text
    )
    assert "/account/two-step/" in text
    (without,) = emails_to(other_vendor, "reset_password")
    assert "passkey" not in without.body_text
    assert "\n\n\n" not in without.body_text  # no empty paragraph where it would stand


def _as_before_round_45(browser: FlaskClient) -> None:
    """The browser's session as a passkey sign-in before round 45 left it: `True`
    where it now keeps which passkey."""
    with browser.session_transaction() as kept:
        assert isinstance(kept["passkey_shown"], int)
        kept["passkey_shown"] = True


def test_a_passkey_session_from_before_round_45_ends_once_any_of_the_persons_is_removed(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Round 47: such a session does not say which passkey it rests on, so removing the
    laptop's passkey left the stolen laptop signed in. It now ends once any passkey of
    the person is removed after it signed in; removals before it do not end it."""
    laptop, phone = authenticator(), authenticator()
    owner = signed_in(app.test_client(), vendor)
    assert add_passkey(owner, authenticator(), "Old tablet").status_code == 302
    assert add_passkey(owner, laptop, "Laptop").status_code == 302
    assert add_passkey(owner, phone, "Phone").status_code == 302
    by_password = signed_in(app.test_client(), vendor)
    # Removed before the old session signed in: not the one it rests on.
    assert by_password.post(f"/account/passkeys/{passkey_id(vendor, 'Old tablet')}/remove")
    with time_machine.travel(utcnow() + timedelta(seconds=5), tick=True):
        stolen_laptop = app.test_client()
        assert sign_in_with_passkey(stolen_laptop, laptop).status_code == 302
        _as_before_round_45(stolen_laptop)
        assert still_signed_in(stolen_laptop)
        assert still_signed_in(stolen_laptop)  # a request later, nothing removed: still on

        removed = by_password.post(f"/account/passkeys/{passkey_id(vendor, 'Laptop')}/remove")

        assert removed.status_code == 302
        assert not still_signed_in(stolen_laptop)
        assert still_signed_in(by_password)  # a password session, and the one acting
        # A new passkey sign-in keeps which passkey: another's removal leaves it be.
        on_the_phone = app.test_client()
        assert sign_in_with_passkey(on_the_phone, phone).status_code == 302
        assert add_passkey(by_password, authenticator(), "Spare").status_code == 302
        assert by_password.post(f"/account/passkeys/{passkey_id(vendor, 'Spare')}/remove")
        assert still_signed_in(on_the_phone)


def test_an_old_passkey_session_ends_when_its_passkey_goes_with_the_account_too(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Any removal counts, the owner's on another device or their administrator's on the
    Organization page (round 47); the session removing its own passkey from here stays
    (`test_removing_the_passkey_this_session_signed_in_with_keeps_this_session`)."""
    from tests.support import factories

    member = factories.make_vendor(db.session(), vendor.organization)
    laptop = authenticator()
    assert add_passkey(signed_in(app.test_client(), member), laptop, "Laptop").status_code == 302
    stolen_laptop = app.test_client()
    assert sign_in_with_passkey(stolen_laptop, laptop).status_code == 302
    _as_before_round_45(stolen_laptop)
    administrator = signed_in(app.test_client(), vendor)

    url = f"/organization/members/{member.id}/passkeys/remove"
    form = {"passkey": "all", "reason": "Laptop stolen"}
    # Round 54: the passkeys the confirmation named (round 55: signed).
    shown = confirmation_carried(administrator.post(url, data=form))
    done = administrator.post(url, data={**form, "confirmed": "yes", "confirmation": shown})

    assert done.status_code == 302
    assert passkey_names(member) == []
    assert not still_signed_in(stolen_laptop)
