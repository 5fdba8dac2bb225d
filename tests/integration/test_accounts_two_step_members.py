"""Who has the second step: an organization that requires two-step sign-in names
the members who have not set it up, on the vendor administrator's page, the
console's organization page and the API's member listing. The pages counted them
("2 of 3 active members ...") without saying who."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.db import utcnow
from tests.support import factories

SignIn = Callable[..., FlaskClient]


def _organization_with_three(vendor: User, *, required: bool) -> tuple[User, User]:
    """`vendor`'s organization with two colleagues: one with two-step sign-in on,
    one without; the vendor (its administrator, who reads the page) has it on."""
    session = db.session()
    with_it = factories.make_vendor(
        session, organization=vendor.organization, full_name="Ines Varga", role="member"
    )
    without_it = factories.make_vendor(
        session, organization=vendor.organization, full_name="Tomas Brandt", role="member"
    )
    for user in (vendor, with_it):
        user.two_step_nonce = "n" * 32
        user.two_step_enabled_at = utcnow()
    assert vendor.organization is not None
    vendor.organization.two_step_required = required
    session.commit()
    return with_it, without_it


def _row(page: Any, user: User) -> str:
    found = re.search(
        rf'<tr id="member-{user.id}">(.*?)</tr>', page.get_data(as_text=True), re.DOTALL
    )
    assert found is not None
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(found.group(1))).split())


def _words(page: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(page.get_data(as_text=True))).split())


def test_the_administrators_page_says_per_member_who_has_not_set_it_up(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)  # before the second step is on
    with_it, without_it = _organization_with_three(vendor, required=True)
    page = client.get("/organization")
    assert page.status_code == 200
    assert "Two-step sign-in" in _words(page)
    assert "active On " in _row(page, with_it)
    assert "Required, not set up yet" in _row(page, without_it)
    assert f"Required, not set up yet: Tomas Brandt ({without_it.email})." in _words(page)


def test_without_the_requirement_a_member_without_it_is_not_set_up_by_choice(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    _, without_it = _organization_with_three(vendor, required=False)
    page = client.get("/organization")
    assert "Not set up" in _row(page, without_it)
    assert "Required" not in _row(page, without_it)


def test_the_consoles_organization_page_names_them_too(
    app: Flask, vendor: User, licensing_staff: User, signed_in: SignIn
) -> None:
    with_it, without_it = _organization_with_three(vendor, required=True)
    console = signed_in(app.test_client(), licensing_staff)
    page = console.get(f"/console/organizations/{vendor.organization_id}")
    assert page.status_code == 200
    assert "2 of 3 active members sign in with a code" in _words(page)
    assert "On" in _row(page, with_it)
    assert "Required, not set up yet" in _row(page, without_it)
    assert f"Tomas Brandt ({without_it.email})." in _words(page)


def test_the_apis_member_listing_gives_each_members_two_step_state(
    app: Flask, vendor: User
) -> None:
    with_it, without_it = _organization_with_three(vendor, required=True)
    listed = app.test_client().get(
        f"/api/v1/organizations/{vendor.organization_id}/members",
        headers=factories.bearer(vendor),
    )
    assert listed.status_code == 200
    states = {member["id"]: member["two_step"] for member in listed.get_json()}
    assert states == {vendor.id: "on", with_it.id: "on", without_it.id: "required"}


def test_staff_are_not_set_up_unless_the_office_requires_it(
    app: Flask, admin: User, licensing_staff: User
) -> None:
    shown = app.test_client().get(
        f"/api/v1/users/{licensing_staff.id}", headers=factories.bearer(admin)
    )
    assert shown.get_json()["two_step"] == "not_set_up"


# --- round 45: passkeys counted ---------------------------------------------------------------


def _give_passkeys(user: User, *names: str) -> None:
    """Passkeys stored for `user` as a ceremony would store them (the lists read only
    that they exist: `test_accounts_passkeys.py` makes real ones)."""
    from licensing.accounts.models import Passkey

    session = db.session()
    for name in names:
        session.add(
            Passkey(
                user_id=user.id,
                credential_id=f"credential-{user.id}-{name}",
                public_key=b"key",
                name=name,
            )
        )
    session.commit()
    session.expire_all()


def test_a_member_who_signs_in_with_a_passkey_reads_passkey_not_required(
    app: Flask, vendor: User, licensing_staff: User, admin: User, signed_in: SignIn
) -> None:
    client = signed_in(app.test_client(), vendor)
    with_it, without_it = _organization_with_three(vendor, required=True)
    _give_passkeys(without_it, "Phone")
    _give_passkeys(with_it, "Phone", "Laptop")

    page = client.get("/organization")

    assert "active Passkey " in _row(page, without_it) + " "
    assert "Required" not in _row(page, without_it)
    assert "On: app and 2 passkeys" in _row(page, with_it)
    words = _words(page)
    assert (
        "2 of 3 active members sign in with a code from an authenticator app as well as "
        "their password, and 1 with a passkey and no app." in words
    )
    assert (
        f"Passkey, no app: Tomas Brandt ({without_it.email}). A sign-in with their passkey "
        "meets the requirement; a sign-in with the password alone asks them to set up the "
        "app first." in words
    )
    assert "Required, not set up yet:" not in words
    console = signed_in(app.test_client(), licensing_staff)
    on_console = console.get(f"/console/organizations/{vendor.organization_id}")
    assert "Passkey" in _row(on_console, without_it)
    assert "On: app and 2 passkeys" in _row(on_console, with_it)
    office = signed_in(app.test_client(), admin)
    assert (
        "Two-step sign-in off: signs in with a passkey, which is both steps for each sign-in "
        "it makes (a requirement is met there); a sign-in with the password alone is asked "
        "to set up the app" in _words(office.get(f"/console/users/{without_it.id}"))
    )


def test_two_passkeys_and_no_app_read_2_passkeys_and_the_api_counts_them(
    app: Flask, vendor: User
) -> None:
    with_it, without_it = _organization_with_three(vendor, required=False)
    _give_passkeys(without_it, "Phone", "Laptop")
    listed = app.test_client().get(
        f"/api/v1/organizations/{vendor.organization_id}/members",
        headers=factories.bearer(vendor),
    )
    assert listed.status_code == 200
    members = {member["id"]: member for member in listed.get_json()}
    assert members[without_it.id]["two_step"] == "passkey"
    assert members[without_it.id]["passkeys"] == 2
    assert members[with_it.id]["two_step"] == "on"
    assert members[with_it.id]["passkeys"] == 0


@pytest.mark.parametrize("config_changes", [{"two_step_required_for_staff": True}])
def test_staff_with_a_passkey_under_the_offices_requirement_read_passkey(
    app: Flask, admin: User, licensing_staff: User
) -> None:
    _give_passkeys(licensing_staff, "Security key")
    shown = app.test_client().get(
        f"/api/v1/users/{licensing_staff.id}", headers=factories.bearer(admin)
    )
    assert shown.get_json()["two_step"] == "passkey"
    assert shown.get_json()["passkeys"] == 1


def test_a_member_with_a_passkey_is_told_the_requirement_is_met_when_they_use_it(
    app: Flask, vendor: User, signed_in: SignIn
) -> None:
    from sqlalchemy import select

    from licensing.mail.models import OutboxMessage

    client = signed_in(app.test_client(), vendor)  # before the second step is on
    _, without_it = _organization_with_three(vendor, required=False)
    _give_passkeys(without_it, "Phone")
    assert client.post("/organization/two-step", data={"required": "true"}).status_code == 302
    (email,) = db.session().scalars(
        select(OutboxMessage).where(
            OutboxMessage.template == "two_step_required",
            OutboxMessage.recipients.contains(without_it.email),
        )
    )
    assert "You sign in with a passkey: each sign-in with it meets the requirement" in (
        email.body_text
    )
    assert "you are asked to set it up before anything else" not in email.body_text
