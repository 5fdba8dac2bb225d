"""Who has the second step: an organization that requires two-step sign-in names
the members who have not set it up, on the vendor administrator's page, the
console's organization page and the API's member listing. The pages counted them
("2 of 3 active members ...") without saying who."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

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
