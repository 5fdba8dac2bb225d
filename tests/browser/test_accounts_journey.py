"""A vendor's first day, in Chromium against the live server (CSRF on, real SMTP):
sign up, confirm the email from the message received, sign in, invite a
colleague who joins by the emailed link; an admin changes the organization's
standing with a reason (billing staff are offered only their own step); the
audit log shows all of it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from licensing import db
from licensing.accounts import services
from tests.support import factories
from tests.support.servers import LiveServer, SMTPServer

VENDOR = "samira@bluefin.example"
COLLEAGUE = "priya@bluefin.example"
ADMIN = "dana@licensing-office.example"
PASSWORD = "quiet-meadow-copper-17"
COLLEAGUE_PASSWORD = "silver-canyon-harvest-31"
ADMIN_PASSWORD = "granite-willow-sparrow-64"
ORGANIZATION = "Bluefin Claims Analytics LLC"


def _sign_in(page: Any, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _standing_choices(staff: Any) -> list[str]:
    """The standing changes the organization's console page offers the staff member."""
    staff.get_by_role("link", name="Organizations").click()
    staff.get_by_role("link", name=ORGANIZATION).click()
    # The organization's page loaded before its choices are read (under load the
    # list's page was read: no choices).
    staff.locator("#standing").wait_for()
    options = staff.get_by_label("Change", exact=True).locator("option")
    values: list[str] = options.evaluate_all("els => els.map(e => e.value)")
    return values


def test_a_vendor_signs_up_invites_a_colleague_and_an_admin_activates_them(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    # Sign up.
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Legal name of the organization").fill(ORGANIZATION)
    page.get_by_label("Type of organization").select_option("commercial")
    page.get_by_label("Address", exact=True).fill("200 Harbor Way")
    page.get_by_label("City").fill("Portland")
    page.get_by_label("State, province or region").fill("OR")
    page.get_by_label("Postal code").fill("97201")
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Billing contact name").fill("Robin Castellanos")
    page.get_by_label("Billing contact email").fill("billing@bluefin.example")
    page.get_by_label("Your full name").fill("Samira Haddad")
    page.get_by_label("Your email address").fill(VENDOR)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    page.wait_for_url("**/sign-in")
    assert "we sent a link to" in page.inner_text(".flashes")

    # Signing in before confirming is refused with a way forward.
    _sign_in(page, VENDOR, PASSWORD)
    assert "Confirm your email address first" in page.inner_text("main")

    # Confirm the address with the link that arrived by SMTP.
    page.goto(mailbox.link_to(VENDOR, "/verify-email/"))
    page.wait_for_url("**/sign-in")
    assert "is confirmed" in page.inner_text(".flashes")

    # Sign in: the dashboard shows the organization and its standing.
    _sign_in(page, VENDOR, PASSWORD)
    page.wait_for_url("**/portal/")
    assert page.get_by_role("heading", level=1).inner_text() == f"Dashboard of {ORGANIZATION}"
    assert "applying" in page.inner_text("main")

    # Invite a colleague.
    page.get_by_role("link", name="Organization").first.click()
    page.get_by_label("Colleague's email address").fill(COLLEAGUE)
    page.get_by_role("button", name="Send the invitation").click()
    assert f"Invitation sent to {COLLEAGUE}" in page.inner_text(".flashes")

    # The colleague joins from the emailed link, in their own browser.
    colleague_context = browser.new_context(base_url=live_server.url)
    try:
        colleague = colleague_context.new_page()
        colleague.goto(mailbox.link_to(COLLEAGUE, "/invitations/"))
        assert ORGANIZATION in colleague.inner_text("h1")
        colleague.get_by_label("Your full name").fill("Priya Raman")
        colleague.get_by_label("Password", exact=True).fill(COLLEAGUE_PASSWORD)
        colleague.get_by_label("Repeat the password").fill(COLLEAGUE_PASSWORD)
        colleague.get_by_role("button", name="Create my account").click()
        colleague.wait_for_url("**/portal/")
        assert f"Welcome to {ORGANIZATION}" in colleague.inner_text(".flashes")
    finally:
        colleague_context.close()
    # The members page does not update itself: reload it once, now that the
    # colleague's welcome shows the join is committed.
    page.reload()
    # The first table after the heading: round 47's paged invitations table follows it.
    expect(page.locator("#members ~ div table").first).to_contain_text("Priya Raman")

    # An admin, created as `licensing users create-admin` does, activates the organization.
    with live_server.app.app_context():
        services.create_admin(ADMIN, ADMIN_PASSWORD, full_name="Dana Whitfield")
    admin_context = browser.new_context(base_url=live_server.url)
    try:
        admin = admin_context.new_page()
        _sign_in(admin, ADMIN, ADMIN_PASSWORD)
        admin.wait_for_url("**/console/")
        assert "Work waiting on the office" in admin.inner_text("h1")
        # An admin takes every step the standing allows.
        assert _standing_choices(admin) == ["", "activate", "close", "suspend"]
        admin.get_by_label("Change", exact=True).select_option("activate")
        admin.get_by_label("Reason").fill("Documents checked by the licensing office")
        admin.get_by_role("button", name="Change the standing").click()
        assert f"{ORGANIZATION} is now active" in admin.inner_text(".flashes")

        # The audit page shows the invitation and the standing change, with the reason.
        admin.get_by_role("link", name="Audit log").click()
        log = admin.inner_text("table.audit-log")
        assert "invitation.created" in log
        assert "invitation.accepted" in log
        assert "organization.standing_changed" in log
        assert "Documents checked by the licensing office" in log
        assert "applying → active" in log
        admin.get_by_label("Action").select_option("organization.standing_changed")
        admin.get_by_role("button", name="Filter").click()
        filtered = admin.inner_text("table.audit-log")
        assert "invitation.created" not in filtered
        assert ADMIN in filtered
    finally:
        admin_context.close()

    # Billing staff are offered only their own step on the active organization, and
    # told who takes the others.
    with live_server.app.app_context():
        billing = factories.make_staff(db.session(), roles=("billing",))
    billing_context = browser.new_context(base_url=live_server.url)
    try:
        clerk = billing_context.new_page()
        _sign_in(clerk, billing.email, factories.DEFAULT_PASSWORD)
        clerk.wait_for_url("**/console/")
        assert _standing_choices(clerk) == ["", "mark_pending_payment"]
        expect(clerk.locator("#standing-others")).to_have_text(
            "Licensing staff close its account or suspend it."
        )
    finally:
        billing_context.close()

    # The vendor was told by email, and sees the new standing.
    assert mailbox.link_to(VENDOR, "/portal/").endswith("/portal/")
    page.goto("/portal/")
    assert "in good standing" in page.inner_text("main")
