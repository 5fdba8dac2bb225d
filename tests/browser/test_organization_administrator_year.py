"""An organization's administrator over a year, in Chromium against the live server
(real SMTP on loopback): signing up, two colleagues invited (one joins, the other's
invitation expires and is sent again), a billing member made, two-step sign-in set up,
the billing contact and address changed, their own address changed, a lost phone
(a recovery code), a colleague removed, administration handed over and their own
access removed by the new administrator; the office's console page and audit log
read at the end (round 58, orgwalk58). Round 68: it starts signed in, the
organization signed up through the services (the sign-up form, the confirmation link
and the sign-in form are test_accounts_journey.py's walk), and Oskar joins through the
invitation's service (Lena's join walks the invitation's page here)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
import time_machine

from licensing import db
from licensing.accounts import services as accounts
from licensing.db import utcnow
from tests.browser.conftest import newest_mail, one_line
from tests.browser.conftest import sign_in as sign_in_by_request
from tests.support import factories
from tests.support.navigation import follow
from tests.support.servers import LiveServer, SMTPServer

ORGANIZATION = "Tallowmere Health Software Inc."
INES = "ines.varga@tallowmere.example"
INES_NEW = "ines@tallowmere-health.example"
OSKAR = "oskar.lindqvist@tallowmere.example"
LENA = "lena.moravec@tallowmere.example"
PAYABLES = "ap@tallowmere.example"
PASSWORD = "amber-lantern-orchid-42"
COLLEAGUE_PASSWORD = "cobalt-thistle-marsh-88"


def _text(page: Any, css: str = "main") -> str:
    return one_line(page.inner_text(css))


def _sign_in(page: Any, email: str, code: str | None = None) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if code is not None:
        page.wait_for_url("**/sign-in/code")
        page.get_by_label("Code from your authenticator app, or a recovery code").fill(code)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/portal/")


def _signed_up(live_server: LiveServer) -> None:
    """Tallowmere signed up as its sign-up form sends it (applying; Ines its
    administrator and billing contact) and Ines's address confirmed, made through the
    services (round 68): the sign-up form, the confirmation link and the sign-in form
    are test_accounts_journey.py's steps, walked there on their pages; this walk's
    point is the year of its people after them."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(
            session,
            standing="applying",
            legal_name=ORGANIZATION,
            address_line1="48 Larkspur Row",
            city="Madison",
            region="WI",
            postal_code="53703",
            billing_contact_name="Ines Varga",
            billing_email=INES,
        )
        factories.make_vendor(
            session, organization, email=INES, password=PASSWORD, full_name="Ines Varga"
        )


def _join(tab: Any, link: str, name: str) -> None:
    tab.goto(link)
    tab.get_by_label("Your full name").fill(name)
    tab.get_by_label("Password", exact=True).fill(COLLEAGUE_PASSWORD)
    tab.get_by_label("Repeat the password").fill(COLLEAGUE_PASSWORD)
    tab.get_by_role("button", name="Create my account").click()
    tab.wait_for_url("**/portal/")


def _press(page: Any, name: str) -> str:
    """A button on the organization page pressed; its message."""
    page.get_by_role("button", name=name).click()
    page.locator(".flashes").wait_for()
    return _text(page, ".flashes")


def _invite(page: Any, email: str) -> None:
    page.get_by_label("Colleague's email address").fill(email)
    page.get_by_label("Their role").select_option("member")
    assert "the link works for 7 days" in _press(page, "Send the invitation")


def test_an_administrator_hands_over_the_organization_after_a_year_of_its_people(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    _signed_up(live_server)
    sign_in_by_request(page, INES, PASSWORD)
    page.goto("/organization")
    _invite(page, OSKAR)
    _invite(page, LENA)
    # Oskar joins from his emailed link through the service its page calls (round 68:
    # a browser of his own and two pages no check read; the invitation's page is
    # test_accounts_journey.py's, and Lena's join below walks it here too).
    with live_server.app.app_context():
        raw = mailbox.link_to(OSKAR, "/invitations/").rsplit("/", 1)[-1]
        accounts.accept_invitation(raw, full_name="Oskar Lindqvist", password=COLLEAGUE_PASSWORD)

    # Lena never answers: a week and a day later her invitation has expired.
    travel = time_machine.travel(utcnow() + timedelta(days=8), tick=True)
    travel.start()
    try:
        lena = browser.new_context(base_url=live_server.url).new_page()
        lena.goto(mailbox.link_to(LENA, "/invitations/"))
        assert "Ask Ines Varga (ines.varga@tallowmere.example) to invite you again" in _text(
            lena, "body"
        )
        page.goto("/portal/")
        waiting = _text(page)
        assert f"Invitation to {LENA} expired unanswered" in waiting
        # In words, on the office's day (round 58: "It expired on 2026-12-13 09:59 ...").
        assert re.search(r"It expired on \w+day, \w+ \d+, \d{4} at [\d:]+ [AP]M", waiting)
        page.goto("/organization")
        assert "the link works for 7 days" in _press(page, f"Send again: {LENA}")
        page.goto("/portal/")
        assert re.search(
            rf"Invitation to {LENA} They have until \w+day, \w+ \d+, \d{{4}}", _text(page)
        )
        _join(lena, mailbox.link_to(LENA, "/invitations/"), "Lena Moravec")

        # Oskar pays the invoices: a billing member, and told so.
        page.goto("/organization")
        said = _press(page, "Make them a billing member: Oskar Lindqvist")
        assert said == f"Oskar Lindqvist is now a billing member. We emailed them at {OSKAR}."
        assert "As a billing member you read" in newest_mail(mailbox, OSKAR, "billing member")

        # Two-step sign-in, and the recovery codes kept apart from the phone.
        page.goto("/account/two-step/")
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.locator("#two-step-secret").wait_for()
        app = pyotp.TOTP(page.inner_text("#two-step-secret").replace(" ", ""))
        page.get_by_label("Code from your authenticator app").fill(app.now())
        # Loaded: `all_inner_texts` takes the codes drawn so far, not all ten.
        follow(page, "button", "Turn two-step sign-in on")
        page.locator("#recovery-codes li").first.wait_for()
        codes = [one_line(code) for code in page.locator("#recovery-codes li").all_inner_texts()]
        assert len(codes) == 10

        # The billing contact and address: both contacts told, the sender named.
        page.goto("/organization")
        page.get_by_label("Address", exact=True).fill("1200 Quarry Lane, Suite 5")
        page.get_by_label("Billing contact name").fill("Accounts payable")
        page.get_by_label("Billing contact email").fill(PAYABLES)
        assert f"We emailed the old and the new billing contact: {INES}, {PAYABLES}." in _press(
            page, "Save"
        )
        told = newest_mail(mailbox, PAYABLES, "Billing contact of")
        assert f"Ines Varga ({INES}) changed the billing contact of {ORGANIZATION}" in told

        # Her own address: confirmed while signed in, she is told to sign in with it.
        page.goto("/account/")
        page.get_by_label("New email address").fill(INES_NEW)
        page.locator("#email-current-password").fill(PASSWORD)
        page.get_by_role("button", name="Send a confirmation link").click()
        page.locator(".flashes").wait_for()
        page.goto(mailbox.link_to(INES_NEW, "/verify-email/"))
        page.locator(".flashes").wait_for()
        assert _text(page, ".flashes") == (
            f"Thank you: {INES_NEW} is confirmed, and is your account's address now: "
            "sign in with it from now on."
        )
        assert f"changed from {INES} to {INES_NEW}" in newest_mail(mailbox, INES, "was changed")

        # The phone is lost: a recovery code signs her in on another computer.
        laptop = browser.new_context(base_url=live_server.url).new_page()
        _sign_in(laptop, INES_NEW, codes[0])
        assert "9 unused codes are left" in _text(laptop, ".flashes")
        assert "9 unused codes are left" in newest_mail(mailbox, INES_NEW, "recovery code")

        # Oskar leaves: his access removed, after a confirmation.
        laptop.goto("/organization")
        laptop.get_by_role("button", name="Remove access: Oskar Lindqvist").click()
        laptop.get_by_role("heading", name="Remove Oskar Lindqvist's access?").wait_for()
        assert _press(laptop, "Remove access").startswith("Oskar Lindqvist can no longer sign in")

        # Ines hands administration to Lena, steps down, and Lena removes her access.
        said = _press(laptop, "Make administrator: Lena Moravec")
        assert said.startswith("Lena Moravec is now an administrator.")
        assert _press(laptop, "Make yourself a member: Ines Varga").startswith(
            "You are now a member."
        )
        assert "Ask Lena Moravec (lena.moravec@tallowmere.example)" in _text(laptop)
        lena.goto("/organization")
        lena.get_by_role("button", name="Remove access: Ines Varga").click()
        lena.get_by_role("heading", name="Remove Ines Varga's access?").wait_for()
        assert _press(lena, "Remove access").startswith("Ines Varga can no longer sign in")
        assert "Lena Moravec (lena.moravec@tallowmere.example) removed your access" in (
            newest_mail(mailbox, INES_NEW, "was removed")
        )

        # The office reads it all: who is left, and each step in the audit log.
        with live_server.app.app_context():
            admin = factories.make_staff(db.session(), roles=("admin",))
            db.session().commit()
            admin_email = admin.email
        office = browser.new_context(base_url=live_server.url).new_page()
        sign_in_by_request(office, admin_email)
        office.goto("/console/organizations")
        office.get_by_role("link", name=ORGANIZATION).click()
        office.locator("#members").wait_for()
        members = _text(office, "main")
        assert "Lena Moravec lena.moravec@tallowmere.example Administrator active" in members
        assert f"Ines Varga {INES_NEW} Member deactivated" in members
        office.goto("/console/audit")
        log = _text(office)
        for step in (
            "user.deactivated",
            "user.role_changed",
            "user.recovery_code_used",
            "user.email_changed",
            "organization.updated",
            "invitation.created",
        ):
            assert step in log
        # An address asked for is waiting, not the old one erased (round 58).
        assert f"pending email: — → {INES_NEW}" in log
        assert f"email: {INES} → —" not in log
    finally:
        travel.stop()
