"""Round 27, in Chromium against the live server: a vendor paying an invoice by card,
or sending a form, when their organization comes to require two-step sign-in. The
pay page's status poll then gets a JSON refusal naming the set-up, and the page says
what happened to the payment and links the set-up, instead of waiting on an HTML
page it cannot read until it gives up; the form's fields are kept on a page that
sends them again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from tests.browser.conftest import fill_card, invoiced_vendor, sign_in
from tests.integration.billing.stripe_support import stripe_config
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.navigation import follow
from tests.support.servers import LiveServer, LocalStripe


@pytest.fixture
def browser_config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _required_now(live_server: LiveServer, email: str) -> None:
    """The organization's administrator requires two-step sign-in of every member."""
    with live_server.app.app_context():
        user = db.session().scalars(select(User).where(User.email == email)).one()
        principal = accounts.principal_for(user)
        accounts.require_for_organization(Actor.of(principal), user.organization_id or 0, True)


def test_a_payment_followed_when_two_step_sign_in_becomes_required_says_to_set_it_up(
    page: Any, live_server: LiveServer
) -> None:
    email, invoice = invoiced_vendor(live_server, ("120.00",))
    sign_in(page, email)
    page.goto(f"/portal/invoices/{invoice.id}/pay")
    fill_card(page)
    page.get_by_role("button", name="Pay 120.00 USD").click()
    status = page.locator("#payment-status")
    # No webhook is registered: the payment stays "Still processing" while polled.
    status.get_by_role("heading", name="Still processing").wait_for(timeout=20_000)

    _required_now(live_server, email)

    status.get_by_role("heading", name="Set up two-step sign-in to see the outcome").wait_for(
        timeout=20_000
    )
    assert "The payment was sent to Stripe" in status.inner_text()
    assert_accessible(page)
    status.get_by_role("link", name="Set up two-step sign-in").click()
    page.get_by_role("heading", name="Two-step sign-in").first.wait_for()
    assert page.url.endswith("/account/two-step/")


def test_a_form_sent_when_two_step_sign_in_becomes_required_is_kept_to_send_again(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        administrator = factories.make_vendor(db.session())
        email = administrator.email
    sign_in(page, email)
    page.goto("/organization")
    page.get_by_label("Colleague's email address").fill("newcomer@northwind.example")

    _required_now(live_server, email)
    # Loaded: the links and buttons below are counted, and `count()` does not wait.
    follow(page, "button", "Send the invitation")

    page.get_by_role("heading", name="Not sent yet: set up two-step sign-in first").wait_for()
    assert "Nothing was saved" in page.inner_text("main")
    assert page.locator('input[name="email"]').get_attribute("value") == (
        "newcomer@northwind.example"
    )
    assert page.get_by_role("link", name="Set up two-step sign-in (opens in a new tab)").count()
    assert page.get_by_role("button", name="Send it again").count() == 1
    # Its accessibility: the sweep sends this form the same way
    # (test_accessibility_pages.py, the held vendor's visit).
