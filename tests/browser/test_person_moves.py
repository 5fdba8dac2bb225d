"""Round 28, in Chromium against the live server: a person moves to another
organization, which requires two-step sign-in, while their browser is signed in.
The admin is told it on the confirmation; the browser left open asks them to sign
in again; their sign-in stops at the set-up, which their email announced; once it
is on they are in the new organization's portal, and its administrator's members
list shows them with two-step sign-in on."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from tests.browser.conftest import sign_in, signed_in_tab
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer
from tests.support.two_step import code_for, turn_on


def test_a_person_moved_while_signed_in_signs_in_again_and_sets_up_the_two_step_it_requires(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        session = db.session()
        leaving = factories.make_vendor(session)  # the old organization's administrator
        person = factories.make_vendor(
            session, organization=leaving.organization, role="member", full_name="Ana Ruiz"
        )
        joining = factories.make_vendor(session)  # the new organization's administrator
        turn_on(joining)  # as the requirement asks of them too
        joined = session.get(Organization, joining.organization_id)
        assert joined is not None
        joined.two_step_required = True
        session.commit()
        admin = factories.make_staff(session, roles=("admin",))
        person_id, person_email, joined_name = person.id, person.email, joined.legal_name
        joined_id, joining_email, admin_email = joined.id, joining.email, admin.email
        joining_id = joining.id
    sign_in(page, person_email)
    page.goto("/portal/")

    console = signed_in_tab(browser, live_server, admin_email)
    console.goto(f"/console/users/{person_id}")
    console.get_by_label("The organization it moves to").select_option(str(joined_id))
    console.get_by_label(re.compile("^Why")).fill("Joined as a consultant.")
    console.get_by_role("button", name="Move the account").click()
    asked = " ".join(console.inner_text("main").split())
    assert (
        f"{joined_name} requires two-step sign-in: they set it up at their next sign-in, "
        "before any of its pages open."
    ) in asked
    console.get_by_role("button", name="Move the account").click()
    assert f"{person_email} now acts for {joined_name}" in console.inner_text("main")

    page.reload()
    assert page.get_by_role("heading", name="Sign in").count() == 1
    with live_server.app.app_context():
        moved = db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "account_moved")
        )
        (told,) = [message for message in moved if message.to == [person_email]]
        assert "asked to set it up" in told.body_text
    page.get_by_label("Email address").fill(person_email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("your organization requires it of its members").wait_for()
    secret = page.locator("#two-step-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn two-step sign-in on").click()
    page.get_by_role("link", name=re.compile("^Done: continue")).click()
    assert joined_name in page.inner_text("main")

    members = signed_in_tab(browser, live_server, joining_email, on_the_form=True)
    with live_server.app.app_context():
        # The code after the one the set-up used (a phone's clock a little ahead).
        code = code_for(joining_id, utcnow() + timedelta(seconds=30))
    members.get_by_label("Code from your authenticator app, or a recovery code").fill(code)
    members.get_by_role("button", name="Sign in").click()
    members.wait_for_load_state()
    members.goto("/organization")
    row = members.get_by_role("row", name=re.compile("Ana Ruiz"))
    assert "Billing member" in row.inner_text()
    assert re.search(r"\bOn\b", row.inner_text())


def test_an_admin_finds_the_organization_past_the_first_twenty_by_keyboard_and_moves_the_account(
    page: Any, live_server: LiveServer
) -> None:
    """Round 49: the move's select offers at most 20 organizations; the admin types
    part of the name into *Find*, the select then offers the one they meant."""
    with live_server.app.app_context():
        session = db.session()
        leaving = factories.make_vendor(session)
        person = factories.make_vendor(
            session, organization=leaving.organization, role="member", full_name="Ana Ruiz"
        )
        for index in range(25):
            factories.make_organization(session, legal_name=f"Acme {index:03d} Health")
        session.commit()
        admin = factories.make_staff(session, roles=("admin",))
        person_id, admin_email = person.id, admin.email
    sign_in(page, admin_email)
    page.goto(f"/console/users/{person_id}")
    choices = page.locator("#move-organization option")
    assert choices.count() == 21  # "Choose…" and the first 20 by name
    assert "Acme 024 Health" not in page.locator("#move-organization").inner_text()
    assert "The first 20 of" in page.locator("#move-found").inner_text()
    search = page.get_by_role(
        "searchbox", name="Search organizations by part of the name, or the id"
    )
    search.focus()
    page.keyboard.type("acme 024")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.search.includes('move_search')")
    assert "1 organization matches" in page.locator("#move-found").inner_text()
    page.get_by_label("The organization it moves to").select_option(label="Acme 024 Health")
    page.get_by_label(re.compile("^Why")).fill("Joined as a consultant.")
    page.get_by_role("button", name="Move the account").click()
    page.get_by_role("button", name="Move the account").click()
    assert "now acts for Acme 024 Health" in page.inner_text("main")
    page.goto(f"/console/users/{person_id}?move_search=acme")
    assert_accessible(page)
