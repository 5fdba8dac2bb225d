"""Round 25: a staff member of an office that requires two-step sign-in signs in,
is taken to set it up, scans (here: reads) the key into an authenticator app,
keeps the recovery codes, signs out, and signs in again with a code. The pages
on the way have no accessibility problem (the sweep's own check).

Round 28: a vendor ticks "Don't ask for a code on this browser", signs out, and
signs in again with the password alone; the two-step page lists the browser."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest

from licensing import db
from tests.browser.conftest import sign_in_on_the_form
from tests.support import factories
from tests.support.axe import excused_findings
from tests.support.servers import LiveServer
from tests.support.two_step import secret_of, turn_on


@pytest.fixture
def browser_config_changes() -> dict[str, Any]:
    return {"two_step_required_for_staff": True}


def _no_accessibility_problem(page: Any) -> None:
    _, lines = excused_findings(page, {})
    assert not [line for line in lines if line], "\n".join(lines)


def test_staff_set_up_two_step_sign_in_and_sign_in_with_a_code(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("licensing",))
        email = staff.email

    sign_in_on_the_form(page, email)
    page.wait_for_url("**/account/two-step/")
    assert "required of your account" in page.inner_text("main")
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    _no_accessibility_problem(page)
    secret = page.inner_text("#two-step-secret").replace(" ", "")
    app = pyotp.TOTP(secret)

    page.get_by_label("Code from your authenticator app").fill(app.now())
    page.get_by_role("button", name="Turn two-step sign-in on").click()
    page.wait_for_load_state()
    assert page.locator("#recovery-codes li").count() == 10
    assert page.get_by_role("link", name="Download the codes as a text file").is_visible()
    _no_accessibility_problem(page)

    page.get_by_role("link", name="Done: back to two-step sign-in").click()
    assert "It is on" in page.inner_text("main")
    _no_accessibility_problem(page)
    page.goto("/console/")
    assert "/console/" in page.url
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()

    sign_in_on_the_form(page, email)
    page.wait_for_url("**/sign-in/code")
    # The code just used is refused again; the app's next one (30 seconds on, which
    # the server accepts for a phone's clock a little ahead) signs in.
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        app.at(time.time() + 30)
    )
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/")


def test_a_remembered_browser_signs_in_again_without_the_code_page(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        turn_on(vendor)
        app = pyotp.TOTP(secret_of(vendor.id))
        email = vendor.email

    sign_in_on_the_form(page, email)
    page.wait_for_url("**/sign-in/code")
    remember = page.get_by_label("Don't ask for a code on this browser for 30 days")
    assert not remember.is_checked()
    _no_accessibility_problem(page)
    # The app's next code: the one now went to turning it on.
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        app.at(time.time() + 30)
    )
    remember.check()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/")

    page.goto("/account/two-step/")
    browsers = page.get_by_role("table", name="Browsers that do not ask for a code")
    assert "(this browser)" in browsers.inner_text()
    assert "Chrome on Linux" in browsers.inner_text()
    _no_accessibility_problem(page)

    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_load_state()
    sign_in_on_the_form(page, email)
    page.wait_for_url("**/portal/")
    assert "/sign-in/code" not in page.url

    # Beside the second button the page says what it adds to the header's Sign out,
    # which already ends every session and keeps this browser remembered (as above).
    page.goto("/account/two-step/")
    assert "already ends every session of your account" in page.inner_text("main")
    page.get_by_role("button", name="Sign out everywhere").click()
    page.wait_for_load_state()
    assert "every browser asks for your code again" in page.inner_text("body")
    sign_in_on_the_form(page, email)
    page.wait_for_url("**/sign-in/code")
