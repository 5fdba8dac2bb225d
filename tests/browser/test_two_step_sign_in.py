"""Round 25: a staff member of an office that requires two-step sign-in signs in,
is taken to set it up, scans (here: reads) the key into an authenticator app,
keeps the recovery codes, signs out, and signs in again with a code. The pages
on the way have no accessibility problem (the sweep's own check)."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest

from licensing import db
from tests.browser.conftest import sign_in
from tests.support import factories
from tests.support.axe import excused_findings
from tests.support.servers import LiveServer


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

    sign_in(page, email)
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

    sign_in(page, email)
    page.wait_for_url("**/sign-in/code")
    # The code just used is refused again; the app's next one (30 seconds on, which
    # the server accepts for a phone's clock a little ahead) signs in.
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        app.at(time.time() + 30)
    )
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/")
