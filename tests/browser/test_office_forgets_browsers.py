"""Round 30: "my laptop was stolen". A vendor's browser is remembered for two-step
sign-in and signed in; an admin, on the console's user page, forgets the person's
remembered browsers after the confirmation. The laptop's session ends, and signing
in there asks for the code again."""

from __future__ import annotations

import time
from typing import Any

import pyotp
from playwright.sync_api import expect

from licensing import db
from tests.browser.conftest import sign_in_on_the_form, signed_in_tab
from tests.support import factories
from tests.support.axe import excused_findings
from tests.support.servers import LiveServer
from tests.support.two_step import secret_of, turn_on


def test_an_admin_forgets_a_persons_remembered_browsers_from_the_console(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        session = db.session()
        vendor = factories.make_vendor(session)
        admin = factories.make_staff(session, roles=("admin",))
        turn_on(vendor)
        app = pyotp.TOTP(secret_of(vendor.id))
        email, vendor_id, admin_email = vendor.email, vendor.id, admin.email

    # The laptop: remembered, and signed in.
    sign_in_on_the_form(page, email)
    page.wait_for_url("**/sign-in/code")
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        app.at(time.time() + 30)
    )
    page.get_by_label("Don't ask for a code on this browser for 30 days").check()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/")

    office = signed_in_tab(browser, live_server, admin_email)
    office.goto(f"/console/users/{vendor_id}")
    assert "1 browser remembered" in office.inner_text("main")
    # Round 31: listed, read-only, so the admin on the phone can say which one.
    listed = office.get_by_role("table", name="Browsers that do not ask")
    assert listed.locator("tbody tr").count() == 1
    assert "Not since" in listed.inner_text()  # remembered with a code, not used since
    assert listed.get_by_role("button").count() == 0
    _, lines = excused_findings(office, {})
    assert not [line for line in lines if line], "\n".join(lines)
    office.get_by_role("button", name="Forget their remembered browsers").click()
    office.wait_for_load_state()
    assert "signed out everywhere" in office.inner_text("main")
    _, lines = excused_findings(office, {})
    assert not [line for line in lines if line], "\n".join(lines)
    office.get_by_role("button", name="Forget their remembered browsers").click()
    # expect() retries through the navigation; a wait on document.body read null
    # while the next page replaced it (CI, stop 45).
    expect(office.locator("main")).to_contain_text("Forgot 1 remembered browser of")
    assert "0 browsers remembered" in office.inner_text("main")
    assert office.get_by_role("button", name="Forget their remembered browsers").count() == 0
    # Round 31: with none remembered, the office can still sign them out everywhere.
    assert office.get_by_role("button", name="Sign them out everywhere").count() == 1

    # The laptop is signed out, and the password alone no longer signs in there.
    page.goto("/portal/")
    assert "/sign-in" in page.url
    sign_in_on_the_form(page, email)
    page.wait_for_url("**/sign-in/code")
    office.context.close()
