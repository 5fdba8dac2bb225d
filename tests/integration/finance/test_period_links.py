"""Round 53: the Finance page's ready-made ranges. The page still opens on the last 12
months (the finance team's trend; its last row is this month), and offers this month,
last month (the month a clerk closes), this year so far and the 12 months at one click
each, in the currency shown, the one shown marked (docs/finance-dashboard.md)."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any

import time_machine

from tests.integration.finance.conftest import issue
from tests.support.pages import text_of

TODAY = datetime(2027, 4, 20, 15, 0, tzinfo=UTC)


def _links(page: str) -> dict[str, tuple[str, bool]]:
    """The period links: label -> (URL, marked as the one shown)."""
    nav = page.split('aria-label="Periods"', 1)[1].split("</nav>", 1)[0]
    found = re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', nav)
    return {label: (html.unescape(url), bool(current)) for url, current, label in found}


def test_the_page_opens_on_twelve_months_and_offers_this_month_and_the_month_closed(
    client: Any, signed_in: Any, billing_staff: Any
) -> None:
    with time_machine.travel(TODAY, tick=False):
        staff = signed_in(client, billing_staff)
        page = staff.get("/console/finance/")
        links = _links(page.get_data(as_text=True))
        assert "From May 1, 2026 to April 30, 2027, by month" in text_of(page)  # the default
        assert links == {
            "This month (April 2027)": (
                "/console/finance/?from=2027-04&to=2027-04&currency=USD",
                False,
            ),
            # Round 68 (journeyF68): the month a clerk closes, aged on its last day as
            # its monthly report is.
            "Last month (March 2027)": (
                "/console/finance/?from=2027-03&to=2027-03&as_of=2027-03-31&currency=USD",
                False,
            ),
            # Round 59 (closewalk59): the quarter a finance manager closes, aged on its
            # last day.
            "Last quarter (2027 Q1)": (
                "/console/finance/?from=2027-01&to=2027-03&by=quarter&as_of=2027-03-31"
                "&currency=USD",
                False,
            ),
            "This year (2027 so far)": (
                "/console/finance/?from=2027-01&to=2027-04&currency=USD",
                False,
            ),
            "Last 12 months": ("/console/finance/?from=2026-05&to=2027-04&currency=USD", True),
        }

        closed = staff.get(links["Last month (March 2027)"][0])
        assert closed.status_code == 200
        assert "From March 1, 2027 to March 31, 2027, by month" in text_of(closed)
        assert "Monthly revenue report for March 2027 (PDF)" in text_of(closed)
        assert _links(closed.get_data(as_text=True))["Last month (March 2027)"][1]


def test_the_links_keep_the_currency_shown_and_licensing_staff_see_none(
    client: Any, app: Any, signed_in: Any, billing_staff: Any, licensing_staff: Any
) -> None:
    with time_machine.travel(TODAY, tick=False):
        page = signed_in(client, billing_staff).get("/console/finance/?currency=EUR")
        links = _links(page.get_data(as_text=True))
        assert links["This month (April 2027)"][0].endswith("to=2027-04&currency=EUR")
        reader = signed_in(app.test_client(), licensing_staff).get("/console/finance/")
        assert 'aria-label="Periods"' not in reader.get_data(as_text=True)


def test_last_quarter_shows_the_quarter_closed_by_quarter_and_aged_on_its_last_day(
    client: Any, signed_in: Any, billing_staff: Any
) -> None:
    """Round 59 (closewalk59): at a quarter's close the manager read the months and the
    aging as of today, and typed the quarter, *By* and *Aging as of* by hand; *Last
    quarter* gives all three, and is marked as shown only while all three are its own."""
    for today, label, query in (
        (TODAY, "Last quarter (2027 Q1)", "from=2027-01&to=2027-03&by=quarter&as_of=2027-03-31"),
        (
            datetime(2027, 1, 5, 15, tzinfo=UTC),
            "Last quarter (2026 Q4)",
            "from=2026-10&to=2026-12&by=quarter&as_of=2026-12-31",
        ),
        (
            datetime(2027, 12, 31, 15, tzinfo=UTC),
            "Last quarter (2027 Q3)",
            "from=2027-07&to=2027-09&by=quarter&as_of=2027-09-30",
        ),
    ):
        with time_machine.travel(today, tick=False):
            staff = signed_in(client, billing_staff)
            url, _shown = _links(staff.get("/console/finance/").get_data(as_text=True))[label]
            assert url == f"/console/finance/?{query}&currency=USD"
            closed = staff.get(url)
            assert _links(closed.get_data(as_text=True))[label][1]
            words = text_of(closed)
            assert ", by quarter, in USD" in words
            day = query.rsplit("=", 1)[1]
            assert f'name="as_of" value="{day}"' in closed.get_data(as_text=True)
            # The same quarter aged on another day is not the ready-made range.
            other = staff.get(url.replace(f"as_of={day}", "as_of=2027-01-02"))
            assert not _links(other.get_data(as_text=True))[label][1]


def test_last_month_ages_the_receivables_on_its_last_day_so_they_add_up_to_its_outstanding(
    client: Any, signed_in: Any, billing_staff: Any, history: Any
) -> None:
    """Round 68 (journeyF68): closing March on 20 April, *Last month* read March's
    outstanding at its end (1,250.50) beside receivables aged on 20 April, which summed
    April's invoice too (1,450.50 in all): the clerk's two figures of the month did not
    agree, and the monthly report the page links ages on the month's last day."""
    issue(history.organizations["B"], "200.00", date(2027, 4, 5))
    with time_machine.travel(TODAY, tick=False):
        staff = signed_in(client, billing_staff)
        url, _shown = _links(staff.get("/console/finance/").get_data(as_text=True))[
            "Last month (March 2027)"
        ]
        closed = staff.get(url)
        words = text_of(closed)
        assert "Receivables aging as of March 31, 2027" in words
        assert "1,250.50 USD in all" in words
        row = re.search(r"2027-03\s+([\d,.]+\s+){6}([\d,.]+)", words)
        assert row is not None
        assert row.group(2) == "1,250.50"  # outstanding at the month's end
