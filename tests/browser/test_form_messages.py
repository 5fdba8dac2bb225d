"""Issue 15, item 10 in Chromium: error summaries in the words of the labels,
every problem at once, each linked to its field."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import signed_in_tab, vendor_and_staff
from tests.support.routes import wait_until_held
from tests.support.servers import LiveServer

SEP = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "


def test_the_estimator_lists_every_problem_in_words_and_links_each_field(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, _ = vendor_and_staff(live_server)
    tab = signed_in_tab(browser, live_server, vendor.email)
    tab.goto("/estimate")
    # Round 67: each use shows the counts its pricing asks for; a value typed before the
    # use changes stays in sight, so both bad fields are sent.
    tab.fill("#uses-0-revenue", "a lot")
    tab.select_option("#uses-0-use", "distribution")
    tab.fill("#uses-0-quantity-end_users", "-5")
    tab.get_by_role("button", name="Estimate the price").click()
    summary = tab.locator(".error-summary").inner_text()
    assert f"Use 1{SEP}Expected annual revenue (USD): Enter an amount" in summary
    assert f"Use 1{SEP}Expected number of end users: Enter a whole number, 0 or more." in summary
    assert "{" not in summary
    assert "Use 0" not in summary
    tab.locator(".error-summary a", has_text="Expected annual revenue").click()
    assert tab.evaluate("document.activeElement.id") == "uses-0-revenue"


def test_a_summary_link_followed_before_the_page_has_loaded_keeps_the_focus_on_its_field(
    browser: Any, live_server: LiveServer
) -> None:
    # The summary took the focus when the page finished loading, even from the field a
    # link of it had just led to (CI saw it once, on a loaded machine).
    vendor, _ = vendor_and_staff(live_server)
    tab = signed_in_tab(browser, live_server, vendor.email)
    tab.goto("/estimate")
    tab.fill("#uses-0-revenue", "a lot")
    held: list[Any] = []  # the page's last script, held so that the page has not loaded
    tab.route("**/js/scroll-regions*", lambda route: held.append(route))
    tab.get_by_role("button", name="Estimate the price").click(no_wait_after=True)
    tab.locator(".error-summary a", has_text="Expected annual revenue").click()
    wait_until_held(
        tab, held, why="the script was not held: the page loaded before the link was followed"
    )
    held[0].continue_()
    tab.unroute("**/js/scroll-regions*")
    tab.wait_for_load_state("load")
    tab.wait_for_timeout(200)  # the summary's focus came in a timeout after the load
    assert tab.evaluate("document.activeElement.id") == "uses-0-revenue"


def test_the_application_form_and_submission_name_their_fields_as_labelled(
    browser: Any, live_server: LiveServer
) -> None:
    vendor, _ = vendor_and_staff(live_server)
    tab = signed_in_tab(browser, live_server, vendor.email)
    tab.goto("/portal/applications/new")
    tab.fill("#uses-0-product_name", "Scrubber Pro")
    tab.fill("#uses-0-quantity-end_users", "-5")
    tab.get_by_role("button", name="Save the draft").click()
    summary = tab.locator(".error-summary").inner_text()
    assert f"Use 1{SEP}Expected number of end users: Enter a whole number, 0 or more." in summary
    assert "uses." not in summary
    tab.fill("#uses-0-quantity-end_users", "2500")
    tab.get_by_role("button", name="Save the draft").click()
    tab.get_by_role("button", name="Submit for pricing and review").click()
    summary = tab.locator(".error-summary").inner_text()
    assert "Confirmation that the information is accurate:" in summary
    assert "attest" not in summary


def test_after_a_refused_submission_the_keyboard_starts_at_the_list_of_problems(
    page: Any,
) -> None:
    # Focus used to stay at the top of the page: a keyboard or screen-reader user
    # had to find the summary past the header and the menus.
    for path, button in (
        ("/permissions/request", "Send the request"),
        ("/sign-up", "Create the account"),
        ("/sign-in", "Sign in"),
    ):
        page.goto(path)
        page.get_by_role("button", name=button, exact=True).click()
        expect(page.locator(".error-summary")).to_be_focused()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('.error-summary') !== null"), path
