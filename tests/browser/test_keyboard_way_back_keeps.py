"""Round 62 (keyboard62): what keyboard61b's way back still lost, walked by keyboard
alone (Tab, Shift+Tab, Enter, Space; no clicks).

- A confirmation cancelled brought the focus back to the button pressed, but the
  form it belongs to was drawn afresh: the reason, the amount typed before pressing
  it were gone, to be typed again. They are back in their fields now.
- A control inside a closed `<details>` (a Stripe delivery's *Mark it looked at*)
  was returned to by script alone and never walked by keyboard: opened with Enter
  on its summary, its note typed, the confirmation cancelled, the focus is on its
  button again in the `<details>` opened, the note still there.
- The vendor's dashboard's heading was the organization's name alone: a screen
  reader landing there after signing in heard no "dashboard"."""

from __future__ import annotations

import hashlib
from typing import Any

from licensing import db
from licensing.billing import payment_gateway
from licensing.billing.services import webhooks
from tests.browser.conftest import invoiced_vendor
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.keyboard import assert_walks_round, press, tab_to, type_into
from tests.support.servers import LiveServer


def _signs_in(page: Any, email: str) -> str:
    """Signed in by keyboard: the words of the heading that has the focus on landing."""
    page.goto("/sign-in")
    type_into(page, "#email", email)
    type_into(page, "#password", DEFAULT_PASSWORD)
    press(page, "Sign in")
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")
    return str(page.evaluate("() => document.activeElement.innerText").strip())


def _asks_then_keeps(page: Any, control: str, cancel: str) -> None:
    """Press `#control` by keyboard, and its confirmation's way back: the focus is on
    `#control` again."""
    tab_to(page, css=f"#{control}")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")
    press(page, cancel)
    page.wait_for_function(f"() => document.activeElement.id === {control!r}")


def test_what_was_typed_before_a_confirmation_was_cancelled_is_in_its_fields_again(
    page: Any, live_server: LiveServer
) -> None:
    _, invoice = invoiced_vendor(live_server, ("900.00",))
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        email = staff.email
    _signs_in(page, email)

    page.goto(f"/console/invoices/{invoice.id}")
    type_into(page, "#void-reason", "Issued twice by mistake")
    _asks_then_keeps(page, "void-invoice", "Keep the invoice")
    assert page.input_value("#void-reason") == "Issued twice by mistake"
    assert_walks_round(page)

    # An amount and its reason, the credit note not issued after all.
    type_into(page, "#credit-amount", "120.00")
    type_into(page, "#credit-reason", "Two seats billed twice")
    _asks_then_keeps(page, f"issue-credit-note-{invoice.id}", "Do not issue it")
    assert page.input_value("#credit-amount") == "120.00"
    assert page.input_value("#credit-reason") == "Two seats billed twice"
    # Only the form the button is in: the void's reason, not sent this time, is empty.
    assert page.input_value("#void-reason") == ""

    # Kept for the way back alone: the page opened again is drawn afresh.
    page.goto(f"/console/invoices/{invoice.id}")
    assert page.input_value("#credit-amount") == ""


def test_a_mark_inside_a_closed_details_is_walked_by_keyboard_and_found_open_on_the_way_back(
    page: Any, live_server: LiveServer
) -> None:
    body = b"<html>not an event</html>"
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        email = staff.email
        webhooks._unreadable(body, payment_gateway.MalformedEvent("not JSON"))
    control = f"mark-delivery-{hashlib.sha256(body).hexdigest()}"
    _signs_in(page, email)

    page.goto("/console/stripe-events/unreadable")
    assert not page.is_visible(f"#{control}")  # folded away in its <details>
    assert_walks_round(page)
    tab_to(page, text="Mark it looked at")
    page.keyboard.press("Enter")  # the summary opens its <details>
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.name") == "delivery-note"
    page.keyboard.type("An old test endpoint's body; the endpoint is removed.")
    assert_walks_round(page)
    _asks_then_keeps(page, control, "Leave it not looked at")
    # The <details> is open again, the note typed in it, the button after it.
    assert page.evaluate(f"() => document.getElementById({control!r}).closest('details').open")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.value") == (
        "An old test endpoint's body; the endpoint is removed."
    )
    page.keyboard.press("Tab")
    assert_walks_round(page)


def test_the_vendor_s_dashboard_says_it_is_the_dashboard_to_a_screen_reader_landing_there(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        email, legal_name = vendor.email, vendor.organization.legal_name

    heading = _signs_in(page, email)
    assert heading == f"Dashboard of {legal_name}"
