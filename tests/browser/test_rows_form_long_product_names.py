"""Round 62: a long product name is read whole on the rows form, at 320 px, in Chromium.

localwalk61 found the rows form's line select cut a Greek product's name after its
first word and a letter: a select draws its chosen option on one line, as wide as
the select. Under each row's line select the chosen line's product now stands whole,
wrapping in the row's card, and follows the choice made with the arrow keys; the
options keep the whole names a screen reader reads."""

from __future__ import annotations

from typing import Any

import time_machine

from licensing import db
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.browser.conftest import card_of_a_year, sign_in
from tests.integration.royalties.conftest import SOFTWARE
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.reporting_year import ReportingYear
from tests.support.servers import LiveServer

NARROW = {"width": 320, "height": 720}
GREEK = "Μεταφραστής Κωδικών Ιατρικών Πράξεων και Διαγνώσεων για Κλινικές"  # noqa: RUF001
ARABIC = "مترجم الرموز الطبية للعيادات والمستشفيات (الإصدار 2)"

# The row's chosen line as the eye reads it: the words under the select, whether they
# fit inside the screen and their box, their number of lines.
_SHOWN = """
(row) => {
  const select = document.getElementById(`rows-${row}-line`);
  const shown = select.parentNode.querySelector("[data-line-chosen]");
  const box = shown.getBoundingClientRect();
  return {
    text: shown.innerText,
    isolated: shown.querySelector("bdi") ? shown.querySelector("bdi").textContent : null,
    inside: box.left >= 0 && box.right <= document.documentElement.clientWidth,
    wraps: shown.scrollWidth <= shown.clientWidth,
    lines: Math.round(box.height / parseFloat(getComputedStyle(shown).lineHeight)),
    hidden: shown.getAttribute("aria-hidden"),
  };
}
"""


def _chosen(page: Any, row: int) -> str:
    """What row `row`'s line select has chosen, as the words under it should say it."""
    return str(
        page.locator(f"#rows-{row}-line").evaluate(
            "(select) => select.value ? `Line ${select.value}: "
            "${JSON.parse(select.closest('table').dataset.lineNames)[select.value]}` : ''"
        )
    )


def _vendor_with_two_long_names(live_server: LiveServer) -> tuple[str, Any, ReportingYear]:
    year = ReportingYear.around(office_date(utcnow()))
    first, last = year.term
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(year.years.next_version, first, last), published_by="tests"
        )
        session = db.session()
        vendor = factories.make_vendor(session)
        staff = factories.make_staff(session, roles=("licensing",))
        agreement = make_active_agreement(
            vendor,
            staff,
            {**SOFTWARE, "product_name": GREEK},
            {**SOFTWARE, "product_name": ARABIC},
            term=year.term,
        )
        return vendor.email, agreement, year


def test_a_long_product_name_is_read_whole_under_the_line_select_at_320_px(
    page: Any, live_server: LiveServer
) -> None:
    email, agreement, year = _vendor_with_two_long_names(live_server)
    first = year.period(1)
    with time_machine.travel(year.after(1)):
        page.set_viewport_size(NARROW)
        sign_in(page, email)
        page.goto(f"/portal/royalty-reports/{agreement.id}/{first.start.isoformat()}")
        page.locator("#rows-1-line").wait_for()
        # The page draws the chosen line's name itself, as the select has it.
        assert page.evaluate(_SHOWN, 1)["text"] == _chosen(page, 1)

        # Chosen with the keyboard alone: the arrow keys move through the options.
        page.locator("#rows-1-line").focus()
        page.keyboard.press("Home")
        assert page.evaluate(_SHOWN, 1)["text"] == ""  # "—": no line, nothing under it
        page.keyboard.press("ArrowDown")
        shown = page.evaluate(_SHOWN, 1)
        assert shown["text"] == f"Line 1: {GREEK}"
        assert shown["isolated"] == GREEK
        assert shown["inside"], shown
        assert shown["wraps"], shown
        assert shown["lines"] >= 2, shown  # longer than the screen is wide: it wraps
        assert shown["hidden"] == "true"  # the option itself is what a screen reader reads
        page.keyboard.press("ArrowDown")
        shown = page.evaluate(_SHOWN, 1)
        assert shown["text"] == f"Line 2: {ARABIC}"
        assert shown["isolated"] == ARABIC
        assert shown["inside"], shown
        assert shown["wraps"], shown
        # The options keep the whole names.
        assert page.locator("#rows-1-line option").all_inner_texts() == [
            "—",
            f"1: {GREEK}",
            f"2: {ARABIC}",
        ]

        # A row added in the page shows the line it copied, and follows its own choice.
        page.get_by_role("button", name="Add rows").click()
        added = page.locator("#rows-4-line")
        added.wait_for()
        assert page.evaluate(_SHOWN, 4)["text"] == _chosen(page, 4)
        added.focus()
        page.keyboard.press("Home")
        page.keyboard.press("ArrowDown")
        assert page.evaluate(_SHOWN, 4)["text"] == f"Line 1: {GREEK}"

        # Sent back with a mistake, the page draws the chosen line's name itself.
        page.get_by_label("Row 1, customer ID").fill("C-1")
        page.get_by_label("Row 1, customer name").fill("Κλινική Αθηνών")
        page.get_by_label("Row 1, country").fill("ZZ")
        page.get_by_label("Row 1, quantity").fill("5")
        with page.expect_navigation():
            page.locator("#report-form").get_by_role("button", name="Preview the royalty").click()
        page.locator("#report-form .error-summary").wait_for()
        shown = page.evaluate(_SHOWN, 1)
        assert shown["text"] == f"Line 2: {ARABIC}"
        assert shown["inside"], shown
        assert shown["wraps"], shown
