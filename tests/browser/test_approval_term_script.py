"""Round 51 (docs/security.md, "Round 51: what round 50 added, reviewed"): the approval
form's script (`static/js/approval-term.js`, round 50) counts the quarters of the term
being typed. A term ending in 9999's last quarter looped for ever: the next quarter's
ISO string, "+010000-01-01", sorts before "9999-...", so the loop never passed the
end, froze licensing staff's tab and grew its list without bound. The script runs
here in Chromium on the form's own elements, alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from licensing.config import PROJECT_ROOT
from tests.support.page_days import in_words

SCRIPT = Path(PROJECT_ROOT, "static", "js", "approval-term.js")
# The approval form's elements as `agreements/review.html` writes them, on 2027-09-01.
FORM = """
<p id="term-started" data-today="2027-09-01" data-reporting="true" hidden></p>
<input type="date" id="term_start" value="2027-01-01">
<input type="date" id="term_end" value="2027-06-30">
"""
# The server's sentence (`issuing.StartedTerm.for_staff`) for a term from 2027-01-01
# still running on 2027-09-01: its two quarters ended are reportable.
# Its days in words (round 59), as the server words them.
BEGUN = in_words(
    "The term began on 2027-01-01, before today: approving it licenses that time "
    "retroactively. The royalty reports of the 2 periods already ended (2027-01-01 to "
    "2027-06-30) can be filed as soon as the licensee accepts, their royalties invoiced "
    "with them."
)


def _told(page: Any) -> str:
    return " ".join(page.inner_text("#term-started").split())


def test_a_term_to_the_calendars_last_day_is_worded_and_the_tab_stays_responsive(
    page: Any,
) -> None:
    page.set_default_timeout(10_000)
    page.set_content(FORM)
    page.add_script_tag(content=SCRIPT.read_text())
    for end in ("9999-12-31", "9999-10-01", "9999-06-30"):
        page.fill("#term_end", end)  # it hung here, the page's thread in the loop
        assert _told(page) == BEGUN, end
    # Still answering: the term moved back into the past reads as one over.
    page.fill("#term_end", "2027-06-30")
    assert _told(page).startswith("The term ended on June 30, 2027, before today")


def test_the_years_before_100_are_counted_as_themselves(page: Any) -> None:
    """`Date.UTC` reads the years 0 to 99 as 1900 to 1999: a term in the year 50 was
    one period (its next quarter "1950-04-01"), where the server counts four."""
    page.set_content(FORM)
    page.add_script_tag(content=SCRIPT.read_text())
    page.fill("#term_start", "0050-02-01")
    page.fill("#term_end", "0050-12-31")
    assert "The royalty reports of all 4 periods (February 1, 50 to December 31, 50)" in _told(page)


def test_a_term_typed_to_start_today_is_not_worded_as_begun(page: Any) -> None:
    """Round 54: as the server words it (`issuing.started_term`), a term starting on
    the day of the approval licenses nothing before it: staff approving on 1 January a
    term from 1 January read "The term began on ..., before today"."""
    page.set_content(FORM)
    page.add_script_tag(content=SCRIPT.read_text())
    page.fill("#term_end", "2028-08-31")
    page.fill("#term_start", "2027-08-31")
    assert _told(page).startswith("The term began on August 31, 2027, before today")
    page.fill("#term_start", "2027-09-01")
    assert _told(page) == ""
    assert page.locator("#term-started").is_hidden()
