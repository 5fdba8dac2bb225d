"""The review clock's days and the staff page's facts, as the review clock's
journeys (rounds 37 and 38) read them: business days from the agreements tests'
NOW (Monday 2026-11-02) and the "Age" fact of an application's page."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

from sqlalchemy import select

from licensing import calendar, db
from licensing.mail.models import OutboxMessage
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


def office_morning(start: datetime, days: int) -> datetime:
    """9:00 at the office on the business day `days` after `start`'s office day."""
    day = calendar.add_business_days(calendar.office_date(start), days)
    return calendar.office_day_start(day) + timedelta(hours=9)


def last_to(template: str) -> list[str]:
    """The addresses of the latest email from `template`."""
    message = db.session().scalars(
        select(OutboxMessage)
        .where(OutboxMessage.template == template)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return list(message.one().to)


def flash(page: str) -> str:
    """The text of the page's flash message."""
    found = re.search(r'<div class="flash[^"]*"[^>]*>(.*?)</div>', page, re.S)
    assert found, page[:3000]
    return plain_text(found.group(1))
