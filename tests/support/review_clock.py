"""The review clock's days and the staff page's facts, as the review clock's
journeys (rounds 37 and 38) read them: business days from the agreements tests'
NOW (Monday 2026-11-02) and the "Age" fact of an application's page."""

from __future__ import annotations

import html
import re
from datetime import datetime

from licensing import calendar
from tests.integration.agreements.conftest import NOW


def on_business_day(days: int) -> datetime:
    """`days` business days after NOW's office day (Monday 2026-11-02), at NOW's hour."""
    return calendar.later_by_business_days(NOW, days)


def plain_text(html_text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_text)).split())


def fact(page: str, term: str) -> str:
    """The text of the page's `<dt>term</dt>`'s definition."""
    found = re.search(rf"<dt>{term}</dt><dd[^>]*>(.*?)</dd>", page, re.S)
    assert found, page[:3000]
    return plain_text(found.group(1))


def due_text(day_count: int) -> str:
    """Business day `day_count` after NOW's, as the page writes a day."""
    due = calendar.add_business_days(calendar.office_date(NOW), day_count)
    return f"{due:%A}, {due:%B} {due.day}, {due.year}"
