"""Round 7: the main journeys with the keyboard alone (Tab, Enter, Space and the
arrow keys in a list box), as someone who uses no mouse does them: a vendor
signs in, applies (a failed form first: the focus lands on its errors, and from
there on the first field in error), licensing staff approve, the vendor accepts
the agreement and files the first quarter's royalty report.

Addresses are opened with `goto` only where a person would type or follow an
emailed link; everything on a page is reached with Tab and used with a key.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from licensing.calendar import day_text
from licensing.royalties.periods import reporting_periods
from tests.browser.conftest import vendor_and_staff
from tests.support.axe import FOCUSED
from tests.support.card_years import CardYears
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.servers import LiveServer

MOST_TABS = 200


def _tab_to(page: Any, css: str | None = None, text: str | None = None) -> None:
    """Press Tab until the focused element matches `css` or its text starts with `text`."""
    seen = []
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED, css)
        if focused["matches"] or (text and focused["text"].startswith(text)):
            return
        seen.append(focused["id"] or focused["text"][:30])
    raise AssertionError(f"Tab never reached {css or text!r}; it went through {seen}")


def _type_into(page: Any, css: str, value: str) -> None:
    _tab_to(page, css=css)
    page.keyboard.type(value)


def _choose(page: Any, css: str, value: str) -> None:
    """Tab to a list box and move through its options with the arrow keys."""
    _tab_to(page, css=css)
    for _ in range(40):
        if page.evaluate("() => document.activeElement.value") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{css} has no option {value!r} within reach of the arrow keys")


def _press(page: Any, text: str, key: str = "Enter") -> None:
    """Tab to a link or button by its words and press it; wait for the next page."""
    _tab_to(page, text=text)
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state()


def _sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    _type_into(page, "#email", email)
    _type_into(page, "#password", DEFAULT_PASSWORD)
    _press(page, "Sign in")
    assert "/sign-in" not in page.url, page.inner_text("main")


def _focused_id(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement.id"))


def _typed(day: date) -> str:
    """`day` as typed into a date field by keyboard (Chromium's mm/dd/yyyy)."""
    return day.strftime("%m%d%Y")


def _fill_use(page: Any, index: int, texts: dict[str, str], choices: dict[str, str]) -> None:
    for name, value in choices.items():
        _choose(page, f"#uses-{index}-{name}", value)
    for name, value in texts.items():
        _type_into(page, f"#uses-{index}-{name}", value)


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

    # The first stop on every page is the skip link, and it leads into the page.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == "#main"
    page.keyboard.press("Enter")
    assert _focused_id(page) == "main"

    # A failed form: the term ends before it starts.
    _press(page, "Start an application")
    _type_into(page, "#term_start", _typed(last))
    _type_into(page, "#term_end", _typed(first))
    _press(page, "Save the draft")
    page.wait_for_function("() => document.activeElement.classList.contains('error-summary')")
    assert "Term ends: The term cannot end before it starts" in page.evaluate(
        "() => document.activeElement.innerText"
    )
    page.keyboard.press("Tab")  # the summary's first link: the first field in error
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'term_end'")
    assert page.get_attribute("#term_end", "aria-invalid") == "true"

    # The application, corrected: a SaaS product and a data file (staff review).
    page.keyboard.type(_typed(last))
    _type_into(page, "#term_start", _typed(first))  # Tab goes round the page to it
    _fill_use(
        page,
        0,
        {"product_name": "Scrubber Pro", "quantity-end_users": "2500"},
        {"use": "distribution", "product_type": "saas", "user_type": "provider"},
    )
    _choose(page, "#uses-0-delivery", "hosted")
    _press(page, "Add another use")
    _fill_use(
        page,
        1,
        {"product_name": "Fernhill Code Feed", "revenue": "80000"},
        {"use": "distribution", "product_type": "data_file", "user_type": "provider"},
    )
    _choose(page, "#uses-1-delivery", "data_feed")
    _press(page, "Save the draft")
    assert "is saved as a draft" in page.inner_text(".flashes")
    application_url = page.url.split("#")[0]  # the address still names #term_end
    reference = page.get_by_role("heading", level=1).inner_text().split()[0]
    _tab_to(page, css="#attest")
    page.keyboard.press("Space")
    _press(page, "Submit for pricing and review")
    assert "submitted" in page.get_by_role("heading", level=1).inner_text()

    # Licensing staff open it from their queue and approve it as quoted.
    console = browser.new_context(base_url=live_server.url).new_page()
    _sign_in(console, staff_email)
    _press(console, "Applications")
    _press(console, reference)
    _press(console, "Approve and issue the agreement")
    assert "the agreement is issued" in console.inner_text(".flashes")

    # The vendor reads and accepts the agreement.
    page.goto(application_url)
    _press(page, "Read and accept the agreement")
    _type_into(page, "#signer_name", "Samira Haddad")
    _type_into(page, "#signer_title", "Chief Executive")
    _tab_to(page, css="#authority_confirmed")
    page.keyboard.press("Space")
    _press(page, "Accept the agreement")
    assert "accepted and active" in page.inner_text(".flashes")
    context.close()

    # The vendor files its first quarter's royalty report in the form: the term began
    # eleven months ago, so that quarter is over on any day (no travel: Chromium keeps
    # the real clock for its cookies, and a 2027 day is behind a 2028 run).
    later = browser.new_context(base_url=live_server.url)
    later.set_default_timeout(15_000)
    page = later.new_page()
    _sign_in(page, vendor_email)
    _press(page, "Royalty report for")
    _choose(page, "#rows-1-line", page.eval_on_selector("#rows-1-line", _FIRST_LINE))
    _type_into(page, "#rows-1-customer_id", "C-100")
    _type_into(page, "#rows-1-customer_name", "Harbor Clinic")
    _type_into(page, "#rows-1-country", "US")
    _choose(page, "#rows-1-unit", "end_users")
    _type_into(page, "#rows-1-quantity", "60")
    _tab_to(page, css="#report-form input[type=checkbox][name=attest]")
    page.keyboard.press("Space")
    _tab_to(page, css="#report-form button[value=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_role("heading", name="Royalty report RR-").wait_for()
    main = page.inner_text("main")
    assert "60 end users" in main
    first_quarter = reporting_periods(first, last)[0]
    assert day_text(first_quarter.start) in main, main
    later.close()


_FIRST_LINE = "select => select.options[1].value"  # after "—"
