"""A newcomer's first run, in Chromium: no SMTP server, so the confirmation
email is read in the development mail viewer and its link followed from there."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

VENDOR = "samira@bluefin.example"
PASSWORD = "quiet-meadow-copper-17"


@pytest.fixture
def browser_config_changes() -> dict[str, Any]:
    return {"smtp_url": "", "send_mail_after_request": False, "dev_mail_viewer": True}


def test_a_newcomer_confirms_their_email_from_the_development_mail_viewer(
    page: Any, live_server: LiveServer
) -> None:
    page.goto("/sign-up")
    page.get_by_label("Legal name of the organization").fill("Bluefin Claims Analytics LLC")
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

    page.get_by_role("link", name="Mail (development)").click()
    page.get_by_role("heading", name="Mail sent by this server").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name=re.compile("verify-email")).first.click()
    page.wait_for_url("**/sign-in")
    assert "is confirmed" in page.inner_text(".flashes")

    page.get_by_label("Email address").fill(VENDOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/")
