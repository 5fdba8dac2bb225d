"""Round 62 (keyboard62): the main journeys by keyboard alone at a 360 px phone's
width (round 61 walked only the educator's there), every page on the way walked
round with the phone's checks too (`walk_round(page, phone=True)`): no focus hidden
under something fixed or sticky, no box scrolling sideways out of Tab's reach, no
target under 24 by 24 px too near another. The header's links are behind the phone
menu's *Menu*, opened with Enter as a keyboard user does.

A vendor applies and is approved by licensing staff (on a phone too) and accepts the
agreement; a vendor uploads a royalty report; a billing clerk records a wire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import time_machine

from licensing import db
from licensing.calendar import days_text
from tests.browser.conftest import invoiced_vendor, reporting_vendor, vendor_and_staff
from tests.support import factories
from tests.support.card_years import CardYears
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.keyboard import (
    assert_walks_round,
    choose,
    outcome,
    press,
    tab_to,
    type_into,
    typed,
    upload_by_keyboard,
    walk_round,
)
from tests.support.servers import LiveServer

PHONE = {"width": 360, "height": 740}


def _phone(browser: Any, live_server: LiveServer) -> Any:
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(20_000)
    return context.new_page()


def _walks(page: Any) -> None:
    assert_walks_round(page, phone=True)


# The sign-in form at 360 px is the same page whoever signs in: walked at the
# module's first sign-in (round 65), not again at each of the four.
_WALKED: set[str] = set()


def _sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    if "sign-in" not in _WALKED:
        _walks(page)
        _WALKED.add("sign-in")
    type_into(page, "#email", email)
    type_into(page, "#password", DEFAULT_PASSWORD)
    press(page, "Sign in")
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")
    _walks(page)


def _menu(page: Any, text: str) -> None:
    """The header's link `text`, through the phone menu opened with Enter: from the
    page's heading, which has the focus after signing in, the menu is a few Shift+Tabs
    back (round 65: Tab went on round the whole page to it, some 25 stops)."""
    tab_to(page, css="details.phone-menu > summary", back=True)
    page.keyboard.press("Enter")
    _walks(page)
    press(page, text)


def test_a_vendor_applies_staff_approve_and_the_vendor_accepts_by_keyboard_on_a_phone(
    browser: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    first, last = card_years.this_from, card_years.this_to
    vendor, staff = vendor_and_staff(live_server, example=False)
    page = _phone(browser, live_server)
    _sign_in(page, vendor.email)

    press(page, "Start an application")
    _walks(page)
    type_into(page, "#term_start", typed(first))
    type_into(page, "#term_end", typed(last))
    # Each use's fields in the order Tab meets them (round 65: the lists first and
    # the name after sent Tab round the whole page for the name and the delivery).
    type_into(page, "#uses-0-product_name", "Scrubber Pro")
    for name, value in {
        "use": "distribution",
        "product_type": "saas",
        "user_type": "provider",
        "delivery": "hosted",
    }.items():
        choose(page, f"#uses-0-{name}", value)
    type_into(page, "#uses-0-quantity-end_users", "2500")
    # A data file's use: staff review the application before it is approved.
    press(page, "Add another use")
    _walks(page)
    type_into(page, "#uses-1-product_name", "Fernhill Code Feed")
    choose(page, "#uses-1-use", "distribution")
    choose(page, "#uses-1-product_type", "data_file")
    choose(page, "#uses-1-user_type", "provider")
    choose(page, "#uses-1-delivery", "data_feed")
    type_into(page, "#uses-1-revenue", "80000")
    press(page, "Save the draft")
    assert "is saved as a draft" in outcome(page)
    _walks(page)
    application_url = page.url.split("#")[0]
    reference = page.get_by_role("heading", level=1).inner_text().split()[0]
    tab_to(page, css="#attest")
    page.keyboard.press("Space")
    press(page, "Submit for pricing and review")
    assert "submitted" in outcome(page)
    _walks(page)

    console = _phone(browser, live_server)
    _sign_in(console, staff.email)
    _menu(console, "Applications")
    _walks(console)
    press(console, reference)
    _walks(console)
    press(console, "Approve and issue the agreement")
    assert "the agreement is issued" in outcome(console)
    _walks(console)

    page.goto(application_url)
    _walks(page)
    press(page, "Read and accept the agreement")
    _walks(page)
    type_into(page, "#signer_name", "Samira Haddad")
    type_into(page, "#signer_title", "Chief Executive")
    tab_to(page, css="#authority_confirmed")
    page.keyboard.press("Space")
    press(page, "Accept the agreement")
    assert "accepted and active" in outcome(page)
    _walks(page)


def test_a_vendor_uploads_a_royalty_report_by_keyboard_on_a_phone(
    browser: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    email, agreement, year = reporting_vendor(live_server)
    first = year.period(1)
    with time_machine.travel(year.after(1)):
        page = _phone(browser, live_server)
        _sign_in(page, email)
        press(page, f"Royalty report for {agreement.number}, {days_text(first.start, first.end)}")
        _walks(page)
        upload_by_keyboard(page, tmp_path, _walks)
        assert "Report filed" in outcome(page)
        _walks(page)


def test_a_billing_clerk_records_a_wire_by_keyboard_on_a_phone(
    browser: Any, live_server: LiveServer
) -> None:
    _, invoice = invoiced_vendor(live_server, ("1200.00",))
    with live_server.app.app_context():
        clerk = factories.make_staff(db.session(), roles=("billing",))
        db.session().commit()
        email, number = clerk.email, invoice.number
    page = _phone(browser, live_server)
    _sign_in(page, email)
    _menu(page, "Invoices")
    _walks(page)
    press(page, number)
    _walks(page)
    choose(page, "#method", "wire")
    type_into(page, "#payment-amount", "1200.00")
    type_into(page, "#reference", f"FEDWIRE {number}")
    press(page, "Record payment")
    assert "Recorded a wire transfer of 1,200.00 USD" in outcome(page)
    _walks(page)


_A_BAD_PHONE_PAGE = """
<style>:focus-visible { outline: 3px solid black; }
header { position: fixed; top: 0; left: 0; right: 0; height: 80px; background: white; z-index: 10; }
.wide { overflow-x: auto; width: 200px; } .wide p { width: 900px; }
button.tiny { width: 12px; height: 12px; padding: 0; }</style>
<header><a href="#main">Skip to main content</a></header>
<main id="main" style="padding-top: 100px">
  <a href="/under" style="position: absolute; top: 30px; left: 10px">Under the header</a>
  <div class="wide" tabindex="-1"><p>A row of figures far wider than the phone</p></div>
  <p><button class="tiny" aria-label="One"></button>
     <button class="tiny" aria-label="Two"></button></p>
  <p>Read <a href="/terms">the terms</a> first.</p>
</main>
"""


def test_the_phone_walk_finds_focus_under_a_fixed_header_an_unreachable_scroll_and_tiny_targets(
    page: Any,
) -> None:
    page.set_viewport_size(PHONE)
    page.set_content(_A_BAD_PHONE_PAGE)
    problems = "\n".join(walk_round(page, phone=True))
    assert "focus is hidden under 'HEADER' on 'Under the header'" in problems
    # Chromium gives a box that scrolls, with nothing focusable in it, a Tab stop of
    # its own; a page that takes it away (tabindex=-1) leaves its columns unreachable.
    assert "scrolls sideways out of Tab's reach: 'wide'" in problems
    assert "too near another: 'One'" in problems
    assert "too near another: 'Two'" in problems
    assert "the terms" not in problems  # a link in a sentence
    # Without `phone`, the walk is round 61's.
    assert "scrolls sideways" not in "\n".join(walk_round(page))
