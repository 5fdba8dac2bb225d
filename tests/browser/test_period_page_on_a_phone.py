"""Round 57: a period's royalty report filed on a 375 px phone, in Chromium.

vendorwalk56 found the rows form's seven columns about 890 px wide in a 375 px
screen: the vendor scrolled sideways on every row to reach the quantity, and the
customer name's column had shrunk to nothing. On a narrow screen each row is now a
card of its fields, each under its own label, in the page's order (so the keyboard
goes through them as before); the preview's royalty is told figure by figure, under
its caption; the attestation's label stands beside its box. Walked: the rows form
(a mistake, its preview, filing), the amendment's form and its preview, and the CSV
upload with its preview. No part of the page is wider than the screen, and no box
scrolls sideways, at any step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import time_machine

from tests.browser.conftest import reporting_vendor, sign_in
from tests.support.navigation import arrive
from tests.support.servers import LiveServer

PHONE = {"width": 375, "height": 800}
HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"
COLUMNS = ("line", "customer_id", "customer_name", "country", "unit", "quantity", "revenue")

# What is wider than the screen: the document, and any box that scrolls sideways
# (a table in its own box may scroll, but none of this page's needs to).
_WIDTHS = """
() => {
  const width = document.documentElement.clientWidth;
  const sideways = Array.from(document.querySelectorAll("main *"))
    .filter((box) => ["auto", "scroll"].includes(getComputedStyle(box).overflowX)
      && box.scrollWidth > box.clientWidth + 1)
    .map((box) => `${box.tagName.toLowerCase()}.${box.className} ${box.scrollWidth}`);
  const past = Array.from(document.querySelectorAll("main input, main select, main label"))
    .filter((el) => el.getBoundingClientRect().width > 0
      && el.getBoundingClientRect().right > width + 1)
    .map((el) => el.id || el.htmlFor || el.name);
  return {page: document.documentElement.scrollWidth, width, sideways, past};
}
"""


def _assert_fits(page: Any, step: str) -> None:
    found = page.evaluate(_WIDTHS)
    assert found["page"] <= found["width"], (step, found)
    assert found["sideways"] == [], (step, found)
    assert found["past"] == [], (step, found)


def _tab_order(page: Any, start: str, presses: int) -> list[str]:
    page.locator(f"#{start}").focus()
    order = [start]
    for _ in range(presses):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id"))
    return order


def test_a_vendor_files_and_amends_a_report_on_a_phone_without_scrolling_sideways(
    page: Any, live_server: LiveServer
) -> None:
    email, agreement, year = reporting_vendor(live_server)
    first = year.period(1)
    url = f"/portal/royalty-reports/{agreement.id}/{first.start.isoformat()}"
    form = page.locator("#report-form")
    with time_machine.travel(year.after(1)):
        page.set_viewport_size(PHONE)
        sign_in(page, email)
        page.goto(url)
        _assert_fits(page, "the new period")
        # Each field under its own label, visible; Tab goes through a row's fields
        # in the columns' order, then on to the next row.
        for column in ("customer_id", "customer_name", "quantity"):
            assert page.locator(f"label[for=rows-1-{column}]").is_visible()
        assert not page.locator("table.rows-form thead").is_visible()
        assert _tab_order(page, "rows-1-line", 7) == [
            *(f"rows-1-{column}" for column in COLUMNS),
            "rows-2-line",
        ]
        # A row added in the page has its labels too, each naming its own field.
        page.get_by_role("button", name="Add rows").click()
        page.locator("label[for=rows-4-quantity]").click()
        assert page.evaluate("() => document.activeElement.id") == "rows-4-quantity"

        page.get_by_label("Row 1, customer ID").fill("C-100")
        page.get_by_label("Row 1, customer name").fill("Harbor Clinic")
        page.get_by_label("Row 1, country").fill("ZZ")
        page.get_by_label("Row 1, quantity").fill("60")
        # The page before had an error summary too: wait for the answer's page itself.
        with page.expect_navigation():
            form.get_by_role("button", name="Preview the royalty").click()
        form.locator(".error-summary").wait_for()
        _assert_fits(page, "a refused row")
        page.get_by_label("Row 1, country").fill("US")
        # Each page measured once loaded (its styles and scripts done), not half drawn.
        arrive(page, form.get_by_role("button", name="Preview the royalty"))
        preview = form.locator(".preview")
        preview.wait_for()
        _assert_fits(page, "the rows form's preview")
        # The royalty told figure by figure, each named, all in view.
        due = preview.locator("td[data-label=Due]")
        assert due.is_visible()
        assert (due.bounding_box() or {})["x"] + (due.bounding_box() or {})["width"] <= 375
        assert "Due: " in page.evaluate(
            "(cell) => getComputedStyle(cell, '::before').content", due.element_handle()
        )
        # The attestation's label beside its box, not on a line below it.
        box = form.get_by_role("checkbox").bounding_box() or {}
        label = form.locator("label[for=attest-form]").bounding_box() or {}
        assert label["x"] > box["x"] + box["width"]
        assert label["y"] < box["y"] + box["height"]
        form.get_by_role("checkbox").check()
        arrive(page, form.get_by_role("button", name="Attest and submit"))
        page.get_by_role("heading", name="Royalty report RR-").wait_for()
        _assert_fits(page, "the report filed")

        # The amendment: the rows as filed, the reason, the preview.
        page.goto(url)
        _assert_fits(page, "the amendment's form")
        assert page.get_by_label("Row 1, customer ID").input_value() == "C-100"
        form.get_by_label("Why is report").fill("Missed a clinic")
        page.get_by_label("Row 2, customer ID").fill("C-300")
        page.get_by_label("Row 2, customer name").fill("Hill Clinic")
        page.get_by_label("Row 2, country").fill("US")
        page.get_by_label("Row 2, quantity").fill("15")
        arrive(page, form.get_by_role("button", name="Preview the royalty"))
        form.locator(".preview").wait_for()
        _assert_fits(page, "the amendment's preview")


# Each character of a box's text with the top of the line it is drawn on.
_CHARACTER_LINES = """
(box) => {
  const drawn = [];
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let at = 0; at < node.length; at++) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + 1);
      drawn.push([node.data[at], Math.round(range.getBoundingClientRect().top)]);
    }
  }
  return drawn;
}
"""


def test_the_period_page_is_a_table_wide_wraps_its_csv_columns_and_takes_an_upload_on_a_phone(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    """One walk of the period page as it opens (round 68: three tests loaded it, each
    with a vendor, a server and a tab of its own, one check each): at 1366 px the rows
    form stays a table with its headings; the window narrowed to 375 px (the page's
    layout follows the window by its CSS alone), the CSV panel wraps its columns
    between their names (round 58); then, on the phone, a CSV file uploaded and its
    preview, nothing wider than the screen (round 57).

    Round 58: the CSV panel's list of columns was one unbroken word, which the page
    broke wherever the screen ended ("custo" / "mer_id"). It wraps after a comma, each
    column's name whole on its line, and still reads (and copies) as the header."""
    email, agreement, year = reporting_vendor(live_server)
    first = year.period(1)
    report = tmp_path / "first-quarter.csv"
    report.write_text(f"{HEADER}\n1,C-100,Harbor Clinic,US,end_users,60,\n")
    upload = page.locator("#report-csv")
    with time_machine.travel(year.after(1)):
        # On a wide screen the rows form stays a table with its headings.
        page.set_viewport_size({"width": 1366, "height": 900})
        sign_in(page, email)
        page.goto(f"/portal/royalty-reports/{agreement.id}/{first.start.isoformat()}")
        assert page.locator("table.rows-form thead").is_visible()
        assert not page.locator("label[for=rows-1-quantity]").is_visible()
        scroller = page.locator("#report-form .table-scroll")
        assert scroller.evaluate("box => box.scrollWidth <= box.clientWidth")
        # Where it would scroll, the box is named by the table's caption.
        assert scroller.get_attribute("aria-labelledby") == "rows-caption"
        assert _tab_order(page, "rows-1-line", 7)[-1] == "rows-2-line"

        # On a phone the CSV panel wraps its columns between their names.
        page.set_viewport_size(PHONE)
        header = page.locator("#report-csv #csv-header")
        header.wait_for()
        assert header.inner_text() == HEADER
        drawn = header.evaluate(_CHARACTER_LINES)
        _assert_fits(page, "the CSV panel")

        # A report uploaded on the phone: its preview fits too.
        upload.get_by_label("CSV file").set_input_files(report)
        arrive(page, upload.get_by_role("button", name="Preview the royalty"))
        upload.locator(".preview").wait_for()
        _assert_fits(page, "the upload's preview")
        assert upload.locator("td[data-label=Due]").is_visible()
    assert "".join(character for character, _top in drawn) == HEADER
    lines_of: dict[str, set[int]] = {}
    name = ""
    tops: set[int] = set()
    for character, top in [*drawn, (",", -1)]:
        if character == ",":
            lines_of[name] = tops
            name, tops = "", set()
        else:
            name += character
            tops.add(top)
    assert list(lines_of) == list(COLUMNS)
    split = {column: sorted(tops) for column, tops in lines_of.items() if len(tops) > 1}
    assert split == {}, f"a column's name broken across lines: {split}"
    # It does wrap on a phone (else this test would prove nothing).
    assert len({top for tops in lines_of.values() for top in tops}) > 1
