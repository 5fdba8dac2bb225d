"""Two-step sign-in: set up with an authenticator app, the second step of signing
in, recovery codes, turning it off, and what it must not change (the lockout,
the answers of the first step, password resets, API tokens)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

import pyotp
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import access, db
from licensing.accounts import services, two_step
from licensing.accounts.models import RecoveryCode, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.two_step import (
    code_for,
    events_of,
    password_step,
    recovery_codes_shown,
    secret_of,
    secret_shown,
    set_up,
    sign_in_with_code,
    turn_on,
)

SignIn = Callable[..., FlaskClient]


def _emails(user: User, template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage).where(
                OutboxMessage.template == template, OutboxMessage.recipients.contains(user.email)
            )
        )
    )


def _with_two_step(app: Flask, user: User, signed_in: SignIn) -> list[str]:
    """`user` has two-step sign-in on (set up through the pages a few minutes ago,
    so that the code used then is not the one now), signed out; the recovery codes."""
    with time_machine.travel(utcnow() - timedelta(minutes=3), tick=False):
        client = signed_in(app.test_client(), user)
        codes = set_up(client, user)
        client.post("/sign-out")
    return codes


def _reloaded(user: User) -> User:
    found = db.session().get(User, user.id, populate_existing=True)
    assert found is not None
    return found


# --- set up ----------------------------------------------------------------------------


def test_set_up_shows_a_qr_code_drawn_here_and_the_secret_in_groups(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    page = client.get("/account/two-step/").get_data(as_text=True)
    secret = secret_shown(page)
    assert len(secret) == 32  # 160 bits, base32
    assert '<svg role="img" aria-label="QR code for your authenticator app"' in page
    assert two_step.secret_in_groups(secret) in page
    assert "<img" not in page.split("<main", 1)[-1]  # nothing fetched for the code
    # Showing the page stores nothing: not until a code confirms it.
    assert _reloaded(vendor).two_step_nonce is None
    assert (
        client.get("/account/two-step/")
        .get_data(as_text=True)
        .count(two_step.secret_in_groups(secret))
        == 1
    )  # the same key on reloading the page


def test_a_first_code_turns_it_on_and_shows_ten_recovery_codes_once(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    codes = set_up(client, vendor)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert _reloaded(vendor).two_step_enabled
    stored = db.session().scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == vendor.id)
    )
    assert sorted(stored) == sorted(two_step.recovery_code_hash(code) for code in codes)
    again = client.get("/account/two-step/").get_data(as_text=True)
    assert not any(code in again for code in codes)
    assert "Unused recovery codes: 10" in again
    assert len(events_of(vendor, "user.two_step_enabled")) == 1
    assert len(_emails(vendor, "two_step_enabled")) == 1


def test_the_recovery_codes_download_as_text(app: Flask, vendor: User, signed_in: SignIn) -> None:
    client = signed_in(app.test_client(), vendor)
    set_up_page = client.get("/account/two-step/").get_data(as_text=True)
    code = pyotp.TOTP(secret_shown(set_up_page)).now()
    text = client.post("/account/two-step/confirm", data={"code": code}).get_data(as_text=True)
    assert 'download="cpt-licensing-recovery-codes.txt"' in text
    assert "data:text/plain;charset=utf-8," in text
    # The file names the account it is for: two accounts, two files.
    assert quote(f"CPT Licensing recovery codes for {vendor.email}, made ") in text


def test_a_wrong_first_code_leaves_it_off(app: Flask, vendor: User, signed_in: SignIn) -> None:
    client = signed_in(app.test_client(), vendor)
    client.get("/account/two-step/")
    wrong = client.post("/account/two-step/confirm", data={"code": "000000"})
    assert wrong.status_code == 422
    assert "does not match" in wrong.get_data(as_text=True)
    assert not _reloaded(vendor).two_step_enabled


def test_set_up_needs_the_password_given_in_the_last_ten_minutes(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        page = client.get("/account/two-step/").get_data(as_text=True)
        assert "<svg" not in page
        assert "Enter your password first" in page
        refused = client.post("/account/two-step/confirm", data={"code": "123456"})
        assert refused.status_code == 302
        wrong = client.post("/account/two-step/password", data={"password": "not it at all"})
        assert wrong.status_code == 422
        assert _reloaded(vendor).failed_login_count == 1  # counts towards the lockout
        client.post("/account/two-step/password", data={"password": DEFAULT_PASSWORD})
        assert "<svg" in client.get("/account/two-step/").get_data(as_text=True)


def test_a_copy_of_the_database_does_not_give_the_secret_away(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    set_up(client, vendor)
    secret = secret_of(vendor.id)
    user = _reloaded(vendor)
    row = db.session().execute(select(User.__table__).where(User.id == vendor.id)).one()
    assert secret not in " ".join(str(value) for value in row)
    # The nonce with another key gives another secret: the key is needed.
    assert two_step.secret_for(b"a guessed key", user.id, user.two_step_nonce or "") != secret


# --- signing in ---------------------------------------------------------------------------


def test_signing_in_asks_for_a_code_before_any_session_exists(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    first = password_step(client, vendor)
    assert first.headers["Location"].endswith("/sign-in/code")
    assert "/sign-in" in client.get("/portal/").headers["Location"]  # no session yet
    assert "Enter your code" in client.get("/sign-in/code").get_data(as_text=True)
    done = client.post("/sign-in/code", data={"code": code_for(vendor.id)})
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/portal/")
    assert client.get("/portal/").status_code == 200


def test_the_first_step_answers_a_wrong_password_as_it_does_without_two_step(
    app: Flask, vendor: User, other_vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    with_two_step = app.test_client().post(
        "/sign-in", data={"email": vendor.email, "password": "wrong password here"}
    )
    without = app.test_client().post(
        "/sign-in", data={"email": other_vendor.email, "password": "wrong password here"}
    )
    unknown = app.test_client().post(
        "/sign-in", data={"email": "nobody@nowhere.example", "password": "wrong password here"}
    )
    assert with_two_step.status_code == without.status_code == unknown.status_code == 422
    assert services.SIGN_IN_REFUSED in with_two_step.get_data(as_text=True)


def test_a_code_is_accepted_once(app: Flask, vendor: User, signed_in: SignIn) -> None:
    _with_two_step(app, vendor, signed_in)
    with time_machine.travel(utcnow() + timedelta(minutes=1), tick=False):
        code = code_for(vendor.id)
        first = app.test_client()
        assert sign_in_with_code(first, vendor, code).status_code == 302
        replayed = sign_in_with_code(app.test_client(), vendor, code)
        assert replayed.status_code == 422
        assert services.CODE_REFUSED in replayed.get_data(as_text=True)
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        assert sign_in_with_code(app.test_client(), vendor).status_code == 302


def test_wrong_codes_count_towards_the_lockout(app: Flask, vendor: User, signed_in: SignIn) -> None:
    _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    password_step(client, vendor)
    for _ in range(services.LOCKOUT_THRESHOLD):
        assert client.post("/sign-in/code", data={"code": "000000"}).status_code == 422
    user = _reloaded(vendor)
    assert user.locked_until is not None
    (locked,) = _emails(vendor, "account_locked")
    # The password was right: "your password held" would tell its owner to relax.
    assert "someone knows your password" in locked.body_text
    assert "your password held" not in locked.body_text
    (event,) = events_of(vendor, "user.locked")
    assert event.note is not None
    assert event.note.endswith("the last a wrong two-step code after the right password")
    # Locked: the right password is answered as a wrong one, a right code refused.
    again = app.test_client()
    assert password_step(again, vendor).status_code == 422


def test_a_lock_by_wrong_passwords_after_wrong_codes_does_not_say_the_password_held(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    password_step(client, vendor)
    client.post("/sign-in/code", data={"code": "000000"})
    for _ in range(services.LOCKOUT_THRESHOLD - 1):
        password_step(app.test_client(), vendor, "not the password at all")

    (locked,) = _emails(vendor, "account_locked")
    assert "your password held" not in locked.body_text
    assert "wrong codes typed after your right password count too" in locked.body_text


def test_a_right_password_does_not_reset_the_count_of_wrong_codes(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    for _ in range(services.LOCKOUT_THRESHOLD - 1):
        client = app.test_client()
        password_step(client, vendor)
        client.post("/sign-in/code", data={"code": "000000"})
    assert _reloaded(vendor).failed_login_count == services.LOCKOUT_THRESHOLD - 1
    client = app.test_client()
    password_step(client, vendor)
    client.post("/sign-in/code", data={"code": "000000"})
    assert _reloaded(vendor).locked_until is not None


def test_the_step_that_asks_for_the_code_lasts_five_minutes(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    password_step(client, vendor)
    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
        late = client.post("/sign-in/code", data={"code": code_for(vendor.id)})
        assert late.status_code == 302
        assert late.headers["Location"].endswith("/sign-in")
        assert "/sign-in" in client.get("/portal/").headers["Location"]


def test_the_step_belongs_to_the_browser_that_gave_the_password(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    password_step(app.test_client(), vendor)
    elsewhere = app.test_client().post("/sign-in/code", data={"code": code_for(vendor.id)})
    assert elsewhere.status_code == 302
    assert elsewhere.headers["Location"].endswith("/sign-in")


def test_a_sign_out_everywhere_ends_a_pending_step(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    password_step(client, vendor)
    services.sign_out(vendor.id)
    ended = client.post("/sign-in/code", data={"code": code_for(vendor.id)})
    assert ended.headers["Location"].endswith("/sign-in")
    # Not only "it lasts 5 minutes", which had not passed.
    told = client.get("/sign-in").get_data(as_text=True)
    assert "ends at once when the account is signed out everywhere" in told


def test_a_password_reset_does_not_skip_the_second_step(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    services.request_password_reset(vendor.email)
    link = re.search(r"/reset/(\S+)", _emails(vendor, "reset_password")[-1].body_text)
    assert link is not None
    services.reset_password(link.group(1), "a brand new passphrase")
    client = app.test_client()
    first = password_step(client, vendor, "a brand new passphrase")
    assert first.headers["Location"].endswith("/sign-in/code")
    assert "/sign-in" in client.get("/portal/").headers["Location"]


def test_a_welcome_link_does_not_skip_the_second_step(app: Flask, admin: User) -> None:
    staff = services.create_staff_user(
        email="new.officer@licensing-office.example",
        roles=("licensing",),
        full_name="Noor Officer",
        actor=Actor.of(services.principal_for(admin)),
    )
    turn_on(staff)
    welcome = _emails(staff, "staff_welcome")[-1].body_text
    # Not required of staff here (tests, development): the email says nothing of it.
    assert "two-step sign-in" not in welcome
    link = re.search(r"/reset/(\S+)", welcome)
    assert link is not None
    client = app.test_client()
    chosen = client.post(
        f"/reset/{link.group(1)}",
        data={"password": "a brand new passphrase", "confirm": "a brand new passphrase"},
    )
    assert chosen.headers["Location"].endswith("/sign-in")
    assert "/sign-in" in client.get("/console/").headers["Location"]


# --- recovery codes -------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once_and_its_owner_is_told(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    codes = _with_two_step(app, vendor, signed_in)
    assert sign_in_with_code(app.test_client(), vendor, codes[3].lower()).status_code == 302
    assert sign_in_with_code(app.test_client(), vendor, codes[3]).status_code == 422
    assert len(events_of(vendor, "user.recovery_code_used")) == 1
    email = _emails(vendor, "recovery_code_used")
    assert len(email) == 1
    assert "9 unused codes are left" in email[0].body_text
    assert "If this was not you" in email[0].body_text


def test_after_a_recovery_code_the_user_sets_up_a_new_phone(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    codes = _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    sign_in_with_code(client, vendor, codes[0])
    off = client.post(
        "/account/two-step/off", data={"password": DEFAULT_PASSWORD, "code": codes[1]}
    )
    assert off.status_code == 302
    assert not _reloaded(vendor).two_step_enabled
    new_codes = set_up(client, vendor)
    assert len(new_codes) == 10
    assert not set(new_codes) & set(codes)


def test_new_recovery_codes_replace_the_old_ones(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    codes = _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    sign_in_with_code(client, vendor)
    page = client.post("/account/two-step/recovery-codes")
    fresh = recovery_codes_shown(page.get_data(as_text=True))
    assert len(fresh) == 10
    assert len(events_of(vendor, "user.recovery_codes_regenerated")) == 1
    assert sign_in_with_code(app.test_client(), vendor, codes[0]).status_code == 422
    assert sign_in_with_code(app.test_client(), vendor, fresh[0]).status_code == 302


# --- turning it off -------------------------------------------------------------------------


def test_turning_it_off_needs_the_password_and_a_code(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    sign_in_with_code(client, vendor)
    with time_machine.travel(utcnow() + timedelta(seconds=40), tick=False):
        wrong_password = client.post(
            "/account/two-step/off",
            data={"password": "not my password", "code": code_for(vendor.id)},
        )
        assert wrong_password.status_code == 422
        no_code = client.post(
            "/account/two-step/off", data={"password": DEFAULT_PASSWORD, "code": "000000"}
        )
        assert no_code.status_code == 422
        assert _reloaded(vendor).two_step_enabled
        assert _reloaded(vendor).failed_login_count == 2
        off = client.post(
            "/account/two-step/off",
            data={"password": DEFAULT_PASSWORD, "code": code_for(vendor.id)},
        )
    assert off.status_code == 302
    assert not _reloaded(vendor).two_step_enabled
    assert (
        db.session().scalar(
            select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == vendor.id)
        )
        == 0
    )
    assert len(events_of(vendor, "user.two_step_disabled")) == 1
    (email,) = _emails(vendor, "two_step_disabled")
    assert "If this was not you, reset your password now" in email.body_text  # they did it
    assert "If you did not ask the licensing office" not in email.body_text
    assert password_step(app.test_client(), vendor).headers["Location"].endswith("/portal/")


def test_an_admin_turns_off_a_users_two_step_sign_in_with_a_reason(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    office = signed_in(app.test_client(), admin)
    page = office.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert "Turn two-step sign-in off" in page
    no_reason = office.post(f"/console/users/{vendor.id}/two-step/off", data={"reason": " "})
    assert no_reason.status_code == 422
    done = office.post(
        f"/console/users/{vendor.id}/two-step/off",
        data={"reason": "Lost phone; called back on the number on file"},
    )
    assert done.status_code == 302
    assert not _reloaded(vendor).two_step_enabled
    event = events_of(vendor, "user.two_step_disabled")[-1]
    assert event.note == "Lost phone; called back on the number on file"
    assert event.actor_user_id == admin.id
    email = _emails(vendor, "two_step_disabled")[-1]
    assert "by the licensing office" in email.body_text
    assert "Lost phone" in email.body_text
    # Round 27: the office did it (at their request): not "if this was not you".
    assert "If this was not you" not in email.body_text
    assert "If you did not ask the licensing office for this" in email.body_text
    assert f"write to the office at {mail.sender_address()}" in email.body_text


def test_only_an_admin_turns_off_someone_elses_two_step_sign_in(
    app: Flask, vendor: User, licensing_staff: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    office = signed_in(app.test_client(), licensing_staff)
    refused = office.post(f"/console/users/{vendor.id}/two-step/off", data={"reason": "asked"})
    assert refused.status_code == 403
    assert _reloaded(vendor).two_step_enabled


# --- organizations ----------------------------------------------------------------------------


def test_an_administrator_requires_it_of_every_member(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    admin_client = signed_in(app.test_client(), vendor)
    assert admin_client.post("/organization/two-step", data={"required": "true"}).status_code == 302
    assert vendor.organization is not None
    assert (
        len(
            list(
                db.session().scalars(
                    select(AuditEvent).where(AuditEvent.action == "organization.two_step_required")
                )
            )
        )
        == 1
    )
    member = signed_in(app.test_client(), colleague)
    sent = member.get("/portal/")
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith("/account/two-step/")
    set_up(member, colleague)
    assert member.get("/portal/").status_code == 200


def test_a_member_cannot_require_it_of_the_organization(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    member = signed_in(app.test_client(), colleague)
    assert member.post("/organization/two-step", data={"required": "true"}).status_code == 403


# --- what stays --------------------------------------------------------------------------------


def test_api_tokens_work_as_before_for_an_account_with_two_step_sign_in(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    headers = factories.bearer(_reloaded(vendor))
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200


def test_tests_do_not_require_it_of_staff_unless_they_ask(
    app: Flask, licensing_staff: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), licensing_staff)
    assert client.get("/console/").status_code == 200


def test_the_apps_codes_are_standard_time_based_codes() -> None:
    secret = two_step.secret_for(b"key", 1, "nonce")
    now = utcnow()
    code = pyotp.TOTP(secret).at(now)
    step = int(now.timestamp()) // two_step.STEP_SECONDS
    assert two_step.accepted_step(secret, code, now=now, last_step=None) == step
    assert two_step.accepted_step(secret, code, now=now, last_step=step) is None


def test_an_operator_turns_it_off_from_the_command_line_when_no_admin_can(
    app: Flask, admin: User, signed_in: SignIn
) -> None:
    _with_two_step(app, admin, signed_in)
    result = app.test_cli_runner().invoke(
        args=["users", "two-step-off", admin.email.upper(), "--reason", "Only admin lost phone"]
    )
    assert result.exit_code == 0, result.output
    assert "Two-step sign-in is off for" in result.output
    assert not _reloaded(admin).two_step_enabled
    event = events_of(admin, "user.two_step_disabled")[-1]
    assert event.actor == "system"
    assert event.note is not None
    assert event.note.startswith("Only admin lost phone (licensing users two-step-off")
    email = _emails(admin, "two_step_disabled")[-1]
    assert "Reason given: Only admin lost phone\n" in email.body_text
    again = app.test_cli_runner().invoke(
        args=["users", "two-step-off", admin.email, "--reason", "again"]
    )
    assert again.exit_code == 1
    assert "already off" in again.output


# --- round 26: a lost phone, as its owner meets it ----------------------------------------------


def test_signing_in_with_a_recovery_code_says_how_to_move_to_a_new_phone(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    codes = _with_two_step(app, vendor, signed_in)
    client = app.test_client()

    landed = sign_in_with_code(client, vendor, codes[0])
    page = client.get(landed.headers["Location"]).get_data(as_text=True)

    assert "You signed in with a recovery code: 9 unused codes are left." in page
    assert "turn it off with your password and another recovery code" in page
    (email,) = _emails(vendor, "recovery_code_used")
    assert "turn it off with your password and another recovery code" in email.body_text
    assert "http://testserver/account/two-step/" in email.body_text
    # The page the email and the message send them to says it where the button is.
    status = client.get("/account/two-step/").get_data(as_text=True)
    assert "A new phone, or lost yours? Turn it off here" in status


def test_the_email_of_a_second_step_turned_off_by_the_office_links_the_page_to_set_it_up_again(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    office = signed_in(app.test_client(), admin)
    turned = office.post(
        f"/console/users/{vendor.id}/two-step/off", data={"reason": "Lost the phone"}
    )
    assert turned.status_code == 302

    (email,) = _emails(vendor, "two_step_disabled")
    assert "To set two-step sign-in up again (on a new phone" in email.body_text
    assert "http://testserver/account/two-step/" in email.body_text


def test_the_code_page_says_whom_to_ask_without_phone_or_codes_and_how_to_reach_them(
    app: Flask, vendor: User, licensing_staff: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    _with_two_step(app, licensing_staff, signed_in)

    client = app.test_client()
    password_step(client, vendor)
    vendors_page = client.get("/sign-in/code").get_data(as_text=True)
    assert "Ask the licensing office, at licensing@example.test, to turn" in vendors_page

    client = app.test_client()
    password_step(client, licensing_staff)
    staff_page = client.get("/sign-in/code").get_data(as_text=True)
    assert "Ask an admin of the office to turn two-step sign-in off on your user page" in staff_page


def test_the_admins_user_page_says_who_is_asked_to_set_it_up_again_at_once(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    _with_two_step(app, vendor, signed_in)
    office = signed_in(app.test_client(), admin)
    before = office.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert "sign in with their password alone until they set it up again" in before

    assert vendor.organization is not None
    services.require_for_organization(
        Actor.of(services.principal_for(vendor)), vendor.organization.id, True
    )
    after = office.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    assert "are asked to set it up again as soon as they sign in with their password" in after
    assert "their organization requires it of members" in after


def test_members_without_it_are_emailed_when_their_administrator_requires_it(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    without = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    clerk = factories.make_vendor(db.session(), organization=vendor.organization, role="billing")
    _with_two_step(app, clerk, signed_in)
    admin = signed_in(app.test_client(), vendor)

    done = admin.post("/organization/two-step", data={"required": "true"}, follow_redirects=True)

    # Round 33: the page says whom it emailed, not only that "those without it are asked".
    assert f"We emailed 1 member: {without.email}." in done.get_data(as_text=True)
    (told,) = _emails(without, "two_step_required")
    assert f"{vendor.full_name} ({vendor.email}) now requires two-step sign-in" in told.body_text
    assert "Have your phone with you, or set it up now:" in told.body_text
    assert "http://testserver/account/two-step/" in told.body_text
    # Not the one who has it already, nor the administrator who asked.
    assert _emails(clerk, "two_step_required") == []
    assert _emails(vendor, "two_step_required") == []
    # Requiring it again when it is tells nobody again.
    admin.post("/organization/two-step", data={"required": "true"})
    assert len(_emails(without, "two_step_required")) == 1


def test_a_code_in_other_scripts_digits_is_a_wrong_code_not_an_error(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Six Arabic-Indic or full-width digits are digits to `str.isdigit`, and the
    constant-time comparison refuses non-ASCII text with a TypeError: the code page
    answered 500, and the attempt was not counted towards the lockout (round 30)."""
    _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    password_step(client, vendor)
    for code in ("\u0661\u0662\u0663\u0664\u0665\u0666", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        answer = client.post("/sign-in/code", data={"code": code})
        assert answer.status_code == 422
        assert services.CODE_REFUSED in answer.get_data(as_text=True)
    assert _reloaded(vendor).failed_login_count == 2
    assert two_step.accepted_step("A" * 32, "١٢٣٤٥٦", now=utcnow(), last_step=None) is None


def test_the_organization_page_says_nobody_was_emailed_and_why(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Round 33: with every member set up already, the page still said "those without
    it are asked", and the administrator waited for replies to an email never sent.
    The page's sentence ends with `emailed_summary` (the first test shows it there)."""
    clerk = factories.make_vendor(db.session(), organization=vendor.organization, role="billing")
    _with_two_step(app, clerk, signed_in)
    administrator = Actor.of(services.principal_for(vendor))
    done = services.require_for_organization(administrator, vendor.organization_id or 0, True)
    assert done.emailed == ()
    assert done.emailed_summary == "emailed nobody: every other active member uses it already"
    stopped = services.require_for_organization(administrator, vendor.organization_id or 0, False)
    assert stopped.emailed_summary == "emailed nobody: nobody is asked to do anything"


def test_turning_the_requirement_off_and_on_again_emails_a_member_once_a_day(
    app: Flask, vendor: User
) -> None:
    """Round 30: each time an administrator turned the requirement on, every member
    without it was emailed again, as often as the switch was flipped."""
    without = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    administrator = Actor.of(services.principal_for(vendor))
    organization_id = vendor.organization_id or 0
    for required in (True, False, True, False, True):
        services.require_for_organization(administrator, organization_id, required)
    assert len(_emails(without, "two_step_required")) == 1
    services.require_for_organization(administrator, organization_id, False)
    with time_machine.travel(utcnow() + timedelta(days=1, minutes=1), tick=False):
        services.require_for_organization(administrator, organization_id, True)
    assert len(_emails(without, "two_step_required")) == 2


def test_the_half_signed_in_step_reaches_no_page_or_api_that_needs_an_account(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    """Round 30: the password is right and the code not yet given. Every route that
    needs a caller, by every method, answers as to nobody (pages: to sign in; the
    API: 401), and the code step is still waiting afterwards."""
    _with_two_step(app, vendor, signed_in)
    client = app.test_client()
    assert password_step(client, vendor).headers["Location"].endswith("/sign-in/code")
    reached = []
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if declaration is None or declaration.public:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answer = client.open(path, method=method)
            refused = (
                answer.status_code == 401
                if rule.rule.startswith("/api/")
                else answer.status_code == 302 and "/sign-in?next=" in answer.headers["Location"]
            )
            if not refused:
                reached.append(f"{method} {path} {answer.status_code}")
    assert reached == []
    assert "Enter your code" in client.get("/sign-in/code").get_data(as_text=True)
