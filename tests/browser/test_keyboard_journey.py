"""Round 7: the main journeys with the keyboard alone (Tab, Enter, Space and the
arrow keys in a list box), as someone who uses no mouse does them: a vendor
signs in, applies (a failed form first: the focus lands on its errors, and from
there on the first field in error), licensing staff approve, the vendor accepts
the agreement and files the first quarter's royalty report.

Addresses are opened with `goto` only where a person would type or follow an
emailed link; everything on a page is reached with Tab and used with a key.
"""

from __future__ import annotations

from typing import Any

from licensing.calendar import day_text
from licensing.royalties.periods import reporting_periods
from tests.browser.conftest import vendor_and_staff
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
)
from tests.support.servers import LiveServer


def _sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    type_into(page, "#email", email)
    type_into(page, "#password", DEFAULT_PASSWORD)
    press(page, "Sign in")
    assert "/sign-in" not in page.url, page.inner_text("main")


def _focused_id(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement.id"))


def _fill_use(
    page: Any, index: int, product: str, choices: dict[str, str], amounts: dict[str, str]
) -> None:
    """A use filled in the order Tab meets its fields (the product's name, its lists,
    then its figures), as a keyboard user fills a form: round 65, the lists first and
    the name after sent Tab round the whole page for it and again for the delivery."""
    type_into(page, f"#uses-{index}-product_name", product)
    for name, value in choices.items():
        choose(page, f"#uses-{index}-{name}", value)
    for name, value in amounts.items():
        type_into(page, f"#uses-{index}-{name}", value)


def test_a_vendor_applies_staff_approve_and_the_vendor_accepts_and_reports_by_keyboard_alone(
    browser: Any, live_server: LiveServer, card_years: CardYears
) -> None:
    # This year's card, around the office's today (round 49: a 2027 term is over from
    # 2028, and an ended term waits for staff at submission).
    first, last = card_years.this_from, card_years.this_to
    vendor, staff = vendor_and_staff(live_server, example=False)
    vendor_email, staff_email = vendor.email, staff.email
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    _sign_in(page, vendor_email)
    # The dashboard landed on says where the vendor is: its heading has the focus
    # (round 61, keyboard61b), and the next Tab goes into the page.
    page.wait_for_function("() => document.activeElement === document.querySelector('main h1')")

    # The first stop on every other page is the skip link, and it leads into the page.
    page.reload()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == "#main"
    page.keyboard.press("Enter")
    assert _focused_id(page) == "main"

    # A failed form: the term ends before it starts.
    press(page, "Start an application")
    type_into(page, "#term_start", typed(last))
    type_into(page, "#term_end", typed(first))
    press(page, "Save the draft")
    page.wait_for_function("() => document.activeElement.classList.contains('error-summary')")
    assert "Term ends: The term cannot end before it starts" in page.evaluate(
        "() => document.activeElement.innerText"
    )
    page.keyboard.press("Tab")  # the summary's first link: the first field in error
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'term_end'")
    assert page.get_attribute("#term_end", "aria-invalid") == "true"
    assert "term_end-error" in (page.get_attribute("#term_end", "aria-describedby") or "")
    assert_walks_round(page)  # round 61: the refused form, walked round with Tab

    # The application, corrected: a SaaS product and a data file (staff review).
    page.keyboard.type(typed(last))
    type_into(page, "#term_start", typed(first))  # Tab goes round the page to it
    _fill_use(
        page,
        0,
        "Scrubber Pro",
        {
            "use": "distribution",
            "product_type": "saas",
            "user_type": "provider",
            "delivery": "hosted",
        },
        {"quantity-end_users": "2500"},
    )
    press(page, "Add another use")
    _fill_use(
        page,
        1,
        "Fernhill Code Feed",
        {
            "use": "distribution",
            "product_type": "data_file",
            "user_type": "provider",
            "delivery": "data_feed",
        },
        {"revenue": "80000"},
    )
    press(page, "Save the draft")
    # Round 61: the outcome has the focus, though the address still names #term_end
    # (carried through the redirect), which is on the form, not this page.
    assert "is saved as a draft" in outcome(page)
    assert_walks_round(page)
    application_url = page.url.split("#")[0]  # the address still names #term_end
    reference = page.get_by_role("heading", level=1).inner_text().split()[0]
    tab_to(page, css="#attest")
    page.keyboard.press("Space")
    press(page, "Submit for pricing and review")
    assert "submitted" in page.get_by_role("heading", level=1).inner_text()
    assert "submitted" in outcome(page)

    # Licensing staff open it from their queue and approve it as quoted.
    console = browser.new_context(base_url=live_server.url).new_page()
    _sign_in(console, staff_email)
    press(console, "Applications")
    assert_walks_round(console)
    press(console, reference)
    assert_walks_round(console)
    press(console, "Approve and issue the agreement")
    assert "the agreement is issued" in outcome(console)

    # The vendor reads and accepts the agreement.
    page.goto(application_url)
    press(page, "Read and accept the agreement")
    assert_walks_round(page)
    type_into(page, "#signer_name", "Samira Haddad")
    type_into(page, "#signer_title", "Chief Executive")
    tab_to(page, css="#authority_confirmed")
    page.keyboard.press("Space")
    press(page, "Accept the agreement")
    assert "accepted and active" in outcome(page)
    context.close()

    # The vendor files its first quarter's royalty report in the form: the term began
    # eleven months ago, so that quarter is over on any day (no travel: Chromium keeps
    # the real clock for its cookies, and a 2027 day is behind a 2028 run).
    later = browser.new_context(base_url=live_server.url)
    later.set_default_timeout(15_000)
    page = later.new_page()
    _sign_in(page, vendor_email)
    press(page, "Royalty report for")
    assert_walks_round(page)
    choose(page, "#rows-1-line", page.eval_on_selector("#rows-1-line", _FIRST_LINE))
    type_into(page, "#rows-1-customer_id", "C-100")
    type_into(page, "#rows-1-customer_name", "Harbor Clinic")
    type_into(page, "#rows-1-country", "US")
    choose(page, "#rows-1-unit", "end_users")
    type_into(page, "#rows-1-quantity", "60")
    tab_to(page, css="#report-form input[type=checkbox][name=attest]")
    page.keyboard.press("Space")
    tab_to(page, css="#report-form button[value=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_role("heading", name="Royalty report RR-").wait_for()
    assert "Report filed" in outcome(page)  # round 61: its "#report-form" named nothing here
    main = page.inner_text("main")
    assert "60 end users" in main
    first_quarter = reporting_periods(first, last)[0]
    assert day_text(first_quarter.start) in main, main
    later.close()


_FIRST_LINE = "select => select.options[1].value"  # after "—"
