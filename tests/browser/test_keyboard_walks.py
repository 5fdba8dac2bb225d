"""Round 61 (keyboard61): the main journeys by keyboard alone (Tab, Shift+Tab, Enter,
Space and the arrow keys; no clicks), every page on the way walked round with Tab
(`tests/support/keyboard.py::walk_round`): the focus shows at every stop and
follows the reading order, nothing a mouse can use is out of Tab's reach, every
control has a name in the accessibility tree, and after each form sent the focus is
on its outcome (the flashed message, read out) or on the list of problems.

The rest of the journeys by keyboard: `test_keyboard_journey.py` (apply, approve,
accept, the royalty report's form) and `test_accessibility_outside_pages.py` (paying
by card in localstripe's card Element)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pyotp
import time_machine

from licensing import db
from licensing.calendar import days_text
from licensing.permissions import services as permissions
from tests.browser.conftest import invoiced_vendor, reporting_vendor
from tests.integration.permissions.conftest import last_mail, request_input
from tests.support import factories
from tests.support.card_years import CardYears
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.keyboard import (
    assert_walks_round,
    choose,
    focused,
    outcome,
    press,
    type_into,
    typed,
    upload_by_keyboard,
    walk_round,
)
from tests.support.servers import LiveServer
from tests.support.settings import permission_sla_days
from tests.support.two_step import secret_of, turn_on


def _sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    type_into(page, "#email", email)
    type_into(page, "#password", DEFAULT_PASSWORD)
    press(page, "Sign in")


def test_a_vendor_signs_in_with_a_password_and_a_code_and_gets_a_quote_by_keyboard(
    page: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        turn_on(vendor)
        app = pyotp.TOTP(secret_of(vendor.id))
        email = vendor.email

    page.goto("/sign-in")
    assert_walks_round(page)
    type_into(page, "#email", email)
    type_into(page, "#password", "not the password")
    press(page, "Sign in")
    # Refused: the focus is on the reason, and the next Tab leads to the password.
    page.wait_for_function("() => document.activeElement.classList.contains('error-summary')")
    assert "The email or password is incorrect" in focused(page)["text"]
    assert_walks_round(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'password'")
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")  # Enter in a field sends its form
    page.wait_for_url(re.compile("/sign-in/code"))
    # The code's page starts at its question (it started at the page's top, behind
    # the header's links); the next Tab is the code's field.
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")
    assert focused(page)["text"] == "Enter your code"
    assert_walks_round(page)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "code"
    page.keyboard.type(app.at(time.time() + 30))
    press(page, "Sign in")
    page.wait_for_url(re.compile("/portal/"))
    assert_walks_round(page)

    # A quote, from the public estimator: the estimate takes the focus.
    press(page, "Price estimator")
    assert_walks_round(page)
    choose(page, "#organization_type", "commercial")
    type_into(page, "#term_start", typed(card_years.this_from))
    type_into(page, "#term_end", typed(card_years.this_to))
    choose(page, "#uses-0-use", "distribution")
    choose(page, "#uses-0-product_type", "saas")
    choose(page, "#uses-0-user_type", "provider")
    type_into(page, "#uses-0-quantity-end_users", "2500")
    type_into(page, "#uses-0-description", "Scrubber Pro")
    press(page, "Estimate the price")
    page.wait_for_function("() => document.activeElement.id === 'result'")
    assert focused(page)["text"].startswith("Estimated total: ")
    assert_walks_round(page)
    # The estimate's uses carry over to an application, whose form is walked too.
    press(page, "Apply for a license with these uses")
    assert page.input_value("#uses-0-quantity-end_users") == "2500"
    assert_walks_round(page)


def test_staff_answer_a_permission_request_and_record_a_wire_by_keyboard(
    page: Any, live_server: LiveServer
) -> None:
    _, invoice = invoiced_vendor(live_server, ("1200.00",))
    with live_server.app.app_context():
        staff = factories.make_staff(db.session(), roles=("licensing", "billing"))
        db.session().commit()
        created = permissions.submit_request(request_input(institution="Northfield College"))
        link = re.search(
            r"/permissions/confirm/(\S+)", last_mail(created.requester_email).body_text
        )
        assert link is not None
        reference = permissions.confirm_email(
            link.group(1), sla_days=permission_sla_days()
        ).reference
        email, number = staff.email, invoice.number

    _sign_in(page, email)
    assert_walks_round(page)
    # The header's links are a few Shift+Tabs back from the focus in the page (round
    # 65: Tab went on round the whole page to them, 20 to 30 stops).
    press(page, "Permissions", back=True)
    assert_walks_round(page)
    press(page, reference)
    assert_walks_round(page)
    type_into(page, "#conditions", "Credit the code set's owner on every handout.")
    press(page, "Approve and issue the grant letter")
    assert "Approved" in outcome(page)
    assert_walks_round(page)

    press(page, "Invoices", back=True)
    press(page, number)
    assert_walks_round(page)
    # A wire recorded without its amount: the focus is on the list of problems, its
    # first link leads to the amount, which says what is wrong with it.
    choose(page, "#method", "wire")
    press(page, "Record payment")
    page.wait_for_function("() => document.activeElement.classList.contains('error-summary')")
    assert "Amount: Give the amount received." in focused(page)["text"]
    assert_walks_round(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'payment-amount'")
    described = (page.get_attribute("#payment-amount", "aria-describedby") or "").split()
    read_out = " ".join(page.inner_text(f"#{each}") for each in described)
    assert "Give the amount received." in read_out
    assert page.get_attribute("#payment-amount", "aria-invalid") == "true"
    page.keyboard.type("1200.00")
    type_into(page, "#reference", f"FEDWIRE {number}")
    press(page, "Record payment")
    assert "Recorded a wire transfer of 1,200.00 USD" in outcome(page)
    assert_walks_round(page)


def test_a_vendor_uploads_a_royalty_report_by_keyboard(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    email, agreement, year = reporting_vendor(live_server)
    first = year.period(1)
    with time_machine.travel(year.after(1)):
        _sign_in(page, email)
        press(page, f"Royalty report for {agreement.number}, {days_text(first.start, first.end)}")
        assert_walks_round(page)

        upload_by_keyboard(page, tmp_path, assert_walks_round)
        # The report filed: its page's address still names "#report-csv" (carried
        # through the redirect), which is not on it; the outcome has the focus anyway.
        assert page.url.endswith("#report-csv")
        assert "Report filed" in outcome(page)
        assert_walks_round(page)


_A_BAD_PAGE = """
<style>:focus-visible { outline: 3px solid black; }
.quiet:focus { outline: none; box-shadow: none; } .far { position: absolute; top: -500px; }</style>
<a href="#main">Skip to main content</a>
<main id="main">
  <label for="name">Name</label> <input id="name">
  <input id="nameless">
  <button class="quiet">Send</button>
  <button tabindex="3">Jumps the queue</button>
  <a class="far" href="/away">Off the screen</a>
  <button tabindex="-1">Only by mouse</button>
  <button aria-label="Close"></button>
  <button></button>
  <details><summary>More</summary><button>Folded away</button></details>
</main>
"""


def test_the_walk_round_a_page_finds_what_a_keyboard_user_would_meet(page: Any) -> None:
    page.set_content(_A_BAD_PAGE)
    found = walk_round(page)
    problems = "\n".join(found)
    assert "focus does not show on 'Send'" in problems
    assert "focus is off the screen on 'Off the screen'" in problems
    assert "the tab order leaves the reading order" in problems
    assert "Tab never reaches 'Only by mouse'" in problems
    # The input without a label and the empty button; "Close" is named by its aria-label.
    assert [line for line in found if "no name" in line] == [
        "a control with no name: - textbox",
        "a control with no name: - button",
    ]
    assert "focus does not show on 'Name'" not in problems
    # Round 62: a control in a closed <details> is out of Tab's reach until its
    # summary (reached) opens it, as for a mouse.
    assert "Folded away" not in problems
