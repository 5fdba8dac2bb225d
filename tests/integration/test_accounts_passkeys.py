"""Passkeys (round 44): added on the two-step page, signing in without the
password or the code. Real ceremonies: a software authenticator
(`tests.support.passkeys`) makes a P-256 key and answers the service's options
with the bytes a browser would post, which py_webauthn then verifies."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import Passkey, PasskeyChallenge, User
from licensing.accounts.services import passkeys as passkey_services
from licensing.config import Config
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from tests.support.passkeys import add_passkey, authenticator, sign_in_with_passkey
from tests.support.two_step import events_of, password_step, turn_on

SignIn = Callable[..., FlaskClient]


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _passkeys(user: User) -> list[Passkey]:
    return list(
        db.session().scalars(
            select(Passkey)
            .where(Passkey.user_id == user.id)
            .execution_options(populate_existing=True)
        )
    )


def _emails(user: User, template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage).where(
                OutboxMessage.template == template, OutboxMessage.recipients.contains(user.email)
            )
        )
    )


def _signed_in_as(client: FlaskClient) -> int | None:
    with client.session_transaction() as session:
        found = session.get("_user_id")
    return int(str(found).split(":")[0]) if found else None


def test_a_passkey_is_added_named_listed_audited_and_emailed(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    options = client.post("/account/passkeys/options").get_json()
    assert options["rp"]["id"] == "testserver"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["excludeCredentials"] == []

    added = add_passkey(client, authenticator(), "Work laptop")

    assert added.status_code == 302, _page(added)[:3000]
    (stored,) = _passkeys(vendor)
    assert stored.name == "Work laptop"
    page = _page(client.get("/account/two-step/"))
    assert "Passkey Work laptop added" in page
    assert "<td>Work laptop</td>" in page
    assert "Not yet" in page  # last used
    (event,) = events_of(vendor, "user.passkey_added")
    assert json.loads(event.after) == {"passkey": "Work laptop", "passkeys": 1}
    (email,) = _emails(vendor, "passkey_added")
    assert 'A passkey named "Work laptop" was added' in email.body_text
    # The next ceremony excludes it, so the same authenticator is not registered twice.
    again = client.post("/account/passkeys/options").get_json()
    assert [item["id"] for item in again["excludeCredentials"]] == [stored.credential_id]


def test_signing_in_with_a_passkey_asks_no_password_and_starts_a_fresh_session(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device).status_code == 302
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["left_from_before"] = "x"

    signed = sign_in_with_passkey(browser, device)

    assert signed.status_code == 302, _page(signed)[:3000]
    assert signed.headers["Location"].endswith("/portal/")
    assert _signed_in_as(browser) == vendor.id
    with browser.session_transaction() as session:
        assert "left_from_before" not in session  # rotated, as after the password
    assert browser.get("/portal/").status_code == 200
    (stored,) = _passkeys(vendor)
    assert stored.sign_count == 1
    assert stored.last_used_at is not None
    (used,) = events_of(vendor, "user.passkey_used")
    assert json.loads(used.after) == {"passkey": "Work laptop"}


def test_a_passkey_stands_for_both_steps_when_two_step_sign_in_is_on(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device).status_code == 302
    turn_on(vendor)
    # The password alone still leads to the code ...
    browser = app.test_client()
    assert password_step(browser, vendor).headers["Location"].endswith("/sign-in/code")
    code_page = _page(browser.get("/sign-in/code"))
    assert "Or use a passkey instead of the code" in code_page
    # ... where a passkey is accepted in its place.
    signed = sign_in_with_passkey(browser, device)
    assert signed.status_code == 302
    assert browser.get("/portal/").status_code == 200


@pytest.mark.parametrize("config_changes", [{"two_step_required_for_staff": True}])
def test_a_passkey_meets_the_staff_requirement_and_the_password_alone_does_not(
    app: Flask, licensing_staff: User, signed_in: SignIn, config_changes: dict[str, Any]
) -> None:
    device = authenticator()
    setting_up = signed_in(app.test_client(), licensing_staff)
    assert setting_up.get("/console/").headers["Location"].endswith("/account/two-step/")
    # Adding a passkey is open on the set-up page, and meets the requirement for
    # that session (the password, then the passkey with its PIN).
    assert add_passkey(setting_up, device).status_code == 302
    assert setting_up.get("/console/").status_code == 200

    by_passkey = app.test_client()
    assert sign_in_with_passkey(by_passkey, device).status_code == 302
    assert by_passkey.get("/console/").status_code == 200
    assert "your passkey meets it for this session" in _page(by_passkey.get("/account/two-step/"))

    by_password = signed_in(app.test_client(), licensing_staff)
    assert by_password.get("/console/").headers["Location"].endswith("/account/two-step/")
    assert "Signing in with a passkey meets the requirement" in _page(
        by_password.get("/account/two-step/")
    )


def test_a_passkey_whose_counter_went_back_is_refused_and_audited_as_a_copy(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device).status_code == 302
    assert sign_in_with_passkey(app.test_client(), device, count_step=5).status_code == 302

    browser = app.test_client()
    refused = sign_in_with_passkey(browser, device, count_step=-2)

    assert refused.status_code == 422
    assert "its counter went back, which a copy of it would do" in _page(refused)
    assert _signed_in_as(browser) is None
    (event,) = events_of(vendor, "user.passkey_refused")
    assert json.loads(event.before) == {"sign_count": 5}
    assert json.loads(event.after) == {"sign_count": 3}
    assert _passkeys(vendor)[0].sign_count == 5
    (email,) = _emails(vendor, "passkey_refused")
    assert "its counter went back, which a copy of the passkey would do" in email.body_text


def test_locked_and_deactivated_accounts_are_refused_as_by_the_password(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device).status_code == 302
    user = db.session().get(User, vendor.id)
    assert user is not None
    user.locked_until = utcnow() + timedelta(minutes=10)
    db.session().flush()
    locked = sign_in_with_passkey(app.test_client(), device)
    assert locked.status_code == 403
    assert "This account is locked after 5 failed sign-in attempts" in _page(locked)

    user.locked_until = None
    user.is_active = False
    db.session().flush()
    off = app.test_client()
    deactivated = sign_in_with_passkey(off, device)
    assert deactivated.status_code == 403
    assert "This account has been deactivated" in _page(deactivated)
    assert _signed_in_as(off) is None
    assert events_of(vendor, "user.passkey_used") == []


def test_a_removed_passkey_signs_in_no_more_and_its_removal_is_audited_and_emailed(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    device = authenticator()
    client = signed_in(app.test_client(), vendor)
    assert add_passkey(client, device, "Phone").status_code == 302
    (stored,) = _passkeys(vendor)

    removed = client.post(f"/account/passkeys/{stored.id}/remove")

    assert removed.status_code == 302
    assert "Passkey Phone removed" in _page(client.get("/account/two-step/"))
    assert _passkeys(vendor) == []
    (event,) = events_of(vendor, "user.passkey_removed")
    assert json.loads(event.before) == {"passkey": "Phone"}
    assert len(_emails(vendor, "passkey_removed")) == 1
    refused = sign_in_with_passkey(app.test_client(), device)
    assert refused.status_code == 422
    assert "That passkey is not one this service knows" in _page(refused)


def test_another_accounts_passkey_cannot_be_removed(
    app: Flask, vendor: User, other_vendor: User, signed_in: SignIn
) -> None:
    assert add_passkey(signed_in(app.test_client(), vendor), authenticator()).status_code == 302
    (stored,) = _passkeys(vendor)
    other = signed_in(app.test_client(), other_vendor)
    other.post(f"/account/passkeys/{stored.id}/remove")
    assert len(_passkeys(vendor)) == 1
    assert events_of(vendor, "user.passkey_removed") == []


def test_adding_and_removing_need_the_recent_password_as_the_two_step_page_does(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    assert add_passkey(client, authenticator()).status_code == 302
    (stored,) = _passkeys(vendor)
    with client.session_transaction() as session:
        session["password_confirmed_at"] = int((utcnow() - timedelta(minutes=11)).timestamp())

    options = client.post("/account/passkeys/options")
    assert options.status_code == 403
    assert "Enter your password first" in options.get_json()["error"]
    client.post(f"/account/passkeys/{stored.id}/remove")
    assert len(_passkeys(vendor)) == 1
    page = _page(client.get("/account/two-step/"))
    assert "To add or remove a passkey, enter your password above first" in page
    assert "Add a passkey" not in page


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Name the passkey"),
        ("x" * 61, "At most 60 characters"),
    ],
    ids=["no name", "too long"],
)
def test_a_passkey_without_a_good_name_is_the_form_again_with_nothing_stored(
    app: Flask, vendor: User, signed_in: SignIn, name: str, message: str
) -> None:
    client = signed_in(app.test_client(), vendor)
    answer = add_passkey(client, authenticator(), name)
    assert answer.status_code == 422
    assert message in _page(answer)
    assert _passkeys(vendor) == []
    assert events_of(vendor, "user.passkey_added") == []


def test_a_second_passkey_of_the_same_name_is_refused_beside_the_name(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    assert add_passkey(client, authenticator(), "Phone").status_code == 302
    again = add_passkey(client, authenticator(), "Phone")
    assert again.status_code == 422
    assert "You have a passkey named Phone already" in _page(again)
    assert len(_passkeys(vendor)) == 1


def test_no_answer_or_a_forged_one_is_the_form_again_with_nothing_stored(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    client.post("/account/passkeys/options")
    empty = client.post("/account/passkeys", data={"name": "Phone", "credential": ""})
    assert empty.status_code == 422
    assert "Your browser sent no passkey" in _page(empty)
    client.post("/account/passkeys/options")
    forged = client.post("/account/passkeys", data={"name": "Phone", "credential": "{not json"})
    assert forged.status_code == 422
    assert "could not be verified as a passkey" in _page(forged)
    assert _passkeys(vendor) == []


def test_an_answer_from_another_origin_or_without_user_verification_is_refused(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    options = client.post("/account/passkeys/options").get_json()
    elsewhere = authenticator().register(options, origin="https://evil.example")
    answer = client.post("/account/passkeys", data={"name": "A", "credential": elsewhere})
    assert answer.status_code == 422
    assert "could not be verified" in _page(answer)

    no_pin = authenticator()
    no_pin.verifies_user = False
    assert add_passkey(client, no_pin).status_code == 422
    assert _passkeys(vendor) == []

    device = authenticator()
    assert add_passkey(client, device).status_code == 302
    device.verifies_user = False
    refused = sign_in_with_passkey(app.test_client(), device)
    assert refused.status_code == 422
    assert "could not be verified" in _page(refused)


def test_a_challenge_is_answered_once_even_from_an_old_copy_of_the_session(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device).status_code == 302
    browser = app.test_client()
    options = browser.post("/sign-in/passkey/options").get_json()
    with browser.session_transaction() as session:
        kept = dict(session)
    credential = device.sign_in(options)
    assert browser.post("/sign-in/passkey", data={"credential": credential}).status_code == 302

    replay = app.test_client()
    with replay.session_transaction() as session:
        session.update(kept)
    refused = replay.post("/sign-in/passkey", data={"credential": credential})

    assert refused.status_code == 422
    assert "That passkey request has ended" in _page(refused)
    assert _signed_in_as(replay) is None
    assert db.session().scalar(select(func.count()).select_from(PasskeyChallenge)) == 0


def test_an_expired_challenge_is_refused(app: Flask, vendor: User, signed_in: SignIn) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device).status_code == 302
    browser = app.test_client()
    options = browser.post("/sign-in/passkey/options").get_json()
    for challenge in db.session().scalars(select(PasskeyChallenge)):
        challenge.expires_at = utcnow() - timedelta(seconds=1)
    db.session().flush()
    refused = browser.post("/sign-in/passkey", data={"credential": device.sign_in(options)})
    assert refused.status_code == 422
    assert "That passkey request has ended" in _page(refused)


def test_a_user_handle_of_another_account_is_refused(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    device = authenticator()
    assert add_passkey(signed_in(app.test_client(), vendor), device).status_code == 302
    refused = sign_in_with_passkey(app.test_client(), device, user_handle=b"user-999999")
    assert refused.status_code == 422
    assert "not one this service knows" in _page(refused)


@pytest.mark.parametrize("config_changes", [{"auth_rate_limit": "3 per minute"}])
def test_signing_in_with_a_passkey_shares_the_sign_in_rate_limit(
    app: Flask, config_changes: dict[str, Any]
) -> None:
    browser = app.test_client()
    answers = [browser.post("/sign-in/passkey/options").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert browser.post("/sign-in/passkey", data={"credential": ""}).status_code == 429


def test_the_relying_party_is_the_public_urls_host_and_origin() -> None:
    config = Config(public_url="https://Licensing.Example.org:8443")
    assert config.passkey_rp_id == "licensing.example.org"
    assert config.passkey_origin == "https://licensing.example.org:8443"
    plain = Config(public_url="https://licensing.example.org")
    assert plain.passkey_origin == "https://licensing.example.org"
    assert passkey_services.MAX_PASSKEYS == 10


def test_the_consoles_user_page_lists_a_persons_passkeys_read_only(
    app: Flask, vendor: User, admin: User, signed_in: SignIn
) -> None:
    console = signed_in(app.test_client(), admin)
    assert "<dt>Passkeys</dt><dd>none</dd>" in _page(console.get(f"/console/users/{vendor.id}"))
    assert (
        add_passkey(signed_in(app.test_client(), vendor), authenticator(), "Phone").status_code
        == 302
    )

    page = _page(console.get(f"/console/users/{vendor.id}"))

    assert "Phone (added " in page
    assert "not used yet). Each signs in without the password or a code" in page
    assert "/account/passkeys/" not in page  # nothing to remove there
