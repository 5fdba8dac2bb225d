"""Round 47: a member of a vendor organization left their laptop (with its passkey,
signed in with it) on a train and calls their organization's administrator. The
administrator, in another browser and with the keyboard alone, opens the member's
passkeys from the Organization page, chooses the laptop's, writes why, confirms;
axe checks each page. The laptop's session ends and its passkey signs in no more.
Chromium's virtual authenticator stands in for the laptop, as in `test_passkeys.py`;
both tabs open the server as `localhost` (a passkey needs a host name)."""

from __future__ import annotations

from typing import Any

from licensing import db
from licensing.accounts.models import Passkey
from tests.support import factories
from tests.support.axe import FOCUSED, assert_accessible
from tests.support.passkeys import serve_on_localhost, virtual_authenticator
from tests.support.servers import LiveServer


def _sign_in_with_password(page: Any, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def _tab_to(page: Any, text: str, presses: int = 80) -> None:
    """Tab until the focus is on the control named `text` (its label or words)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED, None)["text"] == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_an_organization_administrator_removes_a_members_passkey_by_keyboard(
    browser: Any, live_server: LiveServer
) -> None:
    base = serve_on_localhost(live_server)
    with live_server.app.app_context():
        session = db.session()
        administrator = factories.make_vendor(session, full_name="Samira Haddad")
        member = factories.make_vendor(
            session, organization=administrator.organization, full_name="Noor Haddad"
        )
        session.commit()
        administrator_email, member_email = administrator.email, member.email

    laptop_context = browser.new_context(base_url=base)
    laptop_context.set_default_timeout(15_000)
    office_context = browser.new_context(base_url=base)
    office_context.set_default_timeout(15_000)
    try:
        # The member's laptop: a passkey added, then signed in with it alone.
        laptop = laptop_context.new_page()
        virtual_authenticator(laptop)
        _sign_in_with_password(laptop, member_email)
        laptop.goto("/account/two-step/")
        laptop.get_by_label("Name of the passkey").fill("Work laptop")
        laptop.get_by_role("button", name="Add a passkey").click()
        laptop.get_by_text("Passkey Work laptop added").wait_for()
        laptop.get_by_role("button", name="Sign out", exact=True).click()
        laptop.wait_for_load_state()
        laptop.goto("/sign-in")
        laptop.get_by_role("button", name="Use a passkey").click()
        laptop.wait_for_url("**/portal/")

        # The administrator, in another browser, with the keyboard.
        tab = office_context.new_page()
        _sign_in_with_password(tab, administrator_email)
        tab.goto("/organization")
        assert_accessible(tab)
        _tab_to(tab, "Remove passkeys: Noor Haddad")
        tab.keyboard.press("Enter")
        tab.wait_for_url("**/organization/members/*/passkeys")
        assert "Noor Haddad's passkeys" in tab.get_by_role("heading", level=1).inner_text()
        table = tab.get_by_role("table", name=f"Passkeys of {member_email}")
        assert "Work laptop" in table.inner_text()
        assert_accessible(tab)

        # Without a reason first: the form again, the message by the field.
        _tab_to(tab, "Remove the passkeys")
        with tab.expect_navigation():
            tab.keyboard.press("Enter")
        assert tab.locator(".error-summary").count() == 1
        assert_accessible(tab)

        tab.locator("#office-passkey").focus()
        tab.keyboard.press("ArrowDown")  # from "All of them" to "Work laptop"
        assert tab.locator("#office-passkey option:checked").inner_text() == "Work laptop"
        tab.keyboard.press("Tab")
        assert tab.evaluate(FOCUSED, None)["id"] == "passkey-removal-reason"
        tab.keyboard.type("Laptop left on a train; Noor called me")
        _tab_to(tab, "Remove the passkeys")
        with tab.expect_navigation():
            tab.keyboard.press("Enter")

        # The confirmation: what happens, then the button, by keyboard.
        assert "Remove Noor Haddad's passkeys?" in tab.get_by_role("heading", level=1).inner_text()
        said = tab.inner_text("main")
        assert "The passkey Work laptop no longer signs Noor Haddad" in said
        assert "“Laptop left on a train; Noor called me”" in said
        assert_accessible(tab)
        _tab_to(tab, "Remove the passkeys")
        tab.keyboard.press("Enter")
        tab.wait_for_url("**/organization#members")
        assert "Removed the passkey Work laptop of Noor Haddad" in tab.inner_text("main")
        assert tab.get_by_role("link", name="Remove passkeys: Noor Haddad").count() == 0
        assert_accessible(tab)

        # The laptop's session ended, and its passkey is refused.
        laptop.goto("/portal/")
        assert "/sign-in" in laptop.url
        laptop.goto("/sign-in")
        laptop.get_by_role("button", name="Use a passkey").click()
        laptop.wait_for_url("**/sign-in/passkey")
        assert "That passkey is not one this service knows" in laptop.inner_text("main")
    finally:
        office_context.close()
        laptop_context.close()
    with live_server.app.app_context():
        assert db.session().query(Passkey).count() == 0
